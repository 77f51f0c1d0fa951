#include "server/qos_service.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/logging.h"

namespace mlxs::server {
namespace {

using nlohmann::ordered_json;
using qos::Clock;

std::string fmt(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// NaN (no data) as JSON null.
ordered_json number(double v) { return std::isnan(v) ? ordered_json(nullptr) : ordered_json(v); }

}  // namespace

std::string window_label(int64_t window_ms) {
  if (window_ms % 3600000 == 0) return std::to_string(window_ms / 3600000) + "h";
  if (window_ms % 60000 == 0) return std::to_string(window_ms / 60000) + "m";
  if (window_ms % 1000 == 0) return std::to_string(window_ms / 1000) + "s";
  return std::to_string(window_ms) + "ms";
}

QosService::QosService(qos::QosConfig config, int max_sequences, std::function<int()> get_limit,
                       std::function<void(int)> set_limit, std::function<int()> active_streams)
    : config_(config),
      max_sequences_(max_sequences),
      get_limit_(std::move(get_limit)),
      set_limit_(std::move(set_limit)),
      admission_(config.half_open_requests),
      alerter_(config.alert_channels),
      monitor_(config, this) {
  monitor_.set_active_streams_source(std::move(active_streams));
  monitor_.subscribe([this](const qos::QosEvent& e) { on_event(e); });
}

QosService::~QosService() = default;

qos::Switches QosService::switches(const flags::FlagConfig& f) const {
  std::lock_guard<std::mutex> lock(mu_);
  // The global part of the flags: the emergency switches and the feature's own switches.
  // Percentages are per request and decide admission and measurement, not these.
  bool on = config_.enabled && f.qos_monitor.enabled && f.phase4_rollout.enabled &&
            !f.kill_switch && !f.rollback_to_baseline;
  qos::Switches s;
  s.evaluator = on && f.evaluator_enabled && config_.evaluator.enabled;
  s.executor = s.evaluator && f.executor_enabled && config_.executor.enabled;
  s.dry_run = f.executor_dry_run;
  s.policy_store = f.policy_store_enabled && config_.policy_engine_enabled;
  return s;
}

qos::AdmissionVerdict QosService::admit(Clock::time_point now) { return admission_.admit(now); }

void QosService::on_finished(double ttft_ms, double latency_ms, double tokens_per_s,
                             int generated, bool failed, bool probe,
                             const std::string& request_id, Clock::time_point now) {
  if (generated > 0 && ttft_ms > 0)
    monitor_.collect_metric({qos::Metric::kTtft, ttft_ms, now, request_id});
  if (!failed) monitor_.collect_metric({qos::Metric::kLatency, latency_ms, now, request_id});
  if (generated > 1 && tokens_per_s > 0)
    monitor_.collect_metric({qos::Metric::kThroughput, tokens_per_s, now, request_id});
  monitor_.record_request(failed, now);
  if (probe) {
    admission_.on_probe_result(!failed, now);
    log_info(std::string("qos circuit breaker probe id=") + request_id +
             (failed ? " failed: the circuit opens again" : " succeeded: the circuit closes"));
  }
}

void QosService::tick(Clock::time_point now, const flags::FlagConfig& flags) {
  monitor_.tick(now, switches(flags));
}

std::function<void()> QosService::prepare(qos::QosConfig next) {
  return [this, next = std::move(next)] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      config_ = next;
    }
    admission_.set_half_open_requests(next.half_open_requests);
    alerter_.set_channels(next.alert_channels);
    monitor_.set_config(next);
    log_info("qos: " + std::to_string(next.policies.size()) + " polic" +
             (next.policies.size() == 1 ? "y" : "ies") + ", monitor " +
             (next.enabled ? "enabled" : "disabled"));
  };
}

int QosService::ceiling() const {
  std::lock_guard<std::mutex> lock(mu_);
  int max = config_.governor.max_active_streams;
  return max > 0 ? std::min(max, max_sequences_) : max_sequences_;
}

