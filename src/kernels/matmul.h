// Matrix products of a (usually quantized) weight matrix with a batch of activation rows.
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "model/ggml_type.h"

namespace mlxs::kern {

// A weight matrix as stored in a GGUF file: n_rows rows of n_cols elements, rows contiguous
// (row r starts at data + r * row_size(type, n_cols)).
struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  int64_t n_cols = 0;
  int64_t n_rows = 0;
  const uint8_t* data = nullptr;
};

// out[t * n_rows + r] = dot(row r of w, x[t * n_cols ...]) for t < n_tokens.
// Converts x to the weight type's vec_dot_type once, then splits rows (and, for large
// batches, tokens) over the pool. Each weight row is read once per block of tokens.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool);

// Dequantizes row r of w into dst (n_cols floats): embedding lookup.
void get_row(const WeightMatrix& w, int64_t r, float* dst);

}  // namespace mlxs::kern
