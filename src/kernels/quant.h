// Arithmetic per tensor type, one row per type (ggml's type-traits idea): dequantize,
// quantize, and the dot product of a weight row with an activation row that has been
// converted to the type's `vec_dot_type`. Implementations dispatch at run time to
// AVX-512 (VNNI/BF16) or AVX2 code.
#pragma once

#include <cstdint>

#include "model/ggml_type.h"

namespace mlxs::kern {

struct QuantOps {
  GgmlType type;
  // Converts n elements (a multiple of the block size) to float.
  void (*to_float)(const void* src, float* dst, int64_t n);
  // Quantizes n elements (a multiple of the block size); used for activations and by the
  // test-model writer.
  void (*from_float)(const float* src, void* dst, int64_t n);
  // Activations are converted to this type before vec_dot.
  GgmlType vec_dot_type;
  // *out = sum over n elements of w[i] * x[i]; w is a row of `type`, x a row of vec_dot_type.
  void (*vec_dot)(int64_t n, const void* w, const void* x, float* out);
};

// nullptr when the type cannot be used for compute.
const QuantOps* quant_ops(GgmlType type);

}  // namespace mlxs::kern
