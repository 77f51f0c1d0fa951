// The machine's own memory limits, measured in the same run as the figures they bound:
// single-token decode reads every weight once, so its ceiling is memory bandwidth ÷ the
// bytes of the weights. STREAM's triad (a = b + s·c) is the customary figure; a read-only
// sum is what decode does. Both run on the given pool's threads, over arrays far larger
// than any cache.
#pragma once

#include <cstddef>

#include "base/thread_pool.h"

namespace mlxs {

struct MemoryBandwidth {
  double triad_gbs = 0;  // STREAM convention: 3 array sizes moved per pass (2 read, 1 written)
  double read_gbs = 0;   // one array read per pass
  size_t array_bytes = 0;
};

// Best of `reps` passes of each. The arrays (3 × array_bytes) are allocated, touched and
// freed here.
MemoryBandwidth measure_memory_bandwidth(ThreadPool& pool, size_t array_bytes = size_t{256} << 20,
                                         int reps = 5);

// The process's resident set size in bytes (/proc/self/statm); 0 when unknown.
size_t resident_bytes();

}  // namespace mlxs
