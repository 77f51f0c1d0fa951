// PipelineEvents: handlers are copied out under the lock and called after it is released,
// so one slow subscriber on one thread never holds up an emit on another thread.
#include "ttft/pipeline_events.h"

#include <exception>
#include <utility>
#include <vector>

#include "base/logging.h"

namespace mlxs::ttft {

const char* event_name(EventType type) {
  switch (type) {
    case EventType::kQueued:
      return "stage:queued";
    case EventType::kWarmed:
      return "stage:warmed";
    case EventType::kSpeculated:
      return "stage:speculated";
    case EventType::kFirstToken:
      return "stage:firstToken";
    case EventType::kSpeculationHit:
      return "speculation:hit";
    case EventType::kSpeculationMiss:
      return "speculation:miss";
  }
  return "unknown";
}

int PipelineEvents::subscribe(Handler handler) {
  // An empty handler could never be called; 0 is never a subscription id.
  if (!handler) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  const int id = next_id_++;
  handlers_.emplace(id, std::move(handler));
  return id;
}

void PipelineEvents::unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_.erase(id);
}

void PipelineEvents::emit(const Event& event) {
  const int index = static_cast<int>(event.type);
  // A value outside the enum (a cast from bad data) has no count slot and no name.
  if (index < 0 || index >= kEventTypes) return;
  std::vector<Handler> handlers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[static_cast<size_t>(index)];
    handlers.reserve(handlers_.size());
    for (const auto& [id, h] : handlers_) handlers.push_back(h);
  }
  for (const auto& h : handlers) {
    try {
      h(event);
    } catch (const std::exception& e) {
      log_warn(std::string("ttft events: a ") + event_name(event.type) +
               " subscriber threw: " + e.what());
    } catch (...) {
      log_warn(std::string("ttft events: a ") + event_name(event.type) +
               " subscriber threw a non-standard exception");
    }
  }
}

std::array<uint64_t, kEventTypes> PipelineEvents::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace mlxs::ttft
