// RepackedMatrix: building the interleaved layout from GGUF rows, reading rows back, and the
// activation layout its kernels read. The kernels themselves are per instruction set.
#include "kernels/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/fp16.h"
#include "base/logging.h"
#include "kernels/dot_kernels.h"
#include "kernels/quant.h"
#include "kernels/repack_kernels.h"

namespace mlxs::kern {
namespace {

constexpr int kG = RepackedMatrix::kGroupRows;

[[noreturn]] void fail(const std::string& msg) {
  log_error("repack: " + msg);
  std::abort();
}

bool env_disabled() {
  const char* v = std::getenv("MLXS_REPACK");
  return v != nullptr && std::string(v) == "0";
}

// Large buffers aligned to 2 MiB so that transparent huge pages can back them: decode walks
// the whole matrix, and fewer TLB misses keep the stream going.
std::shared_ptr<uint8_t> alloc_aligned(size_t bytes) {
  const size_t align = bytes >= (size_t{4} << 20) ? size_t{2} << 20 : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (p == nullptr) fail("out of memory for " + std::to_string(bytes) + " bytes");
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

bool is_kquant(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q6_K; }

size_t block_code_bytes(GgmlType t) { return t == GgmlType::Q8_0 ? 8 * 64 : 4 * 64; }

// Row r (< 16) of block b of a group: its codes into the group's chunks.
void put_codes(GgmlType t, const uint8_t* block, int r, uint8_t* codes) {
  if (t == GgmlType::Q8_0) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(block);
    for (int g = 0; g < 8; ++g)
      for (int i = 0; i < 4; ++i)
        codes[64 * g + 4 * r + i] = static_cast<uint8_t>(b->qs[4 * g + i] ^ 0x80);
  } else {
    const auto* b = reinterpret_cast<const BlockQ4_0*>(block);
    for (int c = 0; c < 4; ++c) std::memcpy(codes + 64 * c + 4 * r, b->qs + 4 * c, 4);
  }
}

// The inverse: row r of block b as a GGUF block (scale set by the caller).
void get_codes(GgmlType t, const uint8_t* codes, int r, uint8_t* block) {
  if (t == GgmlType::Q8_0) {
    auto* b = reinterpret_cast<BlockQ8_0*>(block);
    for (int g = 0; g < 8; ++g)
      for (int i = 0; i < 4; ++i)
        b->qs[4 * g + i] = static_cast<int8_t>(codes[64 * g + 4 * r + i] ^ 0x80);
  } else {
    auto* b = reinterpret_cast<BlockQ4_0*>(block);
    for (int c = 0; c < 4; ++c) std::memcpy(b->qs + 4 * c, codes + 64 * c + 4 * r, 4);
  }
}

// Elements of one GGUF block of the type, and its bytes.
int64_t block_elems(GgmlType t) { return is_kquant(t) ? kQK_K : kQK; }
size_t block_bytes(GgmlType t) { return row_size(t, block_elems(t)); }

// Rows g*16 .. g*16+rows-1 of w into group g of m.
void put_group(const WeightMatrix& w, const RepackedMatrix& m, int64_t g, uint8_t* dst) {
  const int rows = static_cast<int>(std::min<int64_t>(kG, w.n_rows - g * kG));
  // Padding rows get zero codes and zero scales (their lanes are never stored), and padding
  // bytes are zeroed so that the buffer holds no undefined bytes.
  std::memset(dst, 0, m.group_bytes);
  const size_t rs = row_size(w.type, w.n_cols), bs = block_bytes(w.type);
  const int64_t nb = w.n_cols / block_elems(w.type);
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = w.data + (g * kG + r) * rs;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* block = row + b * bs;
      if (is_kquant(w.type)) {
        detail::kquant_put(w.type, block, r, dst + b * m.record_bytes);
        continue;
      }
      put_codes(w.type, block, r, dst + b * m.block_code_bytes);
      uint16_t* scales = reinterpret_cast<uint16_t*>(dst + m.block_code_bytes * nb);
      std::memcpy(&scales[b * kG + r], block, sizeof(uint16_t));  // d leads both block types
    }
  }
}

}  // namespace

bool repack_supported(const WeightMatrix& w) {
  if (w.type != GgmlType::Q8_0 && w.type != GgmlType::Q4_0 && !is_kquant(w.type)) return false;
  return w.n_cols > 0 && w.n_rows > 0 && w.n_cols % block_elems(w.type) == 0 && w.data != nullptr;
}

bool repack_available(const WeightMatrix& w) {
  if (!repack_supported(w) || env_disabled()) return false;
  return detail::active_repacked_gemm(w.type) != nullptr;
}

std::shared_ptr<const RepackedMatrix> repack(const WeightMatrix& w) {
  if (!repack_supported(w))
    fail(std::string("no repacked layout for a ") + type_name(w.type) + " matrix of " +
         std::to_string(w.n_rows) + " rows of " + std::to_string(w.n_cols));
  auto m = std::make_shared<RepackedMatrix>();
  m->type = w.type;
  m->n_cols = w.n_cols;
  m->n_rows = w.n_rows;
  if (is_kquant(w.type)) {
    m->record_bytes = detail::kquant_record_bytes(w.type);
    m->group_bytes = m->record_bytes * m->n_superblocks();
  } else {
    m->block_code_bytes = block_code_bytes(w.type);
    m->group_bytes = ((m->block_code_bytes + kG * sizeof(uint16_t)) * m->n_blocks() + 63) / 64 * 64;
  }
  const size_t total = m->group_bytes * m->n_groups();
  m->data = alloc_aligned(total);
  auto groups = [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) put_group(w, *m, g, m->data.get() + g * m->group_bytes);
  };
  // Model load repacks gigabytes: large matrices are cut over the cores.
  const int64_t ng = m->n_groups();
  const int64_t n_threads = total < (size_t{8} << 20)
                                ? 1
                                : std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 16);
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < n_threads; ++i)
    threads.emplace_back(groups, ng * i / n_threads, ng * (i + 1) / n_threads);
  groups(0, ng / n_threads);
  for (auto& th : threads) th.join();
  return m;
}

