// The 256-element super-block formats Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and the activation
// format Q8_K (ggml semantics): dequantization and simple reference quantizers. The
// quantizers fit each sub-block by least squares (not llama.cpp's importance-weighted
// search), then quantize the sub-block scales to the format's 4/6/8 bits.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "base/fp16.h"
#include "kernels/quant_impl.h"

namespace mlxs::kern::detail {
namespace {

// Fits x ~ scale * L + offset with L in [0, nmax] and offset <= 0 (the formats store
// -offset as an unsigned "min"). Starts from the min/max fit and refines by alternating
// rounding and a least-squares solve, keeping the best fit seen.
void fit_scale_offset(int n, int nmax, const float* x, float* scale_out, float* min_out) {
  float mn = 0.f, mx = x[0];
  for (int i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  *scale_out = 0.f;
  *min_out = -mn;
  if (mx <= mn) return;
  float scale = (mx - mn) / nmax, off = mn;
  float best_err = INFINITY;
  int L[32];
  for (int iter = 0; iter < 6 && scale > 0.f; ++iter) {
    float err = 0.f;
    double sl = 0, sll = 0, sx = 0, sxl = 0;
    for (int i = 0; i < n; ++i) {
      L[i] = std::clamp(nearest_int((x[i] - off) / scale), 0, nmax);
      float e = scale * L[i] + off - x[i];
      err += e * e;
      sl += L[i];
      sll += static_cast<double>(L[i]) * L[i];
      sx += x[i];
      sxl += static_cast<double>(x[i]) * L[i];
    }
    if (err < best_err) {
      best_err = err;
      *scale_out = scale;
      *min_out = -off;
    }
    double det = n * sll - sl * sl;
    if (det <= 0) break;
    double s = (n * sxl - sl * sx) / det;
    double o = (sll * sx - sl * sxl) / det;
    if (o > 0) {  // the offset must stay <= 0: refit the scale alone
      o = 0;
      s = sll > 0 ? sxl / sll : 0;
    }
    scale = static_cast<float>(s);
    off = static_cast<float>(o);
  }
}

// Fits x ~ scale * L with L in [-nmax, nmax - 1]; the scale is signed so that the element
// of largest magnitude lands on -nmax. Refines once by least squares.
float fit_symmetric(int n, int nmax, const float* x) {
  float amax = 0.f, max = 0.f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0.f) return 0.f;
  float scale = max / -nmax;
  auto error_of = [&](float s, double* sxl, double* sll) {
    float err = 0.f;
    *sxl = *sll = 0;
    for (int i = 0; i < n; ++i) {
      int l = std::clamp(nearest_int(x[i] / s), -nmax, nmax - 1);
      float e = s * l - x[i];
      err += e * e;
      *sxl += static_cast<double>(x[i]) * l;
      *sll += static_cast<double>(l) * l;
    }
    return err;
  };
  double sxl, sll;
  float err = error_of(scale, &sxl, &sll);
  if (sll > 0) {
    float refined = static_cast<float>(sxl / sll);
    double a, b;
    if (refined != 0.f && error_of(refined, &a, &b) < err) scale = refined;
  }
  return scale;
}

}  // namespace

void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = scales[j];
    packed[j + 4] = mins[j];
  }
  for (int j = 4; j < 8; ++j) {
    packed[j + 4] = static_cast<uint8_t>((scales[j] & 0xF) | ((mins[j] & 0xF) << 4));
    packed[j - 4] |= static_cast<uint8_t>((scales[j] >> 4) << 6);
    packed[j] |= static_cast<uint8_t>((mins[j] >> 4) << 6);
  }
}

