// Rollout buckets against vectors from an independent MD5, plus the statistical and
// monotonic properties a percentage rollout promises.
#include "flags/bucketing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mlxs::flags {
namespace {

struct Vector {
  std::string key, seed;
  uint32_t hash;
  int bucket;
};

// Generated with Python's hashlib, independently of OpenSSL:
//   d = hashlib.md5((key + ":" + seed).encode()).hexdigest(); h = int(d[:8], 16)
//   print(h, h % 100)
const std::vector<Vector>& vectors() {
  static const std::vector<Vector> kVectors = {
      {"request-123", "ttft-pipeline-2025-01-08", 3325657331u, 31},  // the spec's example
      {"request-123", "canary-2025-01-08", 2405764112u, 12},
      {"", "", 2235230479u, 79},                                     // empty key and seed
      {"", "seed", 2776031402u, 2},                                  // empty key
      {"key", "", 2968190691u, 91},                                  // empty seed
      {"用户-42", "canary-2025-01-08", 1842825285u, 85},             // UTF-8 bytes
      {"emoji-😀", "s", 1658048285u, 85},
      {std::string(1000, 'x'), "phase4-rollout-2025-01-08", 182025858u, 58},  // long key
      {"req-1", "qos-monitor-2025-01-08", 3628559541u, 41},
      {"user-1", "phase4-rollout-2025-01-08", 3621054121u, 21},
      {"line\nbreak", "s", 2156578184u, 84},
      {"req-227", "canary-2025-01-08", 332866400u, 0},    // bucket exactly 0
      {"req-164", "canary-2025-01-08", 2943282499u, 99},  // bucket exactly 99
      {"req-20", "canary-2025-01-08", 299183705u, 5},     // on the 5% boundary
      {"req-98", "canary-2025-01-08", 3401998904u, 4},    // just inside 5%
      {"req-73", "canary-2025-01-08", 2529702112u, 12},   // above 2^31: unsigned read
      {"req-8", "canary-2025-01-08", 1505113950u, 50},
  };
  return kVectors;
}

TEST(Bucketing, MatchesIndependentMd5) {
  for (const auto& v : vectors()) {
    SCOPED_TRACE("key=" + v.key.substr(0, 20) + " seed=" + v.seed);
    EXPECT_EQ(rollout_hash(v.key, v.seed), v.hash);
    EXPECT_EQ(rollout_bucket(v.key, v.seed), v.bucket);
  }
}

TEST(Bucketing, KeyAndSeedAreJoinedWithAColon) {
  // The spec hashes `${key}:${hashSeed}`, so these two spell the same input.
  EXPECT_EQ(rollout_hash("a:b", "c"), 46960392u);
  EXPECT_EQ(rollout_hash("a", "b:c"), 46960392u);
  EXPECT_NE(rollout_hash("ab", "c"), rollout_hash("a", "bc"));
}

TEST(Bucketing, InRolloutAtTheEdges) {
  for (const auto& v : vectors()) {
    SCOPED_TRACE("key=" + v.key.substr(0, 20) + " seed=" + v.seed);
    EXPECT_FALSE(in_rollout(v.key, 0, v.seed));
    EXPECT_FALSE(in_rollout(v.key, -5, v.seed));
    EXPECT_TRUE(in_rollout(v.key, 100, v.seed));
    EXPECT_TRUE(in_rollout(v.key, 250, v.seed));
    // In exactly when the bucket is below the percentage.
    EXPECT_FALSE(in_rollout(v.key, v.bucket, v.seed)) << v.bucket;
    EXPECT_TRUE(in_rollout(v.key, v.bucket + 1, v.seed)) << v.bucket;
    EXPECT_TRUE(in_rollout(v.key, v.bucket + 0.5, v.seed)) << v.bucket;
  }
}

TEST(Bucketing, FractionalPercentage) {
  // 12.5% takes buckets 0..12.
  EXPECT_TRUE(in_rollout("req-73", 12.5, "canary-2025-01-08"));       // bucket 12
  EXPECT_FALSE(in_rollout("req-73", 12.0, "canary-2025-01-08"));
  EXPECT_TRUE(in_rollout("req-227", 0.5, "canary-2025-01-08"));       // bucket 0
  EXPECT_FALSE(in_rollout("req-164", 99, "canary-2025-01-08"));       // bucket 99
  EXPECT_TRUE(in_rollout("req-164", 99.5, "canary-2025-01-08"));
}

TEST(Bucketing, NanIsNeverIn) {
  EXPECT_FALSE(in_rollout("req-227", std::numeric_limits<double>::quiet_NaN(), "s"));
}

TEST(Bucketing, DistributionMatchesPercentage) {
  constexpr int kKeys = 100000;
  std::vector<int> buckets(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    buckets[i] = rollout_bucket("req-" + std::to_string(i), "ttft-pipeline-2025-01-08");
  }
  for (double pct : {1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 99.0}) {
    int in = 0;
    for (int i = 0; i < kKeys; ++i) {
      bool a = buckets[i] < pct;
      ASSERT_EQ(a, in_rollout("req-" + std::to_string(i), pct, "ttft-pipeline-2025-01-08"));
      in += a;
    }
    double share = in * 100.0 / kKeys;
    EXPECT_NEAR(share, pct, 1.0) << pct << "% rollout enabled " << share << "%";
  }
}

TEST(Bucketing, RaisingThePercentageOnlyAddsKeys) {
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "req-" + std::to_string(i);
    bool was_in = false;
    for (int p = 0; p <= 100; ++p) {
      bool in = in_rollout(key, p, "monotonic-seed");
      ASSERT_FALSE(was_in && !in) << key << " left the rollout at " << p << "%";
      was_in = in;
    }
    ASSERT_TRUE(was_in) << key << " never entered the rollout";
  }
}

}  // namespace
}  // namespace mlxs::flags
