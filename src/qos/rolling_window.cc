#include "qos/rolling_window.h"

#include <algorithm>
#include <cmath>

namespace mlxs::qos {

using std::chrono::steady_clock;

SlotClock::SlotClock(std::chrono::milliseconds window, int slots)
    : window_(std::max(window, std::chrono::milliseconds(1))), slots_(std::max(slots, 1)) {
  // Nanosecond spans keep short windows with many slots from rounding to zero.
  span_ = std::max(std::chrono::nanoseconds(window_) / slots_, std::chrono::nanoseconds(1));
}

int64_t SlotClock::raw_index(steady_clock::time_point now) const {
  const int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        now.time_since_epoch()).count();
  const int64_t span = span_.count();
  // Floor division, so an injected time before the clock's epoch still lands in order.
  int64_t q = t / span;
  if (t % span != 0 && t < 0) --q;
  return q;
}

int64_t SlotClock::index_for_write(steady_clock::time_point now) {
  latest_ = std::max(latest_, raw_index(now));
  return latest_;
}

int64_t SlotClock::index_for_read(steady_clock::time_point now) const {
  return std::max(latest_, raw_index(now));
}

size_t SlotClock::position(int64_t index) const {
  const int64_t m = index % slots_;
  return static_cast<size_t>(m < 0 ? m + slots_ : m);
}

RollingDigest::RollingDigest(std::chrono::milliseconds window, int slots, double compression)
    : clock_(window, slots), compression_(compression) {
  ring_.reserve(static_cast<size_t>(clock_.slots()));
  for (int i = 0; i < clock_.slots(); ++i) {
    ring_.push_back({SlotClock::kNoIndex, TDigest(compression)});
  }
  compression_ = ring_.front().digest.compression();
}

void RollingDigest::add(double value, steady_clock::time_point now) {
  if (!std::isfinite(value)) return;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t index = clock_.index_for_write(now);
  Slot& slot = ring_[clock_.position(index)];
  if (slot.index != index) {
    // The bucket last held data from a whole window ago (or never any): start over.
    slot.digest.clear();
    slot.index = index;
  }
  slot.digest.add(value);
}

TDigest RollingDigest::snapshot(steady_clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t current = clock_.index_for_read(now);
  TDigest merged(compression_);
  for (const Slot& slot : ring_) {
    if (clock_.live(slot.index, current)) merged.merge(slot.digest);
  }
  return merged;
}

size_t RollingDigest::centroid_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t total = 0;
  for (const Slot& slot : ring_) total += slot.digest.centroid_count();
  return total;
}

RollingCounter::RollingCounter(std::chrono::milliseconds window, int slots)
    : clock_(window, slots), ring_(static_cast<size_t>(clock_.slots())) {}

void RollingCounter::add(double amount, steady_clock::time_point now) {
  if (!std::isfinite(amount)) return;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t index = clock_.index_for_write(now);
  Slot& slot = ring_[clock_.position(index)];
  if (slot.index != index) {
    slot.sum = 0;
    slot.index = index;
  }
  slot.sum += amount;
}

double RollingCounter::sum(steady_clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t current = clock_.index_for_read(now);
  double total = 0;
  for (const Slot& slot : ring_) {
    if (clock_.live(slot.index, current)) total += slot.sum;
  }
  return total;
}

}  // namespace mlxs::qos
