// AVX-512 (F/BW/VL + VNNI) dot-product kernels for the most used weight types: Q8_0, Q4_0,
// Q4_K, Q6_K and the float types. Other types fall back to the AVX2 kernels.
//
// The whole file below the includes is compiled for AVX-512 through a target pragma, and
// everything in it has internal linkage: no inline function shared with other files is
// emitted here, so no AVX-512 code can leak into the paths an AVX2-only CPU runs.
// GCC 12's AVX-512 intrinsic headers build "undefined" vectors as self-initialised locals,
// which -Wmaybe-uninitialized reports once per use (GCC PR 105593, fixed in GCC 13). The
// warnings carry the header's locations, so the pragma has to come before the include.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/dot_kernels.h"
#include "kernels/gemm_tiles.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace mlxs::kern::detail {
namespace {

// 32 zmm registers: eight tokens' accumulators plus the unpacked weights of one row fit.
constexpr int kMaxTokens = 8;

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// Our own fixed reduction order (GCC 12's _mm512_reduce_add_ps also warns spuriously).
inline float hsum512(__m512 v) {
  const __m512 hi = _mm512_shuffle_f32x4(v, v, 0xEE);
  return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(hi)));
}

// ---------------- Q8_0 and Q4_0: two 32-blocks per 512-bit step ----------------
// vpdpbusd multiplies unsigned by signed bytes. The weight codes are made unsigned by an
// offset c (Q8_0: w + 128, Q4_0: the stored nibble q = w + 8), and each int32 lane starts
// from -c * (sum of its four x codes), so the lane ends at exactly sum(w * x). That start
// value belongs to the token and is shared by every weight row of a register tile; the
// unsigned weights belong to the row and are shared by every token.
//
// Per (row, token) and block pair the float steps are those of a single dot product:
// acc += float(int lanes) * (d_w * d_x), block i in lanes 0-7 and block i+1 in lanes 8-15
// (an odd last block pairs with zero codes and zero scales), then one fixed horizontal sum.

// Prepared activations: per block pair the 64 codes contiguous (an odd last block padded
// with zero codes), then one float scale per block (padded with a zero).
struct PairsX {
  static constexpr bool kPrepared = true;
  static int64_t pairs(int64_t n) { return (n / kQK + 1) / 2; }
  static size_t prep_bytes(int64_t n) { return (static_cast<size_t>(72 * pairs(n)) + 63) & ~size_t{63}; }
  static void prep(int64_t n, const void* xv, void* dst) {
    const BlockQ8_0* x = static_cast<const BlockQ8_0*>(xv);
    const int64_t nb = n / kQK, np = pairs(n);
    uint8_t* qs = static_cast<uint8_t*>(dst);
    float* d = reinterpret_cast<float*>(qs + 64 * np);
    for (int64_t i = 0; i < nb; ++i) {
      std::memcpy(qs + kQK * i, x[i].qs, kQK);
      d[i] = h2f(x[i].d);
    }
    if (nb & 1) {
      std::memset(qs + kQK * nb, 0, kQK);
      d[nb] = 0.f;
    }
  }
};

// Lanes 0-7 take element 0, lanes 8-15 element 1.
inline __m512i halves_index() { return _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0); }

// [h2f(a) x 8, h2f(b) x 8]
inline __m512 pair_scale(__m512i idx, uint16_t a, uint16_t b) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(a | (static_cast<uint32_t>(b) << 16))));
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

// two(b, idx, q, dw): the unsigned codes of blocks b[0], b[1] in x's element order, and
// their scales as [d0 x 8, d1 x 8].
struct Q8_0W {
  using W = BlockQ8_0;
  static constexpr char kOffset = static_cast<char>(0x80);
  static __m256i one(const W& b) { return _mm256_xor_si256(load256(b.qs), _mm256_set1_epi8(kOffset)); }
  static void two(const W* b, __m512i idx, __m512i& q, __m512& dw) {
    q = _mm512_xor_si512(join(load256(b[0].qs), load256(b[1].qs)), _mm512_set1_epi8(kOffset));
    dw = pair_scale(idx, b[0].d, b[1].d);
  }
};
struct Q4_0W {
  using W = BlockQ4_0;
  static constexpr char kOffset = 8;
  static __m256i one(const W& b) {
    const __m128i v = load128(b.qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
  }
  // Two blocks are 18 contiguous 16-bit words: d0, 8 words of qs0, d1, 8 words of qs1. One
  // masked load (no read past the pair) and one word permute give [qs0 qs0 qs1 qs1] per
  // 128-bit lane, a per-lane shift of 0 or 4 and a mask give [lo0 hi0 lo1 hi1]; a second
  // permute of the same load gives the scales. Cheaper than two loads and three shuffles.
  static void two(const W* b, __m512i, __m512i& q, __m512& dw) {
    const __m512i v = _mm512_maskz_loadu_epi16(0x3FFFF, b);
    const __m512i qidx = _mm512_set_epi16(17, 16, 15, 14, 13, 12, 11, 10, 17, 16, 15, 14, 13, 12, 11, 10,
                                          8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m512i shift = _mm512_set_epi16(4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0,
                                           4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i didx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                          9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0);
    q = _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(qidx, v), shift), _mm512_set1_epi8(0x0F));
    dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, v)));
  }
};

