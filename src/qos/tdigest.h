// A merging t-digest (Dunning & Ertl, "Computing extremely accurate quantiles using
// t-digests", the MergingDigest variant): a compact summary of a stream of numbers that
// answers quantile and cdf queries with small rank error, smallest in the tails.
//
// Incoming values are buffered; when the buffer fills (or a query needs the digest) the
// buffer and the existing centroids are sorted by mean and merged in one pass, a new
// centroid starting whenever the merged one would be larger than one unit of the k1
// (arcsine) scale function k(q) = delta / (2 pi) * asin(2q - 1) allows where it sits. Because
// k is steep near q = 0 and q = 1, centroids there stay small, which is what makes p99 and
// p999 accurate. The exact minimum and maximum are kept beside the centroids. As in the
// reference implementation's defaults, merges use delta = 2 * compression (its two-level
// compression) and bound each centroid at both its ends (its weight-limit rule).
//
// Accuracy at compression 100 on 100 000 samples: rank error below 0.1% at q = 0.001 .. 0.01
// and 0.99 .. 0.999, below 1% in between, for uniform, normal and log-normal data. Data
// whose values span many orders of magnitude inside one centroid (gamma with shape 0.1
// below its 1st percentile, where values range over 20 decades) interpolate worse there,
// about 0.2%, because values are interpolated linearly between centroid means.
//
// Memory is bounded: at most about 2 * compression + 10 centroids plus a buffer of
// kBufferFactor * compression entries, whatever the number of values added.
//
// Not thread-safe: callers lock. Note that the const queries (quantile, cdf,
// centroid_count) merge the pending buffer into the centroids, so they mutate internal
// state; two threads must not call even const methods of one digest concurrently.
#pragma once

#include <cstddef>
#include <vector>

namespace mlxs::qos {

class TDigest {
 public:
  // Values outside [kMinCompression, kMaxCompression] are clamped to the range (a NaN
  // compression falls back to kDefaultCompression): below 10 the digest is too coarse to
  // be useful, above 100 000 memory stops being small.
  static constexpr double kDefaultCompression = 100;
  static constexpr double kMinCompression = 10;
  static constexpr double kMaxCompression = 100000;
  // Buffer capacity relative to compression: a larger buffer amortises the sort.
  static constexpr double kBufferFactor = 10;
  // Merges use twice the requested compression, as the reference implementation's default
  // two-level scheme does when its buffer is this large: about twice the centroids, and
  // much better accuracy in skewed tails (see the class comment).
  static constexpr double kMergeCompressionFactor = 2;

  explicit TDigest(double compression = kDefaultCompression);

  // Adds x with the given weight. NaN or infinite x, and weights that are NaN, infinite,
  // zero or negative, are ignored (a bad sample must not poison the summary).
  void add(double x, double weight = 1);
  // Adds all of other's data (its centroids and pending values); other is unchanged.
  void merge(const TDigest& other);

  // The value below which a fraction q of the weight lies. q is clamped to [0, 1];
  // q = 0 gives min(), q = 1 gives max(); NaN when empty. Between centroids the value is
  // interpolated as in the reference implementation: a centroid of weight 1 is an exact
  // sample, each centroid's weight is spread half to each side, and the outermost
  // centroids interpolate out to the exact min and max.
  double quantile(double q) const;
  // The fraction of the weight at or below x, interpolated between centroids. A point
  // mass exactly at x counts half (the mid-rank convention of the reference
  // implementation), so for continuous data this is the empirical cdf and for a digest
  // of equal values v, cdf(v) is 0.5. 0 below min(), 1 above max(); NaN when empty or
  // when x is NaN.
  double cdf(double x) const;

  double count() const { return count_; }  // total weight added
  double min() const;                      // NaN when empty
  double max() const;                      // NaN when empty
  double sum() const { return sum_; }      // sum of value * weight
  double mean() const;                     // sum() / count(); NaN when empty
  // Number of centroids once the pending buffer is merged in.
  size_t centroid_count() const;
  double compression() const { return compression_; }
  bool empty() const { return count_ <= 0; }
  void clear();

 private:
  struct Centroid {
    double mean;
    double weight;
  };

  void push(double mean, double weight);
  // Merges buffer_ into centroids_ (the lazy part behind the const queries).
  void flush() const;

  double compression_;
  size_t buffer_limit_;
  double count_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
  mutable std::vector<Centroid> centroids_;  // sorted by mean, merged
  mutable std::vector<Centroid> buffer_;     // unsorted, not yet merged
  // Merging alternately from the left and from the right keeps the small rounding bias
  // of one direction from accumulating at one end (as the reference implementation does).
  mutable bool merge_from_right_ = false;
};

}  // namespace mlxs::qos
