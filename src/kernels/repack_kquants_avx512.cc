// AVX-512 VNNI kernels of the K-quant records of RepackedMatrix (layout in
// repack_kernels.h): the 16 lanes of a vector are 16 weight rows, as for Q4_0 and Q8_0.
//
// Per super-block and token, integer sums stay exact to the end:
//   Q4_K: each half sub-block (16 elements) is 4 vpdpbusd of the rows' codes (0..15) with the
//     token's codes (|x| <= 127), at most 30480 in magnitude, so it fits int16 and one
//     vpdpwssd multiplies it by the rows' 6-bit scales (lanes (scale, 0)) into the
//     super-block's sum. The mins are 4 vpdpwssd of the rows' (min, min) pairs with the
//     token's pairs of sub-block sums. Then acc += sum * (d_w d_x) - mins * (dmin_w d_x).
//   Q6_K: each sub-block (16 elements) starts at -32 * (sum of its codes), adds 4 vpdpbusd
//     of the rows' codes (0..63), and is multiplied by the rows' int8 scales (vpmulld) into
//     the super-block's sum; acc += sum * (d_w d_x).
// The float steps per (row, token) pair are the same whatever the number of tokens in the
// call, so results are batch invariant (see dot_kernels.h).
//
// Compiled for AVX-512 by a target pragma, everything with internal linkage (see
// dot_avx512.cc for why).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/repack_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace mlxs::kern::detail {
namespace {

constexpr int kG = RepackedMatrix::kGroupRows;
constexpr int kXBlock = kQK_K + 64 + 4;  // bytes of one super-block of one token in a tile

inline __m512i bcast32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
inline __m512 load_f16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
}

// The weights stream from memory: while sub-block j of a record is computed, fetch the j-th
// of `parts` slices of the next record, so that the stream runs ahead across page
// boundaries, where the hardware prefetcher stops. Batches gain most (8-stream decode of a
// Q4_K_M model went from 58 to 112 tokens/s). __builtin_prefetch, because GCC 12 dropped
// _mm_prefetch calls from this file.
inline void prefetch_slice(const uint8_t* next, size_t bytes, int j, int parts) {
  const size_t lines = bytes / 64;
  for (size_t l = j * lines / parts; l < (j + 1) * lines / parts; ++l)
    __builtin_prefetch(next + 64 * l, 0, 3);
}

#define MLXS_INLINE inline __attribute__((always_inline))

// Q4_K: half a sub-block (16 elements) of the low (kHigh false) or high nibbles of the 4
// chunks at c, against x (the tokens' codes of those elements, tokens 256 bytes apart).
template <int NT, bool kHigh>
MLXS_INLINE void q4k_half(const uint8_t* c, const uint8_t* x, __m512i sc, __m512i* isum) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i s[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) s[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m512i v = _mm512_load_si512(c + 64 * i);
    const __m512i code = kHigh ? _mm512_and_si512(_mm512_srli_epi16(v, 4), m4) : _mm512_and_si512(v, m4);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) s[t] = _mm512_dpbusd_epi32(s[t], code, bcast32(x + kQK_K * t + 4 * i));
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) isum[t] = _mm512_dpwssd_epi32(isum[t], s[t], sc);
}

struct Q4K {
  static constexpr size_t kBytes = 2368;
  // The first NT tokens of a W-wide tile, one record.
  template <int NT, int W>
  static MLXS_INLINE void superblock(const uint8_t* rec, const uint8_t* xb, __m512* acc) {
    __m512i isum[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
    for (int k = 0; k < 4; ++k) {
      // Lanes (scale, 0) as int16 pairs, for sub-blocks 2k and 2k + 1.
      const __m512i sl = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 2048 + 32 * k)));
      const __m512i sh = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 2064 + 32 * k)));
      const uint8_t* pair = rec + 512 * k;
      const uint8_t* x = xb + 64 * k;
      prefetch_slice(rec + kBytes, kBytes, 4 * k, 16);
      q4k_half<NT, false>(pair, x, sl, isum);
      prefetch_slice(rec + kBytes, kBytes, 4 * k + 1, 16);
      q4k_half<NT, false>(pair + 256, x + 16, sl, isum);
      prefetch_slice(rec + kBytes, kBytes, 4 * k + 2, 16);
      q4k_half<NT, true>(pair, x + 32, sh, isum);
      prefetch_slice(rec + kBytes, kBytes, 4 * k + 3, 16);
      q4k_half<NT, true>(pair + 256, x + 48, sh, isum);
    }
    __m512i ms[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) ms[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      const __m512i mn = _mm512_cvtepu8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(rec + 2176 + 32 * p)));
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) ms[t] = _mm512_dpwssd_epi32(ms[t], mn, bcast32(xb + kQK_K * W + 64 * t + 4 * p));
    }
    const __m512 dw = load_f16x16(rec + 2304), dm = load_f16x16(rec + 2336);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const __m512 dx = _mm512_set1_ps(load_f32(xb + (kQK_K + 64) * W + 4 * t));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, dx), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms[t]), _mm512_mul_ps(dm, dx), acc[t]);
    }
  }
};