Result<std::string> QosService::scale(int delta) {
  int current = get_limit_();
  if (current <= 0) return Status::Error("the model is not loaded yet");
  int floor = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    floor = config_.governor.min_active_streams;
  }
  int top = ceiling();
  int next = std::clamp(current + delta, std::min(floor, top), top);
  if (next == current)
    return Status::Error("max_active_streams is already at its " +
                         std::string(delta > 0 ? "ceiling " : "floor ") + std::to_string(current));
  set_limit_(next);
  return "max_active_streams " + std::to_string(current) + " -> " + std::to_string(next);
}

Result<std::string> QosService::shed_load(const std::string& owner, double percentage) {
  admission_.set_shed(owner, percentage);
  return "shedding " + fmt(admission_.shed_percentage()) + "% of new requests until " + owner +
         " recovers";
}

Result<std::string> QosService::circuit_break(std::chrono::milliseconds duration,
                                              Clock::time_point now) {
  admission_.open_circuit(duration, now);
  return "circuit open for " + std::to_string(duration.count()) + " ms";
}

Result<std::string> QosService::alert(const std::string& channel,
                                      const qos::AlertMessage& message) {
  Status st = alerter_.send(channel, message);
  if (!st.ok()) return st;
  return "alert queued for " + channel;
}

std::vector<std::string> QosService::alert_channels() const { return alerter_.channel_names(); }

void QosService::release(const std::string& owner) {
  double before = admission_.shed_percentage();
  admission_.clear_shed(owner);
  if (before > 0 && admission_.shed_percentage() != before)
    log_info("qos: " + owner + " recovered; shedding now " + fmt(admission_.shed_percentage()) + "%");
}

void QosService::on_event(const qos::QosEvent& e) {
  std::string line = "qos " + e.name + " policy=" + e.policy_id;
  if (!e.slo_name.empty()) line += " slo=" + e.slo_name;
  if (e.audit) {
    const qos::AuditEntry& a = *e.audit;
    line += std::string(" action=") + qos::action_name(a.action) + " target=" +
            qos::target_name(a.target) + " outcome=" + qos::outcome_name(a.outcome) +
            " success=" + (a.success ? "true" : "false") + " detail=\"" + a.detail + "\"";
  } else if (e.name == "policy:evaluated") {
    line += " violated_slos=" + fmt(e.value);
  } else {
    line += " value=" + fmt(e.value) + " threshold=" + fmt(e.threshold) +
            " severity=" + qos::severity_name(e.severity);
  }
  if (e.name == "policy:evaluated") return log_debug(line);
  bool failed = e.audit && e.audit->outcome == qos::Outcome::kExecuted && !e.audit->success;
  if (e.name == "slo:violated" || e.name == "remediation:suppressed" || failed)
    return log_warn(line);
  log_info(line);
}

