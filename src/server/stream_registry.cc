#include "server/stream_registry.h"

#include <algorithm>
#include <cmath>

#include "engine/generation.h"

namespace mlxs::server {

const char* stream_state_name(StreamState s) {
  switch (s) {
    case StreamState::kQueued: return "queued";
    case StreamState::kGenerating: return "generating";
    case StreamState::kFinished: return "finished";
  }
  return "";
}

void StreamRegistry::add(StreamInfo info, std::shared_ptr<GenerationStream> stream) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string id = info.id;
  entries_[id] = Entry{std::move(info), std::move(stream)};
}

void StreamRegistry::attach(const std::string& id, std::shared_ptr<GenerationStream> stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.stream = std::move(stream);
}

void StreamRegistry::set_prompt_tokens(const std::string& id, int n) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.info.prompt_tokens = n;
}

void StreamRegistry::on_token(const std::string& id, SteadyClock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  StreamInfo& s = it->second.info;
  if (s.state == StreamState::kQueued) {
    s.state = StreamState::kGenerating;
    s.first_token = now;
  }
  ++s.generated_tokens;
}

void StreamRegistry::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(id);
}

size_t StreamRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::vector<StreamInfo> StreamRegistry::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StreamInfo> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e.info);
  return out;
}

nlohmann::ordered_json StreamRegistry::to_json(SteadyClock::time_point now) const {
  auto ms = [](SteadyClock::duration d) {
    return std::round(std::chrono::duration<double, std::milli>(d).count() * 10) / 10;
  };
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const StreamInfo& s : snapshot()) {
    nlohmann::ordered_json j;
    j["id"] = s.id;
    j["endpoint"] = s.endpoint;
    j["remote"] = s.remote;
    j["stream"] = s.streaming;
    j["state"] = stream_state_name(s.state);
    j["prompt_tokens"] = s.prompt_tokens;
    j["generated_tokens"] = s.generated_tokens;
    j["age_ms"] = ms(now - s.started);
    if (s.state != StreamState::kQueued) j["ttft_ms"] = ms(s.first_token - s.started);
    j["features"] = s.features;
    list.push_back(std::move(j));
  }
  return {{"object", "list"}, {"data", std::move(list)}};
}

int StreamRegistry::expire(SteadyClock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (auto& [id, e] : entries_) {
    if (!e.stream || e.info.timed_out || now < e.info.deadline) continue;
    e.info.timed_out = true;
    e.stream->cancel();
    ++n;
  }
  return n;
}

bool StreamRegistry::timed_out(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.info.timed_out;
}

int StreamRegistry::cancel_all() {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (auto& [id, e] : entries_)
    if (e.stream) e.stream->cancel(), ++n;
  return n;
}

int StreamRegistry::cancel_fraction(double fraction) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry*> live;
  for (auto& [id, e] : entries_)
    if (e.stream && !e.stream->cancelled()) live.push_back(&e);
  int n = static_cast<int>(std::ceil(std::clamp(fraction, 0.0, 1.0) * live.size()));
  std::sort(live.begin(), live.end(),
            [](const Entry* a, const Entry* b) { return a->info.started > b->info.started; });
  for (int i = 0; i < n; ++i) live[i]->stream->cancel();
  return n;
}

}  // namespace mlxs::server
