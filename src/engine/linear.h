// The weight matrix of a Linear layer (or an embedding table) in whichever form the model
// stores it: a GGUF-typed matrix, or MLX affine-quantized codes with scales and biases.
// matmul and get_row run the kernel of that form.
#pragma once

#include <cstdint>
#include <variant>

#include "base/thread_pool.h"
#include "kernels/affine.h"
#include "kernels/matmul.h"

namespace mlxs {

struct Linear {
  std::variant<kern::WeightMatrix, kern::AffineMatrix> m;

  int64_t n_cols() const;
  int64_t n_rows() const;
  size_t bytes() const;  // all bytes a pass over the matrix reads
};

// out[t * n_rows + r] = dot(row r of w, x[t * n_cols ...]) for t < n_tokens.
void matmul(const Linear& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool);
// Row r of w as floats (n_cols): embedding lookup.
void get_row(const Linear& w, int64_t r, float* dst);

}  // namespace mlxs
