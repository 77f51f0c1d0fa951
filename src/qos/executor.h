// The remediation executor: carries out a violated policy's remediations through the
// parts that act (governor, admission control, alerts), under the spec's safety rules,
// each checked in this order:
//   1. dry_run: decide and log, change nothing;
//   2. loop detection: an oscillation of one target (scale_up, scale_down, scale_up,
//      scale_down, ... among the last loop_detection_window executed actions) blocks
//      further actions on that target for execution_window_ms and raises an alert;
//   3. cooldown_ms per (action, target);
//   4. at most max_executions_per_window executions per execution_window_ms.
// Every decision, executed or suppressed, is appended to a bounded audit log with its
// reason. Time is passed in, so every rule is tested with an injected clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "qos/qos_config.h"

namespace mlxs::qos {

using Clock = std::chrono::steady_clock;

// What an alert says (POSTed as JSON to the channel's webhook).
struct AlertMessage {
  std::string policy_id;
  std::string slo_name;
  double value = 0;
  double threshold = 0;
  Severity severity = Severity::kWarning;
  std::string reason;
  std::string time;  // ISO 8601 UTC
};

// The parts remediations act on. Each returns what it did ("max_active_streams 4 -> 9")
// or why it could not.
class RemediationTargets {
 public:
  virtual ~RemediationTargets() = default;
  virtual Result<std::string> scale(int delta) = 0;  // governor; clamped to its bounds
  virtual Result<std::string> shed_load(const std::string& owner, double percentage) = 0;
  virtual Result<std::string> circuit_break(std::chrono::milliseconds duration,
                                            Clock::time_point now) = 0;
  // Queues the alert for delivery (never blocks on the network).
  virtual Result<std::string> alert(const std::string& channel, const AlertMessage& message) = 0;
  // Channels to tell about a detected remediation loop.
  virtual std::vector<std::string> alert_channels() const = 0;
  // The SLO `owner` ("policy/slo") recovered: lift what it asked for (its load shedding).
  virtual void release(const std::string& owner) = 0;
};

enum class Outcome {
  kExecuted,      // carried out (success or failure of the target is in `success`)
  kDryRun,        // decided, not carried out
  kCooldown,      // the same (action, target) ran less than cooldown_ms ago
  kRateLimited,   // max_executions_per_window reached
  kLoopDetected,  // the target oscillates: blocked
  kDisabled,      // executor switched off
};
const char* outcome_name(Outcome o);  // "executed", "dry_run", "cooldown", ...

struct AuditEntry {
  Clock::time_point at;
  std::string wall_time;  // ISO 8601 UTC, for the log and /admin/qos
  std::string policy_id;
  std::string slo_name;
  Action action = Action::kAlert;
  Target target = Target::kStreamRegistry;
  Outcome outcome = Outcome::kExecuted;
  bool success = false;  // executed and the target reported success
  std::string detail;    // what the target did, or why it was suppressed
};

// The spec's getExecutorStats().
struct ExecutorStats {
  uint64_t total_executions = 0;  // executed (success or failure)
  uint64_t successes = 0, failures = 0, suppressed = 0, dry_runs = 0;
  double success_rate = 0;  // successes / total_executions (1 before any)
  bool in_cooldown = false;  // some (action, target) is in cooldown now
  std::map<std::pair<std::string, bool>, uint64_t> by_action;  // (action, success) -> count
};

class Executor {
 public:
  Executor(ExecutorConfig config, RemediationTargets* targets);
  void set_config(ExecutorConfig config);  // on reload; history is kept

  // Decides and (unless suppressed) carries out one remediation of a violated SLO.
  AuditEntry execute(const std::string& policy_id, const std::string& slo_name,
                     const RemediationSpec& spec, const AlertMessage& context, bool dry_run,
                     Clock::time_point now);

  ExecutorStats stats(Clock::time_point now) const;
  std::vector<AuditEntry> audit_log() const;  // oldest first, the last 1000

  // Called for every audit entry (the monitor turns them into events and log lines).
  void on_audit(std::function<void(const AuditEntry&)> listener);

 private:
  // The checks in order, then the target; fills `entry` and appends it (and a loop
  // report, if any) to `to_report`. Called with mu_ held.
  void decide_and_run(AuditEntry& entry, const RemediationSpec& spec,
                      const AlertMessage& context, bool dry_run, Clock::time_point now,
                      std::vector<AuditEntry>* to_report);
  bool oscillates(Target target) const;
  void block_loop(const AuditEntry& trigger, const AlertMessage& context, Clock::time_point now,
                  std::vector<AuditEntry>* to_report);

  mutable std::mutex mu_;
  ExecutorConfig config_;
  RemediationTargets* targets_;
  std::map<std::pair<Action, Target>, Clock::time_point> last_run_;
  std::deque<Clock::time_point> executions_;  // within execution_window_ms
  std::deque<std::pair<Action, Target>> recent_;  // last loop_detection_window executed
  std::map<Target, Clock::time_point> blocked_until_;
  std::deque<AuditEntry> audit_;
  ExecutorStats stats_;
  std::function<void(const AuditEntry&)> listener_;
};

}  // namespace mlxs::qos
