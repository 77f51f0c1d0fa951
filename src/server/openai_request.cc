// Request side of the OpenAI wire format: a body becomes a validated GenerateRequest, and
// /tokenize and /detokenize bodies become their answers. Unknown fields are ignored (as
// OpenAI and vLLM do); known fields with a wrong JSON type, a value out of range or a
// value this server does not support are rejected with a 400 naming the field.
#include <climits>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "engine/chat_format.h"
#include "server/openai_protocol.h"
#include "server/openai_text.h"
#include "tokenizer/tokenizer.h"

namespace mlxs::server {
namespace {

using json = nlohmann::ordered_json;
using MaybeError = std::optional<ApiError>;

constexpr int kMaxTopLogprobs = 20;
constexpr size_t kMaxStopStrings = 4;

// The field's value, or nullptr when absent or null (null means "use the default").
const json* field(const json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "null";
  }
}

ApiError type_error(const std::string& param, const std::string& expected, const json& got) {
  return bad_request("Invalid type for '" + param + "': expected " + expected + ", but got " +
                         type_name(got) + " instead.",
                     param);
}

ApiError value_error(const std::string& param, const std::string& why) {
  return bad_request("Invalid value for '" + param + "': " + why, param);
}

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// A JSON integer, or a float with an integral value (pydantic, behind vLLM, accepts 5.0).
bool as_int64(const json& v, int64_t* out) {
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    *out = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      *out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}

struct Range {
  double lo, hi;
  bool lo_open = false;  // (lo, hi] instead of [lo, hi]
  std::string text() const {
    if (std::isinf(hi))
      return std::string(lo_open ? "greater than " : "at least ") + number_text(lo);
    return std::string(lo_open ? "in (" : "in [") + number_text(lo) + ", " + number_text(hi) + "]";
  }
  bool contains(double v) const { return (lo_open ? v > lo : v >= lo) && v <= hi; }
};

MaybeError read_float(const json& body, const std::string& name, Range r, float* out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) return type_error(name, "a number", *v);
  const double d = v->get<double>();
  if (!r.contains(d))
    return value_error(name, "must be " + r.text() + ", got " + number_text(d) + ".");
  *out = static_cast<float>(d);
  return std::nullopt;
}

// Reads an integer in [lo, hi]; `given` (when not null) says whether the field was set.
MaybeError read_int(const json& body, const std::string& name, int64_t lo, int64_t hi, int64_t* out,
                    bool* given = nullptr) {
  const json* v = field(body, name);
  if (given) *given = v != nullptr;
  if (!v) return std::nullopt;
  int64_t i = 0;
  if (!as_int64(*v, &i)) return type_error(name, "an integer", *v);
  if (i < lo || i > hi) {
    std::string range = hi == INT64_MAX
                            ? "at least " + std::to_string(lo)
                            : "between " + std::to_string(lo) + " and " + std::to_string(hi);
    return value_error(name, "must be " + range + ", got " + std::to_string(i) + ".");
  }
  *out = i;
  return std::nullopt;
}

MaybeError read_bool(const json& body, const std::string& name, bool* out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) return type_error(name, "a boolean", *v);
  *out = v->get<bool>();
  return std::nullopt;
}

MaybeError read_string(const json& body, const std::string& name, std::string* out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) return type_error(name, "a string", *v);
  *out = v->get<std::string>();
  return std::nullopt;
}

ApiError unsupported(const std::string& param, const std::string& what,
                     const std::string& note = "") {
  return bad_request("Invalid value for '" + param + "': " + what +
                         " is not supported by this server" +
                         (note.empty() ? "." : " (" + note + ")."),
                     param);
}

// ---- model -----------------------------------------------------------------------------

MaybeError check_model(const json& body, const ModelInfo& info, std::string* model) {
  if (auto e = read_string(body, "model", model)) return e;
  if (!model->empty() && *model != info.id) {
    ApiError e;
    e.status = 404;
    e.message = "The model '" + *model + "' does not exist";
    e.param = "model";
    e.code = "model_not_found";
    return e;
  }
  return std::nullopt;
}

// ---- sampling and stopping -------------------------------------------------------------

