#include "qos/tdigest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace mlxs::qos {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The largest weight fraction a centroid at quantile q may hold under the k1 scale
// function k(q) = delta / (2 pi) * asin(2q - 1): one unit of k spans about
// (2 pi / delta) * sqrt(q (1 - q)) of q, written with sin() as the reference does so that it
// stays exact for small delta. Zero at q = 0 and q = 1: the extremes stay singletons.
double k1_max_fraction(double q, double delta) {
  if (q <= 0 || q >= 1) return 0;
  return 2 * std::sin(std::numbers::pi / delta) * std::sqrt(q * (1 - q));
}

// (x1 * w1 + x2 * w2) / (w1 + w2), kept inside [x1, x2] against rounding. Written with
// normalised weights so that values near the limits of double do not overflow.
double weighted_average(double x1, double w1, double x2, double w2) {
  const double lo = std::min(x1, x2), hi = std::max(x1, x2);
  const double w = w1 + w2;
  return std::clamp(x1 * (w1 / w) + x2 * (w2 / w), lo, hi);
}

}  // namespace

TDigest::TDigest(double compression) {
  if (std::isnan(compression)) compression = kDefaultCompression;
  compression_ = std::clamp(compression, kMinCompression, kMaxCompression);
  buffer_limit_ = static_cast<size_t>(std::ceil(kBufferFactor * compression_));
}

void TDigest::add(double x, double weight) {
  if (!std::isfinite(x) || !std::isfinite(weight) || weight <= 0) return;
  push(x, weight);
}

void TDigest::push(double mean, double weight) {
  if (count_ <= 0) {
    min_ = mean;
    max_ = mean;
  } else {
    min_ = std::min(min_, mean);
    max_ = std::max(max_, mean);
  }
  count_ += weight;
  sum_ += mean * weight;
  buffer_.push_back({mean, weight});
  if (buffer_.size() >= buffer_limit_) flush();
}

void TDigest::merge(const TDigest& other) {
  if (other.empty()) return;
  // Copy first: other may be *this, and push() may flush (and so reallocate) our vectors.
  std::vector<Centroid> incoming;
  incoming.reserve(other.centroids_.size() + other.buffer_.size());
  incoming.insert(incoming.end(), other.centroids_.begin(), other.centroids_.end());
  incoming.insert(incoming.end(), other.buffer_.begin(), other.buffer_.end());
  const double other_min = other.min_, other_max = other.max_;
  // The incoming centroid means lie inside [other_min, other_max]; carry the exact
  // extremes over so quantile(0) and quantile(1) stay exact after merging.
  const double other_sum = other.sum_;
  const double sum_before = sum_;
  for (const Centroid& c : incoming) push(c.mean, c.weight);
  min_ = std::min(min_, other_min);
  max_ = std::max(max_, other_max);
  // A centroid's mean times its weight is its values' sum only up to rounding; use the
  // exact sum the other digest kept.
  sum_ = sum_before + other_sum;
}

void TDigest::flush() const {
  if (buffer_.empty()) return;
  std::vector<Centroid> all;
  all.reserve(centroids_.size() + buffer_.size());
  all.insert(all.end(), centroids_.begin(), centroids_.end());
  all.insert(all.end(), buffer_.begin(), buffer_.end());
  buffer_.clear();
  std::sort(all.begin(), all.end(),
            [](const Centroid& a, const Centroid& b) { return a.mean < b.mean; });
  // k1 is symmetric about q = 1/2, so merging from the right is merging the reversed list.
  const bool from_right = merge_from_right_;
  merge_from_right_ = !merge_from_right_;
  if (from_right) std::reverse(all.begin(), all.end());

  double total = 0;
  for (const Centroid& c : all) total += c.weight;

  centroids_.clear();
  const double delta = compression_ * kMergeCompressionFactor;
  Centroid current = all.front();
  double weight_before = 0;  // weight of the centroids already emitted
  const size_t n = all.size();
  for (size_t i = 1; i < n; ++i) {
    const Centroid& next = all[i];
    const double proposed = current.weight + next.weight;
    // The merged centroid must be no larger than k1 allows at either of its ends (the
    // reference's "weight limit" rule: it grows centroids gradually out of the tails).
    const double q_start = weight_before / total;
    const double q_end = (weight_before + proposed) / total;
    bool fits = proposed <= total * std::min(k1_max_fraction(q_start, delta),
                                             k1_max_fraction(q_end, delta));
    // The first and the last entries are never merged with a neighbour: they hold the
    // extreme samples, which keeps the interpolation near min and max honest.
    if (i == 1 || i == n - 1) fits = false;
    if (fits) {
      current.mean = weighted_average(current.mean, current.weight, next.mean, next.weight);
      current.weight = proposed;
    } else {
      weight_before += current.weight;
      centroids_.push_back(current);
      current = next;
    }
  }
  centroids_.push_back(current);
  if (from_right) std::reverse(centroids_.begin(), centroids_.end());
}

double TDigest::min() const { return empty() ? kNaN : min_; }
double TDigest::max() const { return empty() ? kNaN : max_; }
double TDigest::mean() const { return empty() ? kNaN : sum_ / count_; }

