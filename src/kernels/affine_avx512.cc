// AVX-512 VNNI affine kernel: one 64-byte load of codes per chunk, split into planes by
// shift and mask, and one vpdpbusd per plane and token (unsigned codes x signed
// activations, exactly the product we want). Float steps as in affine_kernels.h.
//
// Compiled for AVX-512 through a target pragma, with internal linkage throughout, so no
// AVX-512 code reaches the paths an AVX2-only CPU runs (as in dot_avx512.cc).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized (GCC PR 105593); see dot_avx512.cc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/affine_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace mlxs::kern::affine {
namespace {

// Rows are cut into tiles of up to this many tokens: their accumulators plus one row's
// planes fit in the 32 zmm registers.
constexpr int kMaxTokens = 8;

// The fixed reduction of affine_kernels.h: lanes l + l+8, then l + l+4, then pairs.
inline float hsum(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The first `count` (0..16) scales or biases from p, converted to float; zeros after.
inline __m512 load_vals(GgmlType type, const uint8_t* p, int64_t count) {
  if (count <= 0) return _mm512_setzero_ps();
  const __mmask16 m = static_cast<__mmask16>((1u << std::min<int64_t>(count, 16)) - 1);
  switch (type) {
    case GgmlType::F16:
      return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    case GgmlType::BF16:
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
    default:
      return _mm512_maskz_loadu_ps(m, p);
  }
}

template <int BITS, int NT>
void row_tile(const AffineMatrix& w, const Layout& l, const uint8_t* q, const uint8_t* s,
              const uint8_t* b, const uint8_t* xp, float* out, int64_t out_stride) {
  constexpr int kPer = 8 / BITS;
  const int esize = w.scale_type == GgmlType::F32 ? 4 : 2;
  const int64_t row_bytes = static_cast<int64_t>(w.row_bytes());
  // Lane l of a chunk takes the scale of the chunk's group number l / lpg.
  const int lpg = l.lpg;
  const __m512i idx = _mm512_srlv_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(__builtin_ctz(static_cast<unsigned>(lpg))));
  const __m512i idx_or_zero = lpg >= 16 ? _mm512_setzero_si512() : idx;
  const int64_t scales_per_chunk = lpg >= 16 ? 1 : 16 / lpg;
  const __m512i low = _mm512_set1_epi8(static_cast<char>((1 << BITS) - 1));

  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < l.n_chunks; ++c) {
    const int64_t left = row_bytes - c * 64;
    const __m512i wv = left >= 64 ? _mm512_loadu_si512(q + c * 64)
                                  : _mm512_maskz_loadu_epi8((1ull << left) - 1, q + c * 64);
    const int64_t g0 = c * 16 / lpg;
    const __m512 sc = _mm512_permutexvar_ps(
        idx_or_zero, load_vals(w.scale_type, s + g0 * esize, std::min(scales_per_chunk, l.n_groups - g0)));
    __m512i planes[kPer];
    for (int p = 0; p < kPer; ++p)
      planes[p] = BITS == 8 ? wv : _mm512_and_si512(p == 0 ? wv : _mm512_srli_epi16(wv, p * BITS), low);
    for (int t = 0; t < NT; ++t) {
      const uint8_t* xt = xp + t * l.stride;
      const uint8_t* xc = xt + c * 64 * kPer;
      __m512i isum = _mm512_setzero_si512();
      for (int p = 0; p < kPer; ++p) isum = _mm512_dpbusd_epi32(isum, planes[p], _mm512_loadu_si512(xc + 64 * p));
      const __m512 d = _mm512_loadu_ps(reinterpret_cast<const float*>(xt + l.d_offset) + c * 16);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, sc), acc[t]);
    }
  }
  for (int64_t g0 = 0; g0 < l.groups_padded; g0 += 16) {
    const __m512 bias = load_vals(w.scale_type, b + g0 * esize, l.n_groups - g0);
    for (int t = 0; t < NT; ++t) {
      const float* xsum = reinterpret_cast<const float*>(xp + t * l.stride + l.xsum_offset);
      acc[t] = _mm512_fmadd_ps(bias, _mm512_loadu_ps(xsum + g0), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t]);
}

template <int BITS>
void gemm(const AffineMatrix& w, const Layout& l, const uint8_t* xp, int nt, int64_t r0, int nr,
          float* out, int64_t out_stride) {
  using Tile = void (*)(const AffineMatrix&, const Layout&, const uint8_t*, const uint8_t*,
                        const uint8_t*, const uint8_t*, float*, int64_t);
  static constexpr Tile kTiles[kMaxTokens] = {row_tile<BITS, 1>, row_tile<BITS, 2>, row_tile<BITS, 3>,
                                              row_tile<BITS, 4>, row_tile<BITS, 5>, row_tile<BITS, 6>,
                                              row_tile<BITS, 7>, row_tile<BITS, 8>};
  const size_t sb = static_cast<size_t>(l.n_groups) * (w.scale_type == GgmlType::F32 ? 4 : 2);
  // Token tiles outside, rows inside: a tile's activations stay in L1 while the item's
  // rows (sized for L2) pass by, instead of every row re-reading all tokens from L2.
  for (int t0 = 0; t0 < nt; t0 += kMaxTokens) {
    const int n = std::min(kMaxTokens, nt - t0);
    for (int64_t r = r0; r < r0 + nr; ++r)
      kTiles[n - 1](w, l, w.q + r * w.row_bytes(), w.scales + r * sb, w.biases + r * sb, xp + t0 * l.stride,
                    out + t0 * out_stride + (r - r0), out_stride);
  }
}

}  // namespace

GemmFn gemm_avx512(int bits) {
  switch (bits) {
    case 2: return gemm<2>;
    case 4: return gemm<4>;
    case 8: return gemm<8>;
    default: return nullptr;
  }
}

}  // namespace mlxs::kern::affine

#pragma GCC pop_options
#pragma GCC diagnostic pop