// ---- Q2_K: 16 sub-blocks of 16; x = d * (sc & 15) * q - dmin * (sc >> 4), q in 0..3.
// Within each 128-element half, qs byte l holds elements l, l+32, l+64, l+96 (2 bits each).
void to_float_q2_k(const void* src, float* dst, int64_t n) {
  const BlockQ2_K* b = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const int half = e / 128, group = (e % 128) / 32, l = e % 32;
      const int q = (b[i].qs[32 * half + l] >> (2 * group)) & 3;
      const uint8_t sc = b[i].scales[e / 16];
      *dst++ = d * (sc & 0xF) * q - dmin * (sc >> 4);
    }
  }
}
void from_float_q2_k(const float* src, void* dst, int64_t n) {
  BlockQ2_K* b = static_cast<BlockQ2_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQK_K) {
    float scales[16], mins[16], max_scale = 0.f, max_min = 0.f;
    for (int j = 0; j < 16; ++j) {
      fit_scale_offset(16, 3, src + 16 * j, &scales[j], &mins[j]);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    const float is = max_scale > 0 ? 15.f / max_scale : 0.f;
    const float im = max_min > 0 ? 15.f / max_min : 0.f;
    for (int j = 0; j < 16; ++j) {
      int ls = std::min(15, nearest_int(is * scales[j]));
      int lm = std::min(15, nearest_int(im * mins[j]));
      b[i].scales[j] = static_cast<uint8_t>(ls | (lm << 4));
    }
    b[i].d = f32_to_fp16(max_scale / 15.f);
    b[i].dmin = f32_to_fp16(max_min / 15.f);
    uint8_t L[kQK_K];
    for (int j = 0; j < 16; ++j) {
      const float d = fp16_to_f32(b[i].d) * (b[i].scales[j] & 0xF);
      const float dm = fp16_to_f32(b[i].dmin) * (b[i].scales[j] >> 4);
      for (int k = 0; k < 16; ++k) {
        L[16 * j + k] = d == 0.f ? 0 : std::clamp(nearest_int((src[16 * j + k] + dm) / d), 0, 3);
      }
    }
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* q = L + 128 * h + l;
        b[i].qs[32 * h + l] = static_cast<uint8_t>(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
      }
  }
}

// ---- Q3_K: 16 sub-blocks of 16; x = d * (scale - 32) * (q - 4 * !hbit), q in 0..3 laid out
// as Q2_K; hmask byte e % 32 bit e / 32 holds element e's high bit.
void to_float_q3_k(const void* src, float* dst, int64_t n) {
  const BlockQ3_K* b = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(b[i].d);
    int8_t sc[16];
    unpack_scales_q3_k(b[i].scales, sc);
    for (int e = 0; e < kQK_K; ++e) {
      const int half = e / 128, group = (e % 128) / 32, l = e % 32;
      const int q = (b[i].qs[32 * half + l] >> (2 * group)) & 3;
      const int h = (b[i].hmask[l] >> (e / 32)) & 1;
      *dst++ = d * sc[e / 16] * (q - (h ? 0 : 4));
    }
  }
}
void from_float_q3_k(const float* src, void* dst, int64_t n) {
  BlockQ3_K* b = static_cast<BlockQ3_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQK_K) {
    float scales[16], max_scale = 0.f, amax = 0.f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_symmetric(16, 4, src + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(b[i].scales, 0, sizeof(b[i].scales));
    if (max_scale != 0.f) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        int l = std::clamp(nearest_int(iscale * scales[j]), -32, 31) + 32;
        if (j < 8) {
          b[i].scales[j] = static_cast<uint8_t>(l & 0xF);
        } else {
          b[i].scales[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
        }
        b[i].scales[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
      }
      b[i].d = f32_to_fp16(1.f / iscale);
    } else {
      b[i].d = f32_to_fp16(0.f);
    }
    int8_t sc[16];
    unpack_scales_q3_k(b[i].scales, sc);
    uint8_t L[kQK_K];
    for (int j = 0; j < 16; ++j) {
      const float d = fp16_to_f32(b[i].d) * sc[j];
      for (int k = 0; k < 16; ++k) {
        int l = d == 0.f ? 0 : std::clamp(nearest_int(src[16 * j + k] / d), -4, 3);
        L[16 * j + k] = static_cast<uint8_t>(l + 4);
      }
    }
    std::memset(b[i].hmask, 0, sizeof(b[i].hmask));
    for (int e = 0; e < kQK_K; ++e) {
      if (L[e] > 3) {
        b[i].hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
        L[e] -= 4;
      }
    }
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* q = L + 128 * h + l;
        b[i].qs[32 * h + l] = static_cast<uint8_t>(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
      }
  }
}