size_t TDigest::centroid_count() const {
  flush();
  return centroids_.size();
}

void TDigest::clear() {
  count_ = 0;
  sum_ = 0;
  min_ = 0;
  max_ = 0;
  centroids_.clear();
  buffer_.clear();
  merge_from_right_ = false;
}

double TDigest::quantile(double q) const {
  if (empty() || std::isnan(q)) return kNaN;
  q = std::clamp(q, 0.0, 1.0);
  if (q == 0) return min_;
  if (q == 1) return max_;
  flush();
  const std::vector<Centroid>& c = centroids_;
  const size_t n = c.size();
  if (n == 1) return std::clamp(c[0].mean, min_, max_);

  const double total = count_;
  const double index = q * total;  // the rank sought, in units of weight
  // The extreme samples sit exactly at min and max.
  if (index < 1) return min_;
  if (index > total - 1) return max_;
  // The first centroid holds one sample at min; interpolate the rest of its left half.
  const double left_half = c[0].weight / 2;
  if (c[0].weight > 2 && index < left_half) {
    return min_ + (index - 1) / (left_half - 1) * (c[0].mean - min_);
  }
  const double right_half = c[n - 1].weight / 2;
  if (c[n - 1].weight > 2 && total - index <= right_half) {
    return max_ - (total - index - 1) / (right_half - 1) * (max_ - c[n - 1].mean);
  }

  // Each centroid's weight is spread half to each side of its mean; between the means of
  // neighbours i and i + 1 lie (w_i + w_{i+1}) / 2 units of weight.
  double weight_so_far = left_half;
  for (size_t i = 0; i + 1 < n; ++i) {
    const double dw = (c[i].weight + c[i + 1].weight) / 2;
    if (weight_so_far + dw > index) {
      // A centroid of weight 1 is a single exact sample: no spreading around it.
      double left_unit = 0;
      if (c[i].weight == 1) {
        if (index - weight_so_far < 0.5) return c[i].mean;
        left_unit = 0.5;
      }
      double right_unit = 0;
      if (c[i + 1].weight == 1) {
        if (weight_so_far + dw - index <= 0.5) return c[i + 1].mean;
        right_unit = 0.5;
      }
      const double z1 = index - weight_so_far - left_unit;
      const double z2 = weight_so_far + dw - index - right_unit;
      return weighted_average(c[i].mean, z2, c[i + 1].mean, z1);
    }
    weight_so_far += dw;
  }
  // Right half of the last centroid (a weight of at most 2, else handled above): between
  // its mean and max.
  const double z = std::clamp(index - weight_so_far, 0.0, right_half);
  return weighted_average(c[n - 1].mean, right_half - z, max_, z);
}

double TDigest::cdf(double x) const {
  if (empty() || std::isnan(x)) return kNaN;
  if (x < min_) return 0;
  if (x > max_) return 1;
  flush();
  const std::vector<Centroid>& c = centroids_;
  const size_t n = c.size();
  const double total = count_;
  if (n == 1) {
    if (max_ > min_) return (x - min_) / (max_ - min_);
    return 0.5;  // all the weight sits at x
  }

  // Left tail: one sample exactly at min, the rest of the first centroid's left half
  // spread up to its mean.
  if (x < c[0].mean) {
    if (c[0].mean - min_ <= 0) return 0;
    if (x == min_) return 0.5 / total;
    return (1 + (x - min_) / (c[0].mean - min_) * (c[0].weight / 2 - 1)) / total;
  }
  if (x > c[n - 1].mean) {
    if (max_ - c[n - 1].mean <= 0) return 1;
    if (x == max_) return 1 - 0.5 / total;
    const double dq =
        (1 + (max_ - x) / (max_ - c[n - 1].mean) * (c[n - 1].weight / 2 - 1)) / total;
    return 1 - dq;
  }

  double weight_so_far = 0;  // weight of the centroids left of c[i]
  for (size_t i = 0; i + 1 < n; ++i) {
    if (c[i].mean == x) {
      // One or more centroids exactly at x: half their weight counts.
      double dw = 0;
      for (size_t j = i; j < n && c[j].mean == x; ++j) dw += c[j].weight;
      return (weight_so_far + dw / 2) / total;
    }
    if (c[i].mean < x && x < c[i + 1].mean) {
      const double left = c[i].mean, right = c[i + 1].mean;
      // A singleton's weight is all at its mean, so it takes no part in the spreading.
      double left_excluded = 0, right_excluded = 0;
      if (c[i].weight == 1) {
        if (c[i + 1].weight == 1) return (weight_so_far + 1) / total;
        left_excluded = 0.5;
      } else if (c[i + 1].weight == 1) {
        right_excluded = 0.5;
      }
      const double dw = (c[i].weight + c[i + 1].weight) / 2 - left_excluded - right_excluded;
      const double base = weight_so_far + c[i].weight / 2 + left_excluded;
      return (base + dw * (x - left) / (right - left)) / total;
    }
    weight_so_far += c[i].weight;
  }
  // x equals the last centroid's mean.
  return (total - c[n - 1].weight / 2) / total;
}

}  // namespace mlxs::qos
