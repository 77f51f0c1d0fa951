// First-token speculation: remembers, per (model, prompt tokens), the first token greedy
// decoding produced, with a confidence. A candidate whose confidence has reached
// min_confidence is offered as a prediction; the engine streams it at once and then
// checks it against the token it computes. Agreement raises the confidence, a miss
// multiplies it by decay_factor (and the newly computed token replaces the old one).
//
// Confidence rules (documented in docs/TTFT.md):
//   - a prompt observed for the first time: confidence kInitialConfidence (0.9);
//   - an agreeing observation: c += (1 - c) * (1 - decay_factor);
//   - a disagreeing one: c *= decay_factor, and the token becomes the new one.
// At most max_candidates are kept, least recently used evicted first.
//
// With allowlist_only, only allowlisted prompts are tracked and speculated. The allowlist
// holds prompt texts (compared after trimming surrounding whitespace): the config's
// entries plus those added at run time (the spec's addToAllowlist).
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ttft/ttft_config.h"

namespace mlxs::ttft {

inline constexpr double kInitialConfidence = 0.9;

struct Prediction {
  int32_t token = -1;
  double confidence = 0;
};

// What one observation did.
struct Observation {
  enum class Outcome { kLearned, kAgreed, kChanged, kHit, kMiss };
  Outcome outcome = Outcome::kLearned;  // kHit / kMiss only when a token was speculated
  double confidence = 0;                // the candidate's confidence afterwards
};

// The spec's getSpeculationStats(), and more.
struct SpeculationStats {
  uint64_t total_hits = 0;
  uint64_t total_misses = 0;
  double hit_rate = 0;  // hits / (hits + misses); 0 before any
  size_t candidate_count = 0;
  uint64_t total_observed = 0;  // observations recorded
  uint64_t evictions = 0;       // candidates dropped for max_candidates
  size_t allowlist_size = 0;
};

class SpeculativeProvider {
 public:
  explicit SpeculativeProvider(SpeculationConfig config);

  // A reload: thresholds apply at once; a lower max_candidates evicts the least recently
  // used; the config's allowlist entries are replaced, run-time additions kept.
  void set_config(const SpeculationConfig& config);
  SpeculationConfig config() const;

  // 16 hex digits identifying (model, prompt tokens): FNV-1a 64 over the model id and the
  // token ids. The candidates' key and the promptHash of events.
  static std::string prompt_hash(const std::string& model, const std::vector<int32_t>& tokens);

  // Whether a prompt may be tracked and speculated: speculation enabled, and the prompt
  // on the allowlist when allowlist_only.
  bool eligible(const std::string& prompt_text) const;
  // Whether the prompt (trimmed) is on the allowlist, config or run-time part.
  bool allowlisted(const std::string& prompt_text) const;

  // The candidate for this prompt when its confidence is at least min_confidence.
  std::optional<Prediction> predict(const std::string& hash);

  // The first token the engine computed for the prompt; `speculated` is the token that
  // was streamed ahead for it, or -1 when none was.
  Observation observe(const std::string& hash, int32_t computed, int32_t speculated);

  // Adds a prompt text (trimmed; empty is refused with false). True when added or present.
  bool add_to_allowlist(const std::string& prompt);
  bool remove_from_allowlist(const std::string& prompt);
  std::vector<std::string> allowlist() const;  // sorted

  SpeculationStats stats() const;

 private:
  struct Candidate {
    std::string hash;
    int32_t token = -1;
    double confidence = 0;
  };
  void evict_over_limit_locked();

  mutable std::mutex mu_;
  SpeculationConfig config_;
  std::list<Candidate> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Candidate>::iterator> index_;
  std::set<std::string> config_allowlist_, runtime_allowlist_;
  SpeculationStats stats_;
};

}  // namespace mlxs::ttft
