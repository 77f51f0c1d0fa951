// matmul and get_row: activation conversion, work split over the pool, and the loop order
// that reads each weight row from memory once per batch.
#include "kernels/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "base/logging.h"
#include "kernels/dot_kernels.h"
#include "kernels/quant.h"

namespace mlxs::kern {
namespace {

// Rows handled together inside a work item: while this group of weight rows is walked
// once per tile of tokens it stays in L2, and each tile's activations stay in L1.
constexpr int64_t kRowGroup = 16;

[[noreturn]] void fail(const std::string& msg) {
  log_error("matmul: " + msg);
  std::abort();
}

// Per calling thread, grows to the largest batch seen; matmul never runs nested.
uint8_t* activation_scratch(size_t bytes) {
  static thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes) buf.resize(bytes);
  return buf.data();
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool) {
  if (n_tokens <= 0 || w.n_rows <= 0) return;
  const QuantOps* ops = quant_ops(w.type);
  const detail::DotKernel& k = detail::active_dot_kernel(w.type);
  if (ops == nullptr || !k) fail(std::string("no dot product for type ") + type_name(w.type));
  const int64_t n = w.n_cols;
  if (n % type_info(ops->vec_dot_type).block_size != 0 || n % type_info(w.type).block_size != 0)
    fail("row length " + std::to_string(n) + " is not a multiple of the block size");

  // Activations are converted once per call, not once per row: every row reuses them.
  const uint8_t* xq;
  size_t x_stride;
  if (ops->vec_dot_type == GgmlType::F32) {
    xq = reinterpret_cast<const uint8_t*>(x);
    x_stride = static_cast<size_t>(n) * sizeof(float);
  } else {
    const QuantOps* xops = quant_ops(ops->vec_dot_type);
    x_stride = row_size(ops->vec_dot_type, n);
    uint8_t* buf = activation_scratch(x_stride * static_cast<size_t>(n_tokens));
    auto convert = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) xops->from_float(x + t * n, buf + t * x_stride, n);
    };
    if (n_tokens >= 4 && pool.size() > 1) {
      pool.parallel_for(n_tokens, 1, convert);
    } else {
      convert(0, n_tokens);
    }
    xq = buf;
  }

  // Work items are (row chunk, token group). Rows are split first; tokens only when there
  // are too few row chunks to keep every thread busy. Which thread computes a (row, token)
  // pair never changes its value: every path calls the same kernel arithmetic.
  const int64_t tile = k.max_tokens;
  const int64_t n_threads = pool.size();
  const int64_t row_grain = std::max<int64_t>(1, std::min<int64_t>(
      256, (w.n_rows + n_threads * 8 - 1) / (n_threads * 8)));
  const int64_t n_row_chunks = (w.n_rows + row_grain - 1) / row_grain;
  const int64_t n_tiles = (n_tokens + tile - 1) / tile;
  int64_t n_token_groups = 1;
  if (n_row_chunks < 4 * n_threads && n_tiles > 1)
    n_token_groups = std::min(n_tiles, (4 * n_threads + n_row_chunks - 1) / n_row_chunks);
  const int64_t tokens_per_group = ((n_tiles + n_token_groups - 1) / n_token_groups) * tile;
  n_token_groups = (n_tokens + tokens_per_group - 1) / tokens_per_group;

  const size_t w_stride = row_size(w.type, n);
  auto work = [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t r_begin = (item % n_row_chunks) * row_grain;
      const int64_t r_end = std::min(w.n_rows, r_begin + row_grain);
      const int64_t t_begin = (item / n_row_chunks) * tokens_per_group;
      const int64_t t_end = std::min(n_tokens, t_begin + tokens_per_group);
      for (int64_t g = r_begin; g < r_end; g += kRowGroup) {
        const int64_t g_end = std::min(r_end, g + kRowGroup);
        for (int64_t t = t_begin; t < t_end; t += tile) {
          const int nt = static_cast<int>(std::min<int64_t>(tile, t_end - t));
          for (int64_t r = g; r < g_end; ++r) {
            k.tile(n, w.data + r * w_stride, xq + t * x_stride, x_stride, nt, out + t * w.n_rows + r, w.n_rows);
          }
        }
      }
    }
  };
  const int64_t n_items = n_row_chunks * n_token_groups;
  pool.parallel_for(n_items, 1, work);
}

void get_row(const WeightMatrix& w, int64_t r, float* dst) {
  const QuantOps* ops = quant_ops(w.type);
  if (ops == nullptr) fail(std::string("get_row: no conversion for type ") + type_name(w.type));
  ops->to_float(w.data + r * row_size(w.type, w.n_cols), dst, w.n_cols);
}

}  // namespace mlxs::kern
