// Rolling windows over time for the QoS monitor: the distribution of a latency over the
// last `window` (RollingDigest) and a sum over the last `window` (RollingCounter, for
// error rates and request rates).
//
// Both keep a fixed ring of `slots` buckets, each covering window / slots of time. A value
// goes into the bucket of the current time; a read combines the buckets still inside the
// window. Memory is therefore fixed whatever the traffic, and old data drops out with a
// granularity of one bucket: a read sees between (slots - 1) and slots buckets' worth of
// history.
//
// Time is always passed in by the caller and never read from a clock here, so tests can
// drive it. Bucket index = (now - steady_clock epoch) / (window / slots); a bucket is inside
// the window when its index > current index - slots. Time that goes backwards (an earlier
// `now` than one already seen) is treated as the latest time seen.
//
// Thread-safe: each object has its own mutex (request threads add, the evaluator reads).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "qos/tdigest.h"

namespace mlxs::qos {

// The ring arithmetic shared by both windows.
class SlotClock {
 public:
  // window < 1 ms is raised to 1 ms and slots < 1 to 1, so a bad configuration still
  // gives a working (if coarse) window instead of a division by zero.
  SlotClock(std::chrono::milliseconds window, int slots);

  std::chrono::milliseconds window() const { return window_; }
  int slots() const { return slots_; }
  std::chrono::nanoseconds slot_span() const { return span_; }
  // The bucket index of `now`, never below the latest one seen (time going backwards).
  int64_t index_for_write(std::chrono::steady_clock::time_point now);
  int64_t index_for_read(std::chrono::steady_clock::time_point now) const;
  // Position of a bucket index in the ring.
  size_t position(int64_t index) const;
  // Whether a bucket holding `index` is still inside the window that ends at `current`.
  bool live(int64_t index, int64_t current) const {
    return index > current - slots_ && index <= current;
  }
  // Marks buckets that have never been written.
  static constexpr int64_t kNoIndex = INT64_MIN;

 private:
  int64_t raw_index(std::chrono::steady_clock::time_point now) const;

  std::chrono::milliseconds window_;
  int slots_;
  std::chrono::nanoseconds span_;
  int64_t latest_ = kNoIndex;
};

class RollingDigest {
 public:
  RollingDigest(std::chrono::milliseconds window, int slots = 12,
                double compression = TDigest::kDefaultCompression);

  // NaN and infinite values are ignored (as by TDigest::add).
  void add(double value, std::chrono::steady_clock::time_point now);
  // One digest of all the values still inside the window at `now`.
  TDigest snapshot(std::chrono::steady_clock::time_point now) const;

  std::chrono::milliseconds window() const { return clock_.window(); }
  int slots() const { return clock_.slots(); }
  // Centroids held over all buckets (live or stale): bounded by about
  // slots * compression, whatever the traffic.
  size_t centroid_count() const;

 private:
  struct Slot {
    int64_t index = SlotClock::kNoIndex;
    TDigest digest;
  };

  mutable std::mutex mu_;
  SlotClock clock_;
  double compression_;
  std::vector<Slot> ring_;
};

class RollingCounter {
 public:
  RollingCounter(std::chrono::milliseconds window, int slots = 12);

  // NaN and infinite amounts are ignored.
  void add(double amount, std::chrono::steady_clock::time_point now);
  // The sum of the amounts added inside the window at `now`.
  double sum(std::chrono::steady_clock::time_point now) const;

  std::chrono::milliseconds window() const { return clock_.window(); }
  int slots() const { return clock_.slots(); }

 private:
  struct Slot {
    int64_t index = SlotClock::kNoIndex;
    double sum = 0;
  };

  mutable std::mutex mu_;
  SlotClock clock_;
  std::vector<Slot> ring_;
};

}  // namespace mlxs::qos
