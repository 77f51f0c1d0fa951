// Synthetic prompts of a chosen length in the server's own tokens. Text is drawn from a
// fixed word list with a seeded generator and measured with the server's /tokenize (the
// chat form for the chat endpoint, so the template is counted too); words are added or
// removed until the count is as close to the target as whole words allow. The first
// `shared_prefix_len` tokens are one text shared by every prompt; the rest differs per
// request. A server without /tokenize gets prompts sized by an estimate instead.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/bench_serve/config.h"
#include "http/http_client.h"

namespace mlxs::cli::bench {

struct Prompt {
  std::string text;
  int tokens = 0;  // as measured (or estimated)
};

// Counts the tokens of a text; nullopt when the server cannot tell.
using TokenCounter = std::function<std::optional<int>(const std::string& text, bool as_chat)>;

// /tokenize on `conn`.
TokenCounter server_token_counter(http::HttpConnection& conn, const std::string& model);
// A fixed tokens-per-word guess, for servers without /tokenize.
TokenCounter estimated_token_counter();

struct PromptSet {
  std::vector<Prompt> prompts;
  bool estimated = false;  // the server could not measure; lengths are guesses
};

PromptSet build_prompts(const BenchConfig& cfg, const TokenCounter& server);

}  // namespace mlxs::cli::bench
