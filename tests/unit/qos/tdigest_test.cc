// The t-digest against exact answers: rank error on 100 000 samples from easy and hard
// distributions (as the reference implementations test it), small cases whose quantiles
// are known exactly, merging, and bounded memory.
#include "qos/tdigest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace mlxs::qos {
namespace {

constexpr size_t kSamples = 100000;
const double kQuantiles[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999};

// Rank error allowed at q: 1% in the middle, 0.1% in the tails the SLOs care about.
double bound(double q) { return (q <= 0.01 || q >= 0.99) ? 0.001 : 0.01; }

// Gamma with shape 0.1 is the reference implementations' hardest case: below its 1st
// percentile the values span about 20 orders of magnitude, so the linear interpolation
// between neighbouring centroid means (each holding ~100 samples there) misplaces a rank by
// up to ~0.2% (measured: at most 0.0022 over ten seeds). Its upper tail, where latency SLOs
// live, keeps the 0.1% bound. The reference's own tests allow 0.5% at every q.
constexpr double kSkewedLowTailBound = 0.003;

// The mid-rank of x among sorted samples, as a fraction.
double true_rank(const std::vector<double>& sorted, double x) {
  const auto lo = std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin();
  const auto hi = std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin();
  return (static_cast<double>(lo) + static_cast<double>(hi)) / 2 / sorted.size();
}

// The sample at rank q (no interpolation needed at this n).
double true_quantile(const std::vector<double>& sorted, double q) {
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()));
  return sorted[i];
}

template <typename Dist>
std::vector<double> draw(Dist dist, uint64_t seed, size_t n = kSamples) {
  std::mt19937_64 rng(seed);
  std::vector<double> out(n);
  for (double& x : out) x = dist(rng);
  return out;
}

std::vector<double> uniform_samples() {
  return draw(std::uniform_real_distribution<double>(0, 1), 1);
}
std::vector<double> normal_samples() { return draw(std::normal_distribution<double>(0, 1), 2); }
std::vector<double> lognormal_samples() {
  return draw(std::lognormal_distribution<double>(0, 1), 3);
}
std::vector<double> gamma_samples() { return draw(std::gamma_distribution<double>(0.1, 1), 4); }

void expect_accurate(const TDigest& digest, std::vector<double> samples,
                     const std::string& name, double low_tail_bound = 0.001) {
  std::sort(samples.begin(), samples.end());
  ASSERT_DOUBLE_EQ(digest.count(), static_cast<double>(samples.size()));
  EXPECT_EQ(digest.min(), samples.front()) << name;
  EXPECT_EQ(digest.max(), samples.back()) << name;
  for (double q : kQuantiles) {
    const double allowed = q <= 0.01 ? low_tail_bound : bound(q);
    const double x = digest.quantile(q);
    EXPECT_NEAR(true_rank(samples, x), q, allowed) << name << " quantile(" << q << ") = " << x;
    const double at = true_quantile(samples, q);
    const double empirical = true_rank(samples, at);
    EXPECT_NEAR(digest.cdf(at), empirical, allowed) << name << " cdf at q=" << q;
  }
}

TDigest digest_of(const std::vector<double>& samples) {
  TDigest digest(100);
  for (double x : samples) digest.add(x);
  return digest;
}

TEST(TDigestAccuracy, Uniform) {
  const auto s = uniform_samples();
  expect_accurate(digest_of(s), s, "uniform");
}
TEST(TDigestAccuracy, Normal) {
  const auto s = normal_samples();
  expect_accurate(digest_of(s), s, "normal");
}
TEST(TDigestAccuracy, LogNormal) {
  const auto s = lognormal_samples();
  expect_accurate(digest_of(s), s, "lognormal");
}
TEST(TDigestAccuracy, HeavyTailedGamma) {
  const auto s = gamma_samples();
  expect_accurate(digest_of(s), s, "gamma(0.1)", kSkewedLowTailBound);
}

// Sorted input is the classic worst case for online digests.
TEST(TDigestAccuracy, SortedInput) {
  auto s = lognormal_samples();
  std::sort(s.begin(), s.end());
  expect_accurate(digest_of(s), s, "sorted lognormal");
}

TEST(TDigestAccuracy, MergedDigestsMatchSingleDigest) {
  struct Case {
    std::string name;
    std::vector<double> samples;
    double low_tail_bound;
  };
  for (const auto& [name, samples, low_tail_bound] :
       {Case{"normal", normal_samples(), 0.001},
        Case{"gamma(0.1)", gamma_samples(), kSkewedLowTailBound}}) {
    TDigest merged(100);
    for (size_t part = 0; part < 10; ++part) {
      TDigest piece(100);
      for (size_t i = part * 10000; i < (part + 1) * 10000; ++i) piece.add(samples[i]);
      merged.merge(piece);
    }
    expect_accurate(merged, samples, "merged " + name, low_tail_bound);
    expect_accurate(digest_of(samples), samples, "single " + name, low_tail_bound);
    EXPECT_NEAR(merged.sum(), digest_of(samples).sum(), 1e-6 * std::abs(merged.sum()));
  }
}

