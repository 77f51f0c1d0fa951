#include "engine/linear.h"

#include "model/ggml_type.h"

namespace mlxs {

int64_t Linear::n_cols() const {
  return std::visit([](const auto& w) { return w.n_cols; }, m);
}

int64_t Linear::n_rows() const {
  return std::visit([](const auto& w) { return w.n_rows; }, m);
}

size_t Linear::bytes() const {
  if (const auto* a = std::get_if<kern::AffineMatrix>(&m)) return a->total_bytes();
  const auto& w = std::get<kern::WeightMatrix>(m);
  return row_size(w.type, w.n_cols) * w.n_rows;
}

void matmul(const Linear& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool) {
  std::visit([&](const auto& m) { kern::matmul(m, x, n_tokens, out, pool); }, w.m);
}

void get_row(const Linear& w, int64_t r, float* dst) {
  std::visit([&](const auto& m) { kern::get_row(m, r, dst); }, w.m);
}

}  // namespace mlxs
