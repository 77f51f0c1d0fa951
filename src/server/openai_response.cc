// Response side of the OpenAI wire format: engine chunks become a whole "text_completion" /
// "chat.completion" object, or SSE events of "text_completion" / "chat.completion.chunk"
// objects. In streaming mode the logprob members hold the entries not yet sent (a token
// whose text is held back is reported with the next text that goes out).
#include <cmath>

#include "server/openai_protocol.h"
#include "server/openai_text.h"
#include "tokenizer/tokenizer.h"

namespace mlxs::server {
namespace {

using json = nlohmann::ordered_json;

// JSON has no -inf; OpenAI and vLLM report impossible tokens as -9999.
double finite_logprob(float lp) { return std::isfinite(lp) ? lp : -9999.0; }

json usage_json(const GenerationStats& s) {
  json u = json::object();
  u["prompt_tokens"] = s.prompt_tokens;
  u["completion_tokens"] = s.generated_tokens;
  u["total_tokens"] = s.prompt_tokens + s.generated_tokens;
  // OpenAI's field for prompt tokens served from the prefix cache.
  u["prompt_tokens_details"] = {{"cached_tokens", s.cached_tokens}};
  return u;
}

bool is_chat(const ParsedRequest& r) { return r.endpoint == Endpoint::kChatCompletions; }

}  // namespace

ResponseBuilder::ResponseBuilder(const ParsedRequest& req, std::string id, int64_t created,
                                 std::string model, const Tokenizer& tok)
    : req_(req), id_(std::move(id)), model_(std::move(model)), created_(created), tok_(tok) {
  tokens_ = json::array();
  token_logprobs_ = json::array();
  top_logprobs_ = json::array();
  text_offset_ = json::array();
  // Completions with echo: the answer starts with the prompt (as text; the prompt's own
  // logprobs are not computed).
  if (req_.echo && !is_chat(req_)) {
    text_ = req_.gen.prompt_tokens.empty() ? req_.gen.prompt : tok_.decode(req_.gen.prompt_tokens);
  }
}

namespace {

// Records one token's logprobs in the chat or the completions shape.
struct LogprobRecorder {
  const Tokenizer& tok;
  std::string piece(TokenId id) const {
    return id >= 0 && id < tok.n_vocab() ? tok.token_to_piece(id, /*render_special=*/true) : "";
  }
  json chat_entry(const Chunk& c, int n_top) const {
    json e = json::object();
    const std::string p = piece(c.token);
    e["token"] = token_display(p);
    e["logprob"] = finite_logprob(c.logprob);
    e["bytes"] = byte_values(p);
    json top = json::array();
    for (size_t i = 0; i < c.top_logprobs.size() && static_cast<int>(i) < n_top; ++i) {
      const std::string tp = piece(c.top_logprobs[i].token);
      json t = json::object();
      t["token"] = token_display(tp);
      t["logprob"] = finite_logprob(c.top_logprobs[i].logprob);
      t["bytes"] = byte_values(tp);
      top.push_back(std::move(t));
    }
    e["top_logprobs"] = std::move(top);
    return e;
  }
  // Completions' top_logprobs: piece → logprob, the best n plus the sampled token (OpenAI:
  // "up to logprobs+1 elements"). Two tokens with the same piece keep the better logprob.
  json completion_top(const Chunk& c, int n_top) const {
    json d = json::object();
    for (size_t i = 0; i < c.top_logprobs.size() && static_cast<int>(i) < n_top; ++i) {
      const std::string k = token_display(piece(c.top_logprobs[i].token));
      if (!d.contains(k)) d[k] = finite_logprob(c.top_logprobs[i].logprob);
    }
    const std::string k = token_display(piece(c.token));
    if (!d.contains(k)) d[k] = finite_logprob(c.logprob);
    return d;
  }
};

}  // namespace

void ResponseBuilder::add(const Chunk& c) {
  if (c.token >= 0 && req_.logprobs) {
    LogprobRecorder rec{tok_};
    if (is_chat(req_)) {
      logprob_content_.push_back(rec.chat_entry(c, req_.top_logprobs));
    } else {
      tokens_.push_back(token_display(rec.piece(c.token)));
      token_logprobs_.push_back(finite_logprob(c.logprob));
      top_logprobs_.push_back(rec.completion_top(c, req_.top_logprobs));
      text_offset_.push_back(text_.size());
    }
  }
  text_ += c.text;
  stats_ = c.stats;
  if (c.finish != FinishReason::kNone) finish_ = c.finish;
}

namespace {

json completion_logprobs(const json& offsets, const json& lps, const json& tokens,
                         const json& top) {
  json l = json::object();
  l["text_offset"] = offsets;
  l["token_logprobs"] = lps;
  l["tokens"] = tokens;
  l["top_logprobs"] = top;
  return l;
}

json chat_logprobs(const json& content) {
  json l = json::object();
  l["content"] = content;
  l["refusal"] = nullptr;
  return l;
}

}  // namespace

json ResponseBuilder::final_response() const {
  json choice = json::object();
  choice["index"] = 0;
  if (is_chat(req_)) {
    json msg = json::object();
    msg["role"] = "assistant";
    msg["content"] = utf8_or_replaced(text_);
    msg["refusal"] = nullptr;
    choice["message"] = std::move(msg);
    choice["logprobs"] = req_.logprobs ? chat_logprobs(logprob_content_) : json(nullptr);
  } else {
    choice["text"] = utf8_or_replaced(text_);
    choice["logprobs"] =
        req_.logprobs ? completion_logprobs(text_offset_, token_logprobs_, tokens_, top_logprobs_)
                      : json(nullptr);
  }
  choice["finish_reason"] = finish_reason_json(finish_);
  json out = json::object();
  out["id"] = id_;
  out["object"] = is_chat(req_) ? "chat.completion" : "text_completion";
  out["created"] = created_;
  out["model"] = model_;
  out["choices"] = json::array({choice});
  out["usage"] = usage_json(stats_);
  return out;
}

std::string ResponseBuilder::sse_error(const ApiError& e) {
  return sse_data(e.to_json()) + kSseDone;
}

std::string ResponseBuilder::sse_events(const Chunk& c) {
  const bool chat = is_chat(req_);
  std::string out;
  // The envelope every streamed object shares; with include_usage each one carries
  // "usage": null and a last extra object carries the totals.
  auto envelope = [&](json choices) {
    json o = json::object();
    o["id"] = id_;
    o["object"] = chat ? "chat.completion.chunk" : "text_completion";
    o["created"] = created_;
    o["model"] = model_;
    o["choices"] = std::move(choices);
    if (req_.include_usage) o["usage"] = nullptr;
    return o;
  };
  // One choice with `text` and the logprobs gathered so far, which are then cleared.
  auto choice_event = [&](const std::string& text, const json& finish) {
    json ch = json::object();
    ch["index"] = 0;
    if (chat) {
      json delta = json::object();
      if (!text.empty()) delta["content"] = utf8_or_replaced(text);
      ch["delta"] = std::move(delta);
      ch["logprobs"] = req_.logprobs ? chat_logprobs(logprob_content_) : json(nullptr);
      logprob_content_ = json::array();
    } else {
      ch["text"] = utf8_or_replaced(text);
      ch["logprobs"] =
          req_.logprobs ? completion_logprobs(text_offset_, token_logprobs_, tokens_, top_logprobs_)
                        : json(nullptr);
      tokens_ = json::array();
      token_logprobs_ = json::array();
      top_logprobs_ = json::array();
      text_offset_ = json::array();
    }
    ch["finish_reason"] = finish;
    out += sse_data(envelope(json::array({std::move(ch)})));
  };

  std::string text;
  if (!role_sent_) {
    role_sent_ = true;
    if (chat) {
      // OpenAI opens a chat stream with the role and empty content.
      json delta = json::object();
      delta["role"] = "assistant";
      delta["content"] = "";
      json ch = json::object();
      ch["index"] = 0;
      ch["delta"] = std::move(delta);
      ch["logprobs"] = nullptr;
      ch["finish_reason"] = nullptr;
      out += sse_data(envelope(json::array({std::move(ch)})));
    } else {
      text = text_;  // the echoed prompt goes out with the first text
    }
  }
  add(c);  // records logprobs at the right text offset and keeps the totals
  text += c.text;

  if (c.finish == FinishReason::kNone) {
    if (!text.empty()) choice_event(text, nullptr);
    return out;
  }
  if (c.finish == FinishReason::kError) {
    if (!text.empty()) choice_event(text, nullptr);
    ApiError e;
    e.status = 500;
    e.type = "server_error";
    e.message = c.error.empty() ? "Generation failed." : "Generation failed: " + c.error;
    return out + sse_error(e);
  }
  choice_event(text, finish_reason_json(c.finish));
  if (req_.include_usage) {
    json o = envelope(json::array());
    o["usage"] = usage_json(stats_);
    out += sse_data(o);
  }
  return out + kSseDone;
}

}  // namespace mlxs::server
