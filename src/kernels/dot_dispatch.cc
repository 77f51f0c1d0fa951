// Picks the dot-product kernel per type from the CPU's features, once per process.
#include <array>

#include "base/cpu_features.h"
#include "kernels/dot_kernels.h"

namespace mlxs::kern::detail {

Isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) return Isa::kAvx512;
  if (f.avx2 && f.fma && f.f16c) return Isa::kAvx2;
  return Isa::kScalar;
}

DotKernel dot_kernel(GgmlType t, Isa isa) {
  if (isa == Isa::kAvx512) {
    if (DotKernel k = dot_kernel_avx512(t)) return k;
    isa = Isa::kAvx2;
  }
  if (isa == Isa::kAvx2) {
    if (DotKernel k = dot_kernel_avx2(t)) return k;
  }
  return dot_kernel_scalar(t);
}

const DotKernel& active_dot_kernel(GgmlType t) {
  // Indexed by the GGUF type number; built once so every caller in the process (vec_dot,
  // matmul at any batch size) uses the very same kernel.
  static const std::array<DotKernel, 40> table = [] {
    std::array<DotKernel, 40> a{};
    const Isa isa = best_isa();
    for (uint32_t i = 0; i < a.size(); ++i) a[i] = dot_kernel(static_cast<GgmlType>(i), isa);
    return a;
  }();
  static const DotKernel empty{};
  const uint32_t i = static_cast<uint32_t>(t);
  return i < table.size() ? table[i] : empty;
}

}  // namespace mlxs::kern::detail
