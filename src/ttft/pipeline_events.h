// The TTFT pipeline's events, as the spec names them, for C++ subscribers (metrics, logs,
// tests): stage:queued, stage:warmed, stage:speculated, stage:firstToken,
// speculation:hit, speculation:miss. Emitting never throws and never blocks on a
// subscriber beyond its own call; counts per event are kept for /admin/ttft.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace mlxs::ttft {

enum class EventType {
  kQueued,
  kWarmed,
  kSpeculated,
  kFirstToken,
  kSpeculationHit,
  kSpeculationMiss,
};
inline constexpr int kEventTypes = 6;
// "stage:queued", "stage:warmed", "stage:speculated", "stage:firstToken",
// "speculation:hit", "speculation:miss".
const char* event_name(EventType type);

struct Event {
  EventType type = EventType::kQueued;
  std::string stream_id;    // the request id (stage events)
  std::string prompt_hash;  // speculation events
  double duration_ms = 0;   // stage events: see docs/TTFT.md for each stage's interval
  double confidence = 0;    // speculation events: the candidate's confidence afterwards
};

class PipelineEvents {
 public:
  using Handler = std::function<void(const Event&)>;
  // Returns an id for unsubscribe. Handlers run on the emitting thread, must be quick and
  // must not subscribe or unsubscribe from inside.
  int subscribe(Handler handler);
  void unsubscribe(int id);
  void emit(const Event& event);
  // Events emitted so far, per type.
  std::array<uint64_t, kEventTypes> counts() const;

 private:
  mutable std::mutex mu_;
  std::map<int, Handler> handlers_;
  int next_id_ = 1;
  std::array<uint64_t, kEventTypes> counts_{};
};

}  // namespace mlxs::ttft
