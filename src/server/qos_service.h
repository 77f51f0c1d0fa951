// The QoS monitor inside the server (spec: "QoS Monitoring"). It owns the monitor, the
// admission controller and the alerter, and is the RemediationTargets the executor acts
// on: the governor moves the engine's live concurrency limit, shed_load and
// circuit_break act on admission, alerts go to webhooks. Request threads ask admit() and
// report finished generations; the housekeeping thread calls tick(). The feature flags
// switch it: the global qos_monitor switches gate the evaluator and executor, and each
// request's own qos_monitor decision decides whether admission control and measurement
// apply to it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generation.h"
#include "flags/flag_config.h"
#include "qos/admission.h"
#include "qos/alerter.h"
#include "qos/qos_config.h"
#include "qos/qos_monitor.h"
#include "server/metrics.h"

namespace mlxs::server {

class QosService : public qos::RemediationTargets {
 public:
  // `set_limit` / `get_limit` reach the engine's live concurrency limit (absent while the
  // model loads); `max_sequences` is the governor's ceiling unless the config sets one.
  QosService(qos::QosConfig config, int max_sequences, std::function<int()> get_limit,
             std::function<void(int)> set_limit, std::function<int()> active_streams);
  ~QosService() override;

  // Which parts run now, from the live flags and the QoS config together.
  qos::Switches switches(const flags::FlagConfig& flags) const;

  // A new generation request whose flags put it under QoS control.
  qos::AdmissionVerdict admit(qos::Clock::time_point now);
  // A generation under QoS control ended. `failed`: an error after admission (including
  // streams that fail after they started); `probe`: it was a half-open probe.
  void on_finished(double ttft_ms, double latency_ms, double tokens_per_s, int generated,
                   bool failed, bool probe, const std::string& request_id,
                   qos::Clock::time_point now);

  // Housekeeping: evaluates when the interval has passed.
  void tick(qos::Clock::time_point now, const flags::FlagConfig& flags);

  // Reload: the new QoS config, checked; the returned step applies it.
  std::function<void()> prepare(qos::QosConfig next);

  // GET /admin/qos.
  nlohmann::ordered_json to_json(qos::Clock::time_point now, const flags::FlagConfig& flags) const;
  // The mlx_serving_qos_* metrics, rendered from live state at every scrape.
  void export_metrics(metrics::Registry& registry);

  // RemediationTargets.
  Result<std::string> scale(int delta) override;
  Result<std::string> shed_load(const std::string& owner, double percentage) override;
  Result<std::string> circuit_break(std::chrono::milliseconds duration,
                                    qos::Clock::time_point now) override;
  Result<std::string> alert(const std::string& channel, const qos::AlertMessage& message) override;
  std::vector<std::string> alert_channels() const override;
  void release(const std::string& owner) override;

 private:
  void on_event(const qos::QosEvent& e);
  int ceiling() const;

  mutable std::mutex mu_;  // config_
  qos::QosConfig config_;
  int max_sequences_;
  std::function<int()> get_limit_;
  std::function<void(int)> set_limit_;
  qos::AdmissionController admission_;
  qos::Alerter alerter_;
  qos::QosMonitor monitor_;
};

// "1m", "30s", "90s", "1h": the window label of the QoS gauges.
std::string window_label(int64_t window_ms);

}  // namespace mlxs::server
