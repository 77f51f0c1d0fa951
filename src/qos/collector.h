// The measurements SLOs are evaluated on: per metric, rolling t-digests over each window
// some SLO asks for, request/failure counts for the error rate, and the live stream
// count. Fed from the request path (any thread); read by the evaluator. Time is always
// passed in, so tests drive it.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "qos/qos_config.h"
#include "qos/rolling_window.h"

namespace mlxs::qos {

using Clock = std::chrono::steady_clock;

// The spec's collectMetric() argument.
struct MetricSample {
  Metric metric = Metric::kTtft;
  double value = 0;
  Clock::time_point timestamp;
  std::string stream_id;
};

class MetricsCollector {
 public:
  explicit MetricsCollector(double compression = 100, int slots = 12);

  // Makes sure (metric, window) is tracked; values collected before this call are not in it.
  void track(Metric metric, int64_t window_ms);
  // Tracks every (metric, window) the policies use plus the telemetry window.
  void track_config(const QosConfig& config);

  // ttft, latency and throughput values go into every tracked window of their metric.
  // error_rate and stream_count samples are ignored here (see below).
  void collect(const MetricSample& sample);
  // One finished request; `failed` counts streams that fail after they started too.
  void record_request(bool failed, Clock::time_point now);
  // Where stream_count comes from (the stream registry's size).
  void set_active_streams_source(std::function<int()> source);

  // The statistic over the window ending at `now`; NaN when the window holds no data
  // (an SLO without data is neither violated nor recovered).
  double value(Metric metric, Statistic statistic, int64_t window_ms, Clock::time_point now) const;
  int active_streams() const;
  // Totals since start.
  uint64_t total_requests() const;
  uint64_t total_errors() const;

 private:
  double compression_;
  int slots_;
  mutable std::mutex mu_;  // guards the maps (the windows lock themselves)
  std::map<std::pair<Metric, int64_t>, std::unique_ptr<RollingDigest>> digests_;
  std::map<int64_t, std::pair<std::unique_ptr<RollingCounter>, std::unique_ptr<RollingCounter>>>
      counts_;  // window -> (total, failed)
  std::function<int()> active_source_;
  uint64_t total_requests_ = 0, total_errors_ = 0;
};

}  // namespace mlxs::qos