MaybeError read_sampling(const json& body, SamplingParams* s) {
  if (auto e = read_float(body, "temperature", {0, 2}, &s->temperature)) return e;
  if (auto e = read_float(body, "top_p", {0, 1, true}, &s->top_p)) return e;
  int64_t top_k = s->top_k;
  if (auto e = read_int(body, "top_k", -1, INT_MAX, &top_k)) return e;
  s->top_k = static_cast<int>(top_k);
  if (auto e = read_float(body, "min_p", {0, 1}, &s->min_p)) return e;
  if (auto e = read_float(body, "presence_penalty", {-2, 2}, &s->presence_penalty)) return e;
  if (auto e = read_float(body, "frequency_penalty", {-2, 2}, &s->frequency_penalty)) return e;
  const double kInf = INFINITY;
  if (auto e = read_float(body, "repetition_penalty", {0, kInf, true}, &s->repetition_penalty)) {
    return e;
  }
  if (const json* v = field(body, "seed")) {
    int64_t seed = 0;
    if (v->is_number_unsigned()) {
      s->seed = v->get<uint64_t>();
    } else if (as_int64(*v, &seed)) {
      s->seed = static_cast<uint64_t>(seed);  // negative seeds are valid seeds too
    } else {
      return type_error("seed", "an integer", *v);
    }
  }
  return std::nullopt;
}

MaybeError read_stop(const json& body, std::vector<std::string>* stop) {
  const json* v = field(body, "stop");
  if (!v) return std::nullopt;
  if (v->is_string()) {
    if (v->get<std::string>().empty())
      return value_error("stop", "stop strings must not be empty.");
    stop->push_back(v->get<std::string>());
    return std::nullopt;
  }
  if (!v->is_array()) return type_error("stop", "a string or an array of strings", *v);
  if (v->size() > kMaxStopStrings) {
    return value_error("stop", "at most " + std::to_string(kMaxStopStrings) +
                                   " stop sequences are allowed, got " + std::to_string(v->size()) +
                                   ".");
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const json& s = (*v)[i];
    const std::string param = "stop[" + std::to_string(i) + "]";
    if (!s.is_string()) return type_error(param, "a string", s);
    if (s.get<std::string>().empty()) return value_error(param, "stop strings must not be empty.");
    stop->push_back(s.get<std::string>());
  }
  return std::nullopt;
}

// max_tokens, and for chat max_completion_tokens, which wins when both are given.
MaybeError read_max_tokens(const json& body, Endpoint ep, const ModelInfo& info, ParsedRequest* r) {
  int64_t max_tokens = info.default_max_tokens;
  bool given = false;
  if (auto e = read_int(body, "max_tokens", 1, INT64_MAX, &max_tokens, &given)) return e;
  if (ep == Endpoint::kChatCompletions) {
    bool given2 = false;
    if (auto e = read_int(body, "max_completion_tokens", 1, INT64_MAX, &max_tokens, &given2)) {
      return e;
    }
    given = given || given2;
  }
  // A huge request is no error here: the caller compares it with the context.
  r->gen.max_tokens = static_cast<int>(std::min<int64_t>(max_tokens, INT_MAX));
  r->max_tokens_given = given;
  return std::nullopt;
}

MaybeError read_stream(const json& body, ParsedRequest* r) {
  if (auto e = read_bool(body, "stream", &r->stream)) return e;
  const json* opts = field(body, "stream_options");
  if (!opts) return std::nullopt;
  if (!opts->is_object()) return type_error("stream_options", "an object", *opts);
  if (!r->stream) {
    return bad_request("Invalid value for 'stream_options': only allowed when 'stream' is true.",
                       "stream_options");
  }
  if (const json* u = field(*opts, "include_usage")) {
    if (!u->is_boolean()) return type_error("stream_options.include_usage", "a boolean", *u);
    r->include_usage = u->get<bool>();
  }
  return std::nullopt;
}

