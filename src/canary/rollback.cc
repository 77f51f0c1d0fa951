#include "canary/rollback.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "canary/wall_time.h"

namespace mlxs::canary {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string too_few(const char* who, uint64_t n, int min) {
  return std::string(who) + " " + std::to_string(n) + " samples < " + std::to_string(min);
}

// value / breached / why for one trigger; consecutive counts are the caller's.
void measure(TriggerState& t, const Comparison& c, int min_samples) {
  t.value = kNaN;
  t.breached = false;
  const auto min = static_cast<uint64_t>(min_samples);
  switch (t.kind) {
    case TriggerKind::kHighErrorRate: {
      if (c.canary_requests < min || c.baseline_requests < min) {
        t.why = c.canary_requests < min ? too_few("canary", c.canary_requests, min_samples)
                                        : too_few("baseline", c.baseline_requests, min_samples);
        return;
      }
      // A clean baseline compares as if it had one error more, so a canary with errors
      // can still be caught, but only once its rate is clearly above that floor.
      double base = c.baseline_error_rate;
      if (!(base > 0)) {
        base = static_cast<double>(c.baseline_errors + 1) / static_cast<double>(c.baseline_requests);
      }
      t.value = c.canary_error_rate / base;
      t.breached = c.canary_error_rate > t.threshold * base;
      t.why = "canary error rate " + num(c.canary_error_rate) + (t.breached ? " > " : " <= ") +
              num(t.threshold) + " x baseline " + num(base);
      return;
    }
    case TriggerKind::kHighLatency: {
      if (c.canary_requests < min || c.baseline_requests < min) {
        t.why = c.canary_requests < min ? too_few("canary", c.canary_requests, min_samples)
                                        : too_few("baseline", c.baseline_requests, min_samples);
        return;
      }
      if (std::isnan(c.canary_latency) || std::isnan(c.baseline_latency)) {
        t.why = "no latency data";
        return;
      }
      t.value = c.baseline_latency > 0 ? c.canary_latency / c.baseline_latency
                                       : (c.canary_latency > 0 ? HUGE_VAL : 0);
      t.breached = c.canary_latency > t.threshold * c.baseline_latency;
      t.why = "canary P95 latency " + num(c.canary_latency) + " ms" +
              (t.breached ? " > " : " <= ") + num(t.threshold) + " x baseline " +
              num(c.baseline_latency) + " ms";
      return;
    }
    case TriggerKind::kMemoryLeak: {
      // The monitor reports 0 growth until it has two readings over some time, so no
      // request count is needed: a leak shows whether or not traffic arrives.
      if (std::isnan(c.canary_memory_growth_mb_per_hour)) {
        t.why = "no memory trend";
        return;
      }
      t.value = c.canary_memory_growth_mb_per_hour;
      t.breached = t.value > t.threshold;
      t.why = "canary memory growth " + num(t.value) + " MB/h" + (t.breached ? " > " : " <= ") +
              num(t.threshold) + " MB/h";
      return;
    }
    case TriggerKind::kCrashRate: {
      if (c.canary_requests < min) {
        t.why = too_few("canary", c.canary_requests, min_samples);
        return;
      }
      t.value = c.canary_crash_rate;
      t.breached = t.value > t.threshold;
      t.why = "canary crash rate " + num(t.value) + (t.breached ? " > " : " <= ") +
              num(t.threshold);
      return;
    }
  }
}

}  // namespace

Comparison compare(const HealthSnapshot& s) {
  Comparison c;
  c.canary_error_rate = s.canary.error_rate;
  c.baseline_error_rate = s.baseline.error_rate;
  c.canary_latency = s.canary.p95_latency_ms;
  c.baseline_latency = s.baseline.p95_latency_ms;
  c.canary_requests = s.canary.requests;
  c.baseline_requests = s.baseline.requests;
  c.baseline_errors = s.baseline.errors;
  c.canary_memory_growth_mb_per_hour = s.canary.memory_growth_mb_per_hour;
  c.canary_crash_rate = s.canary.crash_rate;
  return c;
}

RollbackController::RollbackController(const RollbackConfig& config) { configure(config); }

void RollbackController::configure(const RollbackConfig& config) {
  std::lock_guard lock(mu_);
  std::vector<TriggerState> states;
  for (const TriggerConfig& tc : config.triggers) {
    TriggerState s;
    s.kind = tc.kind;
    s.severity = tc.severity;
    s.threshold = tc.threshold;
    // A trigger that stays keeps its run of breaches: a reload must not reset the count
    // a warning trigger is building up.
    for (const TriggerState& old : states_) {
      if (old.kind == tc.kind) {
        s.consecutive = old.consecutive;
        s.value = old.value;
        s.why = old.why;
      }
    }
    states.push_back(s);
  }
  config_ = config;
  states_ = std::move(states);
}

RollbackDecision RollbackController::should_rollback(const Comparison& c, Clock::time_point now) {
  std::lock_guard lock(mu_);
  RollbackDecision d;
  bool any_fired = false;
  for (TriggerState& t : states_) {
    measure(t, c, config_.min_samples);
    t.consecutive = t.breached ? t.consecutive + 1 : 0;
    t.fired = t.breached && (t.severity == TriggerSeverity::kCritical ||
                             t.consecutive >= config_.warning_evaluations);
    if (t.fired) {
      ++firings_[trigger_name(t.kind)];
      if (!any_fired) d.reason = trigger_name(t.kind);
      any_fired = true;
    }
  }
  const bool cooling = last_rollback_ &&
                       now - *last_rollback_ < std::chrono::milliseconds(config_.cooldown_ms);
  d.rollback = any_fired && config_.enabled && !cooling;
  d.triggers = states_;
  return d;
}

double RollbackController::next_percentage(double current, double deployed) const {
  std::lock_guard lock(mu_);
  if (!config_.gradual || !(current > 0) || !(deployed > 0)) return 0;
  // Steps are fractions of the deployed percentage; the first one clearly below where
  // the canary is now is the next stop (a tolerance absorbs float noise in 10 x 0.5).
  for (double step : config_.gradual_steps) {
    const double p = deployed * step;
    if (p < current - 1e-9) return p;
  }
  return 0;
}

RollbackRecord RollbackController::execute_rollback(const std::string& reason, double from,
                                                    double to, const std::string& detail,
                                                    Clock::time_point now) {
  std::lock_guard lock(mu_);
  RollbackRecord r{wall_time_now(), reason, from, to, detail};
  history_.push_back(r);
  ++rollbacks_[reason];
  last_rollback_ = now;
  return r;
}

std::vector<RollbackRecord> RollbackController::get_rollback_history() const {
  std::lock_guard lock(mu_);
  return history_;
}

std::vector<TriggerState> RollbackController::trigger_states() const {
  std::lock_guard lock(mu_);
  return states_;
}

std::map<std::string, uint64_t> RollbackController::rollbacks_by_reason() const {
  std::lock_guard lock(mu_);
  return rollbacks_;
}

std::map<std::string, uint64_t> RollbackController::firings_by_trigger() const {
  std::lock_guard lock(mu_);
  return firings_;
}

bool RollbackController::in_cooldown(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  return last_rollback_ && now - *last_rollback_ < std::chrono::milliseconds(config_.cooldown_ms);
}

}  // namespace mlxs::canary
