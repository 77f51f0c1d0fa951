// matmul and get_row: activation conversion, work split over the pool, and the loop order
// that reads each weight row from memory once per batch.
#include "kernels/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "base/logging.h"
#include "kernels/dot_kernels.h"
#include "kernels/quant.h"
#include "kernels/repack.h"
#include "kernels/repack_kernels.h"

namespace mlxs::kern {
namespace {

// Activations of one token chunk are sized to stay in L2 while the chunk's weight rows
// stream past them.
constexpr size_t kTokenChunkBytes = 256 * 1024;

[[noreturn]] void fail(const std::string& msg) {
  log_error("matmul: " + msg);
  std::abort();
}

// Per calling thread, grows to the largest batch seen; matmul never runs nested. 64-byte
// aligned so that prepared rows with a 64-byte multiple stride start on cache lines.
uint8_t* activation_scratch(size_t bytes) {
  static thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  return buf.data() + (-reinterpret_cast<uintptr_t>(buf.data()) & 63);
}

// One vec_dot_type row, for kernels that prepare activations from it.
uint8_t* row_scratch(size_t bytes) {
  static thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes) buf.resize(bytes);
  return buf.data();
}

// Splits the (row, token) plane into work items and runs item(r0, nr, t0, nt) for each over
// the pool. A token chunk's activations (xps bytes a token) fit in L2; rows are cut finely
// enough that every thread gets many items, so that dynamic scheduling keeps all of them busy
// to the end. Chunks are multiples of the register tile (tr rows, tt tokens). Which thread
// computes a (row, token) pair, and beside which rows and tokens, never changes its value
// (see dot_kernels.h).
template <class F>
void for_each_chunk(int64_t n_rows, int64_t n_tokens, size_t xps, int64_t tr, int64_t tt,
                    ThreadPool& pool, F&& item) {
  const int64_t n_threads = pool.size();
  const int64_t max_chunk =
      std::max<int64_t>(tt, static_cast<int64_t>(kTokenChunkBytes / xps) / tt * tt);
  const int64_t n_token_chunks = (n_tokens + max_chunk - 1) / max_chunk;
  const int64_t token_chunk = ((n_tokens + n_token_chunks - 1) / n_token_chunks + tt - 1) / tt * tt;
  const int64_t want_row_chunks =
      n_threads == 1 ? 1 : (16 * n_threads + n_token_chunks - 1) / n_token_chunks;
  const int64_t row_chunk =
      std::max<int64_t>(tr, ((n_rows + want_row_chunks - 1) / want_row_chunks + tr - 1) / tr * tr);
  const int64_t n_row_chunks = (n_rows + row_chunk - 1) / row_chunk;
  auto work = [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r0 = (i % n_row_chunks) * row_chunk;
      const int64_t t0 = (i / n_row_chunks) * token_chunk;
      item(r0, static_cast<int>(std::min(n_rows - r0, row_chunk)), t0,
           static_cast<int>(std::min(n_tokens - t0, token_chunk)));
    }
  };
  pool.parallel_for(n_row_chunks * n_token_chunks, 1, work);
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
  // Kernels with a layout of their own get it from the vec_dot_type row, still per token.
  const GgmlType vdt = ops->vec_dot_type;
  const uint8_t* xp;
  size_t xps;
  if (vdt == GgmlType::F32 && k.prep == nullptr) {
    xp = reinterpret_cast<const uint8_t*>(x);
    xps = static_cast<size_t>(n) * sizeof(float);
  } else {
    const QuantOps* xops = quant_ops(vdt);
    const size_t q_bytes = row_size(vdt, n);
    xps = k.prep ? (k.prep_bytes(n) + 63) / 64 * 64 : q_bytes;
    uint8_t* buf = activation_scratch(xps * static_cast<size_t>(n_tokens));
    auto convert = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        uint8_t* dst = buf + t * xps;
        if (k.prep == nullptr) {
          xops->from_float(x + t * n, dst, n);
        } else if (vdt == GgmlType::F32) {
          k.prep(n, x + t * n, dst);
        } else {
          uint8_t* q = row_scratch(q_bytes);
          xops->from_float(x + t * n, q, n);
          k.prep(n, q, dst);
        }
      }
    };
    if (n_tokens >= 4 && pool.size() > 1) {
      pool.parallel_for(n_tokens, 1, convert);
    } else {
      convert(0, n_tokens);
    }
    xp = buf;
  }

  const size_t w_stride = row_size(w.type, n);
  for_each_chunk(w.n_rows, n_tokens, xps, k.tile_rows, k.tile_tokens, pool,
                 [&](int64_t r0, int nr, int64_t t0, int nt) {
                   k.gemm(n, w.data + r0 * w_stride, w_stride, nr, xp + t0 * xps, xps, nt,
                          out + t0 * w.n_rows + r0, w.n_rows);
                 });
}

void matmul(const RepackedMatrix& w, const float* x, int64_t n_tokens, float* out,
            ThreadPool& pool) {
  if (n_tokens <= 0 || w.n_rows <= 0) return;
  const detail::RepackedGemmFn gemm = detail::active_repacked_gemm(w.type);
  if (gemm == nullptr)
    fail(std::string("no repacked kernel for type ") + type_name(w.type) + " on this CPU");
  const int64_t n = w.n_cols;
  // Activations as for the GGUF matrix (Q8_0 or Q8_K), then in the kernel's layout, once per
  // call.
  const GgmlType xtype = detail::repacked_x_type(w.type);
  const QuantOps* xops = quant_ops(xtype);
  const size_t q_bytes = row_size(xtype, n);
  const int width = detail::repacked_x_width(n_tokens);
  const size_t tile_bytes = detail::repacked_x_tile_bytes(w.type, n, width);
  const int64_t n_tiles = (n_tokens + width - 1) / width;
  uint8_t* xt = activation_scratch(tile_bytes * static_cast<size_t>(n_tiles));
  auto convert = [&](int64_t t0, int64_t t1) {
    uint8_t* q = row_scratch(q_bytes);
    for (int64_t t = t0; t < t1; ++t) {
      xops->from_float(x + t * n, q, n);
      detail::repacked_x_prep(w.type, n, q, width, static_cast<int>(t % width),
                              xt + (t / width) * tile_bytes);
    }
  };
  if (n_tokens >= 4 && pool.size() > 1) {
    pool.parallel_for(n_tokens, 1, convert);
  } else {
    convert(0, n_tokens);
  }
  // Token chunks are whole tiles (a multiple of 8 tokens apart), so tile t0 / width is theirs.
  for_each_chunk(w.n_rows, n_tokens, tile_bytes / width, RepackedMatrix::kGroupRows,
                 detail::kRepackedTileTokens, pool, [&](int64_t r0, int nr, int64_t t0, int nt) {
                   gemm(w, r0, nr, xt + (t0 / width) * tile_bytes, tile_bytes, width, nt,
                        out + t0 * w.n_rows + r0, w.n_rows);
                 });
}

void get_row(const WeightMatrix& w, int64_t r, float* dst) {
  const QuantOps* ops = quant_ops(w.type);
  if (ops == nullptr) fail(std::string("get_row: no conversion for type ") + type_name(w.type));
  ops->to_float(w.data + r * row_size(w.type, w.n_cols), dst, w.n_cols);
}

}  // namespace mlxs::kern