// Q6_K: element group k (elements 16j + 4k .. + 3) of sub-block j, from its low-nibble
// chunk v and its top-bit chunk hv.
template <int K>
MLXS_INLINE __m512i q6k_code(__m512i v, __m512i hv) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  const __m512i lo = (K & 1) ? _mm512_and_si512(_mm512_srli_epi16(v, 4), m4) : _mm512_and_si512(v, m4);
  // Bits 2K..2K+1 of the top-bit bytes to bits 4..5.
  __m512i hs;
  if constexpr (K == 0) hs = _mm512_slli_epi16(hv, 4);
  if constexpr (K == 1) hs = _mm512_slli_epi16(hv, 2);
  if constexpr (K == 2) hs = hv;
  if constexpr (K == 3) hs = _mm512_srli_epi16(hv, 2);
  return _mm512_or_si512(lo, _mm512_and_si512(hs, m30));
}

template <int NT, int K>
MLXS_INLINE void q6k_group(const uint8_t* rec, int j, __m512i hv, const uint8_t* x, __m512i* s) {
  const __m512i code = q6k_code<K>(_mm512_load_si512(rec + 64 * (2 * j + K / 2)), hv);
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) s[t] = _mm512_dpbusd_epi32(s[t], code, bcast32(x + kQK_K * t + 4 * K));
}

struct Q6K {
  static constexpr size_t kBytes = 3392;
  template <int NT, int W>
  static MLXS_INLINE void superblock(const uint8_t* rec, const uint8_t* xb, __m512* acc) {
    __m512i isum[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
    for (int j = 0; j < 16; ++j) {
      prefetch_slice(rec + kBytes, kBytes, j, 16);
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(rec + 3072 + 16 * j)));
      const __m512i hv = _mm512_load_si512(rec + 2048 + 64 * j);
      const uint8_t* x = xb + 16 * j;
      __m512i s[NT];
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) s[t] = bcast32(xb + kQK_K * W + 64 * t + 4 * j);
      q6k_group<NT, 0>(rec, j, hv, x, s);
      q6k_group<NT, 1>(rec, j, hv, x, s);
      q6k_group<NT, 2>(rec, j, hv, x, s);
      q6k_group<NT, 3>(rec, j, hv, x, s);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], sc));
    }
    const __m512 dw = load_f16x16(rec + 3328);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const __m512 dx = _mm512_set1_ps(load_f32(xb + (kQK_K + 64) * W + 4 * t));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, dx), acc[t]);
    }
  }
};

// Rows of one group (16 lanes, `mask` of them stored) against the first NT tokens of a tile
// W tokens wide.
template <class K, int NT, int W>
void tile(int64_t nsb, const uint8_t* group, const uint8_t* xt, float* out, int64_t os, __mmask16 mask) {
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t s = 0; s < nsb; ++s)
    K::template superblock<NT, W>(group + s * K::kBytes, xt + s * kXBlock * W, acc);
  for (int t = 0; t < NT; ++t) {
    if (mask == 0xFFFF) {
      _mm512_storeu_ps(out + t * os, acc[t]);
    } else {
      _mm512_mask_storeu_ps(out + t * os, mask, acc[t]);
    }
  }
}

using TileFn = void (*)(int64_t nsb, const uint8_t* group, const uint8_t* xt, float* out, int64_t os,
                        __mmask16 mask);

// full[nt - 1]: nt tokens of a full-width tile; narrow[w - 1]: all w tokens of a w-wide tile.
template <class K, size_t... T>
constexpr std::array<TileFn, sizeof...(T)> full_of(std::index_sequence<T...>) {
  return {&tile<K, static_cast<int>(T) + 1, kRepackedTileTokens>...};
}
template <class K, size_t... T>
constexpr std::array<TileFn, sizeof...(T)> narrow_of(std::index_sequence<T...>) {
  return {&tile<K, static_cast<int>(T) + 1, static_cast<int>(T) + 1>...};
}

template <class K>
void gemm(const RepackedMatrix& w, int64_t r0, int nr, const uint8_t* xt, size_t tile_bytes,
          int width, int nt, float* out, int64_t os) {
  static constexpr auto full = full_of<K>(std::make_index_sequence<kRepackedTileTokens>());
  static constexpr auto narrow = narrow_of<K>(std::make_index_sequence<kRepackedTileTokens>());
  // Groups outer: a group's records stay in cache while every token tile passes by.
  for (int i = 0; i < nr; i += kG) {
    const int64_t g = (r0 + i) / kG;
    const int rows = std::min(kG, nr - i);
    const __mmask16 mask = static_cast<__mmask16>((1u << rows) - 1);
    for (int t = 0; t < nt; t += width) {
      const int rn = std::min(width, nt - t);
      const TileFn fn = width == kRepackedTileTokens ? full[rn - 1] : narrow[width - 1];
      fn(w.n_superblocks(), w.group(g), xt + (t / width) * tile_bytes, out + t * os + i, os, mask);
    }
  }
}

}  // namespace

RepackedGemmFn repacked_kquant_gemm_avx512(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_K:
      return gemm<Q4K>;
    case GgmlType::Q6_K:
      return gemm<Q6K>;
    default:
      return nullptr;
  }
}

}  // namespace mlxs::kern::detail

#undef MLXS_INLINE

#pragma GCC pop_options
#pragma GCC diagnostic pop
