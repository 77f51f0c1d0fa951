// AVX-512 VNNI kernels of RepackedMatrix (Q4_0 and Q8_0): the 16 lanes of a vector are 16
// weight rows. Per 32-element block and token: an int32 vector starts at the token's start
// value, 8 vpdpbusd add the 16 rows' products with the token's codes (4 codes broadcast per
// step), and one fma adds float(sum) * (d_w * d_x) into the token's accumulator. The
// accumulators are stored as they are: lane r is row r, so there is no horizontal sum.
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

inline int32_t load32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// w[g] for g < 8: the unsigned codes of the block's element group g (4 elements), 16 rows.
struct Q8Codes {
  static void load(const uint8_t* c, __m512i* w) {
    for (int g = 0; g < 8; ++g) w[g] = _mm512_load_si512(c + 64 * g);
  }
};
struct Q4Codes {
  static void load(const uint8_t* c, __m512i* w) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int k = 0; k < 4; ++k) {
      const __m512i v = _mm512_load_si512(c + 64 * k);
      w[k] = _mm512_and_si512(v, m4);
      w[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
  }
};

// Rows of one group (16 lanes, `mask` of them stored) against the first NT tokens of a tile
// W tokens wide.
template <class C, int NT, int W>
void tile(int64_t nb, size_t cb, const uint8_t* codes, const uint16_t* scales, const uint8_t* xt,
          float* out, int64_t os, __mmask16 mask) {
  constexpr int kBlockX = (kQK + 8) * W;  // bytes of one block of the tile
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* c = codes + b * cb;
    const uint8_t* xb = xt + b * kBlockX;
    // A single token streams the matrix: fetch ahead across page boundaries, where the
    // hardware prefetcher stops. Batches do without: here the same prefetch slowed 8-stream
    // decode by 10-25 % (unlike the K-quant records, whose batches it speeds up).
    if constexpr (NT == 1) {
      for (size_t l = 0; l < cb; l += 64) __builtin_prefetch(c + 2048 + l, 0, 3);
      if (b % 2 == 0) __builtin_prefetch(scales + kG * (b + 16), 0, 3);
    }
    __m512i w[8];
    C::load(c, w);
    const __m512 dw =
        _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(scales + kG * b)));
    // Each token's 8 vpdpbusd depend on one another; issued group by group across the
    // tokens, neighbouring instructions are independent and the core keeps its vector
    // ports busy without looking far ahead. Integer sums are exact in any order. A single
    // token gets two chains instead.
    constexpr int kChains = NT == 1 ? 2 : 1;
    __m512i s[NT][kChains];
    for (int t = 0; t < NT; ++t) {
      s[t][0] = _mm512_set1_epi32(load32(xb + kQK * W + 4 * t));
      for (int k = 1; k < kChains; ++k) s[t][k] = _mm512_setzero_si512();
    }
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        __m512i& st = s[t][g % kChains];
        st = _mm512_dpbusd_epi32(st, w[g], _mm512_set1_epi32(load32(xb + kQK * t + 4 * g)));
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      __m512i st = s[t][0];
      for (int k = 1; k < kChains; ++k) st = _mm512_add_epi32(st, s[t][k]);
      float dx;
      std::memcpy(&dx, xb + (kQK + 4) * W + 4 * t, 4);
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dx));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(st), d, acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    if (mask == 0xFFFF) {
      _mm512_storeu_ps(out + t * os, acc[t]);
    } else {
      _mm512_mask_storeu_ps(out + t * os, mask, acc[t]);
    }
  }
}

using TileFn = void (*)(int64_t nb, size_t cb, const uint8_t* codes, const uint16_t* scales,
                        const uint8_t* xt, float* out, int64_t os, __mmask16 mask);

// full[nt - 1]: nt tokens of a full-width tile; narrow[w - 1]: all w tokens of a w-wide tile.
template <class C, size_t... T>
constexpr std::array<TileFn, sizeof...(T)> full_of(std::index_sequence<T...>) {
  return {&tile<C, static_cast<int>(T) + 1, kRepackedTileTokens>...};
}
template <class C, size_t... T>
constexpr std::array<TileFn, sizeof...(T)> narrow_of(std::index_sequence<T...>) {
  return {&tile<C, static_cast<int>(T) + 1, static_cast<int>(T) + 1>...};
}

template <class C>
void gemm(const RepackedMatrix& w, int64_t r0, int nr, const uint8_t* xt, size_t tile_bytes,
          int width, int nt, float* out, int64_t os) {
  static constexpr auto full = full_of<C>(std::make_index_sequence<kRepackedTileTokens>());
  static constexpr auto narrow = narrow_of<C>(std::make_index_sequence<kRepackedTileTokens>());
  const int64_t nb = w.n_blocks();
  // Groups outer: a group's codes stay in cache while every token tile passes by.
  for (int i = 0; i < nr; i += kG) {
    const int64_t g = (r0 + i) / kG;
    const int rows = std::min(kG, nr - i);
    const __mmask16 mask = static_cast<__mmask16>((1u << rows) - 1);
    for (int t = 0; t < nt; t += width) {
      const int rn = std::min(width, nt - t);
      const TileFn fn = width == kRepackedTileTokens ? full[rn - 1] : narrow[width - 1];
      fn(nb, w.block_code_bytes, w.group(g), w.scales(g), xt + (t / width) * tile_bytes,
         out + t * os + i, os, mask);
    }
  }
}

}  // namespace

RepackedGemmFn repacked_gemm_avx512(GgmlType t) {
  switch (t) {
    case GgmlType::Q8_0:
      return gemm<Q8Codes>;
    case GgmlType::Q4_0:
      return gemm<Q4Codes>;
    default:
      return nullptr;
  }
}

}  // namespace mlxs::kern::detail

#pragma GCC pop_options
#pragma GCC diagnostic pop