ordered_json QosService::to_json(Clock::time_point now, const flags::FlagConfig& flags) const {
  qos::Telemetry t = monitor_.get_telemetry(now);
  qos::ExecutorStats ex = monitor_.get_executor_stats(now);
  qos::EvaluatorStats ev = monitor_.get_evaluator_stats();
  qos::AdmissionStats ad = admission_.stats(now);
  qos::Switches sw = switches(flags);
  qos::QosConfig cfg = monitor_.config();

  ordered_json j;
  j["enabled"] = cfg.enabled;
  j["switches"] = {{"evaluator", sw.evaluator},
                   {"executor", sw.executor},
                   {"dry_run", sw.dry_run},
                   {"policy_store", sw.policy_store}};
  j["window"] = window_label(cfg.evaluator.window_ms);
  j["telemetry"] = {{"active_streams", t.active_streams},
                    {"total_requests", t.total_requests},
                    {"p50_ttft_ms", number(t.p50_ttft)},
                    {"p95_ttft_ms", number(t.p95_ttft)},
                    {"p99_ttft_ms", number(t.p99_ttft)},
                    {"error_rate", number(t.error_rate)},
                    {"total_errors", t.total_errors},
                    {"violations", t.violations},
                    {"remediations", t.remediations}};
  j["executor"] = {{"total_executions", ex.total_executions},
                   {"successes", ex.successes},
                   {"failures", ex.failures},
                   {"suppressed", ex.suppressed},
                   {"dry_runs", ex.dry_runs},
                   {"success_rate", ex.success_rate},
                   {"in_cooldown", ex.in_cooldown}};
  j["evaluator"] = {{"total_evaluations", ev.total_evaluations},
                    {"total_violations", ev.total_violations},
                    {"policies_enabled", ev.policies_enabled}};
  j["governor"] = {{"max_active_streams", get_limit_()},
                   {"min", cfg.governor.min_active_streams},
                   {"max", ceiling()}};
  j["admission"] = {{"shed_percentage", ad.shed_percentage},
                    {"circuit", qos::circuit_state_name(ad.circuit)},
                    {"circuit_open_remaining_ms", ad.circuit_open_remaining_ms},
                    {"admitted", ad.admitted},
                    {"shed", ad.shed},
                    {"rejected_circuit_open", ad.rejected_open}};
  ordered_json policies = ordered_json::array();
  for (const auto& p : cfg.policies) {
    ordered_json slo_names = ordered_json::array();
    for (const auto& s : p.slos) slo_names.push_back(s.name);
    policies.push_back({{"id", p.id},
                        {"name", p.name},
                        {"enabled", p.enabled},
                        {"priority", p.priority},
                        {"slos", std::move(slo_names)},
                        {"remediations", p.remediations.size()}});
  }
  j["policies"] = std::move(policies);
  ordered_json slos = ordered_json::array();
  for (const auto& s : monitor_.last_evaluation()) {
    slos.push_back({{"policy", s.policy_id},
                    {"slo", s.slo_name},
                    {"metric", qos::metric_name(s.metric)},
                    {"statistic", qos::statistic_name(s.statistic)},
                    {"value", number(s.current_value)},
                    {"threshold", s.threshold},
                    {"window_ms", s.window_ms},
                    {"severity", qos::severity_name(s.severity)},
                    {"violated", s.violated},
                    {"no_data", s.no_data}});
  }
  j["slos"] = std::move(slos);
  ordered_json audit = ordered_json::array();
  auto log = monitor_.audit_log();
  size_t first = log.size() > 50 ? log.size() - 50 : 0;
  for (size_t i = first; i < log.size(); ++i) {
    const auto& a = log[i];
    audit.push_back({{"time", a.wall_time},
                     {"policy", a.policy_id},
                     {"slo", a.slo_name},
                     {"action", qos::action_name(a.action)},
                     {"target", qos::target_name(a.target)},
                     {"outcome", qos::outcome_name(a.outcome)},
                     {"success", a.success},
                     {"detail", a.detail}});
  }
  j["audit"] = std::move(audit);
  qos::AlertStats as = alerter_.stats();
  ordered_json alerts = ordered_json::object();
  for (const auto& name : alerter_.channel_names()) {
    auto get = [&](const std::map<std::string, uint64_t>& m) {
      auto it = m.find(name);
      return it == m.end() ? uint64_t{0} : it->second;
    };
    alerts[name] = {{"sent", get(as.sent)}, {"failed", get(as.failed)}, {"dropped", get(as.dropped)}};
  }
  j["alerts"] = std::move(alerts);
  return j;
}

