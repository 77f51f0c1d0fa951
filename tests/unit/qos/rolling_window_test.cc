// Rolling windows driven by an injected clock: expiry, merging of buckets, fixed memory,
// time going backwards, and a concurrent smoke test.
#include "qos/rolling_window.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// A fixed, arbitrary start far from the clock's epoch, as a real steady clock would be.
const Clock::time_point kStart = Clock::time_point(std::chrono::hours(1000));

TEST(RollingDigest, ValuesFallOutAfterTheWindow) {
  RollingDigest window(seconds(60), 12);  // 5 s buckets
  EXPECT_EQ(window.window(), seconds(60));
  EXPECT_EQ(window.slots(), 12);
  for (int i = 0; i < 100; ++i) window.add(100, kStart);
  for (int i = 0; i < 100; ++i) window.add(200, kStart + seconds(30));

  TDigest at_40s = window.snapshot(kStart + seconds(40));
  EXPECT_EQ(at_40s.count(), 200);
  EXPECT_EQ(at_40s.min(), 100);
  EXPECT_EQ(at_40s.max(), 200);

  // Still inside: the first bucket [0, 5 s) lives until 60 s.
  EXPECT_EQ(window.snapshot(kStart + seconds(59)).count(), 200);
  // One window later the first batch is gone, the second remains.
  TDigest at_61s = window.snapshot(kStart + seconds(61));
  EXPECT_EQ(at_61s.count(), 100);
  EXPECT_EQ(at_61s.min(), 200);
  // And then everything.
  EXPECT_TRUE(window.snapshot(kStart + seconds(91)).empty());
  EXPECT_TRUE(std::isnan(window.snapshot(kStart + seconds(91)).quantile(0.95)));
}

TEST(RollingDigest, SnapshotMergesBuckets) {
  RollingDigest window(seconds(10), 10);  // 1 s buckets
  // 1000 values spread over 10 s: 0..999 in order, one per 10 ms.
  for (int i = 0; i < 1000; ++i) window.add(i, kStart + milliseconds(10 * i));
  TDigest all = window.snapshot(kStart + milliseconds(9999));
  EXPECT_EQ(all.count(), 1000);
  EXPECT_EQ(all.quantile(0), 0);
  EXPECT_EQ(all.quantile(1), 999);
  EXPECT_NEAR(all.quantile(0.5), 500, 10);
  EXPECT_NEAR(all.quantile(0.95), 950, 10);

  // After 5 more seconds only the last 5 buckets (values 500..999) remain.
  TDigest later = window.snapshot(kStart + milliseconds(14999));
  EXPECT_EQ(later.count(), 500);
  EXPECT_EQ(later.min(), 500);
  EXPECT_NEAR(later.quantile(0.5), 750, 10);
}

TEST(RollingDigest, BucketsAreReusedAcrossLaps) {
  RollingDigest window(seconds(3), 3);  // 1 s buckets
  window.add(1, kStart);
  // Exactly three buckets later the same ring position is written again: the stale value
  // must be dropped, not merged in.
  window.add(2, kStart + seconds(3));
  TDigest snap = window.snapshot(kStart + seconds(3));
  EXPECT_EQ(snap.count(), 1);
  EXPECT_EQ(snap.min(), 2);
}

TEST(RollingDigest, MemoryBoundedUnderSustainedTraffic) {
  RollingDigest window(seconds(60), 12, 100);
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> latency(5, 0.5);
  // A million values over 10 minutes: ten laps of the ring.
  for (int i = 0; i < 1000000; ++i) window.add(latency(rng), kStart + milliseconds(i * 6 / 10));
  EXPECT_EQ(window.slots(), 12);
  EXPECT_LE(window.centroid_count(), 12u * 200u);
  const Clock::time_point end = kStart + milliseconds(600000);
  TDigest snap = window.snapshot(end);
  // 55..60 s of the last minute at 1666 values/s.
  EXPECT_GT(snap.count(), 90000);
  EXPECT_LT(snap.count(), 101000);
  EXPECT_NEAR(snap.quantile(0.5), std::exp(5), 5);
}