// Values of known fields this server cannot honour: rejected rather than silently ignored,
// so a client never gets an answer it did not ask for.
MaybeError check_unsupported(const json& body, Endpoint ep) {
  int64_t n = 1;
  if (auto e = read_int(body, "n", INT64_MIN, INT64_MAX, &n)) return e;
  if (n != 1) return unsupported("n", "n = " + std::to_string(n), "only n = 1");
  if (ep == Endpoint::kCompletions) {
    int64_t best_of = 1;
    if (auto e = read_int(body, "best_of", INT64_MIN, INT64_MAX, &best_of)) return e;
    if (best_of != 1)
      return unsupported("best_of", "best_of = " + std::to_string(best_of), "only 1");
    std::string suffix;
    if (auto e = read_string(body, "suffix", &suffix)) return e;
    if (!suffix.empty()) return unsupported("suffix", "suffix");
  }
  if (const json* lb = field(body, "logit_bias")) {
    if (!lb->is_object()) return type_error("logit_bias", "an object", *lb);
    if (!lb->empty()) return unsupported("logit_bias", "logit_bias");
  }
  if (const json* rf = field(body, "response_format")) {
    if (!rf->is_object()) return type_error("response_format", "an object", *rf);
    const json* t = field(*rf, "type");
    if (!t || !t->is_string()) {
      return bad_request("Invalid value for 'response_format.type': expected a string.",
                         "response_format.type");
    }
    if (t->get<std::string>() != "text") {
      return unsupported("response_format", "response_format type '" + t->get<std::string>() + "'");
    }
  }
  if (ep == Endpoint::kChatCompletions) {
    if (const json* tools = field(body, "tools")) {
      if (!tools->is_array()) return type_error("tools", "an array", *tools);
    }
    // "none" and "auto" leave the model free; anything that forces a call needs
    // constrained decoding, which this server does not do.
    for (const char* name : {"tool_choice", "function_call"}) {
      const json* tc = field(body, name);
      if (!tc) continue;
      if (tc->is_string()) {
        const std::string v = tc->get<std::string>();
        if (v == "none" || v == "auto") continue;
        if (v == "required") return unsupported(name, "'required'", "use 'auto' or 'none'");
        return value_error(name, "expected 'none', 'auto' or 'required', got '" + v + "'.");
      }
      if (tc->is_object())
        return unsupported(name, "forcing a function call", "use 'auto' or 'none'");
      return type_error(name, "a string or an object", *tc);
    }
  }
  return std::nullopt;
}

// ---- prompts ---------------------------------------------------------------------------

MaybeError read_token_ids(const json& arr, const std::string& param, std::vector<TokenId>* out) {
  if (arr.empty()) return value_error(param, "the prompt must not be empty.");
  for (size_t i = 0; i < arr.size(); ++i) {
    int64_t id = 0;
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!as_int64(arr[i], &id)) return type_error(p, "a token id (integer)", arr[i]);
    if (id < 0 || id > INT32_MAX)
      return value_error(p, "token ids must be non-negative, got " + std::to_string(id) + ".");
    out->push_back(static_cast<TokenId>(id));
  }
  return std::nullopt;
}

MaybeError read_prompt(const json& body, GenerateRequest* gen) {
  const json* p = field(body, "prompt");
  if (!p) return bad_request("Missing required parameter: 'prompt'.", "prompt");
  if (p->is_string()) {
    if (p->get<std::string>().empty())
      return value_error("prompt", "the prompt must not be empty.");
    gen->prompt = p->get<std::string>();
    return std::nullopt;
  }
  if (!p->is_array()) {
    return type_error("prompt", "a string, an array of strings or an array of token ids", *p);
  }
  if (p->empty()) return value_error("prompt", "the prompt must not be empty.");
  const json& first = (*p)[0];
  if (first.is_number()) return read_token_ids(*p, "prompt", &gen->prompt_tokens);
  if (p->size() > 1) {
    return bad_request(
        "Invalid value for 'prompt': batched prompts are not supported; send one "
        "prompt per request.",
        "prompt");
  }
  if (first.is_string()) {
    if (first.get<std::string>().empty())
      return value_error("prompt", "the prompt must not be empty.");
    gen->prompt = first.get<std::string>();
    return std::nullopt;
  }
  if (first.is_array()) return read_token_ids(first, "prompt[0]", &gen->prompt_tokens);
  return type_error("prompt[0]", "a string or an array of token ids", first);
}

