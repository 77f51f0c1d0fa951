// MLX affine quantization, laid out as mlx-lm saves it: per group of `group` consecutive
// weights of a row, a scale and a bias (in f16 or bf16) with w ≈ scale * q + bias, q an
// unsigned `bits`-bit integer; the q of a row are packed into uint32 words, 32/bits per
// word, element k of a word in bits [k*bits, (k+1)*bits) (lowest bits first).
#pragma once

#include <cstdint>

namespace mlxs::testmodel {

struct MlxQuant {
  int bits = 4;        // 2, 4 or 8 (a power of two, so a word holds whole elements)
  int64_t group = 64;  // divides the row length
  bool bf16 = false;   // scales and biases in bf16 instead of f16
};

// Quantizes one row of n weights: n*bits/32 words to `q`, n/group 16-bit scales and biases.
// The quantizer is min/max: scale = (max - min) / (2^bits - 1), bias = min, q rounded to
// nearest and clamped, computed from the rounded 16-bit scale and bias (the ones a reader
// will use).
void mlx_quantize_row(const MlxQuant& m, const float* w, int64_t n, uint32_t* q,
                      uint16_t* scales, uint16_t* biases);

}  // namespace mlxs::testmodel
