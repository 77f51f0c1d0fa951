// Per-variant health over the monitoring window, measured on each variant's own traffic:
// requests, errors (HTTP errors and streams that fail after they started), P95 latency
// and TTFT (rolling t-digests), crashes (an upstream that stops answering, an engine
// that dies), and memory samples whose trend (least squares over the retained history)
// gives MB/hour. snapshot() is what the rollback controller compares every
// monitoring.intervalMs; history() keeps retentionHours of snapshots. Thread-safe; time
// is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "canary/canary_config.h"
#include "canary/router.h"
#include "qos/rolling_window.h"

namespace mlxs::canary {

using Clock = std::chrono::steady_clock;

struct VariantHealth {
  uint64_t requests = 0;      // in the window
  uint64_t errors = 0;        // in the window
  uint64_t crashes = 0;       // in the window
  double error_rate = 0;      // errors / requests (0 without requests)
  double crash_rate = 0;      // crashes / requests (0 without requests)
  double p95_latency_ms = 0;  // NaN without data
  double p95_ttft_ms = 0;     // NaN without data
  double memory_mb = 0;       // last sample; NaN without any
  double memory_growth_mb_per_hour = 0;  // fitted over the history; 0 with < 2 samples
  uint64_t total_requests = 0;  // since start
  uint64_t total_errors = 0;
};

struct HealthSnapshot {
  Clock::time_point at;
  std::string wall_time;  // ISO 8601 UTC
  VariantHealth baseline, canary;
  double percentage = 0;
};

class HealthMonitor {
 public:
  explicit HealthMonitor(const MonitoringConfig& config);
  ~HealthMonitor();  // out of line: Series is complete only in health.cc
  void configure(const MonitoringConfig& config);  // reload: data kept

  // One finished request of a variant. `failed`: an error answer or a stream that failed
  // after it started; `crashed`: the variant itself failed (upstream unreachable, engine
  // gone). ttft_ms <= 0: no token came.
  void record(Variant v, double latency_ms, double ttft_ms, bool failed, bool crashed,
              Clock::time_point now);
  // A memory reading of a variant, in bytes.
  void record_memory(Variant v, double bytes, Clock::time_point now);

  // The window's figures now, appended to the history (retention_hours kept).
  HealthSnapshot snapshot(Clock::time_point now, double percentage);
  std::vector<HealthSnapshot> history() const;
  // Drops the canary's data (a new canary deployed or rolled back): its old errors must
  // not roll back the next one.
  void reset_canary();

 private:
  struct Series;
  mutable std::mutex mu_;
  MonitoringConfig config_;
  std::unique_ptr<Series> baseline_, canary_;
  std::deque<HealthSnapshot> history_;
};

}  // namespace mlxs::canary
