// The weight matrix of a Linear layer (or an embedding table) in whichever form the model
// stores it: a GGUF-typed matrix, or MLX affine-quantized codes with scales and biases.
// matmul and get_row run the kernel of that form.
#pragma once

#include <cstdint>
#include <memory>
#include <variant>

#include "base/thread_pool.h"
#include "kernels/affine.h"
#include "kernels/matmul.h"
#include "kernels/repack.h"

namespace mlxs {

// The matrix as bound from the model, plus, when this CPU has a kernel for it, a copy of a
// GGUF-typed matrix in the kernels' interleaved layout (kern::RepackedMatrix). The copy is
// made once, when the matrix is bound (model load); copies of the Linear share it. When there
// is one, every product and row lookup reads it, so a matrix's results come from one kernel
// family for its whole life (batch invariance) and the mapped file is not read again.
class LinearMatrix : public std::variant<kern::WeightMatrix, kern::AffineMatrix> {
 public:
  using Base = std::variant<kern::WeightMatrix, kern::AffineMatrix>;
  LinearMatrix() = default;
  // Implicit: binding code assigns a WeightMatrix or AffineMatrix to Linear::m.
  LinearMatrix(const kern::WeightMatrix& w);  // NOLINT(google-explicit-constructor)
  LinearMatrix(const kern::AffineMatrix& a);  // NOLINT(google-explicit-constructor)

  const Base& source() const { return *this; }
  // Null when the matrix runs as bound.
  const kern::RepackedMatrix* repacked() const { return repacked_.get(); }

 private:
  std::shared_ptr<const kern::RepackedMatrix> repacked_;
};

struct Linear {
  LinearMatrix m;

  int64_t n_cols() const;
  int64_t n_rows() const;
  size_t bytes() const;  // all bytes a pass over the matrix reads
};

// out[t * n_rows + r] = dot(row r of w, x[t * n_cols ...]) for t < n_tokens.
void matmul(const Linear& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool);
// Row r of w as floats (n_cols): embedding lookup.
void get_row(const Linear& w, int64_t r, float* dst);

}  // namespace mlxs
