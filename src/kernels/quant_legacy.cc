// The 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_1 (ggml semantics):
// dequantization and the round-to-nearest reference quantizers.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "base/fp16.h"
#include "kernels/quant_impl.h"

namespace mlxs::kern::detail {
namespace {

// The element of largest magnitude, with its sign: the symmetric formats map it to the
// most negative code (-8 or -16), which gains one level over mapping |max| to +7.
float signed_absmax(const float* x, int n) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* mn, float* mx) {
  *mn = x[0];
  *mx = x[0];
  for (int j = 1; j < n; ++j) {
    *mn = std::min(*mn, x[j]);
    *mx = std::max(*mx, x[j]);
  }
}

// Activation rows are quantized to Q8_0 for every matmul, so the two steps of the Q8_0
// quantizer are vectorized (AVX2 is the baseline). Both give exactly what the plain loops
// give: a maximum does not depend on order, and the rounding below is std::roundf's.
float absmax32(const float* x) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * k), abs_mask), m);  // NaN keeps m, as std::max
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// q[j] = roundf(x[j] * id) for 32 values with |x[j] * id| <= 127: truncate, then step away
// from zero when the dropped fraction is at least one half (the fraction is exact).
void round_scaled32(const float* x, float id, int8_t* q) {
  const __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f);
  const __m256 sign = _mm256_set1_ps(-0.f), one = _mm256_set1_ps(1.f);
  __m256i r[4];
  for (int k = 0; k < 4; ++k) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), _mm256_or_ps(_mm256_and_ps(v, sign), one));
    r[k] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
  }
  // packs interleave 128-bit lanes: bytes come out as 4-value groups 0 2 4 6 1 3 5 7.
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
  const __m256i ordered = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
}

}  // namespace

// ---- Q4_0: x = d * (q - 8); element j < 16 in the low nibble of qs[j], j >= 16 high ----
void to_float_q4_0(const void* src, float* dst, int64_t n) {
  const BlockQ4_0* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * ((b[i].qs[j] & 0xF) - 8);
      dst[j + kQK / 2] = d * ((b[i].qs[j] >> 4) - 8);
    }
  }
}
void from_float_q4_0(const float* src, void* dst, int64_t n) {
  BlockQ4_0* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float d = signed_absmax(src, kQK) / -8.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      int q0 = std::min(15, static_cast<int>(src[j] * id + 8.5f));
      int q1 = std::min(15, static_cast<int>(src[j + kQK / 2] * id + 8.5f));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// ---- Q4_1: x = d * q + m ----
void to_float_q4_1(const void* src, float* dst, int64_t n) {
  const BlockQ4_1* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * (b[i].qs[j] & 0xF) + m;
      dst[j + kQK / 2] = d * (b[i].qs[j] >> 4) + m;
    }
  }
}
void from_float_q4_1(const float* src, void* dst, int64_t n) {
  BlockQ4_1* b = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float mn, mx;
    min_max(src, kQK, &mn, &mx);
    const float d = (mx - mn) / 15.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    b[i].m = f32_to_fp16(mn);
    for (int j = 0; j < kQK / 2; ++j) {
      int q0 = std::min(15, static_cast<int>((src[j] - mn) * id + 0.5f));
      int q1 = std::min(15, static_cast<int>((src[j + kQK / 2] - mn) * id + 0.5f));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// ---- Q5_0: x = d * (q - 16); the 5th bit of element j is bit j of the 32-bit qh ----
void to_float_q5_0(const void* src, float* dst, int64_t n) {
  const BlockQ5_0* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_f32(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      int h0 = ((qh >> j) & 1) << 4;
      int h1 = ((qh >> (j + 16)) & 1) << 4;
      dst[j] = d * (((b[i].qs[j] & 0xF) | h0) - 16);
      dst[j + kQK / 2] = d * (((b[i].qs[j] >> 4) | h1) - 16);
    }
  }
}
void from_float_q5_0(const float* src, void* dst, int64_t n) {
  BlockQ5_0* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float d = signed_absmax(src, kQK) / -16.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      int q0 = std::min(31, static_cast<int>(src[j] * id + 16.5f));
      int q1 = std::min(31, static_cast<int>(src[j + kQK / 2] * id + 16.5f));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    std::memcpy(b[i].qh, &qh, 4);
  }
}

// ---- Q5_1: x = d * q + m ----
void to_float_q5_1(const void* src, float* dst, int64_t n) {
  const BlockQ5_1* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      int h0 = ((qh >> j) & 1) << 4;
      int h1 = ((qh >> (j + 16)) & 1) << 4;
      dst[j] = d * ((b[i].qs[j] & 0xF) | h0) + m;
      dst[j + kQK / 2] = d * ((b[i].qs[j] >> 4) | h1) + m;
    }
  }
}
void from_float_q5_1(const float* src, void* dst, int64_t n) {
  BlockQ5_1* b = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float mn, mx;
    min_max(src, kQK, &mn, &mx);
    const float d = (mx - mn) / 31.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    b[i].m = f32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      int q0 = std::min(31, static_cast<int>((src[j] - mn) * id + 0.5f));
      int q1 = std::min(31, static_cast<int>((src[j + kQK / 2] - mn) * id + 0.5f));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    std::memcpy(b[i].qh, &qh, 4);
  }
}

// ---- Q8_0: x = d * q, q in [-127, 127] ----
void to_float_q8_0(const void* src, float* dst, int64_t n) {
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = d * b[i].qs[j];
  }
}
void from_float_q8_0(const float* src, void* dst, int64_t n) {
  BlockQ8_0* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float d = absmax32(src) / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    round_scaled32(src, id, b[i].qs);
  }
}

// ---- Q8_1: as Q8_0 plus s = d * sum(q), which lets Q4_1/Q5_1 dots fold in their offset ----
void to_float_q8_1(const void* src, float* dst, int64_t n) {
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = d * b[i].qs[j];
  }
}
void from_float_q8_1(const float* src, void* dst, int64_t n) {
  BlockQ8_1* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float amax = 0.f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      b[i].qs[j] = static_cast<int8_t>(std::roundf(src[j] * id));
      sum += b[i].qs[j];
    }
    b[i].s = f32_to_fp16(d * static_cast<float>(sum));
  }
}

}  // namespace mlxs::kern::detail