template <class P>
struct Legacy512 : PairsX {
  // 16 accumulators, and per token its start value and scales: 4 x 4 fits 32 registers.
  // A single token reads one row at a time: one sequential stream per thread measured
  // faster for decode (1.1B Q8_0: 12.1 vs 5.5 tokens/s with 8 rows at once).
  static constexpr int kRows = 4, kTokens = 4, kRowsOneToken = 1;

  // Several token tiles against the same rows: gemm unpacks each row group once (codes and
  // scale vectors, exactly the values the packed path computes) and micro_u reads them back,
  // so the float operations per (row, token) pair are unchanged.
  static constexpr bool kUnpacks = true;
  // Per block pair: 64 unsigned codes, then the 16 float scales.
  static size_t unpacked_bytes(int64_t n) { return static_cast<size_t>(128 * pairs(n)); }
  static void unpack(int64_t n, const uint8_t* w, size_t ws, int rm, uint8_t* dst) {
    using W = typename P::W;
    const int64_t nb = n / kQK;
    const __m512i idx = halves_index();
    for (int r = 0; r < rm; ++r) {
      const W* b = reinterpret_cast<const W*>(w + r * ws);
      uint8_t* d = dst + r * unpacked_bytes(n);
      for (int64_t j = 0; j < nb / 2; ++j, b += 2, d += 128) {
        __m512i q;
        __m512 dw;
        P::two(b, idx, q, dw);
        _mm512_store_si512(d, q);
        _mm512_store_ps(d + 64, dw);
      }
      if (nb & 1) {
        _mm512_store_si512(d, _mm512_zextsi256_si512(P::one(b[0])));
        _mm512_store_ps(d + 64, pair_scale(idx, b[0].d, 0));
      }
    }
  }

  template <int RM, int RN>
  static void micro(int64_t n, const uint8_t* w, size_t ws, const uint8_t* xp, size_t xps, float* out, int64_t os) {
    micro_impl<RM, RN, false, false>(n, w, ws, xp, xps, out, os);
  }
  // w: unpacked rows, ws bytes apart.
  template <int RM, int RN>
  static void micro_u(int64_t n, const uint8_t* w, size_t ws, const uint8_t* xp, size_t xps, float* out, int64_t os) {
    micro_impl<RM, RN, true, false>(n, w, ws, xp, xps, out, os);
  }

