// The K-quant super-block records of RepackedMatrix (layout in repack_kernels.h): one GGUF
// row's super-block into its row of a record and back, bit for bit.
#include <cstring>

#include "kernels/quant_impl.h"
#include "kernels/repack_kernels.h"

namespace mlxs::kern::detail {
namespace {

constexpr int kG = RepackedMatrix::kGroupRows;

// Q4_K record parts.
constexpr size_t kQ4Scales = 2048, kQ4Mins = 2176, kQ4D = 2304, kQ4DMin = 2336, kQ4Bytes = 2368;
// Q6_K record parts.
constexpr size_t kQ6High = 2048, kQ6Scales = 3072, kQ6D = 3328, kQ6Bytes = 3392;

// GGUF Q6_K blocks store the low nibbles of the 6-bit codes (q + 32) of elements 128h + l
// and 128h + 64 + l in ql[64h + l] (l < 64), and the top bits of elements 128h + 32m + l
// (m < 4, l < 32) in bits 2m of qh[32h + l].
void set_q6_code(BlockQ6_K& b, int e, int q) {
  const int h = e / 128, m = (e % 128) / 32, l = e % 32;
  b.ql[64 * h + 32 * (m & 1) + l] |= static_cast<uint8_t>((q & 0xF) << (m < 2 ? 0 : 4));
  b.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * m));
}

void put_q4k(const BlockQ4_K& b, int r, uint8_t* rec) {
  for (int k = 0; k < 4; ++k)
    for (int c = 0; c < 8; ++c) std::memcpy(rec + 512 * k + 64 * c + 4 * r, b.qs + 32 * k + 4 * c, 4);
  uint8_t sc[8], mn[8];
  unpack_scale_min_k4(b.scales, sc, mn);
  for (int j = 0; j < 8; ++j) rec[kQ4Scales + 16 * j + r] = sc[j];
  for (int p = 0; p < 4; ++p) {
    rec[kQ4Mins + 32 * p + 2 * r] = mn[2 * p];
    rec[kQ4Mins + 32 * p + 2 * r + 1] = mn[2 * p + 1];
  }
  std::memcpy(rec + kQ4D + 2 * r, &b.d, 2);
  std::memcpy(rec + kQ4DMin + 2 * r, &b.dmin, 2);
}

void get_q4k(const uint8_t* rec, int r, BlockQ4_K& b) {
  for (int k = 0; k < 4; ++k)
    for (int c = 0; c < 8; ++c) std::memcpy(b.qs + 32 * k + 4 * c, rec + 512 * k + 64 * c + 4 * r, 4);
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) sc[j] = rec[kQ4Scales + 16 * j + r];
  for (int p = 0; p < 4; ++p) {
    mn[2 * p] = rec[kQ4Mins + 32 * p + 2 * r];
    mn[2 * p + 1] = rec[kQ4Mins + 32 * p + 2 * r + 1];
  }
  pack_scale_min_k4(sc, mn, b.scales);
  std::memcpy(&b.d, rec + kQ4D + 2 * r, 2);
  std::memcpy(&b.dmin, rec + kQ4DMin + 2 * r, 2);
}

void put_q6k(const BlockQ6_K& b, int r, uint8_t* rec) {
  // All 256 codes first (q6_code's order, in loops the compiler vectorizes: model load
  // repacks every Q6_K matrix).
  uint8_t q[kQK_K];
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t lo0 = b.ql[64 * h + l], lo1 = b.ql[64 * h + 32 + l], hi = b.qh[32 * h + l];
      q[128 * h + l] = static_cast<uint8_t>((lo0 & 0xF) | ((hi & 3) << 4));
      q[128 * h + 32 + l] = static_cast<uint8_t>((lo1 & 0xF) | (((hi >> 2) & 3) << 4));
      q[128 * h + 64 + l] = static_cast<uint8_t>((lo0 >> 4) | (((hi >> 4) & 3) << 4));
      q[128 * h + 96 + l] = static_cast<uint8_t>((lo1 >> 4) | (((hi >> 6) & 3) << 4));
    }
  }
  for (int j = 0; j < 16; ++j) {
    const uint8_t* qj = q + 16 * j;
    for (int i = 0; i < 4; ++i) {
      for (int h = 0; h < 2; ++h)
        rec[64 * (2 * j + h) + 4 * r + i] = static_cast<uint8_t>((qj[8 * h + i] & 0xF) | ((qj[8 * h + 4 + i] & 0xF) << 4));
      rec[kQ6High + 64 * j + 4 * r + i] = static_cast<uint8_t>((qj[i] >> 4) | ((qj[4 + i] >> 4) << 2) |
                                                               ((qj[8 + i] >> 4) << 4) | ((qj[12 + i] >> 4) << 6));
    }
    rec[kQ6Scales + 16 * j + r] = static_cast<uint8_t>(b.scales[j]);
  }
  std::memcpy(rec + kQ6D + 2 * r, &b.d, 2);
}

void get_q6k(const uint8_t* rec, int r, BlockQ6_K& b) {
  std::memset(b.ql, 0, sizeof(b.ql));
  std::memset(b.qh, 0, sizeof(b.qh));
  for (int j = 0; j < 16; ++j) {
    for (int i = 0; i < 4; ++i) {
      const uint8_t top = rec[kQ6High + 64 * j + 4 * r + i];
      for (int h = 0; h < 2; ++h) {
        const uint8_t v = rec[64 * (2 * j + h) + 4 * r + i];
        const int e_lo = 16 * j + 8 * h + i, e_hi = e_lo + 4;
        set_q6_code(b, e_lo, (v & 0xF) | (((top >> (2 * (2 * h))) & 3) << 4));
        set_q6_code(b, e_hi, (v >> 4) | (((top >> (2 * (2 * h + 1))) & 3) << 4));
      }
    }
    b.scales[j] = static_cast<int8_t>(rec[kQ6Scales + 16 * j + r]);
  }
  std::memcpy(&b.d, rec + kQ6D + 2 * r, 2);
}

}  // namespace

size_t kquant_record_bytes(GgmlType t) { return t == GgmlType::Q4_K ? kQ4Bytes : kQ6Bytes; }

void kquant_put(GgmlType t, const uint8_t* block, int r, uint8_t* record) {
  static_assert(kQ4Bytes == 16 * 148 && kQ6Bytes % 64 == 0 && kQ6D + 2 * kG <= kQ6Bytes);
  if (t == GgmlType::Q4_K) {
    put_q4k(*reinterpret_cast<const BlockQ4_K*>(block), r, record);
  } else {
    put_q6k(*reinterpret_cast<const BlockQ6_K*>(block), r, record);
  }
}

void kquant_get(GgmlType t, const uint8_t* record, int r, uint8_t* block) {
  if (t == GgmlType::Q4_K) {
    get_q4k(record, r, *reinterpret_cast<BlockQ4_K*>(block));
  } else {
    get_q6k(record, r, *reinterpret_cast<BlockQ6_K*>(block));
  }
}

}  // namespace mlxs::kern::detail
