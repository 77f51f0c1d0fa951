// MetricsCollector: one rolling window per (metric, window) an SLO or the telemetry asks
// for. Samples go into every window of their metric, so two SLOs on the same metric with
// different windows each see exactly their own span.
#include "qos/collector.h"

#include <cstdint>
#include <limits>
#include <optional>

namespace mlxs::qos {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_distribution(Metric m) {
  return m == Metric::kTtft || m == Metric::kLatency || m == Metric::kThroughput;
}

std::optional<double> quantile_of(Statistic s) {
  switch (s) {
    case Statistic::kP50: return 0.50;
    case Statistic::kP90: return 0.90;
    case Statistic::kP95: return 0.95;
    case Statistic::kP99: return 0.99;
    default: return std::nullopt;
  }
}

}  // namespace

MetricsCollector::MetricsCollector(double compression, int slots)
    : compression_(compression), slots_(slots) {}

void MetricsCollector::track(Metric metric, int64_t window_ms) {
  const std::chrono::milliseconds window(window_ms);
  std::lock_guard<std::mutex> lock(mu_);
  if (is_distribution(metric)) {
    auto& digest = digests_[{metric, window_ms}];
    if (!digest) digest = std::make_unique<RollingDigest>(window, slots_, compression_);
  } else if (metric == Metric::kErrorRate) {
    auto& counters = counts_[window_ms];
    if (!counters.first) {
      counters.first = std::make_unique<RollingCounter>(window, slots_);
      counters.second = std::make_unique<RollingCounter>(window, slots_);
    }
  }
  // stream_count is read live from its source: nothing to keep.
}

void MetricsCollector::track_config(const QosConfig& config) {
  // Disabled policies too: enabling one on a reload then finds its history.
  for (const auto& policy : config.policies) {
    for (const auto& slo : policy.slos) track(slo.metric, slo.window_ms);
  }
  track(Metric::kTtft, config.evaluator.window_ms);
  track(Metric::kErrorRate, config.evaluator.window_ms);
}

void MetricsCollector::collect(const MetricSample& sample) {
  if (!is_distribution(sample.metric)) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = digests_.lower_bound({sample.metric, INT64_MIN});
       it != digests_.end() && it->first.first == sample.metric; ++it) {
    it->second->add(sample.value, sample.timestamp);
  }
}

void MetricsCollector::record_request(bool failed, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  ++total_requests_;
  if (failed) ++total_errors_;
  for (auto& [window, counters] : counts_) {
    counters.first->add(1, now);
    if (failed) counters.second->add(1, now);
  }
}

void MetricsCollector::set_active_streams_source(std::function<int()> source) {
  std::lock_guard<std::mutex> lock(mu_);
  active_source_ = std::move(source);
}

double MetricsCollector::value(Metric metric, Statistic statistic, int64_t window_ms,
                               Clock::time_point now) const {
  if (metric == Metric::kStreamCount) {
    if (statistic != Statistic::kCurrent) return kNaN;
    std::function<int()> source;
    {
      std::lock_guard<std::mutex> lock(mu_);
      source = active_source_;
    }
    // Called unlocked: the source takes the registry's own lock.
    return source ? static_cast<double>(source()) : kNaN;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (metric == Metric::kErrorRate) {
    if (statistic != Statistic::kRate) return kNaN;
    auto it = counts_.find(window_ms);
    if (it == counts_.end()) return kNaN;
    const double total = it->second.first->sum(now);
    if (total <= 0) return kNaN;
    return it->second.second->sum(now) / total;
  }
  auto it = digests_.find({metric, window_ms});
  if (it == digests_.end()) return kNaN;
  const TDigest digest = it->second->snapshot(now);
  if (digest.empty()) return kNaN;
  if (statistic == Statistic::kMean) return digest.mean();
  if (auto q = quantile_of(statistic)) return digest.quantile(*q);
  return kNaN;  // rate / current of a distribution: not a statistic it has
}

int MetricsCollector::active_streams() const {
  std::function<int()> source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    source = active_source_;
  }
  return source ? source() : 0;
}

uint64_t MetricsCollector::total_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_requests_;
}

uint64_t MetricsCollector::total_errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_errors_;
}

}  // namespace mlxs::qos
