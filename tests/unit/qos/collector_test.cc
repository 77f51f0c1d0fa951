// MetricsCollector driven by an injected clock: quantiles and means per window, values
// leaving their window, the error rate, the live stream count, untracked windows.
#include "qos/collector.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point t0{};

MetricSample sample(Metric m, double v, Clock::time_point at) {
  return MetricSample{m, v, at, "stream-1"};
}

TEST(MetricsCollector, QuantilesAndMeanOverAWindow) {
  MetricsCollector c;
  c.track(Metric::kTtft, 60000);
  for (int i = 1; i <= 100; ++i) c.collect(sample(Metric::kTtft, i, t0 + milliseconds(i)));
  const auto now = t0 + seconds(1);
  EXPECT_NEAR(c.value(Metric::kTtft, Statistic::kP50, 60000, now), 50.5, 1.0);
  EXPECT_NEAR(c.value(Metric::kTtft, Statistic::kP90, 60000, now), 90.5, 1.0);
  EXPECT_NEAR(c.value(Metric::kTtft, Statistic::kP95, 60000, now), 95.5, 1.0);
  EXPECT_NEAR(c.value(Metric::kTtft, Statistic::kP99, 60000, now), 99.5, 1.0);
  EXPECT_DOUBLE_EQ(c.value(Metric::kTtft, Statistic::kMean, 60000, now), 50.5);
  // Statistics a distribution does not have.
  EXPECT_TRUE(std::isnan(c.value(Metric::kTtft, Statistic::kRate, 60000, now)));
  EXPECT_TRUE(std::isnan(c.value(Metric::kTtft, Statistic::kCurrent, 60000, now)));
}

TEST(MetricsCollector, EachWindowSeesItsOwnSpanAndValuesFallOut) {
  MetricsCollector c(100, 12);
  c.track(Metric::kLatency, 12000);  // 1 s buckets
  c.track(Metric::kLatency, 120000);  // 10 s buckets
  c.collect(sample(Metric::kLatency, 1000, t0));
  c.collect(sample(Metric::kLatency, 10, t0 + seconds(20)));

  const auto at = t0 + seconds(21);
  // The short window only holds the recent value; the long one both.
  EXPECT_DOUBLE_EQ(c.value(Metric::kLatency, Statistic::kMean, 12000, at), 10);
  EXPECT_DOUBLE_EQ(c.value(Metric::kLatency, Statistic::kMean, 120000, at), 505);
  // Once everything is older than the window, there is no data.
  EXPECT_TRUE(std::isnan(c.value(Metric::kLatency, Statistic::kP95, 12000, t0 + seconds(40))));
  EXPECT_DOUBLE_EQ(c.value(Metric::kLatency, Statistic::kMean, 120000, t0 + seconds(40)), 505);
  EXPECT_TRUE(std::isnan(c.value(Metric::kLatency, Statistic::kMean, 120000, t0 + seconds(200))));
}

TEST(MetricsCollector, MetricsAreKeptApart) {
  MetricsCollector c;
  c.track(Metric::kTtft, 60000);
  c.track(Metric::kThroughput, 60000);
  c.collect(sample(Metric::kTtft, 300, t0));
  c.collect(sample(Metric::kThroughput, 42, t0));
  c.collect(sample(Metric::kLatency, 7, t0));  // not tracked: dropped
  EXPECT_DOUBLE_EQ(c.value(Metric::kTtft, Statistic::kP50, 60000, t0), 300);
  EXPECT_DOUBLE_EQ(c.value(Metric::kThroughput, Statistic::kP50, 60000, t0), 42);
  EXPECT_TRUE(std::isnan(c.value(Metric::kLatency, Statistic::kP50, 60000, t0)));
}