// Shared by Q4_K and Q5_K: fits 8 sub-blocks of 32, packs the 6-bit scales/mins and returns
// the codes L (0..nmax) for the quantized scales.
static void quantize_k4_scales(const float* x, int nmax, uint16_t* d_out, uint16_t* dmin_out,
                               uint8_t* packed, uint8_t* L) {
  float scales[8], mins[8], max_scale = 0.f, max_min = 0.f;
  for (int j = 0; j < 8; ++j) {
    fit_scale_offset(32, nmax, x + 32 * j, &scales[j], &mins[j]);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float is = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float im = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, nearest_int(is * scales[j])));
    lm[j] = static_cast<uint8_t>(std::min(63, nearest_int(im * mins[j])));
  }
  pack_scale_min_k4(ls, lm, packed);
  *d_out = f32_to_fp16(max_scale / 63.f);
  *dmin_out = f32_to_fp16(max_min / 63.f);
  const float d = fp16_to_f32(*d_out), dmin = fp16_to_f32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    const float ds = d * ls[j], dm = dmin * lm[j];
    for (int k = 0; k < 32; ++k) {
      L[32 * j + k] = ds == 0.f ? 0 : static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + k] + dm) / ds), 0, nmax));
    }
  }
}

// ---- Q4_K: 8 sub-blocks of 32; x = d * sc * q - dmin * m. Each 64-element chunk c uses
// qs[32c .. 32c+31]: low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
void to_float_q4_k(const void* src, float* dst, int64_t n) {
  const BlockQ4_K* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    uint8_t sc[8], m[8];
    unpack_scale_min_k4(b[i].scales, sc, m);
    for (int e = 0; e < kQK_K; ++e) {
      const int sub = e / 32, chunk = e / 64, l = e % 32;
      const uint8_t byte = b[i].qs[32 * chunk + l];
      const int q = (sub & 1) ? (byte >> 4) : (byte & 0xF);
      *dst++ = d * sc[sub] * q - dmin * m[sub];
    }
  }
}
void from_float_q4_k(const float* src, void* dst, int64_t n) {
  BlockQ4_K* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQK_K) {
    uint8_t L[kQK_K];
    quantize_k4_scales(src, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        b[i].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

// ---- Q5_K: Q4_K plus a 5th bit: element e's is bit e / 32 of qh[e % 32]; q in 0..31.
void to_float_q5_k(const void* src, float* dst, int64_t n) {
  const BlockQ5_K* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
    uint8_t sc[8], m[8];
    unpack_scale_min_k4(b[i].scales, sc, m);
    for (int e = 0; e < kQK_K; ++e) {
      const int sub = e / 32, chunk = e / 64, l = e % 32;
      const uint8_t byte = b[i].qs[32 * chunk + l];
      const int q = ((sub & 1) ? (byte >> 4) : (byte & 0xF)) | (((b[i].qh[l] >> sub) & 1) << 4);
      *dst++ = d * sc[sub] * q - dmin * m[sub];
    }
  }
}
void from_float_q5_k(const float* src, void* dst, int64_t n) {
  BlockQ5_K* b = static_cast<BlockQ5_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQK_K) {
    uint8_t L[kQK_K];
    quantize_k4_scales(src, 31, &b[i].d, &b[i].dmin, b[i].scales, L);
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int e = 0; e < kQK_K; ++e) b[i].qh[e % 32] |= static_cast<uint8_t>((L[e] >> 4) << (e / 32));
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        b[i].qs[32 * c + l] = static_cast<uint8_t>((L[64 * c + l] & 0xF) | ((L[64 * c + 32 + l] & 0xF) << 4));
  }
}

