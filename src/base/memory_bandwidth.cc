#include "base/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include <unistd.h>

namespace mlxs {
namespace {

struct FreeDeleter {
  void operator()(double* p) const { std::free(p); }
};
using Array = std::unique_ptr<double[], FreeDeleter>;

Array alloc_array(size_t n) {
  return Array(static_cast<double*>(std::aligned_alloc(64, n * sizeof(double))));
}

// Seconds of the fastest of `reps` runs of fn(thread, n_threads) on every pool thread.
template <class F>
double best_seconds(ThreadPool& pool, int reps, F&& fn) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run_on_all(fn);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

MemoryBandwidth measure_memory_bandwidth(ThreadPool& pool, size_t array_bytes, int reps) {
  const size_t n = array_bytes / sizeof(double) / 64 * 64;
  Array a = alloc_array(n), b = alloc_array(n), c = alloc_array(n);
  MemoryBandwidth out;
  if (!a || !b || !c || n == 0) return out;
  out.array_bytes = n * sizeof(double);
  // Each thread touches its own part first, so pages sit where that thread runs.
  auto part = [n](int t, int nt) {
    return std::pair<size_t, size_t>(n * t / nt / 8 * 8, n * (t + 1) / nt / 8 * 8);
  };
  pool.run_on_all([&](int t, int nt) {
    auto [lo, hi] = part(t, nt);
    for (size_t i = lo; i < hi; ++i) {
      a[i] = 0;
      b[i] = 1;
      c[i] = 2;
    }
  });
  double* pa = a.get();
  const double* pb = b.get();
  const double* pc = c.get();
  const double triad_s = best_seconds(pool, reps, [&](int t, int nt) {
    auto [lo, hi] = part(t, nt);
    const double s = 3.0;
    for (size_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
  });
  // Eight independent sums keep enough loads in flight; the result is kept so the loop
  // cannot be dropped.
  std::vector<double> sums(static_cast<size_t>(pool.size()));
  const double read_s = best_seconds(pool, reps, [&](int t, int nt) {
    auto [lo, hi] = part(t, nt);
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = lo; i < hi; i += 8)
      for (int k = 0; k < 8; ++k) s[k] += pb[i + k];
    sums[static_cast<size_t>(t)] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
  });
  if (sums[0] < 0) std::fputs("", stderr);  // uses the sums
  out.triad_gbs = 3.0 * static_cast<double>(out.array_bytes) / triad_s / 1e9;
  out.read_gbs = static_cast<double>(out.array_bytes) / read_s / 1e9;
  return out;
}

size_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace mlxs
