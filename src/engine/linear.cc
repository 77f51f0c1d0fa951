#include "engine/linear.h"

#include "model/ggml_type.h"

namespace mlxs {

LinearMatrix::LinearMatrix(const kern::WeightMatrix& w)
    : Base(w), repacked_(kern::repack_if_available(w)) {
  if (repacked_) kern::release_pages(w);
}

LinearMatrix::LinearMatrix(const kern::AffineMatrix& a) : Base(a) {}

int64_t Linear::n_cols() const {
  return std::visit([](const auto& w) { return w.n_cols; }, m.source());
}

int64_t Linear::n_rows() const {
  return std::visit([](const auto& w) { return w.n_rows; }, m.source());
}

size_t Linear::bytes() const {
  if (const auto* a = std::get_if<kern::AffineMatrix>(&m.source())) return a->total_bytes();
  const auto& w = std::get<kern::WeightMatrix>(m.source());
  return row_size(w.type, w.n_cols) * w.n_rows;
}

void matmul(const Linear& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool) {
  if (const kern::RepackedMatrix* p = w.m.repacked())
    return kern::matmul(*p, x, n_tokens, out, pool);
  std::visit([&](const auto& m) { kern::matmul(m, x, n_tokens, out, pool); }, w.m.source());
}

void get_row(const Linear& w, int64_t r, float* dst) {
  if (const kern::RepackedMatrix* p = w.m.repacked()) return kern::get_row(*p, r, dst);
  std::visit([&](const auto& m) { kern::get_row(m, r, dst); }, w.m.source());
}

}  // namespace mlxs
