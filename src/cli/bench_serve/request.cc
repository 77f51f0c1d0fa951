#include "cli/bench_serve/request.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "cli/bench_serve/sse.h"

namespace mlxs::cli::bench {
namespace {

using json = nlohmann::json;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string shorten(std::string s) {
  constexpr size_t kMax = 300;
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

// The generated text of a streamed chunk: choices[0].text (completions) or
// choices[0].delta.content (chat); "" when the chunk carries none.
std::string chunk_text(const json& event, Endpoint endpoint) {
  const auto choices = event.find("choices");
  if (choices == event.end() || !choices->is_array() || choices->empty()) return "";
  const json& choice = (*choices)[0];
  const json* text = nullptr;
  if (endpoint == Endpoint::kChat) {
    auto delta = choice.find("delta");
    if (delta != choice.end() && delta->is_object()) {
      auto content = delta->find("content");
      if (content != delta->end()) text = &*content;
    }
  } else if (auto t = choice.find("text"); t != choice.end()) {
    text = &*t;
  }
  return text && text->is_string() ? text->get<std::string>() : "";
}

bool has_choice(const json& event) {
  auto choices = event.find("choices");
  return choices != event.end() && choices->is_array() && !choices->empty();
}

// Follows one SSE stream: times the text events and reads the usage object.
class StreamTracker {
 public:
  StreamTracker(Endpoint endpoint, Clock::time_point start) : endpoint_(endpoint), start_(start) {}

  // false: stop reading (an error). After [DONE] the body is still read to its end so
  // that the connection can be kept alive.
  bool on_event(const std::string& data) {
    const Clock::time_point now = Clock::now();
    if (done_) return true;
    if (data == "[DONE]") {
      done_ = true;
      end_ = now;
      return true;
    }
    json event = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || !event.is_object()) {
      error_ = "malformed SSE event: " + shorten(data);
      return false;
    }
    if (auto e = event.find("error"); e != event.end() && !e->is_null()) {
      error_ = "error event: " + error_text(*e);
      return false;
    }
    if (has_choice(event) && !first_choice_) first_choice_ = now;
    if (!chunk_text(event, endpoint_).empty()) {
      if (!arrivals_.empty()) itl_.push_back(seconds(now - arrivals_.back()));
      arrivals_.push_back(now);
    }
    if (auto u = event.find("usage"); u != event.end() && u->is_object()) {
      prompt_tokens_ = u->value("prompt_tokens", -1);
      completion_tokens_ = u->value("completion_tokens", -1);
    }
    return true;
  }

  void finish(RequestResult* r, int calibrated_tokens) const {
    if (!error_.empty()) {
      r->error = error_;
      return;
    }
    if (!done_) {
      r->error = "the stream ended without data: [DONE]";
      return;
    }
    // TTFT is the first generated text; a stream whose every token decoded to nothing
    // falls back to its first choice event.
    std::optional<Clock::time_point> first =
        arrivals_.empty() ? first_choice_ : std::optional(arrivals_.front());
    if (!first) {
      r->error = "the stream carried no choices";
      return;
    }
    r->ok = true;
    r->ttft_s = seconds(*first - start_);
    r->latency_s = seconds(end_ - start_);
    r->itl_s = itl_;
    r->end = end_;
    r->prompt_tokens = prompt_tokens_ >= 0 ? prompt_tokens_ : calibrated_tokens;
    r->output_tokens =
        completion_tokens_ >= 0 ? completion_tokens_ : static_cast<int>(arrivals_.size());
  }

  static std::string error_text(const json& e) {
    if (e.is_object() && e.contains("message") && e["message"].is_string())
      return e["message"].get<std::string>();
    return shorten(e.dump());
  }

 private:
  Endpoint endpoint_;
  Clock::time_point start_, end_;
  std::optional<Clock::time_point> first_choice_;
  std::vector<Clock::time_point> arrivals_;
  std::vector<double> itl_;
  int prompt_tokens_ = -1, completion_tokens_ = -1;
  bool done_ = false;
  std::string error_;
};

}  // namespace

std::string error_message(int status, const std::string& body) {
  std::string msg = "HTTP " + std::to_string(status);
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object() && j.contains("error"))
    return msg + ": " + StreamTracker::error_text(j["error"]);
  return body.empty() ? msg : msg + ": " + shorten(body);
}

std::string request_body(const BenchConfig& cfg, const std::string& prompt) {
  json body = json::object();
  if (!cfg.model.empty()) body["model"] = cfg.model;
  if (cfg.endpoint == Endpoint::kChat) {
    body["messages"] = json::array({{{"role", "user"}, {"content", prompt}}});
  } else {
    body["prompt"] = prompt;
  }
  body["max_tokens"] = cfg.output_len;
  body["temperature"] = 0;
  body["ignore_eos"] = true;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

RequestResult run_request(http::HttpConnection& conn, const BenchConfig& cfg,
                          const std::string& prompt, int calibrated_tokens) {
  const std::string body = request_body(cfg, prompt);
  RequestResult result;
  const Clock::time_point start = Clock::now();
  StreamTracker tracker(cfg.endpoint, start);
  SseParser sse;
  auto on_event = [&tracker](const std::string& data) { return tracker.on_event(data); };
  auto response = conn.stream(endpoint_path(cfg.endpoint), body,
                              [&](std::string_view bytes) { return sse.feed(bytes, on_event); });
  if (!response.ok()) {
    result.error = response.status().message();
    return result;
  }
  if (response->status < 200 || response->status >= 300) {
    result.error = error_message(response->status, response->body);
    return result;
  }
  tracker.finish(&result, calibrated_tokens);
  return result;
}

}  // namespace mlxs::cli::bench
