// Every live generation the server is running, with its state and timings: what
// /v1/streams lists, what the request timeout and draining act on, and the handle later
// remediations (shed_load) use to cancel streams. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlxs {
class GenerationStream;
}

namespace mlxs::server {

using SteadyClock = std::chrono::steady_clock;

enum class StreamState { kQueued, kGenerating, kFinished };
const char* stream_state_name(StreamState s);

struct StreamInfo {
  std::string id;         // the request id ("cmpl-...", "chatcmpl-...")
  std::string endpoint;   // "/v1/completions", ...
  std::string remote;
  bool streaming = false;
  StreamState state = StreamState::kQueued;
  int prompt_tokens = 0;
  int generated_tokens = 0;
  SteadyClock::time_point started;
  SteadyClock::time_point first_token;  // set when state becomes kGenerating
  SteadyClock::time_point deadline;     // cancelled when passed (time_point::max(): none)
  bool timed_out = false;
  std::vector<std::string> features;  // the feature flags on for it, decided when it started
};

class StreamRegistry {
 public:
  // The entry may be added before its stream exists (so that a generation finishing at
  // once still finds it to remove); attach() supplies the stream and is a no-op when the
  // entry is already gone.
  void add(StreamInfo info, std::shared_ptr<GenerationStream> stream);
  void attach(const std::string& id, std::shared_ptr<GenerationStream> stream);
  // A token arrived: the first one moves the stream to kGenerating.
  void on_token(const std::string& id, SteadyClock::time_point now);
  // The prompt's length, once known (a prompt tokenized on the warm queue).
  void set_prompt_tokens(const std::string& id, int n);
  void remove(const std::string& id);

  size_t size() const;
  bool empty() const { return size() == 0; }
  std::vector<StreamInfo> snapshot() const;
  nlohmann::ordered_json to_json(SteadyClock::time_point now) const;

  // Cancels streams whose deadline has passed (marking them timed out); returns how many.
  int expire(SteadyClock::time_point now);
  // Whether `id` was cancelled by expire().
  bool timed_out(const std::string& id) const;
  // Cancels every stream (drain timeout reached); returns how many.
  int cancel_all();
  // Cancels the given fraction (0..1) of live streams, newest first: load shedding keeps
  // the streams that have done the most work. Returns how many.
  int cancel_fraction(double fraction);

 private:
  struct Entry {
    StreamInfo info;
    std::shared_ptr<GenerationStream> stream;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mlxs::server