// ---- Q6_K: 16 sub-blocks of 16 with int8 scales; x = d * sc * (q - 32), q in 0..63.
// In each 128-element half: ql[l] holds elements l (low nibble) and l+64 (high), ql[l+32]
// holds l+32 and l+96; qh[l] holds the top 2 bits of l, l+32, l+64, l+96 (bits 0,2,4,6).
void to_float_q6_k(const void* src, float* dst, int64_t n) {
  const BlockQ6_K* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_f32(b[i].d);
    for (int e = 0; e < kQK_K; ++e) {
      const int half = e / 128, quarter = (e % 128) / 32, l = e % 32;
      const uint8_t lo = b[i].ql[64 * half + 32 * (quarter & 1) + l];
      const int q = ((quarter < 2) ? (lo & 0xF) : (lo >> 4)) | (((b[i].qh[32 * half + l] >> (2 * quarter)) & 3) << 4);
      *dst++ = d * b[i].scales[e / 16] * (q - 32);
    }
  }
}
void from_float_q6_k(const float* src, void* dst, int64_t n) {
  BlockQ6_K* b = static_cast<BlockQ6_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQK_K) {
    float scales[16], max_scale = 0.f, amax = 0.f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_symmetric(16, 32, src + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    uint8_t L[kQK_K];
    if (max_scale == 0.f) {
      std::memset(b[i].scales, 0, sizeof(b[i].scales));
      b[i].d = f32_to_fp16(0.f);
    } else {
      const float iscale = -128.f / max_scale;
      for (int j = 0; j < 16; ++j) b[i].scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
      b[i].d = f32_to_fp16(1.f / iscale);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = fp16_to_f32(b[i].d) * b[i].scales[j];
      for (int k = 0; k < 16; ++k) {
        int l = d == 0.f ? 0 : std::clamp(nearest_int(src[16 * j + k] / d), -32, 31);
        L[16 * j + k] = static_cast<uint8_t>(l + 32);
      }
    }
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* q = L + 128 * h + l;
        b[i].ql[64 * h + l] = static_cast<uint8_t>((q[0] & 0xF) | ((q[64] & 0xF) << 4));
        b[i].ql[64 * h + 32 + l] = static_cast<uint8_t>((q[32] & 0xF) | ((q[96] & 0xF) << 4));
        b[i].qh[32 * h + l] = static_cast<uint8_t>((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
      }
  }
}

// ---- Q8_K: float d, x = d * q; bsums[j] = sum of q over elements 16j..16j+15, which the
// K-quant dots use to apply their mins / offsets without touching every element.
void to_float_q8_k(const void* src, float* dst, int64_t n) {
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) *dst++ = b[i].d * b[i].qs[j];
}
// Activation rows are quantized to Q8_K for every K-quant matmul, so this quantizer is
// vectorized (AVX2 is the baseline). It gives exactly what the plain per-element loops
// would: the maximum does not depend on order, its first occurrence supplies the sign,
// and _mm256_cvtps_epi32 rounds as lrintf does (to nearest even).
void from_float_q8_k(const float* src, void* dst, int64_t n) {
  BlockQ8_K* b = static_cast<BlockQ8_K*>(dst);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (int64_t i = 0; i < n / kQK_K; ++i, src += kQK_K) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQK_K; j += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(src + j), abs_mask), m);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    if (amax == 0.f) {
      b[i].d = 0.f;
      std::memset(b[i].qs, 0, sizeof(b[i].qs));
      std::memset(b[i].bsums, 0, sizeof(b[i].bsums));
      continue;
    }
    float max = 0.f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(src[j]) == amax) {
        max = src[j];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    for (int g = 0; g < 16; ++g) {
      const __m256i a = _mm256_min_epi32(top, _mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(src + 16 * g))));
      const __m256i c = _mm256_min_epi32(top, _mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(src + 16 * g + 8))));
      // packs interleave 128-bit lanes: [a0-3 c0-3 a4-7 c4-7] as int16, then bytes.
      const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, c), _MM_SHUFFLE(3, 1, 2, 0));
      const __m128i q8 = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16 * g), q8);
      __m256i s = _mm256_add_epi32(a, c);
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
      b[i].bsums[g] = static_cast<int16_t>(_mm_cvtsi128_si32(s4));
    }
    b[i].d = 1.f / iscale;
  }
}

}  // namespace mlxs::kern::detail
