#include "qos/executor.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace mlxs::qos {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr size_t kAuditCapacity = 1000;
// Alternations needed before a target counts as oscillating: up, down, up, down.
constexpr size_t kOscillationLength = 4;

// ISO 8601 UTC with milliseconds, from the wall clock (the injected clock is monotonic).
std::string wall_time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  return buf;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// "scale_up governor by 2", "shed_load 25% of new requests", ... for audit details.
std::string describe(const RemediationSpec& spec) {
  std::string s = std::string(action_name(spec.type)) + " " + target_name(spec.target);
  switch (spec.type) {
    case Action::kScaleUp:
    case Action::kScaleDown:
      return s + " by " + std::to_string(spec.delta);
    case Action::kShedLoad:
      return s + ": shed " + format_number(spec.percentage) + "% of new requests";
    case Action::kCircuitBreak:
      return s + ": open the circuit for " + std::to_string(spec.duration_ms) + " ms";
    case Action::kAlert:
      return s + " via channel " + spec.channel;
  }
  return s;
}

bool is_scaling(Action a) { return a == Action::kScaleUp || a == Action::kScaleDown; }

int64_t ms_between(Clock::time_point from, Clock::time_point to) {
  return duration_cast<milliseconds>(to - from).count();
}

}  // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kExecuted: return "executed";
    case Outcome::kDryRun: return "dry_run";
    case Outcome::kCooldown: return "cooldown";
    case Outcome::kRateLimited: return "rate_limited";
    case Outcome::kLoopDetected: return "loop_detected";
    case Outcome::kDisabled: return "disabled";
  }
  return "unknown";
}

Executor::Executor(ExecutorConfig config, RemediationTargets* targets)
    : config_(config), targets_(targets) {}

void Executor::set_config(ExecutorConfig config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = config;
  while (recent_.size() > static_cast<size_t>(std::max(config_.loop_detection_window, 0)))
    recent_.pop_front();
}

void Executor::on_audit(std::function<void(const AuditEntry&)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

std::vector<AuditEntry> Executor::audit_log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {audit_.begin(), audit_.end()};
}

ExecutorStats Executor::stats(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  ExecutorStats s = stats_;
  s.success_rate = s.total_executions == 0
                       ? 1.0
                       : static_cast<double>(s.successes) / static_cast<double>(s.total_executions);
  s.in_cooldown = false;
  for (const auto& [key, at] : last_run_) {
    if (ms_between(at, now) < config_.cooldown_ms) s.in_cooldown = true;
  }
  return s;
}

// Carries out the remediation on its target. Called with mu_ held: targets only queue or
// adjust state and never call back into the executor.
static Result<std::string> call_target(RemediationTargets* targets, const std::string& owner,
                                const RemediationSpec& spec, const AlertMessage& context,
                                Clock::time_point now) {
  if (targets == nullptr) return Status::Error("no remediation targets are attached");
  switch (spec.type) {
    case Action::kScaleUp: return targets->scale(spec.delta);
    case Action::kScaleDown: return targets->scale(-spec.delta);
    case Action::kShedLoad: return targets->shed_load(owner, spec.percentage);
    case Action::kCircuitBreak:
      return targets->circuit_break(milliseconds(spec.duration_ms), now);
    case Action::kAlert: {
      AlertMessage message = context;
      if (!spec.reason.empty()) message.reason = spec.reason;
      return targets->alert(spec.channel, message);
    }
  }
  return Status::Error("unknown action");
}

AuditEntry Executor::execute(const std::string& policy_id, const std::string& slo_name,
                             const RemediationSpec& spec, const AlertMessage& context,
                             bool dry_run, Clock::time_point now) {
  AuditEntry entry;
  entry.at = now;
  entry.wall_time = wall_time_now();
  entry.policy_id = policy_id;
  entry.slo_name = slo_name;
  entry.action = spec.type;
  entry.target = spec.target;

  std::vector<AuditEntry> to_report;
  std::function<void(const AuditEntry&)> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    decide_and_run(entry, spec, context, dry_run, now, &to_report);
    for (const AuditEntry& e : to_report) {
      audit_.push_back(e);
      if (audit_.size() > kAuditCapacity) audit_.pop_front();
    }
    listener = listener_;
  }
  // Outside the lock: the listener may log, publish events or read the executor's stats.
  if (listener) {
    for (const AuditEntry& e : to_report) listener(e);
  }
  return entry;
}