TEST(TDigest, EmptyIsNaN) {
  TDigest d;
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.count(), 0);
  EXPECT_TRUE(std::isnan(d.quantile(0.5)));
  EXPECT_TRUE(std::isnan(d.quantile(0)));
  EXPECT_TRUE(std::isnan(d.cdf(0)));
  EXPECT_TRUE(std::isnan(d.min()));
  EXPECT_TRUE(std::isnan(d.max()));
  EXPECT_TRUE(std::isnan(d.mean()));
  EXPECT_EQ(d.centroid_count(), 0u);
}

TEST(TDigest, OneValue) {
  TDigest d;
  d.add(42);
  EXPECT_FALSE(d.empty());
  for (double q : {0.0, 0.01, 0.5, 0.99, 1.0}) EXPECT_EQ(d.quantile(q), 42) << q;
  EXPECT_EQ(d.cdf(41.9), 0);
  EXPECT_EQ(d.cdf(42), 0.5);
  EXPECT_EQ(d.cdf(42.1), 1);
  EXPECT_EQ(d.mean(), 42);
}

TEST(TDigest, HandfulOfValues) {
  TDigest d;
  for (double x : {3.0, 1.0, 5.0, 2.0, 4.0}) d.add(x);
  EXPECT_EQ(d.quantile(0), 1);
  EXPECT_EQ(d.quantile(1), 5);
  EXPECT_EQ(d.quantile(0.5), 3);
  EXPECT_EQ(d.min(), 1);
  EXPECT_EQ(d.max(), 5);
  EXPECT_EQ(d.sum(), 15);
  EXPECT_EQ(d.mean(), 3);
  EXPECT_EQ(d.count(), 5);
  // Out-of-range q is clamped.
  EXPECT_EQ(d.quantile(-1), 1);
  EXPECT_EQ(d.quantile(2), 5);
  // Every value is a singleton: the cdf counts exact samples, half the one at x.
  EXPECT_DOUBLE_EQ(d.cdf(3), 2.5 / 5);
  EXPECT_DOUBLE_EQ(d.cdf(3.5), 3.0 / 5);
  EXPECT_EQ(d.cdf(0.5), 0);
  EXPECT_EQ(d.cdf(5.5), 1);
  // Quantiles are monotone in q.
  double last = d.quantile(0);
  for (int i = 1; i <= 100; ++i) {
    const double v = d.quantile(i / 100.0);
    EXPECT_GE(v, last) << i;
    last = v;
  }
}

TEST(TDigest, ManyCopiesAndOneOutlier) {
  TDigest d;
  for (int i = 0; i < 10000; ++i) d.add(10);
  d.add(1000);
  EXPECT_EQ(d.quantile(0), 10);
  EXPECT_EQ(d.quantile(0.5), 10);
  EXPECT_EQ(d.quantile(0.99), 10);
  EXPECT_EQ(d.quantile(1), 1000);
  EXPECT_EQ(d.cdf(9.999), 0);
  // Between the last centroid of 10s and the outlier, half of that centroid's weight is
  // spread towards 1000 (the reference interpolation), so this is close to, not exactly,
  // 10000 / 10001.
  EXPECT_NEAR(d.cdf(10.001), 10000.0 / 10001, 0.01);
  EXPECT_LT(d.cdf(10.001), d.cdf(999));
  EXPECT_EQ(d.cdf(1000.1), 1);
  EXPECT_EQ(d.max(), 1000);
}

TEST(TDigest, AllEqualValues) {
  TDigest d;
  for (int i = 0; i < 50000; ++i) d.add(7.5);
  for (double q : {0.0, 0.001, 0.5, 0.999, 1.0}) EXPECT_EQ(d.quantile(q), 7.5) << q;
  EXPECT_EQ(d.cdf(7.4), 0);
  EXPECT_NEAR(d.cdf(7.5), 0.5, 1e-9);
  EXPECT_EQ(d.cdf(7.6), 1);
  EXPECT_LE(d.centroid_count(), 200u);
}

TEST(TDigest, WeightedAdd) {
  TDigest weighted, repeated;
  weighted.add(1, 3);
  weighted.add(2, 1);
  for (int i = 0; i < 3; ++i) repeated.add(1);
  repeated.add(2);
  EXPECT_EQ(weighted.count(), 4);
  EXPECT_EQ(weighted.sum(), 5);
  EXPECT_EQ(weighted.quantile(0.25), repeated.quantile(0.25));
  EXPECT_LT(weighted.cdf(1.5), weighted.cdf(2.5));
}

