// Weight matrices copied into an interleaved layout where the vector lanes of the kernel are
// weight rows ("repacked"), made once at model load for the types and CPUs that have such a
// kernel (today Q4_0, Q8_0, Q4_K and Q6_K on AVX-512 VNNI).
//
// The kernel multiplies 16 rows by one token with 8 vpdpbusd per 32-element block and keeps
// one float accumulator lane per row: no per-row horizontal sums, and a block's codes are
// loaded once for up to 8 tokens. Per (row, token) pair the float steps are, block after
// block, acc = fma(float(isum_block), d_w * d_x, acc), whatever the number of tokens in the
// call, so results are batch invariant (see dot_kernels.h). They differ in the last bits from
// those of the WeightMatrix kernels: a matrix is either always run repacked or never.
//
// K-quants work the same way per 256-element super-block: 16 rows' codes against a token's
// Q8_K codes with vpdpbusd, each sub-block's integer sum times the rows' integer sub-block
// scales, the super-block's integer total times d_w * d_x in one fma per token.
#pragma once

#include <cstdint>
#include <memory>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "model/ggml_type.h"

namespace mlxs::kern {

// Rows are taken 16 at a time ("row groups"; the last one padded with zero rows). A group is
// codes then scales, 64-byte aligned:
//   codes, per block b (32 elements), 64-byte chunks holding the 16 rows' 4 codes each
//     (row r at bytes 4r..4r+3):
//     Q8_0: 8 chunks, chunk g = elements 4g..4g+3 as unsigned bytes (q + 128);
//     Q4_0: 4 chunks, chunk c = the rows' stored bytes qs[4c..4c+3]: low nibbles are
//           elements 4c..4c+3, high nibbles elements 16+4c..16+4c+3 (both as q = w + 8).
//   scales: per block b, the 16 rows' fp16 scales.
// Q4_0 and Q8_0 keep their size (18 and 34 bytes per row and block), so decode reads no more.
// Q4_K and Q6_K groups are instead one record per super-block (see repack_kernels.h), in
// which each row takes 148 bytes (Q4_K, 144 in GGUF: scales and mins unpacked to bytes) or
// 212 (Q6_K, 210: padding to 64 bytes).
struct RepackedMatrix {
  static constexpr int kGroupRows = 16;

  GgmlType type = GgmlType::Q8_0;  // the type the codes came from
  int64_t n_cols = 0;
  int64_t n_rows = 0;
  size_t block_code_bytes = 0;  // Q4_0, Q8_0: codes of one block of 16 rows
  size_t record_bytes = 0;      // Q4_K, Q6_K: one super-block of 16 rows
  size_t group_bytes = 0;       // one row group, codes and scales, padded to 64 bytes
  std::shared_ptr<uint8_t> data;

  int64_t n_blocks() const { return n_cols / kQK; }
  int64_t n_groups() const { return (n_rows + kGroupRows - 1) / kGroupRows; }
  const uint8_t* group(int64_t g) const {
    return data.get() + static_cast<size_t>(g) * group_bytes;
  }
  int64_t n_superblocks() const { return n_cols / kQK_K; }
  const uint8_t* record(int64_t g, int64_t s) const {
    return group(g) + static_cast<size_t>(s) * record_bytes;
  }
  const uint16_t* scales(int64_t g) const {
    return reinterpret_cast<const uint16_t*>(group(g) + block_code_bytes * n_blocks());
  }
};

// True when w's type has a repacked kernel on this CPU (MLXS_CPU narrows the CPU) and the
// environment does not disable it (MLXS_REPACK=0).
bool repack_available(const WeightMatrix& w);

// True when w's type has a repacked layout and its rows fit it (n_cols a multiple of the
// type's block), whatever the CPU.
bool repack_supported(const WeightMatrix& w);

// The repacked copy of w, whatever the CPU (repack_supported(w) must hold).
std::shared_ptr<const RepackedMatrix> repack(const WeightMatrix& w);

// repack(w) when repack_available(w), else null.
std::shared_ptr<const RepackedMatrix> repack_if_available(const WeightMatrix& w);

// Tells the OS that w's bytes will not be read again (their repacked copy replaces them), so
// that the pages of a mapped model file leave memory. Only whole pages inside w; contents
// stay valid (file pages are read back if touched after all).
void release_pages(const WeightMatrix& w);

// out[t * n_rows + r] = dot(row r of w, x[t * n_cols ...]) for t < n_tokens, activations
// quantized to Q8_0 (Q8_K for K-quants) as for the WeightMatrix. Needs the repacked kernel on this CPU.
void matmul(const RepackedMatrix& w, const float* x, int64_t n_tokens, float* out,
            ThreadPool& pool);

// Row r of w as floats (n_cols), bit-identical to get_row of the matrix it came from.
void get_row(const RepackedMatrix& w, int64_t r, float* dst);

}  // namespace mlxs::kern
