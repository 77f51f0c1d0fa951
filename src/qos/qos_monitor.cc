// QosMonitor: the evaluation schedule, and turning evaluations into events, remediations
// and releases. Decisions are computed under mu_; the parts that act (the executor's
// targets, release(), listeners) run outside it, since they take their own locks.
#include "qos/qos_monitor.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <utility>

#include "base/logging.h"

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;

// ISO 8601 UTC from the wall clock (the injected clock is monotonic, not a date).
std::string iso8601_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Why a remediation runs, when its policy gives no reason.
std::string default_reason(const SloEvaluation& e) {
  const bool floor = e.metric == Metric::kThroughput;
  return "SLO " + e.policy_id + "/" + e.slo_name + ": " + metric_name(e.metric) + " " +
         statistic_name(e.statistic) + " is " + format_number(e.current_value) +
         (floor ? ", below " : ", above ") + "the threshold " + format_number(e.threshold);
}

QosEvent slo_event(const char* name, const SloEvaluation& e) {
  QosEvent ev;
  ev.name = name;
  ev.policy_id = e.policy_id;
  ev.slo_name = e.slo_name;
  ev.value = e.current_value;
  ev.threshold = e.threshold;
  ev.severity = e.severity;
  return ev;
}

bool carried_out(Outcome o) { return o == Outcome::kExecuted || o == Outcome::kDryRun; }

}  // namespace

QosMonitor::QosMonitor(QosConfig config, RemediationTargets* targets)
    : config_(std::move(config)),
      collector_(config_.evaluator.tdigest_compression),
      engine_(config_.policies),
      executor_(config_.executor, targets),
      targets_(targets) {
  collector_.track_config(config_);
  // Runs inside execute(), which only tick() calls, under tick_mu_.
  executor_.on_audit([this](const AuditEntry& e) { pending_audit_.push_back(e); });
}

void QosMonitor::set_config(QosConfig config) {
  std::lock_guard<std::mutex> lock(mu_);
  collector_.track_config(config);
  engine_.set_policies(config.policies);
  executor_.set_config(config.executor);
  config_ = std::move(config);
}

QosConfig QosMonitor::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

void QosMonitor::collect_metric(const MetricSample& sample) { collector_.collect(sample); }

void QosMonitor::record_request(bool failed, Clock::time_point now) {
  collector_.record_request(failed, now);
}

void QosMonitor::set_active_streams_source(std::function<int()> source) {
  collector_.set_active_streams_source(std::move(source));
}

bool QosMonitor::tick(Clock::time_point now, const Switches& switches) {
  if (!switches.evaluator) return false;
  std::lock_guard<std::mutex> tick_lock(tick_mu_);

  {
    std::lock_guard<std::mutex> lock(mu_);
    if (evaluated_once_ && now < next_evaluation_) return false;
    evaluated_once_ = true;
    next_evaluation_ = now + milliseconds(config_.evaluator.evaluation_interval_ms);
  }
  // The run keeps its own copy of the policies, valid while acting even if a reload
  // replaces them meanwhile.
  PolicyRun run;
  if (switches.policy_store) run = engine_.evaluate(collector_, now);
  const std::vector<PolicyEvaluation>& results = run.evaluations;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_.clear();
    for (const auto& pe : results) last_.insert(last_.end(), pe.slos.begin(), pe.slos.end());
  }

  for (const auto& pe : results) {
    report_slos(pe);
    if (switches.executor && pe.violated()) remediate(pe, switches.dry_run, now);
  }
  return true;
}

void QosMonitor::report_slos(const PolicyEvaluation& pe) {
  int violated = 0;
  for (const auto& e : pe.slos) {
    if (e.violated) {
      ++violated;
      publish(slo_event("slo:violated", e));
    }
    if (e.recovered) {
      // What the SLO asked for (its load shedding) ends with the violation.
      if (targets_ != nullptr) targets_->release(e.policy_id + "/" + e.slo_name);
      publish(slo_event("slo:recovered", e));
    }
  }
  QosEvent ev;
  ev.name = "policy:evaluated";
  ev.policy_id = pe.policy->id;
  ev.value = violated;
  publish(ev);
}

