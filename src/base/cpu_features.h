// What the running CPU supports, read once with cpuid. Kernels dispatch on it.
#pragma once

#include <string>

namespace mlxs {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;
  std::string describe() const;
};

// Detected features, possibly narrowed by the environment variable MLXS_CPU
// ("avx2" disables all AVX-512 paths; "scalar" disables everything) for testing.
const CpuFeatures& cpu_features();

}  // namespace mlxs
