// AVX2 affine kernel: each 64-byte chunk as two 32-byte halves (lanes 0-7 and 8-15 of the
// reference's 16), int32 lanes from vpmaddubsw + vpmaddwd. Float steps as in
// affine_kernels.h, so results equal the scalar and AVX-512 kernels bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/affine_kernels.h"

namespace mlxs::kern::affine {
namespace {

// Accumulators of two halves per token plus one row's planes fit in 16 ymm registers.
constexpr int kMaxTokens = 4;

// The reduction of affine_kernels.h, with lanes 8-15 in hi.
inline float hsum(__m256 lo, __m256 hi) {
  const __m256 a = _mm256_add_ps(lo, hi);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Eight lanes' scales: lane i takes value i / lpg of the `count` values at group g (zero
// past count).
inline __m256 lane_vals(GgmlType type, const uint8_t* row, int64_t g, int64_t count, int lpg) {
  if (count <= 0) return _mm256_setzero_ps();
  if (lpg >= 8) return _mm256_set1_ps(load_scale(type, row, g));
  alignas(32) float v[8] = {};
  for (int64_t i = 0; i < std::min<int64_t>(count, 8 / lpg); ++i) v[i] = load_scale(type, row, g + i);
  const int sh = __builtin_ctz(static_cast<unsigned>(lpg));
  const __m256i idx = _mm256_srli_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), sh);
  return _mm256_permutevar8x32_ps(_mm256_load_ps(v), idx);
}

// Up to eight scales or biases from group g (zeros past count).
inline __m256 load8(GgmlType type, const uint8_t* row, int64_t g, int64_t count) {
  const int64_t k = std::min<int64_t>(count, 8);
  if (k == 8) {
    switch (type) {
      case GgmlType::F16:
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * g)));
      case GgmlType::BF16:
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * g))), 16));
      default:
        return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + g);
    }
  }
  alignas(32) float v[8] = {};
  for (int64_t i = 0; i < k; ++i) v[i] = load_scale(type, row, g + i);
  return _mm256_load_ps(v);
}

// Integer lanes of one half: sum over 4 bytes (of every plane) of code * activation.
template <int BITS>
inline __m256i half_isum(const __m256i* planes, const uint8_t* xc) {
  constexpr int kPer = 8 / BITS;
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (BITS == 8) {
    // Codes reach 255, so code * activation pairs overflow vpmaddubsw's int16. Split
    // q = (q - 128) + 128: signed codes through the abs/sign trick, then 128 * x.
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xc));
    const __m256i sq = _mm256_xor_si256(planes[0], _mm256_set1_epi8(static_cast<char>(0x80)));
    const __m256i p1 = _mm256_maddubs_epi16(_mm256_abs_epi8(sq), _mm256_sign_epi8(x, sq));
    const __m256i p2 = _mm256_maddubs_epi16(_mm256_set1_epi8(static_cast<char>(0x80)), x);
    return _mm256_add_epi32(_mm256_madd_epi16(p1, ones), _mm256_madd_epi16(p2, ones));
  } else {
    // Codes below 16: pairs stay far inside int16 even summed over all planes.
    __m256i s = _mm256_setzero_si256();
    for (int p = 0; p < kPer; ++p)
      s = _mm256_add_epi16(s, _mm256_maddubs_epi16(planes[p], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xc + 64 * p))));
    return _mm256_madd_epi16(s, ones);
  }
}

template <int BITS, int NT>
void row_tile(const AffineMatrix& w, const Layout& l, const uint8_t* q, const uint8_t* s,
              const uint8_t* b, const uint8_t* xp, float* out, int64_t out_stride) {
  constexpr int kPer = 8 / BITS;
  const int64_t row_bytes = static_cast<int64_t>(w.row_bytes());
  const int lpg = l.lpg;
  const __m256i low = _mm256_set1_epi8(static_cast<char>((1 << BITS) - 1));

  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t c = 0; c < l.n_chunks; ++c) {
    const int64_t left = row_bytes - c * 64;
    alignas(32) uint8_t tail[64];
    const uint8_t* qc = q + c * 64;
    if (left < 64) {  // the row's last, partial chunk: zero codes past its end
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, qc, static_cast<size_t>(left));
      qc = tail;
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qc + 32 * h));
      const int64_t g = (c * 16 + 8 * h) / lpg;
      const __m256 sc = lane_vals(w.scale_type, s, g, l.n_groups - g, lpg);
      __m256i planes[kPer];
      for (int p = 0; p < kPer; ++p)
        planes[p] = BITS == 8 ? wv : _mm256_and_si256(p == 0 ? wv : _mm256_srli_epi16(wv, p * BITS), low);
      for (int t = 0; t < NT; ++t) {
        const uint8_t* xt = xp + t * l.stride;
        const __m256i isum = half_isum<BITS>(planes, xt + c * 64 * kPer + 32 * h);
        const __m256 d = _mm256_loadu_ps(reinterpret_cast<const float*>(xt + l.d_offset) + c * 16 + 8 * h);
        acc[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d, sc), acc[t][h]);
      }
    }
  }
  for (int64_t g0 = 0; g0 < l.groups_padded; g0 += 16) {
    for (int h = 0; h < 2; ++h) {
      const __m256 bias = load8(w.scale_type, b, g0 + 8 * h, l.n_groups - g0 - 8 * h);
      for (int t = 0; t < NT; ++t) {
        const float* xsum = reinterpret_cast<const float*>(xp + t * l.stride + l.xsum_offset);
        acc[t][h] = _mm256_fmadd_ps(bias, _mm256_loadu_ps(xsum + g0 + 8 * h), acc[t][h]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) out[t * out_stride] = hsum(acc[t][0], acc[t][1]);
}

template <int BITS>
void gemm(const AffineMatrix& w, const Layout& l, const uint8_t* xp, int nt, int64_t r0, int nr,
          float* out, int64_t out_stride) {
  using Tile = void (*)(const AffineMatrix&, const Layout&, const uint8_t*, const uint8_t*,
                        const uint8_t*, const uint8_t*, float*, int64_t);
  static constexpr Tile kTiles[kMaxTokens] = {row_tile<BITS, 1>, row_tile<BITS, 2>, row_tile<BITS, 3>,
                                              row_tile<BITS, 4>};
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

GemmFn gemm_avx2(int bits) {
  switch (bits) {
    case 2: return gemm<2>;
    case 4: return gemm<4>;
    case 8: return gemm<8>;
    default: return nullptr;
  }
}

}  // namespace mlxs::kern::affine