  // A single token against many rows (decode): the token's per-pair start values and scale
  // vectors (the values step computes) are formed once into a buffer, not once per row.
  static constexpr bool kOneTokenGemm = true;
  static void gemm_one_token(int64_t n, const uint8_t* w, size_t ws, int nr, const uint8_t* xp, float* out) {
    const int64_t np = pairs(n);
    static thread_local std::vector<uint8_t> buf;
    const size_t bytes = static_cast<size_t>(128 * np) + 64;
    if (buf.size() < bytes) buf.resize(bytes);
    uint8_t* e = buf.data() + (-reinterpret_cast<uintptr_t>(buf.data()) & 63);
    const __m512i idx = halves_index();
    const __m512i off = _mm512_set1_epi8(P::kOffset);
    const float* xd = reinterpret_cast<const float*>(xp + 64 * np);
    for (int64_t j = 0; j < np; ++j) {
      const __m512i x = load512(xp + 64 * j);
      _mm512_store_si512(e + 128 * j, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, x)));
      double d2;
      std::memcpy(&d2, xd + 2 * j, sizeof d2);
      _mm512_store_ps(e + 128 * j + 64, _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_castpd_ps(_mm_set_sd(d2)))));
    }
    for (int r = 0; r < nr; ++r) micro_impl<1, 1, false, true>(n, w + r * ws, ws, xp, 0, out + r, 0, e);
  }

  // X: start values and scale vectors of the single token come from x_ext (128 bytes a pair).
  template <int RM, int RN, bool U, bool X>
  static void micro_impl(int64_t n, const uint8_t* w, size_t ws, const uint8_t* xp, size_t xps, float* out, int64_t os,
                         const uint8_t* x_ext = nullptr) {
    using W = typename P::W;
    const int64_t nb = n / kQK, np = pairs(n);
    const W* wr[RM];
    for (int r = 0; r < RM; ++r) wr[r] = reinterpret_cast<const W*>(w + r * ws);
    const uint8_t* xq[RN];
    const float* xd[RN];
    for (int t = 0; t < RN; ++t) {
      xq[t] = xp + t * xps;
      xd[t] = reinterpret_cast<const float*>(xq[t] + 64 * np);
    }
    __m512 acc[RM][RN];
    for (int r = 0; r < RM; ++r)
      for (int t = 0; t < RN; ++t) acc[r][t] = _mm512_setzero_ps();
    const __m512i idx = halves_index();
    const __m512i off = _mm512_set1_epi8(P::kOffset);

    auto step = [&](int64_t j, bool last_single) __attribute__((always_inline)) {
      __m512i start[RN];
      __m512 dx[RN];
      for (int t = 0; t < RN; ++t) {
        if constexpr (X) {
          start[t] = _mm512_load_si512(x_ext + 128 * j);
          dx[t] = _mm512_load_ps(x_ext + 128 * j + 64);
          // The next row's blocks: rows are read one after another, and the prefetch
          // carries the stream across the page boundaries where the hardware one stops.
          _mm_prefetch(reinterpret_cast<const char*>(wr[0] + 2 * j) + 1024, _MM_HINT_T0);
          continue;
        }
        const __m512i x = load512(xq[t] + 64 * j);
        start[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, x));
        double d2;
        std::memcpy(&d2, xd[t] + 2 * j, sizeof d2);
        dx[t] = _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_castpd_ps(_mm_set_sd(d2))));
      }
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const W* b = wr[r] + 2 * j;
        __m512i q;
        __m512 dw;
        if constexpr (U) {
          const uint8_t* u = w + r * ws + 128 * j;
          q = _mm512_load_si512(u);
          dw = _mm512_load_ps(u + 64);
        } else if (last_single) {
          q = _mm512_zextsi256_si512(P::one(b[0]));
          dw = pair_scale(idx, b[0].d, 0);
        } else {
          P::two(b, idx, q, dw);
        }
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
          const __m512i p = _mm512_dpbusd_epi32(start[t], q, load512(xq[t] + 64 * j));
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dw, dx[t]), acc[r][t]);
        }
      }
    };
    for (int64_t j = 0; j < nb / 2; ++j) step(j, false);
    if (nb & 1) step(nb / 2, true);
    for (int r = 0; r < RM; ++r)
      for (int t = 0; t < RN; ++t) out[t * os + r] = hsum512(acc[r][t]);
  }
};

// ---------------- K-quants (x is Q8_K) ----------------
template <int NT>
inline void init_x(const void* xv, size_t xs, const BlockQ8_K** x) {
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(xv) + t * xs);
}

// The 12-byte 6-bit scale/min packing of Q4_K (see quant_impl.h; repeated here so that
// nothing inline is shared with the baseline files).
inline void unpack_k4(const uint8_t* p, uint8_t* sc, uint8_t* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = p[j] & 63;
    mn[j] = p[j + 4] & 63;
    sc[j + 4] = (p[j + 8] & 0xF) | ((p[j] >> 6) << 4);
    mn[j + 4] = (p[j + 8] >> 4) | ((p[j + 4] >> 6) << 4);
  }
}

// Index vector for vpermw: lane l (of 32 int16) takes element base + l / group.
inline __m512i spread_index(int base, int group) {
  alignas(64) int16_t idx[32];
  for (int l = 0; l < 32; ++l) idx[l] = static_cast<int16_t>(base + l / group);
  return _mm512_load_si512(idx);
}