std::shared_ptr<const RepackedMatrix> repack_if_available(const WeightMatrix& w) {
  return repack_available(w) ? repack(w) : nullptr;
}

void release_pages(const WeightMatrix& w) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(w.data) + page - 1) / page * page;
  const uintptr_t end =
      (reinterpret_cast<uintptr_t>(w.data) + row_size(w.type, w.n_cols) * w.n_rows) / page * page;
  // Best effort: a kernel without MADV_PAGEOUT refuses it and nothing changes.
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
}

void get_row(const RepackedMatrix& w, int64_t r, float* dst) {
  if (r < 0 || r >= w.n_rows) fail("row " + std::to_string(r) + " out of range");
  const int64_t g = r / kG;
  const int ri = static_cast<int>(r % kG);
  const size_t bs = block_bytes(w.type);
  const int64_t nb = w.n_cols / block_elems(w.type);
  // Rebuild the GGUF row and convert it as the original would be: bit-identical floats.
  static thread_local std::vector<uint8_t> row;
  row.resize(bs * nb);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* block = row.data() + b * bs;
    if (is_kquant(w.type)) {
      detail::kquant_get(w.type, w.record(g, b), ri, block);
      continue;
    }
    std::memcpy(block, &w.scales(g)[b * kG + ri], sizeof(uint16_t));
    get_codes(w.type, w.group(g) + b * w.block_code_bytes, ri, block);
  }
  quant_ops(w.type)->to_float(row.data(), dst, w.n_cols);
}

namespace detail {

int repacked_x_width(int64_t n_tokens) {
  return static_cast<int>(std::min<int64_t>(kRepackedTileTokens, n_tokens));
}

GgmlType repacked_x_type(GgmlType t) { return is_kquant(t) ? GgmlType::Q8_K : GgmlType::Q8_0; }

size_t repacked_x_tile_bytes(GgmlType t, int64_t n, int width) {
  const size_t per_block = is_kquant(t) ? (kQK_K + 64 + 4) : (kQK + 8);
  return (static_cast<size_t>(n / block_elems(t)) * per_block * width + 63) / 64 * 64;
}

void repacked_x_prep(GgmlType t, int64_t n, const uint8_t* xq, int width, int slot, uint8_t* dst) {
  if (is_kquant(t)) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xq);
    for (int64_t s = 0; s < n / kQK_K; ++s) {
      uint8_t* blk = dst + s * (kQK_K + 64 + 4) * width;
      std::memcpy(blk + kQK_K * slot, x[s].qs, kQK_K);
      int32_t words[16] = {};
      for (int j = 0; j < 16; ++j) {
        if (t == GgmlType::Q6_K) {
          words[j] = -32 * x[s].bsums[j];
        } else if (j < 4) {
          // Sums of 32 codes of at most 127 in magnitude fit int16.
          const int lo = x[s].bsums[4 * j] + x[s].bsums[4 * j + 1];
          const int hi = x[s].bsums[4 * j + 2] + x[s].bsums[4 * j + 3];
          words[j] = static_cast<int32_t>(static_cast<uint16_t>(lo) | (static_cast<uint32_t>(hi) << 16));
        }
      }
      std::memcpy(blk + kQK_K * width + 64 * slot, words, sizeof(words));
      std::memcpy(blk + (kQK_K + 64) * width + 4 * slot, &x[s].d, 4);
    }
    return;
  }
  const auto* x = reinterpret_cast<const BlockQ8_0*>(xq);
  const int offset = t == GgmlType::Q8_0 ? 128 : 8;
  for (int64_t b = 0; b < n / kQK; ++b) {
    uint8_t* blk = dst + b * (kQK + 8) * width;
    std::memcpy(blk + kQK * slot, x[b].qs, kQK);
    int32_t sum = 0;
    for (int i = 0; i < kQK; ++i) sum += x[b].qs[i];
    const int32_t start = -offset * sum;
    const float d = fp16_to_f32(x[b].d);
    std::memcpy(blk + kQK * width + 4 * slot, &start, 4);
    std::memcpy(blk + (kQK + 4) * width + 4 * slot, &d, 4);
  }
}

RepackedGemmFn active_repacked_gemm(GgmlType t) {
  static const RepackedGemmFn q8 =
      best_isa() == Isa::kAvx512 ? repacked_gemm_avx512(GgmlType::Q8_0) : nullptr;
  static const RepackedGemmFn q4 =
      best_isa() == Isa::kAvx512 ? repacked_gemm_avx512(GgmlType::Q4_0) : nullptr;
  static const RepackedGemmFn q4k =
      best_isa() == Isa::kAvx512 ? repacked_kquant_gemm_avx512(GgmlType::Q4_K) : nullptr;
  static const RepackedGemmFn q6k =
      best_isa() == Isa::kAvx512 ? repacked_kquant_gemm_avx512(GgmlType::Q6_K) : nullptr;
  switch (t) {
    case GgmlType::Q8_0: return q8;
    case GgmlType::Q4_0: return q4;
    case GgmlType::Q4_K: return q4k;
    case GgmlType::Q6_K: return q6k;
    default: return nullptr;
  }
}

}  // namespace detail
}  // namespace mlxs::kern