// Chat messages as the template expects them: content parts joined into one string (as
// vLLM does for text-only templates), "developer" shown to the template as "system" (chat
// templates predate that role).
MaybeError normalize_messages(const json& body, json* out) {
  const json* msgs = field(body, "messages");
  if (!msgs) return bad_request("Missing required parameter: 'messages'.", "messages");
  if (!msgs->is_array()) return type_error("messages", "an array", *msgs);
  if (msgs->empty()) return value_error("messages", "at least one message is required.");
  *out = json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const json& m = (*msgs)[i];
    if (!m.is_object()) return type_error(p, "an object", m);
    const json* role = field(m, "role");
    if (!role) return bad_request("Missing required parameter: '" + p + ".role'.", p + ".role");
    if (!role->is_string()) return type_error(p + ".role", "a string", *role);
    std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool" &&
        r != "function") {
      return value_error(p + ".role", "'" + r +
                                          "' is not one of 'system', 'developer', 'user', "
                                          "'assistant', 'tool', 'function'.");
    }
    json msg = m;
    if (r == "developer") msg["role"] = "system";
    const json* content = field(m, "content");
    if (!content) {
      if (r != "assistant") {
        return bad_request("Missing required parameter: '" + p + ".content'.", p + ".content");
      }
      // An assistant turn that only calls tools has no content; templates test for that.
      if (!m.contains("tool_calls") && !m.contains("function_call")) msg["content"] = "";
    } else if (content->is_array()) {
      std::string text;
      for (size_t k = 0; k < content->size(); ++k) {
        const std::string pp = p + ".content[" + std::to_string(k) + "]";
        const json& part = (*content)[k];
        if (!part.is_object()) return type_error(pp, "an object", part);
        const json* type = field(part, "type");
        if (!type || !type->is_string()) {
          return bad_request("Missing required parameter: '" + pp + ".type'.", pp + ".type");
        }
        if (type->get<std::string>() != "text") {
          return unsupported(pp + ".type", "content part type '" + type->get<std::string>() + "'",
                             "only text parts");
        }
        const json* t = field(part, "text");
        if (!t) return bad_request("Missing required parameter: '" + pp + ".text'.", pp + ".text");
        if (!t->is_string()) return type_error(pp + ".text", "a string", *t);
        if (k > 0) text += "\n";
        text += t->get<std::string>();
      }
      msg["content"] = text;
    } else if (!content->is_string()) {
      return type_error(p + ".content", "a string or an array of content parts", *content);
    }
    out->push_back(std::move(msg));
  }
  return std::nullopt;
}

MaybeError render_chat(const json& messages, const json& tools, const ChatFormatter& chat,
                       std::string* prompt) {
  auto r = chat.render(messages, tools, /*add_generation_prompt=*/true);
  if (!r.ok())
    return bad_request("Could not apply the chat template: " + r.status().message(), "messages");
  *prompt = std::move(r.value());
  return std::nullopt;
}

MaybeError read_logprobs(const json& body, Endpoint ep, ParsedRequest* r) {
  if (ep == Endpoint::kCompletions) {
    // Completions: logprobs is the number of alternatives (0 = the sampled token only).
    int64_t n = 0;
    bool given = false;
    if (auto e = read_int(body, "logprobs", 0, kMaxTopLogprobs, &n, &given)) return e;
    r->logprobs = given;
    r->top_logprobs = static_cast<int>(n);
  } else {
    if (auto e = read_bool(body, "logprobs", &r->logprobs)) return e;
    int64_t n = 0;
    bool given = false;
    if (auto e = read_int(body, "top_logprobs", 0, kMaxTopLogprobs, &n, &given)) return e;
    if (given && n > 0 && !r->logprobs) {
      return bad_request(
          "Invalid value for 'top_logprobs': 'logprobs' must be true when "
          "'top_logprobs' is used.",
          "top_logprobs");
    }
    r->top_logprobs = static_cast<int>(n);
  }
  r->gen.sampling.want_logprobs = r->logprobs;
  r->gen.sampling.n_top_logprobs = r->logprobs ? r->top_logprobs : 0;
  return std::nullopt;
}

MaybeError parse_object(const std::string& body, json* out) {
  *out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    return bad_request("The request body is not valid JSON.");
  }
  if (!out->is_object()) return bad_request("The request body must be a JSON object.");
  return std::nullopt;
}