TEST(RollingDigest, TimeGoingBackwardsIsSafe) {
  RollingDigest window(seconds(60), 12);
  window.add(1, kStart + seconds(100));
  // Earlier than what was already seen: counted in the latest bucket.
  window.add(2, kStart + seconds(10));
  window.add(3, Clock::time_point{});
  window.add(4, Clock::time_point(-std::chrono::hours(5)));
  TDigest snap = window.snapshot(kStart);
  EXPECT_EQ(snap.count(), 4);
  EXPECT_EQ(window.snapshot(kStart + seconds(100)).count(), 4);
  EXPECT_TRUE(window.snapshot(kStart + seconds(200)).empty());
}

TEST(RollingDigest, NegativeClockValuesAreOrdered) {
  // An injected clock before the epoch uses floor division: buckets still advance.
  RollingDigest window(seconds(2), 2);
  const Clock::time_point t0 = Clock::time_point(-seconds(10));
  window.add(5, t0);
  EXPECT_EQ(window.snapshot(t0 + milliseconds(500)).count(), 1);
  EXPECT_TRUE(window.snapshot(t0 + seconds(3)).empty());
}

TEST(RollingDigest, BadConfigurationStillWorks) {
  RollingDigest window(milliseconds(0), 0, 1);
  EXPECT_EQ(window.window(), milliseconds(1));
  EXPECT_EQ(window.slots(), 1);
  window.add(9, kStart);
  window.add(std::nan(""), kStart);
  EXPECT_EQ(window.snapshot(kStart).count(), 1);
  EXPECT_TRUE(window.snapshot(kStart + milliseconds(1)).empty());
}

TEST(RollingCounter, SumsInsideTheWindow) {
  RollingCounter total(seconds(60), 12);
  RollingCounter failed(seconds(60), 12);
  for (int s = 0; s < 60; ++s) {
    total.add(10, kStart + seconds(s));
    if (s % 10 == 0) failed.add(1, kStart + seconds(s));
  }
  EXPECT_EQ(total.sum(kStart + seconds(59)), 600);
  EXPECT_EQ(failed.sum(kStart + seconds(59)), 6);
  EXPECT_DOUBLE_EQ(failed.sum(kStart + seconds(59)) / total.sum(kStart + seconds(59)), 0.01);
  // 30 s later the buckets of seconds 0..29 are gone.
  EXPECT_EQ(total.sum(kStart + seconds(89)), 300);
  EXPECT_EQ(failed.sum(kStart + seconds(89)), 3);
  EXPECT_EQ(total.sum(kStart + seconds(200)), 0);
  total.add(std::nan(""), kStart + seconds(200));
  total.add(INFINITY, kStart + seconds(200));
  EXPECT_EQ(total.sum(kStart + seconds(200)), 0);
}

TEST(RollingCounter, TimeGoingBackwardsIsSafe) {
  RollingCounter c(seconds(10), 5);
  c.add(1, kStart + seconds(50));
  c.add(1, kStart);
  EXPECT_EQ(c.sum(kStart), 2);
  EXPECT_EQ(c.sum(kStart + seconds(55)), 2);
  EXPECT_EQ(c.sum(kStart + seconds(61)), 0);
}

TEST(RollingWindows, ConcurrentAddsAndReads) {
  RollingDigest window(seconds(60), 12);
  RollingCounter counter(seconds(60), 12);
  constexpr int kThreads = 4, kPerThread = 50000;
  std::atomic<bool> done{false};
  std::atomic<int> snapshots{0};
  std::thread reader([&] {
    while (!done.load()) {
      TDigest snap = window.snapshot(kStart + seconds(30));
      const double p95 = snap.quantile(0.95);
      // Every value written is in [0, 1000): any torn state would show up here.
      if (!snap.empty()) {
        EXPECT_GE(p95, 0);
        EXPECT_LT(p95, 1000);
      }
      EXPECT_GE(counter.sum(kStart + seconds(30)), 0);
      snapshots.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Clock::time_point now = kStart + milliseconds((i * 30000LL) / kPerThread);
        window.add((i * 7 + t) % 1000, now);
        counter.add(1, now);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  done.store(true);
  reader.join();
  EXPECT_GT(snapshots.load(), 0);
  EXPECT_EQ(window.snapshot(kStart + seconds(30)).count(), kThreads * kPerThread);
  EXPECT_EQ(counter.sum(kStart + seconds(30)), kThreads * kPerThread);
}

}  // namespace
}  // namespace mlxs::qos
