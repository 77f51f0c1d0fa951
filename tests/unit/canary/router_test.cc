#include "canary/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mlxs::canary {
namespace {

CanaryConfig config(double pct, Strategy strategy = Strategy::kHash, bool cache = true,
                    int cache_size = 10000, const std::string& seed = "seed-1") {
  CanaryConfig c;
  c.enabled = true;
  c.rollout_percentage = pct;
  c.strategy = strategy;
  c.enable_cache = cache;
  c.cache_size = cache_size;
  c.hash_seed = seed;
  return c;
}

std::string key(int i) { return "user-" + std::to_string(i); }

int canary_count(CanaryRouter& r, int keys) {
  int n = 0;
  for (int i = 0; i < keys; ++i) n += r.route(key(i)).variant == Variant::kCanary;
  return n;
}

TEST(CanaryBucket, KnownValuesAndRange) {
  // md5("abc:canary") starts e963fc12 (computed with Python hashlib).
  EXPECT_EQ(canary_bucket("abc", "canary"), static_cast<int>(0xe963fc12u % 10000));
  for (int i = 0; i < 1000; ++i) {
    const int b = canary_bucket(key(i), "s");
    EXPECT_GE(b, 0);
    EXPECT_LT(b, 10000);
  }
  // The seed changes the split.
  int same = 0;
  for (int i = 0; i < 1000; ++i) same += canary_bucket(key(i), "a") == canary_bucket(key(i), "b");
  EXPECT_LT(same, 10);
}

TEST(CanaryRouter, SplitIsWithinHalfAPointOverManyKeys) {
  for (double pct : {1.0, 10.0, 50.0}) {
    CanaryRouter r(config(pct, Strategy::kHash, /*cache=*/false));
    const int n = canary_count(r, 100000);
    EXPECT_NEAR(n / 1000.0, pct, 0.5) << "at " << pct << "%";
    const RouterStats s = r.stats();
    EXPECT_EQ(s.total_requests, 100000u);
    EXPECT_EQ(s.canary, static_cast<uint64_t>(n));
    EXPECT_NEAR(s.actual_percentage, pct, 0.5);
    EXPECT_EQ(s.target_percentage, pct);
  }
}

TEST(CanaryRouter, FractionsOfAPercent) {
  CanaryRouter r(config(0.1, Strategy::kHash, false));
  const int n = canary_count(r, 100000);
  EXPECT_GT(n, 60);
  EXPECT_LT(n, 140);
  // Exactly the keys whose bucket is below 10.
  int expected = 0;
  for (int i = 0; i < 100000; ++i) expected += canary_bucket(key(i), "seed-1") < 10;
  EXPECT_EQ(n, expected);
}

TEST(CanaryRouter, StickyAndMonotonicWhenRaised) {
  CanaryRouter r(config(5, Strategy::kHash, false));
  std::vector<Variant> at5;
  for (int i = 0; i < 20000; ++i) at5.push_back(r.route(key(i)).variant);
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(r.route(key(i)).variant, at5[i]);  // sticky
  for (double q : {5.5, 10.0, 30.0, 99.99}) {
    r.set_percentage(q);
    for (int i = 0; i < 20000; ++i) {
      if (at5[i] == Variant::kCanary) {
        ASSERT_EQ(r.route(key(i)).variant, Variant::kCanary) << q;
      }
    }
  }
}

TEST(CanaryRouter, CacheHitsOnRepeatKeys) {
  CanaryRouter r(config(10));
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 1000; ++i) {
      const RouteDecision d = r.route(key(i));
      EXPECT_EQ(d.cached, round > 0);
      EXPECT_EQ(d.bucket, canary_bucket(key(i), "seed-1"));  // also on a hit
    }
  }
  const RouterStats s = r.stats();
  EXPECT_EQ(s.cache_misses, 1000u);
  EXPECT_EQ(s.cache_hits, 3000u);
  EXPECT_DOUBLE_EQ(s.cache_hit_rate, 0.75);
  EXPECT_EQ(s.total_requests, 4000u);  // hits count as requests
}

TEST(CanaryRouter, LruEvictionKeepsTheCacheBounded) {
  CanaryRouter r(config(10, Strategy::kHash, true, /*cache_size=*/100));
  for (int i = 0; i < 1000; ++i) r.route(key(i));
  // The last 100 keys are cached, the first ones were evicted.
  for (int i = 900; i < 1000; ++i) EXPECT_TRUE(r.route(key(i)).cached) << i;
  EXPECT_FALSE(r.route(key(0)).cached);
  // Touching a key keeps it: key(900) was just used, so 99 new keys do not evict it.
  r.route(key(900));
  for (int i = 2000; i < 2099; ++i) r.route(key(i));
  EXPECT_TRUE(r.route(key(900)).cached);
  EXPECT_FALSE(r.route(key(901)).cached);
}

TEST(CanaryRouter, PercentageChangeClearsTheCache) {
  CanaryRouter r(config(10));
  r.route("a");
  EXPECT_TRUE(r.route("a").cached);
  r.set_percentage(10);  // unchanged: kept
  EXPECT_TRUE(r.route("a").cached);
  r.set_percentage(20);
  EXPECT_FALSE(r.route("a").cached);
  CanaryConfig c = config(20);
  c.hash_seed = "other";
  r.configure(c);
  EXPECT_FALSE(r.route("a").cached);
  EXPECT_EQ(r.route("a").bucket, canary_bucket("a", "other"));
}

TEST(CanaryRouter, RandomStrategyShare) {
  CanaryRouter r(config(20, Strategy::kRandom, /*cache=*/false));
  int n = 0;
  for (int i = 0; i < 100000; ++i) n += r.route("same-key").variant == Variant::kCanary;
  // 20 % of 100 000, binomial sd ~126: 1 point is ~8 sd.
  EXPECT_NEAR(n / 1000.0, 20, 1.0);
}

TEST(CanaryRouter, DisabledZeroAndFull) {
  CanaryConfig off = config(50);
  off.enabled = false;
  CanaryRouter r(off);
  EXPECT_FALSE(r.enabled());
  EXPECT_EQ(canary_count(r, 1000), 0);
  EXPECT_EQ(r.stats().cache_misses + r.stats().cache_hits, 0u);  // no cache use
  EXPECT_EQ(r.stats().baseline, 1000u);

  CanaryRouter zero(config(0));
  EXPECT_EQ(canary_count(zero, 1000), 0);
  EXPECT_EQ(zero.route("k").bucket, -1);

  CanaryRouter full(config(100));
  EXPECT_EQ(canary_count(full, 1000), 1000);
  EXPECT_DOUBLE_EQ(full.stats().actual_percentage, 100);
  full.set_percentage(250);  // clamped
  EXPECT_EQ(full.percentage(), 100);
}

}  // namespace
}  // namespace mlxs::canary