// ttft_hint: a hint for the TTFT pipeline (see ParsedRequest). Wrong types and unknown
// keys are errors like everywhere else in the body.
MaybeError read_ttft_hint(const json& body, ParsedRequest* r) {
  const json* h = field(body, "ttft_hint");
  if (!h || h->is_null()) return std::nullopt;
  if (!h->is_object()) return type_error("ttft_hint", "an object", *h);
  for (const auto& [key, value] : h->items()) {
    const std::string p = "ttft_hint." + key;
    if (key == "priority") {
      if (!value.is_string()) return type_error(p, "a string", value);
      const std::string v = value.get<std::string>();
      if (v == "high") r->hint_priority = 2;
      else if (v == "normal") r->hint_priority = 1;
      else if (v == "low") r->hint_priority = 0;
      else return value_error(p, "must be 'high', 'normal' or 'low', not '" + v + "'.");
    } else if (key == "estimated_tokens" || key == "estimatedTokens") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 100000000)
        return value_error(p, "must be an integer from 1 to 100000000.");
      r->hint_estimated_tokens = value.get<int64_t>();
    } else if (key == "stream_id" || key == "streamId" || key == "prompt" || key == "model") {
      if (!value.is_string()) return type_error(p, "a string", value);
    } else {
      return bad_request("Unknown field '" + p +
                             "': ttft_hint takes priority, estimated_tokens, stream_id, prompt "
                             "and model.",
                         p);
    }
  }
  return std::nullopt;
}

// The last user message's text (already normalized to a string), for the speculation
// allowlist.
std::string last_user_text(const json& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->is_object() && it->value("role", "") == "user") {
      auto c = it->find("content");
      if (c != it->end() && c->is_string()) return c->get<std::string>();
      return "";
    }
  }
  return "";
}

MaybeError parse_into(const json& body, Endpoint ep, const ModelInfo& info,
                      const ChatFormatter& chat, ParsedRequest* r) {
  r->endpoint = ep;
  if (auto e = check_model(body, info, &r->model)) return e;
  if (auto e = check_unsupported(body, ep)) return e;
  if (ep == Endpoint::kCompletions) {
    if (auto e = read_prompt(body, &r->gen)) return e;
    r->gen.add_special = true;
    r->gen.parse_special = true;
    if (auto e = read_bool(body, "echo", &r->echo)) return e;
    r->match_text = r->gen.prompt;
  } else {
    json messages;
    if (auto e = normalize_messages(body, &messages)) return e;
    const json* tools = field(body, "tools");
    if (auto e = render_chat(messages, tools ? *tools : json(nullptr), chat, &r->gen.prompt)) {
      return e;
    }
    // The template already wrote BOS and the role markers as text.
    r->gen.add_special = false;
    r->gen.parse_special = true;
    r->match_text = last_user_text(messages);
  }
  if (auto e = read_max_tokens(body, ep, info, r)) return e;
  if (auto e = read_sampling(body, &r->gen.sampling)) return e;
  if (auto e = read_logprobs(body, ep, r)) return e;
  if (auto e = read_stop(body, &r->gen.stop)) return e;
  if (auto e = read_stream(body, r)) return e;
  if (auto e = read_string(body, "user", &r->user)) return e;
  if (auto e = read_bool(body, "ignore_eos", &r->gen.ignore_eos)) return e;
  if (auto e = read_ttft_hint(body, r)) return e;
  // The checks above cover the sampler's; this keeps the two from ever drifting apart.
  const std::string why = Sampler::validate(r->gen.sampling);
  if (!why.empty()) return bad_request("Invalid value: " + why, why.substr(0, why.find(' ')));
  return std::nullopt;
}

}  // namespace

std::variant<ParsedRequest, ApiError> parse_completion_request(const std::string& body,
                                                               Endpoint endpoint,
                                                               const ModelInfo& info,
                                                               const ChatFormatter& chat) {
  json j;
  if (auto e = parse_object(body, &j)) return *e;
  ParsedRequest r;
  r.gen.max_tokens = info.default_max_tokens;
  if (auto e = parse_into(j, endpoint, info, chat, &r)) return *e;
  return r;
}

