// matmul and get_row for MLX affine matrices: activation preparation, the work split over
// the pool, and the choice of kernel per instruction set.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

#include "base/cpu_features.h"
#include "base/logging.h"
#include "kernels/affine_kernels.h"

namespace mlxs::kern {
namespace {

// A token chunk's prepared activations stay in L2 while the chunk's rows stream past.
constexpr size_t kTokenChunkBytes = 256 * 1024;

[[noreturn]] void fail(const std::string& msg) {
  log_error("affine matmul: " + msg);
  std::abort();
}

// Per calling thread, grows to the largest batch seen; 64-byte aligned.
uint8_t* scratch(size_t bytes) {
  static thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  return buf.data() + (-reinterpret_cast<uintptr_t>(buf.data()) & 63);
}

}  // namespace

size_t AffineMatrix::total_bytes() const {
  const size_t esize = scale_type == GgmlType::F32 ? 4 : 2;
  return static_cast<size_t>(n_rows) * (row_bytes() + 2 * esize * static_cast<size_t>(n_groups()));
}

std::string affine_unsupported(const AffineMatrix& m) {
  if (m.bits != 2 && m.bits != 4 && m.bits != 8)
    return std::to_string(m.bits) + "-bit codes (supported: 2, 4, 8)";
  if (m.group_size != 32 && m.group_size != 64 && m.group_size != 128)
    return "group size " + std::to_string(m.group_size) + " (supported: 32, 64, 128)";
  if (m.n_cols <= 0 || m.n_cols % m.group_size != 0)
    return "row length " + std::to_string(m.n_cols) + " is not a multiple of the group size " +
           std::to_string(m.group_size);
  if (m.scale_type != GgmlType::F16 && m.scale_type != GgmlType::BF16 && m.scale_type != GgmlType::F32)
    return std::string("scales of type ") + type_name(m.scale_type) + " (supported: F16, BF16, F32)";
  return "";
}

namespace affine {

GemmFn active_gemm(int bits) {
  // Chosen once, so that every call in the process (any batch size) runs the same kernel.
  static const std::array<GemmFn, 9> table = [] {
    const CpuFeatures& f = cpu_features();
    const bool avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
    const bool avx2 = f.avx2 && f.fma && f.f16c;
    std::array<GemmFn, 9> t{};
    for (int b : {2, 4, 8}) t[b] = avx512 ? gemm_avx512(b) : avx2 ? gemm_avx2(b) : gemm_scalar(b);
    return t;
  }();
  return bits >= 0 && bits < 9 ? table[bits] : nullptr;
}

}  // namespace affine

void matmul(const AffineMatrix& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool) {
  if (n_tokens <= 0 || w.n_rows <= 0) return;
  if (std::string why = affine_unsupported(w); !why.empty()) fail(why);
  const affine::GemmFn gemm = affine::active_gemm(w.bits);
  const affine::Layout l = affine::Layout::of(w);
  const int64_t n = w.n_cols;

  // Activations are quantized once per call, not once per row: every row reuses them.
  uint8_t* xp = scratch(l.stride * static_cast<size_t>(n_tokens));
  auto prepare = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) affine::prepare_token(l, x + t * n, xp + t * l.stride);
  };
  if (n_tokens >= 4 && pool.size() > 1) {
    pool.parallel_for(n_tokens, 1, prepare);
  } else {
    prepare(0, n_tokens);
  }

  // Work items are (row chunk, token chunk): a token chunk's activations fit in L2, and
  // rows are cut finely enough that dynamic scheduling keeps every thread busy. Which
  // thread computes a pair, and beside which others, never changes its value.
  const int64_t n_threads = pool.size();
  const int64_t max_chunk = std::max<int64_t>(8, static_cast<int64_t>(kTokenChunkBytes / l.stride) / 8 * 8);
  const int64_t n_token_chunks = (n_tokens + max_chunk - 1) / max_chunk;
  const int64_t token_chunk = ((n_tokens + n_token_chunks - 1) / n_token_chunks + 7) / 8 * 8;
  const int64_t want_row_chunks = n_threads == 1 ? 1 : (16 * n_threads + n_token_chunks - 1) / n_token_chunks;
  const int64_t row_chunk = std::max<int64_t>(4, (w.n_rows + want_row_chunks - 1) / want_row_chunks);
  const int64_t n_row_chunks = (w.n_rows + row_chunk - 1) / row_chunk;
  auto work = [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t r0 = (item % n_row_chunks) * row_chunk;
      const int64_t t0 = (item / n_row_chunks) * token_chunk;
      const int nr = static_cast<int>(std::min(w.n_rows - r0, row_chunk));
      const int nt = static_cast<int>(std::min(n_tokens - t0, token_chunk));
      gemm(w, l, xp + t0 * l.stride, nt, r0, nr, out + t0 * w.n_rows + r0, w.n_rows);
    }
  };
  pool.parallel_for(n_row_chunks * n_token_chunks, 1, work);
}

void get_row(const AffineMatrix& w, int64_t r, float* dst) {
  if (std::string why = affine_unsupported(w); !why.empty()) fail(why);
  const size_t esize = w.scale_type == GgmlType::F32 ? 4 : 2;
  const uint8_t* q = w.q + static_cast<size_t>(r) * w.row_bytes();
  const uint8_t* s = w.scales + static_cast<size_t>(r) * esize * w.n_groups();
  const uint8_t* b = w.biases + static_cast<size_t>(r) * esize * w.n_groups();
  const int per = 8 / w.bits, mask = (1 << w.bits) - 1;
  for (int64_t g = 0; g < w.n_groups(); ++g) {
    const float scale = affine::load_scale(w.scale_type, s, g);
    const float bias = affine::load_scale(w.scale_type, b, g);
    for (int64_t i = g * w.group_size; i < (g + 1) * w.group_size; ++i) {
      const int code = (q[i / per] >> (w.bits * (i % per))) & mask;
      dst[i] = scale * static_cast<float>(code) + bias;
    }
  }
}

}  // namespace mlxs::kern
