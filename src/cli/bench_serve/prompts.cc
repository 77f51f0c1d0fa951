#include "cli/bench_serve/prompts.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

namespace mlxs::cli::bench {
namespace {

using json = nlohmann::json;

// Common English words: most are a single token in BPE and SentencePiece vocabularies,
// which lets whole-word steps land close to any target length.
const char* const kWords[] = {
    "the",    "of",     "and",    "to",     "in",    "is",     "was",    "that",  "for",
    "it",     "with",   "as",     "on",     "be",    "at",     "by",     "this",  "had",
    "not",    "are",    "but",    "from",   "or",    "have",   "an",     "they",  "which",
    "one",    "you",    "were",   "her",    "all",   "she",    "there",  "would", "their",
    "we",     "him",    "been",   "has",    "when",  "who",    "will",   "more",  "no",
    "if",     "out",    "so",     "said",   "what",  "up",     "its",    "about", "into",
    "than",   "them",   "can",    "only",   "other", "new",    "some",   "could", "time",
    "these",  "two",    "may",    "then",   "do",    "first",  "any",    "my",    "now",
    "such",   "like",   "our",    "over",   "man",   "me",     "even",   "most",  "made",
    "after",  "also",   "did",    "many",   "before", "must",  "through", "back", "years",
    "where",  "much",   "your",   "way",    "well",  "down",   "should", "because", "each",
    "just",   "those",  "people", "how",    "too",   "little", "state",  "good",  "very",
    "make",   "world",  "still",  "own",    "see",   "men",    "work",   "long",  "get",
    "here",   "between", "both",  "life",   "being", "under",  "never",  "day",   "same",
    "another", "know",  "while",  "last",   "might", "us",     "great",  "old",   "year",
    "off",    "come",   "since",  "against", "go",   "came",   "right",  "used",  "take",
    "three",  "house",  "water",  "light",  "city",  "river",  "small",  "number", "place",
};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);
constexpr double kDefaultTokensPerWord = 1.3;

// An endless seeded word sequence; words(n) is always a prefix of words(n + 1).
class WordStream {
 public:
  explicit WordStream(uint64_t seed) : rng_(seed) {}
  std::string words(size_t n) {
    while (picked_.size() < n) picked_.push_back(kWords[rng_() % kWordCount]);
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      if (i) out += ' ';
      out += picked_[i];
    }
    return out;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<const char*> picked_;
};

std::string join(const std::string& head, const std::string& tail) {
  if (head.empty()) return tail;
  if (tail.empty()) return head;
  return head + " " + tail;
}

// Finds the word count whose text `head + words` measures closest to `target` tokens:
// a secant-style step on the tokens-per-word ratio, stopping on an exact hit or when a
// count repeats. `ratio` carries the learned ratio over to the next prompt.
std::optional<Prompt> fit(const std::string& head, WordStream& stream, int target, bool as_chat,
                          const TokenCounter& count, double* ratio) {
  auto head_tokens = count(head, as_chat);
  if (!head_tokens) return std::nullopt;
  long n = std::max(0L, std::lround((target - *head_tokens) / *ratio));
  std::optional<Prompt> best;
  std::set<long> tried;
  for (int step = 0; step < 16 && tried.insert(n).second; ++step) {
    Prompt p{join(head, stream.words(static_cast<size_t>(n))), 0};
    auto c = n == 0 ? head_tokens : count(p.text, as_chat);
    if (!c) return std::nullopt;
    p.tokens = *c;
    if (!best || std::abs(p.tokens - target) < std::abs(best->tokens - target)) best = p;
    if (p.tokens == target) break;
    if (n > 0 && *c > *head_tokens) *ratio = double(*c - *head_tokens) / double(n);
    const long delta = std::lround((target - *c) / *ratio);
    n = std::max(0L, n + (delta != 0 ? delta : (target > *c ? 1 : -1)));
  }
  return best;
}

}  // namespace

TokenCounter server_token_counter(http::HttpConnection& conn, const std::string& model) {
  return [&conn, model](const std::string& text, bool as_chat) -> std::optional<int> {
    json body = json::object();
    if (!model.empty()) body["model"] = model;
    if (as_chat) {
      body["messages"] = json::array({{{"role", "user"}, {"content", text}}});
    } else {
      body["prompt"] = text;
    }
    auto r = conn.request("/tokenize", body.dump(), /*post=*/true);
    if (!r.ok() || r->status != 200) return std::nullopt;
    json j = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    if (j.contains("count") && j["count"].is_number_integer()) return j["count"].get<int>();
    if (j.contains("tokens") && j["tokens"].is_array()) return static_cast<int>(j["tokens"].size());
    return std::nullopt;
  };
}

TokenCounter estimated_token_counter() {
  return [](const std::string& text, bool) -> std::optional<int> {
    if (text.empty()) return 0;
    const long words = std::count(text.begin(), text.end(), ' ') + 1;
    return static_cast<int>(std::lround(words * kDefaultTokensPerWord));
  };
}

PromptSet build_prompts(const BenchConfig& cfg, const TokenCounter& server) {
  const bool chat = cfg.endpoint == Endpoint::kChat;
  PromptSet set;
  TokenCounter count = server;
  // Probe once: a server that cannot count falls back to the estimate for every prompt.
  if (!count("probe", chat)) {
    count = estimated_token_counter();
    set.estimated = true;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    double ratio = kDefaultTokensPerWord;
    set.prompts.clear();
    bool failed = false;
    std::string prefix;
    if (cfg.shared_prefix_len > 0) {
      WordStream stream(cfg.seed * 0x9E3779B97F4A7C15ULL + 1);
      auto p = fit("", stream, cfg.shared_prefix_len, /*as_chat=*/false, count, &ratio);
      if (p) prefix = p->text;
      failed = !p;
    }
    for (int i = 0; i < cfg.requests && !failed; ++i) {
      WordStream stream(cfg.seed * 0x9E3779B97F4A7C15ULL + 2 + static_cast<uint64_t>(i));
      auto p = fit(prefix, stream, cfg.prompt_len, chat, count, &ratio);
      if (!p) {
        failed = true;
        break;
      }
      set.prompts.push_back(std::move(*p));
    }
    if (!failed) return set;
    // The server stopped answering /tokenize midway: start over with the estimate.
    count = estimated_token_counter();
    set.estimated = true;
  }
  return set;
}

}  // namespace mlxs::cli::bench