std::optional<ApiError> context_error(int prompt_tokens, int max_tokens, int n_ctx) {
  const int64_t total = static_cast<int64_t>(prompt_tokens) + max_tokens;
  if (total <= n_ctx) return std::nullopt;
  std::string msg = "This model's maximum context length is " + std::to_string(n_ctx) +
                    " tokens. However, you requested " + std::to_string(total) + " tokens (" +
                    std::to_string(prompt_tokens) + " in the prompt, " +
                    std::to_string(max_tokens) + " for the completion). ";
  // Naming the part the client should shorten: a prompt that alone fills the context
  // cannot be fixed by asking for fewer tokens.
  std::string param;
  if (prompt_tokens >= n_ctx) {
    msg += "Please reduce the length of the prompt.";
    param = "prompt";
  } else {
    msg += "Please reduce the length of the prompt or max_tokens (at most " +
           std::to_string(n_ctx - prompt_tokens) + " here).";
    param = "max_tokens";
  }
  return bad_request(std::move(msg), std::move(param), "context_length_exceeded");
}

std::variant<json, ApiError> tokenize_response(const std::string& body, const ModelInfo& info,
                                               const Tokenizer& tok, const ChatFormatter& chat) {
  json j;
  if (auto e = parse_object(body, &j)) return *e;
  std::string model;
  if (auto e = check_model(j, info, &model)) return *e;
  const bool has_prompt = field(j, "prompt") != nullptr;
  const bool has_messages = field(j, "messages") != nullptr;
  if (has_prompt == has_messages) {
    return bad_request("Exactly one of 'prompt' and 'messages' is required.",
                       has_prompt ? "messages" : "prompt");
  }
  std::string text;
  bool add_special = has_prompt;  // a rendered chat already holds its special tokens
  if (has_prompt) {
    if (auto e = read_string(j, "prompt", &text)) return *e;
  } else {
    json messages;
    if (auto e = normalize_messages(j, &messages)) return *e;
    bool add_generation_prompt = true;
    if (auto e = read_bool(j, "add_generation_prompt", &add_generation_prompt)) return *e;
    const json* tools = field(j, "tools");
    if (tools && !tools->is_array()) return type_error("tools", "an array", *tools);
    auto r = chat.render(messages, tools ? *tools : json(nullptr), add_generation_prompt);
    if (!r.ok()) {
      return bad_request("Could not apply the chat template: " + r.status().message(), "messages");
    }
    text = std::move(r.value());
  }
  if (auto e = read_bool(j, "add_special_tokens", &add_special)) return *e;
  bool with_pieces = false;
  if (auto e = read_bool(j, "with_pieces", &with_pieces)) return *e;
  if (auto e = read_bool(j, "return_token_strs", &with_pieces)) return *e;  // vLLM's name

  const std::vector<TokenId> ids = tok.encode(text, add_special, /*parse_special=*/true);
  json out = json::object();
  out["tokens"] = ids;
  out["count"] = ids.size();
  out["max_model_len"] = info.n_ctx;
  if (with_pieces) {
    json pieces = json::array();
    for (TokenId id : ids) pieces.push_back(token_display(tok.token_to_piece(id, true)));
    out["token_strs"] = std::move(pieces);
  }
  return out;
}

std::variant<json, ApiError> detokenize_response(const std::string& body, const Tokenizer& tok) {
  json j;
  if (auto e = parse_object(body, &j)) return *e;
  const json* t = field(j, "tokens");
  if (!t) return bad_request("Missing required parameter: 'tokens'.", "tokens");
  if (!t->is_array()) return type_error("tokens", "an array of token ids", *t);
  std::vector<TokenId> ids;
  for (size_t i = 0; i < t->size(); ++i) {
    const std::string p = "tokens[" + std::to_string(i) + "]";
    int64_t id = 0;
    if (!as_int64((*t)[i], &id)) return type_error(p, "a token id (integer)", (*t)[i]);
    if (id < 0 || id >= tok.n_vocab()) {
      return value_error(p, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                std::to_string(tok.n_vocab()) + ").");
    }
    ids.push_back(static_cast<TokenId>(id));
  }
  json out = json::object();
  // Special tokens are written out, as vLLM's /detokenize does.
  out["prompt"] = utf8_or_replaced(tok.decode(ids, /*render_special=*/true));
  return out;
}

}  // namespace mlxs::server