void QosService::export_metrics(metrics::Registry& registry) {
  registry.add_exposition_source([this](metrics::Exposition& out) {
    auto now = Clock::now();
    qos::EvaluatorStats ev = monitor_.get_evaluator_stats();
    qos::ExecutorStats ex = monitor_.get_executor_stats(now);
    qos::Telemetry t = monitor_.get_telemetry(now);
    qos::AdmissionStats ad = admission_.stats(now);
    qos::QosConfig cfg = monitor_.config();
    const std::string window = window_label(cfg.evaluator.window_ms);

    out.family("mlx_serving_qos_slo_violations_total",
               "SLO evaluations found in violation, by policy and severity.", "counter");
    for (const auto& [key, n] : ev.violations_by_policy)
      out.sample("mlx_serving_qos_slo_violations_total",
                 {{"policy", key.first}, {"severity", qos::severity_name(key.second)}},
                 static_cast<double>(n));
    out.family("mlx_serving_qos_remediations_total",
               "Remediations carried out, by action and whether they succeeded.", "counter");
    for (const auto& [key, n] : ex.by_action)
      out.sample("mlx_serving_qos_remediations_total",
                 {{"action", key.first}, {"success", key.second ? "true" : "false"}},
                 static_cast<double>(n));
    out.family("mlx_serving_qos_remediations_suppressed_total",
               "Remediations decided but not carried out (cooldown, rate limit, loop, dry run).",
               "counter");
    out.sample("mlx_serving_qos_remediations_suppressed_total", {},
               static_cast<double>(ex.suppressed + ex.dry_runs));
    out.family("mlx_serving_qos_evaluations_total", "Policy evaluations, by policy.", "counter");
    for (const auto& [policy, n] : ev.evaluations_by_policy)
      out.sample("mlx_serving_qos_evaluations_total", {{"policy", policy}}, static_cast<double>(n));
    // The spec's names carry the unit (ms); promtool's linter prefers base units, so
    // the same values are also exported in seconds.
    auto gauge = [&](const std::string& name, const std::string& help, double v) {
      out.family(name, help, "gauge");
      if (!std::isnan(v)) out.sample(name, {{"window", window}}, v);
    };
    gauge("mlx_serving_qos_ttft_p95_ms", "P95 time to first token over the window, ms.", t.p95_ttft);
    gauge("mlx_serving_qos_ttft_p99_ms", "P99 time to first token over the window, ms.", t.p99_ttft);
    gauge("mlx_serving_qos_ttft_p95_seconds", "P95 time to first token over the window.",
          t.p95_ttft / 1000);
    gauge("mlx_serving_qos_ttft_p99_seconds", "P99 time to first token over the window.",
          t.p99_ttft / 1000);
    gauge("mlx_serving_qos_error_rate", "Failed / total requests over the window.", t.error_rate);
    out.family("mlx_serving_qos_governor_max_active_streams",
               "The live concurrency limit the governor sets.", "gauge");
    out.sample("mlx_serving_qos_governor_max_active_streams", {}, std::max(0, get_limit_()));
    out.family("mlx_serving_qos_shed_percentage", "Share of new requests being shed (0..100).",
               "gauge");
    out.sample("mlx_serving_qos_shed_percentage", {}, ad.shed_percentage);
    out.family("mlx_serving_qos_circuit_state",
               "The circuit breaker: 1 on the series of its current state.", "gauge");
    for (auto s : {qos::CircuitState::kClosed, qos::CircuitState::kOpen, qos::CircuitState::kHalfOpen})
      out.sample("mlx_serving_qos_circuit_state", {{"state", qos::circuit_state_name(s)}},
                 ad.circuit == s ? 1 : 0);
    out.family("mlx_serving_qos_rejected_requests_total",
               "New requests rejected by admission control, by reason.", "counter");
    out.sample("mlx_serving_qos_rejected_requests_total", {{"reason", "shed_load"}},
               static_cast<double>(ad.shed));
    out.sample("mlx_serving_qos_rejected_requests_total", {{"reason", "circuit_open"}},
               static_cast<double>(ad.rejected_open));
    qos::AlertStats as = alerter_.stats();
    out.family("mlx_serving_qos_alerts_total", "Alerts by channel and delivery result.", "counter");
    for (const auto& [name, n] : as.sent)
      out.sample("mlx_serving_qos_alerts_total", {{"channel", name}, {"result", "sent"}}, double(n));
    for (const auto& [name, n] : as.failed)
      out.sample("mlx_serving_qos_alerts_total", {{"channel", name}, {"result", "failed"}}, double(n));
    for (const auto& [name, n] : as.dropped)
      out.sample("mlx_serving_qos_alerts_total", {{"channel", name}, {"result", "dropped"}}, double(n));
  });
}

}  // namespace mlxs::server