void Executor::decide_and_run(AuditEntry& entry, const RemediationSpec& spec,
                              const AlertMessage& context, bool dry_run, Clock::time_point now,
                              std::vector<AuditEntry>* to_report) {
  const auto suppress = [&](Outcome outcome, std::string detail) {
    entry.outcome = outcome;
    entry.detail = std::move(detail);
    ++stats_.suppressed;
    to_report->push_back(entry);
  };

  if (!config_.enabled) return suppress(Outcome::kDisabled, "executor disabled");

  if (dry_run) {
    entry.outcome = Outcome::kDryRun;
    entry.detail = "would " + describe(spec) + " (dry run)";
    ++stats_.dry_runs;
    to_report->push_back(entry);
    return;
  }

  const auto blocked = blocked_until_.find(spec.target);
  if (blocked != blocked_until_.end()) {
    if (now < blocked->second) {
      return suppress(Outcome::kLoopDetected,
                      std::string(target_name(spec.target)) +
                          " is blocked after a remediation loop: " +
                          std::to_string(ms_between(now, blocked->second)) + " ms remain");
    }
    blocked_until_.erase(blocked);
  }

  const auto key = std::make_pair(spec.type, spec.target);
  const auto last = last_run_.find(key);
  if (last != last_run_.end()) {
    const int64_t since = ms_between(last->second, now);
    if (since < config_.cooldown_ms) {
      return suppress(Outcome::kCooldown,
                      std::string("cooldown of ") + action_name(spec.type) + " on " +
                          target_name(spec.target) + ": " +
                          std::to_string(config_.cooldown_ms - since) + " ms remain");
    }
  }

  // The window slides: only executions within the last execution_window_ms count.
  while (!executions_.empty() &&
         ms_between(executions_.front(), now) >= config_.execution_window_ms)
    executions_.pop_front();
  if (executions_.size() >= static_cast<size_t>(std::max(config_.max_executions_per_window, 0))) {
    return suppress(Outcome::kRateLimited,
                    std::to_string(executions_.size()) + " executions in the last " +
                        std::to_string(config_.execution_window_ms) + " ms (max " +
                        std::to_string(config_.max_executions_per_window) + ")");
  }

  Result<std::string> done =
      call_target(targets_, entry.policy_id + "/" + entry.slo_name, spec, context, now);
  entry.outcome = Outcome::kExecuted;
  entry.success = done.ok();
  entry.detail = done.ok() ? done.value() : done.status().message();
  ++stats_.total_executions;
  ++(entry.success ? stats_.successes : stats_.failures);
  ++stats_.by_action[{action_name(spec.type), entry.success}];
  last_run_[key] = now;
  executions_.push_back(now);
  recent_.push_back(key);
  while (recent_.size() > static_cast<size_t>(std::max(config_.loop_detection_window, 0)))
    recent_.pop_front();
  to_report->push_back(entry);

  if (oscillates(spec.target)) block_loop(entry, context, now, to_report);
}

// The rule: among the last loop_detection_window executed actions, take those on `target`
// that scale (scale_up / scale_down; other actions neither make nor break a loop). When
// there are at least four and the last four alternate (up, down, up, down or down, up,
// down, up), the target oscillates. A window shorter than four never detects a loop.
bool Executor::oscillates(Target target) const {
  std::vector<Action> moves;
  for (const auto& [action, t] : recent_) {
    if (t == target && is_scaling(action)) moves.push_back(action);
  }
  if (moves.size() < kOscillationLength) return false;
  for (size_t i = moves.size() - kOscillationLength + 1; i < moves.size(); ++i) {
    if (moves[i] == moves[i - 1]) return false;
  }
  return true;
}

// Blocks the oscillating target for execution_window_ms, forgets its history (detection
// starts afresh once the block ends) and tells every alert channel.
void Executor::block_loop(const AuditEntry& trigger, const AlertMessage& context,
                          Clock::time_point now, std::vector<AuditEntry>* to_report) {
  const Target target = trigger.target;
  std::string sequence;
  for (const auto& [action, t] : recent_) {
    if (t != target || !is_scaling(action)) continue;
    if (!sequence.empty()) sequence += ", ";
    sequence += action_name(action);
  }
  std::erase_if(recent_, [target](const auto& r) { return r.second == target; });
  blocked_until_[target] = now + milliseconds(config_.execution_window_ms);

  AlertMessage message = context;
  message.policy_id = trigger.policy_id;
  message.slo_name = trigger.slo_name;
  message.reason = std::string("remediation loop detected on ") + target_name(target) + ": " +
                   sequence;
  std::string detail = message.reason + "; blocked for " +
                       std::to_string(config_.execution_window_ms) + " ms";
  bool all_sent = true;
  if (targets_ != nullptr) {
    for (const std::string& channel : targets_->alert_channels()) {
      Result<std::string> sent = targets_->alert(channel, message);
      all_sent = all_sent && sent.ok();
      detail += "; alert " + channel + ": " + (sent.ok() ? "queued" : sent.status().message());
    }
  }
  AuditEntry loop = trigger;
  loop.action = Action::kAlert;
  loop.outcome = Outcome::kLoopDetected;
  loop.success = all_sent;
  loop.detail = std::move(detail);
  to_report->push_back(std::move(loop));
}

}  // namespace mlxs::qos
