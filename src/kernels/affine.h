// MLX affine-quantized matrices (mlx-lm's "quantization": {"group_size", "bits"}): each
// row holds n_cols unsigned `bits`-bit codes q packed into little-endian uint32 words,
// element j of a word in bits [j*bits, (j+1)*bits), and per group of group_size
// consecutive elements a scale and a bias: w = scale * q + bias.
//
// The products run on the packed codes where they lie (usually a memory map): activations
// are quantized once per call to int8 in blocks of 32 (a float scale each), and per group
// the result is scale * sum_blocks(d_x * sum(q * x_q)) + bias * sum(x).
#pragma once

#include <cstdint>
#include <string>

#include "base/thread_pool.h"
#include "model/ggml_type.h"

namespace mlxs::kern {

struct AffineMatrix {
  int bits = 4;          // 2, 4 or 8
  int group_size = 64;   // 32, 64 or 128
  int64_t n_cols = 0;    // elements per row (the input dimension)
  int64_t n_rows = 0;    // the output dimension
  const uint8_t* q = nullptr;       // n_rows rows of n_cols * bits / 8 bytes
  const uint8_t* scales = nullptr;  // n_rows rows of n_cols / group_size values
  const uint8_t* biases = nullptr;  // same shape and type as scales
  GgmlType scale_type = GgmlType::F16;  // F16, BF16 or F32

  int64_t n_groups() const { return n_cols / group_size; }
  size_t row_bytes() const { return static_cast<size_t>(n_cols) * bits / 8; }
  // Bytes of codes + scales + biases (what one pass over the matrix reads).
  size_t total_bytes() const;
};

// "" when the kernels can run on m (bits, group size, row length, scale type); otherwise
// why not. matmul and get_row abort on a matrix this rejects.
std::string affine_unsupported(const AffineMatrix& m);

// out[t * n_rows + r] = dot(row r of w, x[t * n_cols ...]) for t < n_tokens. The value for
// a (row, token) pair does not depend on n_tokens, the other tokens or the pool size.
void matmul(const AffineMatrix& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool);

// Dequantizes row r of w into dst (n_cols floats): embedding lookup.
void get_row(const AffineMatrix& w, int64_t r, float* dst);

}  // namespace mlxs::kern
