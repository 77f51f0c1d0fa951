// FeatureFlagLoader: the spec's loader in C++. It holds the live FlagSnapshot behind an
// atomic pointer (request threads read it without a lock; a reload builds a new one and
// swaps it whole), counts every decision per feature, tells subscribers about decisions
// and logs them when observability.log_feature_decisions is on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "flags/flag_config.h"
#include "flags/flag_eval.h"

namespace mlxs::flags {

struct FeatureStats {
  std::string feature;
  uint64_t total = 0, enabled = 0, disabled = 0;
  double actual_percentage = 0;  // enabled / total * 100 (0 before any decision)
  // What the live config aims at for this feature: its percentage when it and every
  // gate above it are switched on (a sub-feature: its parent's), else 0.
  double target_percentage = 0;
};

// The spec's getStats(): totals over every feature, then each feature.
struct FlagStats {
  uint64_t total_decisions = 0, enabled_count = 0, disabled_count = 0;
  double actual_percentage = 0;
  uint64_t unknown_feature = 0;  // evaluations of names that are no feature
  std::vector<FeatureStats> features;  // enum order
};

// The spec's 'decision' event.
struct DecisionEvent {
  std::string_view feature;
  std::string_view key;
  bool enabled = false;
  Reason reason = Reason::kDisabled;
};

struct ReloadStats {
  uint64_t successes = 0, failures = 0;
  std::string last_error;  // "" after a success
  std::chrono::system_clock::time_point last_attempt{};
};

class FeatureFlagLoader {
 public:
  explicit FeatureFlagLoader(std::shared_ptr<const FlagSnapshot> initial);
  // Loads `path`; the status lists every problem of the file.
  static Result<std::unique_ptr<FeatureFlagLoader>> open(const std::string& path);

  // Dotted names for sub-features ("ttft_pipeline.speculation"). An unknown name is off
  // with reason unknown_feature. Counted, published to subscribers, logged when enabled.
  bool is_enabled(std::string_view feature, std::string_view key);
  Decision evaluate(std::string_view feature, std::string_view key);
  // Every feature for one key against one snapshot; counted and published per feature,
  // logged as one line ("feature flags <context> key=... <summary>").
  RequestFlags evaluate_request(std::string_view key, std::string_view log_context = {});

  std::shared_ptr<const FlagSnapshot> snapshot() const { return snapshot_.load(); }
  // Swaps in a validated snapshot and counts a successful reload.
  void replace(std::shared_ptr<const FlagSnapshot> next);
  // Counts a failed reload; the live snapshot stays.
  void record_failure(const std::string& error);
  // Re-reads `path` ("" : the live snapshot's source): parse and validate, then replace,
  // or record_failure and return the error with the old snapshot still live.
  Status reload(const std::string& path = "");

  FlagStats get_stats() const;
  ReloadStats reload_stats() const;

  // Listeners run on the evaluating thread, after the decision is counted; keep them
  // short. Returns an id for unsubscribe().
  int subscribe(std::function<void(const DecisionEvent&)> listener);
  void unsubscribe(int id);

 private:
  void count(Feature f, const Decision& d, std::string_view key);
  using Listeners = std::vector<std::pair<int, std::function<void(const DecisionEvent&)>>>;

  std::atomic<std::shared_ptr<const FlagSnapshot>> snapshot_;
  struct Counts {
    std::atomic<uint64_t> enabled{0}, disabled{0};
  };
  std::array<Counts, kFeatureCount> counts_;
  std::atomic<uint64_t> unknown_{0};
  std::atomic<std::shared_ptr<const Listeners>> listeners_;
  std::mutex listeners_mu_;  // writers of listeners_
  int next_listener_id_ = 1;
  mutable std::mutex reload_mu_;
  ReloadStats reload_stats_;
};

}  // namespace mlxs::flags
