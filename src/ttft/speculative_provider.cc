// SpeculativeProvider: an LRU map from prompt hash to the last first token seen, with the
// confidence arithmetic of the header. One mutex guards everything; every operation is a
// few map and list steps.
#include "ttft/speculative_provider.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace mlxs::ttft {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
// Separates the model id from the tokens so that ("ab", [..]) and ("a", ['b'..]) differ;
// 0xff never occurs in UTF-8 text.
constexpr unsigned char kSeparator = 0xff;

uint64_t fnv1a(uint64_t h, unsigned char byte) { return (h ^ byte) * kFnvPrime; }

std::string trim(const std::string& s) {
  const char* kSpace = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string::npos) return "";
  const size_t last = s.find_last_not_of(kSpace);
  return s.substr(first, last - first + 1);
}

std::set<std::string> trimmed_set(const std::vector<std::string>& entries) {
  std::set<std::string> out;
  for (const auto& e : entries) {
    std::string t = trim(e);
    if (!t.empty()) out.insert(std::move(t));
  }
  return out;
}

// An agreeing observation closes (1 - decay) of the gap to certainty.
double raised(double c, double decay) { return c + (1.0 - c) * (1.0 - decay); }

}  // namespace

SpeculativeProvider::SpeculativeProvider(SpeculationConfig config) : config_(std::move(config)) {
  config_allowlist_ = trimmed_set(config_.allowlist);
}

void SpeculativeProvider::set_config(const SpeculationConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = config;
  config_allowlist_ = trimmed_set(config_.allowlist);
  evict_over_limit_locked();
}

SpeculationConfig SpeculativeProvider::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

std::string SpeculativeProvider::prompt_hash(const std::string& model,
                                             const std::vector<int32_t>& tokens) {
  uint64_t h = kFnvOffset;
  for (char c : model) h = fnv1a(h, static_cast<unsigned char>(c));
  h = fnv1a(h, kSeparator);
  for (int32_t token : tokens) {
    // Little-endian bytes, so the hash is the same on every host.
    const auto u = static_cast<uint32_t>(token);
    for (int shift = 0; shift < 32; shift += 8) {
      h = fnv1a(h, static_cast<unsigned char>((u >> shift) & 0xff));
    }
  }
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(h));
  return out;
}

bool SpeculativeProvider::eligible(const std::string& prompt_text) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!config_.enabled) return false;
  if (!config_.allowlist_only) return true;
  const std::string t = trim(prompt_text);
  return config_allowlist_.count(t) > 0 || runtime_allowlist_.count(t) > 0;
}

bool SpeculativeProvider::allowlisted(const std::string& prompt_text) const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string t = trim(prompt_text);
  return config_allowlist_.count(t) > 0 || runtime_allowlist_.count(t) > 0;
}

std::optional<Prediction> SpeculativeProvider::predict(const std::string& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  // Asked for means in use, even when not yet confident enough to offer.
  lru_.splice(lru_.begin(), lru_, it->second);
  const Candidate& c = *it->second;
  if (c.confidence < config_.min_confidence) return std::nullopt;
  return Prediction{c.token, c.confidence};
}

Observation SpeculativeProvider::observe(const std::string& hash, int32_t computed,
                                         int32_t speculated) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.total_observed;
  if (computed < 0) {
    // No token was computed (the request failed first): nothing to learn or judge, and a
    // negative token must never become a prediction.
    auto it = index_.find(hash);
    return Observation{Observation::Outcome::kLearned,
                       it == index_.end() ? 0.0 : it->second->confidence};
  }
  const bool was_speculated = speculated >= 0;
  const bool agrees = speculated == computed;
  if (was_speculated) {
    if (agrees) {
      ++stats_.total_hits;
    } else {
      ++stats_.total_misses;
    }
  }

  Observation result;
  auto it = index_.find(hash);
  if (it == index_.end()) {
    // First sighting (or the candidate was evicted since its prediction): learn it.
    lru_.push_front(Candidate{hash, computed, kInitialConfidence});
    index_[hash] = lru_.begin();
    result.outcome = !was_speculated ? Observation::Outcome::kLearned
                     : agrees        ? Observation::Outcome::kHit
                                     : Observation::Outcome::kMiss;
    result.confidence = kInitialConfidence;
    evict_over_limit_locked();
    return result;
  }

  lru_.splice(lru_.begin(), lru_, it->second);
  Candidate& c = *it->second;
  // What was streamed is what the computed token confirms or refutes; without a stream,
  // the stored token is.
  const bool confirmed = was_speculated ? agrees : c.token == computed;
  if (confirmed) {
    c.confidence = raised(c.confidence, config_.decay_factor);
  } else {
    c.confidence *= config_.decay_factor;
  }
  c.token = computed;
  if (was_speculated) {
    result.outcome = agrees ? Observation::Outcome::kHit : Observation::Outcome::kMiss;
  } else {
    result.outcome = confirmed ? Observation::Outcome::kAgreed : Observation::Outcome::kChanged;
  }
  result.confidence = c.confidence;
  return result;
}

bool SpeculativeProvider::add_to_allowlist(const std::string& prompt) {
  std::string t = trim(prompt);
  if (t.empty()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  runtime_allowlist_.insert(std::move(t));
  return true;
}

bool SpeculativeProvider::remove_from_allowlist(const std::string& prompt) {
  const std::string t = trim(prompt);
  std::lock_guard<std::mutex> lock(mu_);
  // A config entry removed here comes back with the next reload of the file.
  const size_t removed = runtime_allowlist_.erase(t) + config_allowlist_.erase(t);
  return removed > 0;
}

std::vector<std::string> SpeculativeProvider::allowlist() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  std::set_union(config_allowlist_.begin(), config_allowlist_.end(), runtime_allowlist_.begin(),
                 runtime_allowlist_.end(), std::back_inserter(out));
  return out;
}

SpeculationStats SpeculativeProvider::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SpeculationStats s = stats_;
  const uint64_t judged = s.total_hits + s.total_misses;
  s.hit_rate =
      judged == 0 ? 0.0 : static_cast<double>(s.total_hits) / static_cast<double>(judged);
  s.candidate_count = lru_.size();
  std::vector<std::string> all;
  std::set_union(config_allowlist_.begin(), config_allowlist_.end(), runtime_allowlist_.begin(),
                 runtime_allowlist_.end(), std::back_inserter(all));
  s.allowlist_size = all.size();
  return s;
}

void SpeculativeProvider::evict_over_limit_locked() {
  const size_t limit = static_cast<size_t>(std::max(0, config_.max_candidates));
  while (lru_.size() > limit) {
    index_.erase(lru_.back().hash);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

}  // namespace mlxs::ttft