struct KQ4 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const BlockQ4_K* w = static_cast<const BlockQ4_K*>(wv);
    const BlockQ8_K* x[NT];
    init_x<NT>(xv, xs, x);
    __m512 acc[NT];
    __m256 accm[NT];
    for (int t = 0; t < NT; ++t) {
      acc[t] = _mm512_setzero_ps();
      accm[t] = _mm256_setzero_ps();
    }
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    // Scale vector k: sub-block 2k in the lower 16 int16 lanes (its 32 elements give 16
    // maddubs pairs), sub-block 2k+1 in the upper 16.
    const __m512i sidx[4] = {spread_index(0, 16), spread_index(2, 16), spread_index(4, 16), spread_index(6, 16)};
    const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      alignas(16) uint8_t sc[16], mn[8];
      unpack_k4(w[i].scales, sc, mn);
      const __m512i sc16 = _mm512_zextsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc))));
      const __m256i m16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn)), dup));
      // 64 bytes of qs = chunks c, c+1: low nibbles [sub 2c | sub 2c+2], high [2c+1 | 2c+3];
      // regroup the 256-bit halves so each vector matches 64 consecutive x values.
      __m512i q[4];
      for (int h = 0; h < 2; ++h) {
        const __m512i v = load512(w[i].qs + 64 * h);
        const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        q[2 * h] = _mm512_shuffle_i64x2(lo, hi, 0x44);
        q[2 * h + 1] = _mm512_shuffle_i64x2(lo, hi, 0xEE);
      }
      __m512i s[4];
      for (int k = 0; k < 4; ++k) s[k] = _mm512_permutexvar_epi16(sidx[k], sc16);
      const float d = h2f(w[i].d), dmin = h2f(w[i].dmin);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        __m512i isum = _mm512_setzero_si512();
        for (int k = 0; k < 4; ++k)
          isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], load512(x[t][i].qs + 64 * k)), s[k]);
        const __m256i mp = _mm256_madd_epi16(m16, load256(x[t][i].bsums));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * x[t][i].d), acc[t]);
        accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(dmin * x[t][i].d), accm[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum512(acc[t]) - hsum256(accm[t]);
  }
};

struct KQ6 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const BlockQ6_K* w = static_cast<const BlockQ6_K*>(wv);
    const BlockQ8_K* x[NT];
    init_x<NT>(xv, xs, x);
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
    // 64 elements = 32 maddubs pairs = four 16-element scale groups of 8 lanes each.
    const __m512i sidx[4] = {spread_index(0, 8), spread_index(4, 8), spread_index(8, 8), spread_index(12, 8)};
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      const __m256i sc16 = _mm256_cvtepi8_epi16(load128(w[i].scales));
      const __m512i scz = _mm512_zextsi256_si512(sc16);
      __m512i q[4], s[4];
      for (int h = 0; h < 2; ++h) {
        const __m512i l = load512(w[i].ql + 64 * h);
        const __m256i qh = load256(w[i].qh + 32 * h);
        // [qh | qh >> 2]: the top bits of elements 0-31 and 32-63 of this half in bits 0-1,
        // those of elements 64-95 and 96-127 in bits 4-5.
        const __m512i h2 = join(qh, _mm256_srli_epi16(qh, 2));
        q[2 * h] = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_slli_epi16(_mm512_and_si512(h2, m2), 4));
        q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                       _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h2, 4), m2), 4));
      }
      for (int k = 0; k < 4; ++k) s[k] = _mm512_permutexvar_epi16(sidx[k], scz);
      const float d = h2f(w[i].d);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        __m512i isum = _mm512_setzero_si512();
        for (int k = 0; k < 4; ++k)
          isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], load512(x[t][i].qs + 64 * k)), s[k]);
        // Codes are stored +32: subtract 32 * sum(scale * bsum).
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(x[t][i].bsums)), 5);
        isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(corr));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * x[t][i].d), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum512(acc[t]);
  }
};