TEST(TDigest, BadInputIgnored) {
  TDigest d;
  d.add(std::nan(""));
  d.add(INFINITY);
  d.add(-INFINITY);
  d.add(5, 0);
  d.add(5, -1);
  d.add(5, std::nan(""));
  d.add(5, INFINITY);
  EXPECT_TRUE(d.empty());
  d.add(1);
  d.add(std::nan(""));
  EXPECT_EQ(d.count(), 1);
  EXPECT_EQ(d.quantile(0.5), 1);
  EXPECT_TRUE(std::isnan(d.quantile(std::nan(""))));
  EXPECT_TRUE(std::isnan(d.cdf(std::nan(""))));
}

TEST(TDigest, ExtremeFiniteValuesStayFinite) {
  TDigest d;
  for (int i = 0; i < 5000; ++i) d.add(i % 2 ? 1e308 : -1e308);
  EXPECT_EQ(d.quantile(0), -1e308);
  EXPECT_EQ(d.quantile(1), 1e308);
  for (double q : {0.1, 0.5, 0.9}) EXPECT_TRUE(std::isfinite(d.quantile(q))) << q;
  EXPECT_FALSE(std::isnan(d.cdf(0)));
}

TEST(TDigest, CompressionClamped) {
  EXPECT_EQ(TDigest(1).compression(), TDigest::kMinCompression);
  EXPECT_EQ(TDigest(-5).compression(), TDigest::kMinCompression);
  EXPECT_EQ(TDigest(1e9).compression(), TDigest::kMaxCompression);
  EXPECT_EQ(TDigest(std::nan("")).compression(), TDigest::kDefaultCompression);
  EXPECT_EQ(TDigest(200).compression(), 200);
}

TEST(TDigest, CentroidCountBounded) {
  for (double compression : {10.0, 20.0, 100.0, 500.0}) {
    TDigest d(compression);
    std::mt19937_64 rng(7);
    std::exponential_distribution<double> dist(1);
    for (int i = 0; i < 1000000; ++i) d.add(dist(rng));
    // The reference sizes its arrays 2 * compression + 10 for this merge rule.
    EXPECT_LE(d.centroid_count(), static_cast<size_t>(2 * compression + 10)) << compression;
    // And not degenerate: the digest really keeps about compression / 2 or more.
    EXPECT_GE(d.centroid_count(), static_cast<size_t>(compression / 4)) << compression;
    EXPECT_EQ(d.count(), 1000000);
  }
}

TEST(TDigest, MergeKeepsExtremesAndTotals) {
  TDigest a, b;
  for (int i = 1; i <= 1000; ++i) a.add(i);
  for (int i = 1001; i <= 3000; ++i) b.add(i);
  a.merge(b);
  EXPECT_EQ(a.count(), 3000);
  EXPECT_EQ(a.min(), 1);
  EXPECT_EQ(a.max(), 3000);
  EXPECT_EQ(a.sum(), 3000.0 * 3001 / 2);
  EXPECT_NEAR(a.quantile(0.5), 1500, 30);
  EXPECT_EQ(b.count(), 2000);  // the source is unchanged

  TDigest empty;
  a.merge(empty);
  EXPECT_EQ(a.count(), 3000);
  empty.merge(a);
  EXPECT_EQ(empty.count(), 3000);
  EXPECT_EQ(empty.max(), 3000);

  a.merge(a);  // merging with itself doubles every weight
  EXPECT_EQ(a.count(), 6000);
  EXPECT_NEAR(a.quantile(0.5), 1500, 30);
}

TEST(TDigest, ClearResets) {
  TDigest d;
  for (int i = 0; i < 5000; ++i) d.add(i);
  d.clear();
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(std::isnan(d.quantile(0.5)));
  d.add(-3);
  EXPECT_EQ(d.min(), -3);
  EXPECT_EQ(d.max(), -3);
  EXPECT_EQ(d.quantile(0.9), -3);
}

TEST(TDigest, QuantileAndCdfAreMonotone) {
  const auto s = gamma_samples();
  TDigest d = digest_of(s);
  double last_q = -INFINITY, last_c = -1;
  for (int i = 0; i <= 1000; ++i) {
    const double v = d.quantile(i / 1000.0);
    EXPECT_GE(v, last_q) << i;
    last_q = v;
    const double c = d.cdf(v);
    EXPECT_GE(c, last_c) << i;
    last_c = c;
  }
}

}  // namespace
}  // namespace mlxs::qos
