// Internal to src/kernels: the scalar row converters of every type, and small helpers
// shared by the quantizers and the scalar reference dot products.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "model/ggml_type.h"

namespace mlxs::kern::detail {

// Round to nearest, ties to even (the default rounding mode), as ggml's nearest_int.
inline int nearest_int(float v) { return static_cast<int>(std::lrintf(v)); }

// Q4_K / Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes: bytes 0-3 hold
// scales 0-3 (low 6 bits) plus the top 2 bits of scales 4-7; bytes 4-7 likewise for the
// mins; bytes 8-11 hold the low 4 bits of scales 4-7 (low nibble) and mins 4-7 (high).
inline void unpack_scale_min_k4(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = packed[j] & 63;
    mins[j] = packed[j + 4] & 63;
    scales[j + 4] = (packed[j + 8] & 0xF) | ((packed[j] >> 6) << 4);
    mins[j + 4] = (packed[j + 8] >> 4) | ((packed[j + 4] >> 6) << 4);
  }
}
void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* packed);

// Q3_K packs sixteen 6-bit scales (stored +32) into 12 bytes: low nibbles in bytes 0-7
// (scale j < 8 in the low nibble of byte j, scale j >= 8 in the high nibble of byte j-8),
// top 2 bits in bytes 8-11 (scale j in bits 2*(j/4) of byte 8 + j%4). Returns signed scales.
inline void unpack_scales_q3_k(const uint8_t* packed, int8_t* scales) {
  for (int j = 0; j < 16; ++j) {
    int lo = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
    int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
  }
}

// ---- Row converters (n is a multiple of the block size) ----
void to_float_f32(const void* src, float* dst, int64_t n);
void from_float_f32(const float* src, void* dst, int64_t n);
void to_float_f16(const void* src, float* dst, int64_t n);
void from_float_f16(const float* src, void* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);
void from_float_bf16(const float* src, void* dst, int64_t n);

void to_float_q4_0(const void* src, float* dst, int64_t n);
void from_float_q4_0(const float* src, void* dst, int64_t n);
void to_float_q4_1(const void* src, float* dst, int64_t n);
void from_float_q4_1(const float* src, void* dst, int64_t n);
void to_float_q5_0(const void* src, float* dst, int64_t n);
void from_float_q5_0(const float* src, void* dst, int64_t n);
void to_float_q5_1(const void* src, float* dst, int64_t n);
void from_float_q5_1(const float* src, void* dst, int64_t n);
void to_float_q8_0(const void* src, float* dst, int64_t n);
void from_float_q8_0(const float* src, void* dst, int64_t n);
void to_float_q8_1(const void* src, float* dst, int64_t n);
void from_float_q8_1(const float* src, void* dst, int64_t n);

void to_float_q2_k(const void* src, float* dst, int64_t n);
void from_float_q2_k(const float* src, void* dst, int64_t n);
void to_float_q3_k(const void* src, float* dst, int64_t n);
void from_float_q3_k(const float* src, void* dst, int64_t n);
void to_float_q4_k(const void* src, float* dst, int64_t n);
void from_float_q4_k(const float* src, void* dst, int64_t n);
void to_float_q5_k(const void* src, float* dst, int64_t n);
void from_float_q5_k(const float* src, void* dst, int64_t n);
void to_float_q6_k(const void* src, float* dst, int64_t n);
void from_float_q6_k(const float* src, void* dst, int64_t n);
void to_float_q8_k(const void* src, float* dst, int64_t n);
void from_float_q8_k(const float* src, void* dst, int64_t n);

}  // namespace mlxs::kern::detail