// Every remediation of a violated policy, on behalf of its first violated SLO.
void QosMonitor::remediate(const PolicyEvaluation& pe, bool dry_run, Clock::time_point now) {
  const SloEvaluation* first = nullptr;
  for (const auto& e : pe.slos) {
    if (e.violated) {
      first = &e;
      break;
    }
  }
  if (first == nullptr) return;
  for (const RemediationSpec& spec : pe.policy->remediations) {
    AlertMessage context;
    context.policy_id = first->policy_id;
    context.slo_name = first->slo_name;
    context.value = first->current_value;
    context.threshold = first->threshold;
    context.severity = first->severity;
    context.reason = spec.reason.empty() ? default_reason(*first) : spec.reason;
    context.time = iso8601_now();

    pending_audit_.clear();
    executor_.execute(first->policy_id, first->slo_name, spec, context, dry_run, now);
    // One execute() may audit more than one entry (a detected loop adds its own).
    const std::vector<AuditEntry> entries = std::move(pending_audit_);
    pending_audit_.clear();
    for (const AuditEntry& entry : entries) report_audit(entry, *first);
  }
}

void QosMonitor::report_audit(const AuditEntry& entry, const SloEvaluation& slo) {
  // The events carry everything; their subscribers (the server) write the log lines.
  const bool done = carried_out(entry.outcome);
  if (entry.outcome == Outcome::kExecuted) {
    std::lock_guard<std::mutex> lock(mu_);
    ++remediations_;
  }
  QosEvent ev = slo_event(done ? "remediation:executed" : "remediation:suppressed", slo);
  ev.policy_id = entry.policy_id;
  ev.slo_name = entry.slo_name;
  ev.audit = &entry;
  publish(ev);
}

Telemetry QosMonitor::get_telemetry(Clock::time_point now) const {
  Telemetry t;
  int64_t window = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    window = config_.evaluator.window_ms;
    t.violations = engine_.stats().total_violations;
    t.remediations = remediations_;
  }
  // The collector locks itself; the stream source takes the registry's lock.
  t.active_streams = collector_.active_streams();
  t.total_requests = collector_.total_requests();
  t.total_errors = collector_.total_errors();
  t.p50_ttft = collector_.value(Metric::kTtft, Statistic::kP50, window, now);
  t.p95_ttft = collector_.value(Metric::kTtft, Statistic::kP95, window, now);
  t.p99_ttft = collector_.value(Metric::kTtft, Statistic::kP99, window, now);
  t.error_rate = collector_.value(Metric::kErrorRate, Statistic::kRate, window, now);
  return t;
}

ExecutorStats QosMonitor::get_executor_stats(Clock::time_point now) const {
  return executor_.stats(now);
}

EvaluatorStats QosMonitor::get_evaluator_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return engine_.stats();
}

std::vector<AuditEntry> QosMonitor::audit_log() const { return executor_.audit_log(); }

std::vector<SloEvaluation> QosMonitor::last_evaluation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

int QosMonitor::subscribe(std::function<void(const QosEvent&)> listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const int id = next_listener_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void QosMonitor::unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

void QosMonitor::publish(const QosEvent& e) {
  std::vector<std::function<void(const QosEvent&)>> listeners;
  {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (const auto& l : listeners_) listeners.push_back(l.second);
  }
  // Outside the lock: a listener may subscribe or unsubscribe.
  for (const auto& listener : listeners) {
    try {
      listener(e);
    } catch (const std::exception& ex) {
      log_warn("qos: a listener of " + e.name + " threw: " + ex.what());
    } catch (...) {
      log_warn("qos: a listener of " + e.name + " threw a non-standard exception");
    }
  }
}

}  // namespace mlxs::qos
