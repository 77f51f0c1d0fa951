// Internal to src/kernels: the dot-product kernels per instruction set, and how matmul and
// quant_ops pick one.
//
// Batch invariance rests on one rule that every kernel here follows: the float result for a
// (weight row, activation row) pair is computed by the same sequence of float operations
// whatever the number of activation rows processed together. A tile kernel processing nt
// tokens keeps separate accumulators per token and updates them exactly as the nt == 1
// instantiation does, and vec_dot IS the nt == 1 instantiation. Likewise a block of several
// weight rows keeps each (row, token) pair's accumulators apart and updates them as the
// one-row, one-token instantiation does. Integer partial sums may be formed in any order
// (they are exact).
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/ggml_type.h"

namespace mlxs::kern::detail {

// out[t * out_stride] = dot(w, x + t * x_stride bytes) for t < nt, 1 <= nt <= max_tokens.
using TileFn = void (*)(int64_t n, const void* w, const void* x, size_t x_stride, int nt,
                        float* out, int64_t out_stride);
using VecDotFn = void (*)(int64_t n, const void* w, const void* x, float* out);

// Some kernels read activations in a layout of their own ("prepared" rows), converted from
// vec_dot_type rows once per matmul so that the conversion is not repeated per weight row.
// The conversion is lossless and per row, so it cannot make a token depend on its batch.
using PrepBytesFn = size_t (*)(int64_t n);
using PrepFn = void (*)(int64_t n, const void* x, void* dst);

// The block kernel: out[t * out_stride + r] = dot(row r of w, prepared row t) for r < nr,
// t < nt, rows w_stride bytes apart, prepared rows xp_stride bytes apart (prepared rows
// start 64-byte aligned when xp_stride and xp are). Any nr, nt >= 1.
using GemmFn = void (*)(int64_t n, const void* w, size_t w_stride, int nr, const void* xp,
                        size_t xp_stride, int nt, float* out, int64_t out_stride);

struct DotKernel {
  VecDotFn vec_dot = nullptr;
  TileFn tile = nullptr;
  int max_tokens = 0;
  GemmFn gemm = nullptr;
  // Both null: gemm reads vec_dot_type rows as they are.
  PrepBytesFn prep_bytes = nullptr;
  PrepFn prep = nullptr;
  // Tokens (and rows) the register tile of gemm covers at once: matmul sizes its work
  // items in multiples of these.
  int tile_tokens = 1;
  int tile_rows = 1;
  explicit operator bool() const { return vec_dot != nullptr; }
};

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Empty DotKernel when that instruction set has no kernel for the type.
DotKernel dot_kernel_scalar(GgmlType t);
DotKernel dot_kernel_avx2(GgmlType t);
DotKernel dot_kernel_avx512(GgmlType t);

// The widest instruction set cpu_features() allows (MLXS_CPU narrows it).
Isa best_isa();
// The kernel for `t` at `isa`, falling back to narrower instruction sets; empty if the type
// has no dot product at all.
DotKernel dot_kernel(GgmlType t, Isa isa);
// dot_kernel(t, best_isa()), cached.
const DotKernel& active_dot_kernel(GgmlType t);

}  // namespace mlxs::kern::detail
