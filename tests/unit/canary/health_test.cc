#include "canary/health.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

namespace mlxs::canary {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const Clock::time_point T0 = Clock::time_point() + std::chrono::hours(1000);

MonitoringConfig monitoring(int64_t window_ms = 60000, double retention_hours = 1) {
  MonitoringConfig c;
  c.window_ms = window_ms;
  c.retention_hours = retention_hours;
  return c;
}

constexpr double kMB = 1024.0 * 1024.0;

TEST(HealthMonitor, EmptyWindows) {
  HealthMonitor m(monitoring());
  const HealthSnapshot s = m.snapshot(T0, 5);
  EXPECT_EQ(s.canary.requests, 0u);
  EXPECT_EQ(s.canary.error_rate, 0);
  EXPECT_TRUE(std::isnan(s.canary.p95_latency_ms));
  EXPECT_TRUE(std::isnan(s.canary.p95_ttft_ms));
  EXPECT_TRUE(std::isnan(s.canary.memory_mb));
  EXPECT_EQ(s.canary.memory_growth_mb_per_hour, 0);
  EXPECT_EQ(s.percentage, 5);
  EXPECT_TRUE(std::regex_match(s.wall_time,
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << s.wall_time;
}

TEST(HealthMonitor, RatesAndP95PerVariant) {
  HealthMonitor m(monitoring());
  for (int i = 1; i <= 100; ++i) {
    // Latencies 1..100 ms on the baseline, 10x on the canary; every 10th canary fails,
    // every 50th crashes.
    m.record(Variant::kBaseline, i, i / 2.0, false, false, T0);
    m.record(Variant::kCanary, 10.0 * i, 0, i % 10 == 0, i % 50 == 0, T0);
  }
  const HealthSnapshot s = m.snapshot(T0 + seconds(1), 10);
  EXPECT_EQ(s.baseline.requests, 100u);
  EXPECT_EQ(s.baseline.errors, 0u);
  EXPECT_EQ(s.baseline.error_rate, 0);
  EXPECT_NEAR(s.baseline.p95_latency_ms, 95, 1.5);
  EXPECT_NEAR(s.baseline.p95_ttft_ms, 47.5, 1);
  EXPECT_EQ(s.canary.requests, 100u);
  EXPECT_EQ(s.canary.errors, 10u);
  EXPECT_DOUBLE_EQ(s.canary.error_rate, 0.1);
  EXPECT_EQ(s.canary.crashes, 2u);
  EXPECT_DOUBLE_EQ(s.canary.crash_rate, 0.02);
  EXPECT_NEAR(s.canary.p95_latency_ms, 950, 15);
  EXPECT_TRUE(std::isnan(s.canary.p95_ttft_ms));  // no token came
  EXPECT_EQ(s.canary.total_errors, 10u);
}

TEST(HealthMonitor, WindowsExpireTotalsStay) {
  HealthMonitor m(monitoring(60000));
  for (int i = 0; i < 50; ++i) m.record(Variant::kCanary, 100, 10, true, false, T0);
  EXPECT_EQ(m.snapshot(T0 + seconds(30), 1).canary.requests, 50u);
  // Two windows later the old requests are out; the totals since start are not.
  const HealthSnapshot later = m.snapshot(T0 + seconds(130), 1);
  EXPECT_EQ(later.canary.requests, 0u);
  EXPECT_EQ(later.canary.error_rate, 0);
  EXPECT_TRUE(std::isnan(later.canary.p95_latency_ms));
  EXPECT_EQ(later.canary.total_requests, 50u);
  EXPECT_EQ(later.canary.total_errors, 50u);
}

TEST(HealthMonitor, MemoryGrowthIsTheLeastSquaresSlope) {
  HealthMonitor m(monitoring());
  // +50 MB over 30 minutes, one reading a minute: 100 MB/hour.
  for (int i = 0; i <= 30; ++i) {
    m.record_memory(Variant::kCanary, (1000 + 50.0 * i / 30) * kMB, T0 + minutes(i));
    m.record_memory(Variant::kBaseline, 1000 * kMB, T0 + minutes(i));
  }
  const HealthSnapshot s = m.snapshot(T0 + minutes(30), 1);
  EXPECT_NEAR(s.canary.memory_growth_mb_per_hour, 100, 0.01);
  EXPECT_NEAR(s.canary.memory_mb, 1050, 1e-6);
  EXPECT_NEAR(s.baseline.memory_growth_mb_per_hour, 0, 1e-9);

  // One reading, or readings at one instant, give no trend.
  HealthMonitor one(monitoring());
  one.record_memory(Variant::kCanary, 5 * kMB, T0);
  EXPECT_EQ(one.snapshot(T0, 1).canary.memory_growth_mb_per_hour, 0);
  one.record_memory(Variant::kCanary, 50 * kMB, T0);
  EXPECT_EQ(one.snapshot(T0, 1).canary.memory_growth_mb_per_hour, 0);
}

TEST(HealthMonitor, MemoryTrendOnlyOverTheRetention) {
  HealthMonitor m(monitoring(60000, /*retention_hours=*/0.5));
  // A climb long ago, then flat for the last half hour: no growth now.
  for (int i = 0; i <= 60; ++i) {
    const double mb = i <= 20 ? 100 + 10.0 * i : 300;
    m.record_memory(Variant::kCanary, mb * kMB, T0 + minutes(i));
  }
  EXPECT_NEAR(m.snapshot(T0 + minutes(60), 1).canary.memory_growth_mb_per_hour, 0, 1e-9);
}

TEST(HealthMonitor, HistoryKeepsTheRetention) {
  HealthMonitor m(monitoring(60000, /*retention_hours=*/0.25));
  for (int i = 0; i <= 60; ++i) m.snapshot(T0 + minutes(i), i);
  const auto h = m.history();
  // Minutes 45..60 are within 15 minutes of the last.
  ASSERT_EQ(h.size(), 16u);
  EXPECT_EQ(h.front().percentage, 45);
  EXPECT_EQ(h.back().percentage, 60);
}

TEST(HealthMonitor, ResetCanaryDropsOnlyTheCanary) {
  HealthMonitor m(monitoring());
  m.record(Variant::kCanary, 100, 10, true, true, T0);
  m.record(Variant::kBaseline, 100, 10, false, false, T0);
  m.record_memory(Variant::kCanary, kMB, T0);
  m.reset_canary();
  const HealthSnapshot s = m.snapshot(T0, 0);
  EXPECT_EQ(s.canary.requests, 0u);
  EXPECT_EQ(s.canary.total_requests, 0u);
  EXPECT_TRUE(std::isnan(s.canary.memory_mb));
  EXPECT_EQ(s.baseline.requests, 1u);
}

TEST(HealthMonitor, ReconfigureKeepsData) {
  HealthMonitor m(monitoring(60000));
  m.record(Variant::kCanary, 100, 10, false, false, T0);
  MonitoringConfig same = monitoring(60000);
  same.interval_ms = 1000;
  m.configure(same);
  EXPECT_EQ(m.snapshot(T0, 1).canary.requests, 1u);
  m.configure(monitoring(120000));  // a new window length starts the windows over
  const HealthSnapshot s = m.snapshot(T0, 1);
  EXPECT_EQ(s.canary.requests, 0u);
  EXPECT_EQ(s.canary.total_requests, 1u);
  EXPECT_EQ(m.history().size(), 2u);
}

}  // namespace
}  // namespace mlxs::canary