TEST(MetricsCollector, ValuesBeforeTrackingAreNotCounted) {
  MetricsCollector c;
  c.collect(sample(Metric::kTtft, 900, t0));
  c.track(Metric::kTtft, 60000);
  EXPECT_TRUE(std::isnan(c.value(Metric::kTtft, Statistic::kP95, 60000, t0)));
  c.collect(sample(Metric::kTtft, 100, t0));
  EXPECT_DOUBLE_EQ(c.value(Metric::kTtft, Statistic::kP95, 60000, t0), 100);
  // Tracking again keeps what is there.
  c.track(Metric::kTtft, 60000);
  EXPECT_DOUBLE_EQ(c.value(Metric::kTtft, Statistic::kP95, 60000, t0), 100);
}

TEST(MetricsCollector, ErrorRateOverTheWindow) {
  MetricsCollector c;
  c.track(Metric::kErrorRate, 60000);
  EXPECT_TRUE(std::isnan(c.value(Metric::kErrorRate, Statistic::kRate, 60000, t0)));
  for (int i = 0; i < 8; ++i) c.record_request(false, t0);
  for (int i = 0; i < 2; ++i) c.record_request(true, t0);
  EXPECT_DOUBLE_EQ(c.value(Metric::kErrorRate, Statistic::kRate, 60000, t0 + seconds(1)), 0.2);
  for (int i = 0; i < 10; ++i) c.record_request(false, t0 + seconds(30));
  EXPECT_DOUBLE_EQ(c.value(Metric::kErrorRate, Statistic::kRate, 60000, t0 + seconds(31)), 0.1);
  // The failures leave the window; the later successes remain.
  EXPECT_DOUBLE_EQ(c.value(Metric::kErrorRate, Statistic::kRate, 60000, t0 + seconds(70)), 0);
  EXPECT_TRUE(std::isnan(c.value(Metric::kErrorRate, Statistic::kRate, 60000, t0 + seconds(200))));
  EXPECT_TRUE(std::isnan(c.value(Metric::kErrorRate, Statistic::kP95, 60000, t0)));
  // Totals are since start, not windowed.
  EXPECT_EQ(c.total_requests(), 20u);
  EXPECT_EQ(c.total_errors(), 2u);
}

TEST(MetricsCollector, StreamCountComesFromTheSource) {
  MetricsCollector c;
  EXPECT_EQ(c.active_streams(), 0);
  EXPECT_TRUE(std::isnan(c.value(Metric::kStreamCount, Statistic::kCurrent, 60000, t0)));
  int streams = 3;
  c.set_active_streams_source([&] { return streams; });
  EXPECT_EQ(c.active_streams(), 3);
  EXPECT_DOUBLE_EQ(c.value(Metric::kStreamCount, Statistic::kCurrent, 60000, t0), 3);
  streams = 7;
  EXPECT_DOUBLE_EQ(c.value(Metric::kStreamCount, Statistic::kCurrent, 1000, t0), 7);
  EXPECT_TRUE(std::isnan(c.value(Metric::kStreamCount, Statistic::kMean, 60000, t0)));
}

TEST(MetricsCollector, TrackConfigTracksEverySloAndTheTelemetryWindow) {
  QosConfig config;
  config.evaluator.window_ms = 30000;
  Policy p;
  p.id = "p";
  p.enabled = false;  // tracked anyway: a reload may enable it
  SloSpec lat;
  lat.name = "lat";
  lat.metric = Metric::kLatency;
  lat.window_ms = 10000;
  p.slos.push_back(lat);
  config.policies.push_back(p);

  MetricsCollector c;
  c.track_config(config);
  c.collect(sample(Metric::kLatency, 5, t0));
  c.collect(sample(Metric::kTtft, 6, t0));
  c.record_request(true, t0);
  EXPECT_DOUBLE_EQ(c.value(Metric::kLatency, Statistic::kP99, 10000, t0), 5);
  EXPECT_DOUBLE_EQ(c.value(Metric::kTtft, Statistic::kP50, 30000, t0), 6);
  EXPECT_DOUBLE_EQ(c.value(Metric::kErrorRate, Statistic::kRate, 30000, t0), 1);
  EXPECT_TRUE(std::isnan(c.value(Metric::kTtft, Statistic::kP50, 10000, t0)));
}

}  // namespace
}  // namespace mlxs::qos
