// The qos_monitor section of config/runtime.yaml: evaluator, executor and the policy
// store's SLO policies, exactly the spec's schema ("QoS Monitoring" in
// PRODUCTION_FEATURES.md), plus the settings the remediations need to act (governor
// bounds, alert webhooks, circuit breaker probes). docs/QOS.md documents every key.
// Parsing lists every problem as "FILE:LINE: ..."; a file with any problem is never used.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace mlxs::qos {

// What an SLO measures (the spec's vocabulary).
enum class Metric {
  kTtft,         // time to first token, ms
  kLatency,      // end-to-end request latency, ms
  kThroughput,   // generated tokens per second of one stream: a floor
  kErrorRate,    // failed / total requests in the window (0..1)
  kStreamCount,  // active streams now
};
// The statistic compared with the threshold: an explicit `statistic:` key, else the SLO
// name's suffix (_p50, _p90, _p95, _p99, _mean, _rate), else the metric's default (ttft,
// latency: p95; throughput: p50; error_rate: rate; stream_count: current).
enum class Statistic { kP50, kP90, kP95, kP99, kMean, kRate, kCurrent };
enum class Severity { kCritical, kWarning, kInfo };
enum class Action { kScaleUp, kScaleDown, kAlert, kShedLoad, kCircuitBreak };
enum class Target { kGovernor, kStreamRegistry, kTransport };

const char* metric_name(Metric m);        // "ttft", "latency", ...
const char* statistic_name(Statistic s);  // "p95", "rate", "current", ...
const char* severity_name(Severity s);    // "critical", "warning", "info"
const char* action_name(Action a);        // "scale_up", ...
const char* target_name(Target t);        // "governor", ...

struct SloSpec {
  std::string name;
  Metric metric = Metric::kTtft;
  Statistic statistic = Statistic::kP95;
  double threshold = 0;
  int64_t window_ms = 60000;
  Severity severity = Severity::kWarning;
  // throughput is a floor (violated below the threshold); every other metric a ceiling.
  bool is_floor() const { return metric == Metric::kThroughput; }
  bool violated_by(double value) const { return is_floor() ? value < threshold : value > threshold; }
};

struct RemediationSpec {
  Action type = Action::kAlert;
  Target target = Target::kStreamRegistry;
  std::string reason;
  int delta = 0;            // scale_up / scale_down: params.delta (> 0)
  std::string channel;      // alert: params.channel (a configured alert channel)
  double percentage = 0;    // shed_load: params.percentage (0 < p <= 100)
  int64_t duration_ms = 0;  // circuit_break: params.duration_ms (> 0)
};

struct Policy {
  std::string id;
  std::string name;
  std::string description;
  bool enabled = true;
  int priority = 0;  // higher is evaluated first
  std::vector<SloSpec> slos;
  std::vector<RemediationSpec> remediations;
};

struct EvaluatorConfig {
  bool enabled = true;
  int64_t evaluation_interval_ms = 5000;
  int64_t window_ms = 60000;  // the telemetry window (p50/p95/p99 TTFT, error rate)
  double tdigest_compression = 100;
};

struct ExecutorConfig {
  bool enabled = true;
  int64_t cooldown_ms = 60000;  // per (action, target)
  int max_executions_per_window = 5;
  int64_t execution_window_ms = 300000;
  int loop_detection_window = 6;  // the last N executed actions searched for oscillation
};

// Bounds of scale_up / scale_down on the scheduler's live concurrency limit.
struct GovernorConfig {
  int min_active_streams = 1;
  int max_active_streams = 0;  // 0: scheduler.max_sequences
};

// Where `alert` remediations go: qos_monitor.alerts.channels.<name>.{url, timeout_ms}.
struct AlertChannel {
  std::string name;  // "slack", "pagerduty", or any name
  std::string url;   // http://host[:port]/path (plain HTTP); "": alerts are only logged
  int timeout_ms = 2000;
};

struct QosConfig {
  bool enabled = false;
  EvaluatorConfig evaluator;
  ExecutorConfig executor;
  GovernorConfig governor;
  std::vector<AlertChannel> alert_channels;
  int half_open_requests = 3;  // qos_monitor.circuit_breaker.half_open_requests
  std::vector<Policy> policies;  // qos_monitor.policy_store.policies, in file order
  bool policy_engine_enabled = true;  // policy_engine.enabled: false evaluates no policy

  const AlertChannel* channel(const std::string& name) const;
};

// Parses the top-level `qos_monitor` and `policy_engine` sections of a runtime config file. `file_text` is the
// whole file, so that line numbers are the file's; other sections are ignored. A file
// without the section gives the defaults (disabled, no policies). The error lists every
// problem, one "PATH:LINE: message" per line.
Result<QosConfig> parse_qos_config(const std::string& file_text, const std::string& path);

}  // namespace mlxs::qos
