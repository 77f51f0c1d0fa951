// RollbackController: the spec's automatic rollback. Each evaluation compares the canary
// with the baseline over the monitoring window:
//   high_error_rate  canary error rate > threshold x baseline error rate
//   high_latency     canary P95 latency > threshold x baseline P95 latency
//   memory_leak      canary memory growth > threshold MB/hour
//   crash_rate       canary crashes / requests > threshold (absolute)
// Ratios need min_samples requests on both variants (crash_rate on the canary; memory_leak
// needs two memory readings instead, since a leak shows without traffic), so one error
// cannot roll a canary back; a zero baseline rate compares as if
// the baseline had one error more than it has (so a canary with errors against a clean
// baseline can still fire once it has enough samples). Critical triggers fire at once;
// warning and info triggers after warning_evaluations consecutive evaluations. After a
// rollback, cooldown_ms must pass before the next. Thread-safe; time is passed in.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "canary/canary_config.h"
#include "canary/health.h"

namespace mlxs::canary {

// The spec's shouldRollback() argument, plus what the other triggers need.
struct Comparison {
  double canary_error_rate = 0, baseline_error_rate = 0;
  double canary_latency = 0, baseline_latency = 0;  // P95 ms; NaN: no data
  uint64_t canary_requests = 0, baseline_requests = 0;
  uint64_t baseline_errors = 0;
  double canary_memory_growth_mb_per_hour = 0;
  double canary_crash_rate = 0;
};
Comparison compare(const HealthSnapshot& s);

struct TriggerState {
  TriggerKind kind = TriggerKind::kHighErrorRate;
  TriggerSeverity severity = TriggerSeverity::kCritical;
  double threshold = 0;
  double value = 0;        // the measured ratio / rate / growth; NaN when not computable
  bool breached = false;   // over the threshold at the last evaluation
  bool fired = false;      // breached and allowed to act (severity, consecutive count)
  int consecutive = 0;     // evaluations in a row breached
  std::string why;         // "canary error rate 0.2 > 2 x baseline 0.01", "12 samples < 100"
};

struct RollbackDecision {
  bool rollback = false;
  std::string reason;  // the first fired trigger's name ("" when none)
  std::vector<TriggerState> triggers;
};

struct RollbackRecord {
  std::string wall_time;  // ISO 8601 UTC
  std::string reason;     // trigger name, or "manual"
  double from_percentage = 0, to_percentage = 0;
  std::string detail;
};

class RollbackController {
 public:
  explicit RollbackController(const RollbackConfig& config);
  void configure(const RollbackConfig& config);  // reload: states and history kept

  // Evaluates every trigger (updating the consecutive counts). rollback is false when
  // rollback is disabled or within the cooldown, even when triggers fired.
  RollbackDecision should_rollback(const Comparison& c, Clock::time_point now);
  // The next percentage after a rollback from `current`: 0, or with gradual the first
  // step deployed x gradual_steps[i] below `current` (10 -> 5 -> 0 for steps 0.5, 0).
  double next_percentage(double current, double deployed) const;
  // Records a rollback (automatic or manual) and starts the cooldown; returns the record.
  RollbackRecord execute_rollback(const std::string& reason, double from, double to,
                                  const std::string& detail, Clock::time_point now);
  std::vector<RollbackRecord> get_rollback_history() const;
  std::vector<TriggerState> trigger_states() const;  // as of the last evaluation
  // Rollbacks and trigger firings since start, by name.
  std::map<std::string, uint64_t> rollbacks_by_reason() const;
  std::map<std::string, uint64_t> firings_by_trigger() const;
  bool in_cooldown(Clock::time_point now) const;

 private:
  mutable std::mutex mu_;
  RollbackConfig config_;
  std::vector<TriggerState> states_;
  std::vector<RollbackRecord> history_;
  std::optional<Clock::time_point> last_rollback_;
  std::map<std::string, uint64_t> rollbacks_, firings_;
};

}  // namespace mlxs::canary
