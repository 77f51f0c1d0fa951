// The OpenAI wire format, with no HTTP and no engine threads in it: request bodies are
// parsed and validated into engine requests, and engine chunks are turned into response
// objects and SSE events. Every rejection is an ApiError carrying OpenAI's error shape
// {"error":{"message","type","param","code"}} and the HTTP status to send.
#pragma once

#include <optional>
#include <variant>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generation.h"

namespace mlxs {
class Tokenizer;
class ChatFormatter;
}

namespace mlxs::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // or "authentication_error", "server_error", ...
  std::string param;                           // "" : null
  std::string code;                            // "" : null
  nlohmann::ordered_json to_json() const;      // {"error":{...}}
  std::string body() const { return to_json().dump(); }
};
ApiError bad_request(std::string message, std::string param = "", std::string code = "");

enum class Endpoint { kCompletions, kChatCompletions };

// What the server needs to know about the model to validate a request.
struct ModelInfo {
  std::string id;           // served model name; requests naming another model get 404
  int n_ctx = 0;            // context per sequence
  int default_max_tokens = 256;
  int64_t created = 0;      // unix time the model was loaded
};

// A request ready for Engine::generate, plus what the response needs to echo back.
struct ParsedRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  GenerateRequest gen;         // prompt or prompt_tokens, sampling, stop, max_tokens, ...
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool echo = false;           // completions: echo the prompt (text only)
  bool logprobs = false;
  int top_logprobs = 0;
  std::string model;           // as the client named it
  std::string user;
  bool max_tokens_given = false;  // false: the default was used (and clamped to the context)
  // The text a speculation allowlist entry is compared with: the prompt (completions) or
  // the last user message (chat).
  std::string match_text;
  // The request's ttft_hint extension: {"priority": "high"|"normal"|"low",
  // "estimated_tokens": N} (estimatedTokens, streamId, prompt and model, the spec's
  // TtftHint names, are accepted too). Orders the warm queue.
  int hint_priority = 1;            // 0 low, 1 normal, 2 high
  int64_t hint_estimated_tokens = 0;  // 0: estimated from the prompt's length
};

// Parses and validates a body. Checks: valid JSON object, field types, ranges
// (temperature 0..2, top_p 0..1, top_k >= -1, min_p 0..1, penalties -2..2,
// repetition_penalty > 0, logprobs (completions: int 0..20; chat: bool + top_logprobs
// 0..20), n == 1, stop as string or list of at most 4 strings, max_tokens /
// max_completion_tokens >= 1, model == info.id (404 "model_not_found" otherwise),
// prompt a string, list of one string, or list of token ids (completions) / messages a
// non-empty array of {role, content} (chat; content a string or a list of text parts).
// For chat, the messages are rendered with `chat` (add_generation_prompt = true) and the
// prompt is tokenized with add_special = false. Context length is checked by the caller
// after tokenization (see context_error).
std::variant<ParsedRequest, ApiError> parse_completion_request(const std::string& body,
                                                               Endpoint endpoint,
                                                               const ModelInfo& info,
                                                               const ChatFormatter& chat);

// 400 "context_length_exceeded" naming both numbers when prompt + max_tokens > n_ctx;
// nullopt when it fits.
std::optional<ApiError> context_error(int prompt_tokens, int max_tokens, int n_ctx);

// Builds responses. `id` is "cmpl-..." or "chatcmpl-..."; `created` unix seconds.
class ResponseBuilder {
 public:
  ResponseBuilder(const ParsedRequest& req, std::string id, int64_t created,
                  std::string model, const Tokenizer& tok);
  // Non-streaming: accumulate every chunk, then final_response() is the whole object
  // ("text_completion" / "chat.completion") with choices[0].text or .message, logprobs
  // when asked, finish_reason and usage.
  void add(const Chunk& c);
  nlohmann::ordered_json final_response() const;

  // Streaming: the SSE events ("data: {...}\n\n") one chunk produces (possibly none, e.g.
  // an empty text held back), including, on the final chunk, the usage chunk when
  // include_usage and then "data: [DONE]\n\n". A chat stream's first event carries
  // delta.role = "assistant".
  std::string sse_events(const Chunk& c);
  // An error after streaming began: an SSE event carrying the error object, then [DONE].
  static std::string sse_error(const ApiError& e);

 private:
  const ParsedRequest& req_;
  std::string id_, model_;
  int64_t created_;
  const Tokenizer& tok_;
  bool role_sent_ = false;
  std::string text_;
  nlohmann::ordered_json logprob_content_ = nlohmann::ordered_json::array();  // chat
  nlohmann::ordered_json tokens_, token_logprobs_, top_logprobs_, text_offset_;  // completions
  FinishReason finish_ = FinishReason::kNone;
  GenerationStats stats_;
};

// "stop" / "length"; a cancelled or failed generation has no OpenAI reason (null).
nlohmann::ordered_json finish_reason_json(FinishReason r);

// /v1/models list, /tokenize and /detokenize bodies.
nlohmann::ordered_json models_response(const ModelInfo& info);
// /tokenize: {"prompt": "..."} or {"messages": [...]} (+ "add_special_tokens", default
// true for prompt, false for messages; "with_pieces") → {"tokens":[...], "count":N,
// "max_model_len":n_ctx[, "token_strs":[...]]}.
std::variant<nlohmann::ordered_json, ApiError> tokenize_response(const std::string& body,
                                                                 const ModelInfo& info,
                                                                 const Tokenizer& tok,
                                                                 const ChatFormatter& chat);
// /detokenize: {"tokens":[ids]} → {"prompt":"..."}; ids outside the vocabulary → 400.
std::variant<nlohmann::ordered_json, ApiError> detokenize_response(const std::string& body,
                                                                   const Tokenizer& tok);

}  // namespace mlxs::server
