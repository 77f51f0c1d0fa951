// QosMonitor: the spec's QoS monitor in one object. Request threads feed it measurements
// (collect_metric, record_request); a housekeeping thread calls tick() often, and every
// evaluation_interval_ms tick() evaluates the policies, lets the executor act on the
// violated ones, lifts what recovered SLOs asked for, and publishes events:
// slo:violated, slo:recovered, remediation:executed, remediation:suppressed,
// policy:evaluated. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "qos/collector.h"
#include "qos/evaluator.h"
#include "qos/policy_engine.h"
#include "qos/executor.h"
#include "qos/qos_config.h"

namespace mlxs::qos {

// Which parts run, from the feature flags (qos_monitor, .evaluator, .executor,
// .executor.dry_run, .policy_store) and the runtime config's own enabled keys together.
struct Switches {
  bool evaluator = true;
  bool executor = true;
  bool dry_run = false;
  bool policy_store = true;  // off: no policy is evaluated
};

struct QosEvent {
  std::string name;  // "slo:violated", "slo:recovered", "remediation:executed", ...
  std::string policy_id;
  std::string slo_name;
  double value = 0;
  double threshold = 0;
  Severity severity = Severity::kWarning;
  const AuditEntry* audit = nullptr;  // remediation events only; valid during the callback
};

// The spec's getTelemetry().
struct Telemetry {
  int active_streams = 0;
  uint64_t total_requests = 0;
  double p50_ttft = 0, p95_ttft = 0, p99_ttft = 0;  // ms over evaluator.window_ms; NaN: no data
  double error_rate = 0;                             // over evaluator.window_ms; NaN: no data
  uint64_t total_errors = 0;
  uint64_t violations = 0;    // SLO evaluations in violation since start
  uint64_t remediations = 0;  // remediations executed since start
};

class QosMonitor {
 public:
  QosMonitor(QosConfig config, RemediationTargets* targets);
  // A reload: new policies and settings; measurements, states and history are kept.
  void set_config(QosConfig config);
  QosConfig config() const;

  void collect_metric(const MetricSample& sample);
  void record_request(bool failed, Clock::time_point now);
  void set_active_streams_source(std::function<int()> source);

  // Runs an evaluation when evaluation_interval_ms has passed since the last one (the
  // first tick evaluates at once). Returns whether it evaluated.
  bool tick(Clock::time_point now, const Switches& switches);

  Telemetry get_telemetry(Clock::time_point now) const;
  ExecutorStats get_executor_stats(Clock::time_point now) const;
  EvaluatorStats get_evaluator_stats() const;
  // The policy store and its evaluation (the spec's PolicyEngine).
  PolicyEngine& policy_engine() { return engine_; }
  std::vector<AuditEntry> audit_log() const;
  // The last evaluation's results (for /admin/qos).
  std::vector<SloEvaluation> last_evaluation() const;

  // Listeners run on the thread calling tick(); keep them short.
  int subscribe(std::function<void(const QosEvent&)> listener);
  void unsubscribe(int id);

 private:
  void publish(const QosEvent& e);
  // tick()'s steps, run outside mu_: events (and releases) for one policy's SLOs, its
  // remediations, and one audit entry as a log line and an event.
  void report_slos(const PolicyEvaluation& pe);
  void remediate(const PolicyEvaluation& pe, bool dry_run, Clock::time_point now);
  void report_audit(const AuditEntry& entry, const SloEvaluation& slo);

  mutable std::mutex mu_;  // config_, schedule
  QosConfig config_;
  MetricsCollector collector_;
  PolicyEngine engine_;
  Executor executor_;
  bool evaluated_once_ = false;
  Clock::time_point next_evaluation_{};
  std::vector<SloEvaluation> last_;
  uint64_t remediations_ = 0;
  std::mutex listeners_mu_;
  std::vector<std::pair<int, std::function<void(const QosEvent&)>>> listeners_;
  int next_listener_ = 1;

  // One evaluation at a time. The executor's audit listener only runs inside execute(),
  // called from tick() under this lock, so it guards pending_audit_ too.
  std::mutex tick_mu_;
  std::vector<AuditEntry> pending_audit_;  // entries of the execute() call in progress
  RemediationTargets* targets_;
};

}  // namespace mlxs::qos