// ---------------- Float weights (x is F32) ----------------
struct LoadF32 {
  using T = float;
  static __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 load_part(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct LoadF16 {
  using T = uint16_t;
  static __m512 load16(const uint16_t* p) { return _mm512_cvtph_ps(load256(p)); }
  static __m512 load_part(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct LoadBF16 {
  using T = uint16_t;
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m512 load16(const uint16_t* p) { return widen(load256(p)); }
  static __m512 load_part(const uint16_t* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

// Float weights (x is F32), register-tiled: RM rows x RN tokens per call. Per (row,
// token) pair always the same arithmetic, whatever the tile: two accumulators over
// 32-element steps, a 16-element step into acc0, the masked rest into acc1, then the sum
// of both (batch invariant, see dot_kernels.h). A weight vector is loaded (and widened)
// once for RN tokens and an activation vector once for RM rows.
template <class L>
struct FloatTile {
  static constexpr bool kPrepared = false;
  // 4 x 3 pairs keep 24 accumulators, 4 weight and 2 activation vectors in the 32
  // registers. Tokens outer within L2-sized blocks of rows (Tiles::gemm): three tokens'
  // activations (3 x 4 bytes x n) stay in L1 while the block's weight rows pass by from L2.
  static constexpr int kRows = 4, kTokens = 3, kRowsOneToken = 4;
  static constexpr bool kTokensOuter = true;
  template <int RM, int RN>
  static void micro(int64_t n, const uint8_t* wv, size_t ws, const uint8_t* xv, size_t xs,
                    float* out, int64_t os) {
    const typename L::T* w[RM];
    const float* x[RN];
    __m512 acc0[RM][RN], acc1[RM][RN];
    for (int r = 0; r < RM; ++r) w[r] = reinterpret_cast<const typename L::T*>(wv + r * ws);
    for (int t = 0; t < RN; ++t) x[t] = reinterpret_cast<const float*>(xv + t * xs);
    for (int r = 0; r < RM; ++r)
      for (int t = 0; t < RN; ++t) acc0[r][t] = acc1[r][t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      __m512 x0[RN], x1[RN];
#pragma GCC unroll 8
      for (int t = 0; t < RN; ++t) {
        x0[t] = _mm512_loadu_ps(x[t] + i);
        x1[t] = _mm512_loadu_ps(x[t] + i + 16);
      }
#pragma GCC unroll 4
      for (int r = 0; r < RM; ++r) {
        const __m512 w0 = L::load16(w[r] + i), w1 = L::load16(w[r] + i + 16);
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
          acc0[r][t] = _mm512_fmadd_ps(w0, x0[t], acc0[r][t]);
          acc1[r][t] = _mm512_fmadd_ps(w1, x1[t], acc1[r][t]);
        }
      }
    }
    if (i + 16 <= n) {
      for (int r = 0; r < RM; ++r) {
        const __m512 w0 = L::load16(w[r] + i);
        for (int t = 0; t < RN; ++t) acc0[r][t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x[t] + i), acc0[r][t]);
      }
      i += 16;
    }
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
      for (int r = 0; r < RM; ++r) {
        const __m512 w0 = L::load_part(w[r] + i, m);
        for (int t = 0; t < RN; ++t)
          acc1[r][t] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x[t] + i), acc1[r][t]);
      }
    }
    for (int r = 0; r < RM; ++r)
      for (int t = 0; t < RN; ++t) out[t * os + r] = hsum512(_mm512_add_ps(acc0[r][t], acc1[r][t]));
  }
};

// Kernels written for one weight row and up to kMaxTokens tokens: a register tile of one
// row, repeated per row.
template <class K>
struct OneRow {
  static constexpr bool kPrepared = false;
  static constexpr int kRows = 1, kTokens = kMaxTokens, kRowsOneToken = 1;
  template <int RM, int RN>
  static void micro(int64_t n, const uint8_t* w, size_t ws, const uint8_t* xp, size_t xps, float* out, int64_t os) {
    for (int r = 0; r < RM; ++r) K::template run<RN>(n, w + r * ws, xp, xps, out + r, os);
  }
};

template <class K>
DotKernel make() {
  return Tiles<K>::make();
}
template <class K>
DotKernel make_one_row() {
  return Tiles<OneRow<K>>::make();
}

}  // namespace

DotKernel dot_kernel_avx512(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return make<FloatTile<LoadF32>>();
    case GgmlType::F16: return make<FloatTile<LoadF16>>();
    case GgmlType::BF16: return make<FloatTile<LoadBF16>>();
    case GgmlType::Q4_0: return make<Legacy512<Q4_0W>>();
    case GgmlType::Q8_0: return make<Legacy512<Q8_0W>>();
    case GgmlType::Q4_K: return make_one_row<KQ4>();
    case GgmlType::Q6_K: return make_one_row<KQ6>();
    default: return {};
  }
}

}  // namespace mlxs::kern::detail

#pragma GCC pop_options
#pragma GCC diagnostic pop
