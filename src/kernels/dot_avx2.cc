// AVX2 + FMA + F16C dot-product kernels (the portable baseline), as tile kernels over up to
// kMaxTokens activation rows. See dot_kernels.h for the batch-invariance rule: every token
// has its own accumulators, updated exactly as in the one-token instantiation.
#include <immintrin.h>

#include "kernels/dot_kernels.h"
#include "kernels/gemm_tiles.h"
#include "kernels/quant_impl.h"

namespace mlxs::kern::detail {
namespace {

// Sixteen ymm registers: four tokens' accumulators plus the unpacked weights fit.
constexpr int kMaxTokens = 4;

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0-15) then high (16-31).
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i v = load128(qs);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
}

// Byte e of the result is 0xFF when bit e of `bits` is set.
inline __m256i expand_bits(uint32_t bits) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), spread);
  const __m256i sel = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

// Sums of four adjacent u8 * s8 products as 8 int32.
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// s8 * s8 through maddubs: |w| is unsigned and w's sign moves onto x.
struct SignedW {
  __m256i abs, sgn;
  explicit SignedW(__m256i w) : abs(_mm256_sign_epi8(w, w)), sgn(w) {}
  __m256i dot(__m256i x) const { return dot_u8s8(abs, _mm256_sign_epi8(x, sgn)); }
};
struct UnsignedW {
  __m256i u;
  explicit UnsignedW(__m256i w) : u(w) {}
  __m256i dot(__m256i x) const { return dot_u8s8(u, x); }
};

// ---------------- Legacy formats (32-element blocks) ----------------
// A policy supplies the block types, the weight unpacking and whether the format has an
// offset m (then x is Q8_1 and m * x.s is added per block).
struct PQ4_0 {
  using W = BlockQ4_0; using X = BlockQ8_0; static constexpr bool kOffset = false;
  static SignedW prep(const W& b) { return SignedW(_mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8))); }
};
struct PQ4_1 {
  using W = BlockQ4_1; using X = BlockQ8_1; static constexpr bool kOffset = true;
  static UnsignedW prep(const W& b) { return UnsignedW(unpack_nibbles(b.qs)); }
};
struct PQ5_0 {
  using W = BlockQ5_0; using X = BlockQ8_0; static constexpr bool kOffset = false;
  static SignedW prep(const W& b) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    __m256i q = _mm256_or_si256(unpack_nibbles(b.qs), _mm256_and_si256(expand_bits(qh), _mm256_set1_epi8(0x10)));
    return SignedW(_mm256_sub_epi8(q, _mm256_set1_epi8(16)));
  }
};
struct PQ5_1 {
  using W = BlockQ5_1; using X = BlockQ8_1; static constexpr bool kOffset = true;
  static UnsignedW prep(const W& b) {
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    return UnsignedW(_mm256_or_si256(unpack_nibbles(b.qs), _mm256_and_si256(expand_bits(qh), _mm256_set1_epi8(0x10))));
  }
};
struct PQ8_0 {
  using W = BlockQ8_0; using X = BlockQ8_0; static constexpr bool kOffset = false;
  static SignedW prep(const W& b) { return SignedW(load256(b.qs)); }
};

template <class P>
struct Legacy {
  // Even blocks go to acc0, odd blocks to acc1: two FMA chains hide the FMA latency when
  // one token is processed. The split is the same for every nt.
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    using W = typename P::W;
    using X = typename P::X;
    const W* w = static_cast<const W*>(wv);
    const X* x[NT];
    __m256 acc0[NT], acc1[NT];
    float accm[NT];
    for (int t = 0; t < NT; ++t) {
      x[t] = reinterpret_cast<const X*>(static_cast<const uint8_t*>(xv) + t * xs);
      acc0[t] = acc1[t] = _mm256_setzero_ps();
      accm[t] = 0.f;
    }
    const int64_t nb = n / kQK;
    auto step = [&](int64_t i, __m256* acc) __attribute__((always_inline)) {
      const auto q = P::prep(w[i]);
      const float dw = h2f(w[i].d);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256 s = _mm256_cvtepi32_ps(q.dot(load256(x[t][i].qs)));
        acc[t] = _mm256_fmadd_ps(s, _mm256_set1_ps(dw * h2f(x[t][i].d)), acc[t]);
        if constexpr (P::kOffset) accm[t] += h2f(w[i].m) * h2f(x[t][i].s);
      }
    };
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
      step(i, acc0);
      step(i + 1, acc1);
    }
    if (i < nb) step(i, acc0);
    for (int t = 0; t < NT; ++t) {
      float r = hsum(_mm256_add_ps(acc0[t], acc1[t]));
      if constexpr (P::kOffset) r += accm[t];
      out[t * os] = r;
    }
  }
};

// ---------------- K-quants (256-element super-blocks, x is Q8_K) ----------------
// Each super-block's integer sum is formed exactly, then scaled once: per token one FMA for
// the scales and, for formats with mins, one for the mins.

// Two int16 scales spread over the two 128-bit halves (8 lanes each).
inline __m256i scale_pair(int a, int b) { return _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(b)), _mm_set1_epi16(static_cast<short>(a))); }

template <int NT>
inline void init_x(const void* xv, size_t xs, const BlockQ8_K** x) {
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(xv) + t * xs);
}

// Eight mins per 32 elements against the sixteen 16-element bsums: int32 lane j holds
// m[j] * (bsums[2j] + bsums[2j+1]).
inline __m256i mins_times_bsums(const uint8_t* mins8, const int16_t* bsums) {
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m256i m16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins8)), dup));
  return _mm256_madd_epi16(m16, load256(bsums));
}

struct KQ4 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const BlockQ4_K* w = static_cast<const BlockQ4_K*>(wv);
    const BlockQ8_K* x[NT];
    init_x<NT>(xv, xs, x);
    __m256 acc[NT], accm[NT];
    for (int t = 0; t < NT; ++t) acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      uint8_t sc[8], mn[8];
      unpack_scale_min_k4(w[i].scales, sc, mn);
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i v = load256(w[i].qs + 32 * c);
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        const __m256i slo = _mm256_set1_epi16(sc[2 * c]), shi = _mm256_set1_epi16(sc[2 * c + 1]);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const __m256i a = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(x[t][i].qs + 64 * c)), slo);
          const __m256i b = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(x[t][i].qs + 64 * c + 32)), shi);
          isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(a, b));
        }
      }
      const float d = h2f(w[i].d), dmin = h2f(w[i].dmin);
      for (int t = 0; t < NT; ++t) {
        const __m256i mp = mins_times_bsums(mn, x[t][i].bsums);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * x[t][i].d), acc[t]);
        accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(dmin * x[t][i].d), accm[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum(acc[t]) - hsum(accm[t]);
  }
};

struct KQ5 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const BlockQ5_K* w = static_cast<const BlockQ5_K*>(wv);
    const BlockQ8_K* x[NT];
    init_x<NT>(xv, xs, x);
    __m256 acc[NT], accm[NT];
    for (int t = 0; t < NT; ++t) acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      uint8_t sc[8], mn[8];
      unpack_scale_min_k4(w[i].scales, sc, mn);
      const __m256i qh = load256(w[i].qh);
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i v = load256(w[i].qs + 32 * c);
        // Sub-block s takes its 5th bit from bit s of each qh byte.
        const __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4);
        const __m256i hhi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4);
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m4), hlo);
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), hhi);
        const __m256i slo = _mm256_set1_epi16(sc[2 * c]), shi = _mm256_set1_epi16(sc[2 * c + 1]);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const __m256i a = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(x[t][i].qs + 64 * c)), slo);
          const __m256i b = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(x[t][i].qs + 64 * c + 32)), shi);
          isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(a, b));
        }
      }
      const float d = h2f(w[i].d), dmin = h2f(w[i].dmin);
      for (int t = 0; t < NT; ++t) {
        const __m256i mp = mins_times_bsums(mn, x[t][i].bsums);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * x[t][i].d), acc[t]);
        accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(dmin * x[t][i].d), accm[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum(acc[t]) - hsum(accm[t]);
  }
};

// Q6_K: codes 0..63 multiply x unsigned; the -32 offset is applied once per super-block as
// 32 * sum(scale * bsum).
struct KQ6 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const BlockQ6_K* w = static_cast<const BlockQ6_K*>(wv);
    const BlockQ8_K* x[NT];
    init_x<NT>(xv, xs, x);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      const int8_t* sc = w[i].scales;
      const __m256i sc16 = _mm256_cvtepi8_epi16(load128(sc));
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i l0 = load256(w[i].ql + 64 * h), l1 = load256(w[i].ql + 64 * h + 32);
        const __m256i qh = load256(w[i].qh + 32 * h);
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
        for (int k = 0; k < 4; ++k) {
          const __m256i s = scale_pair(sc[8 * h + 2 * k], sc[8 * h + 2 * k + 1]);
#pragma GCC unroll 8
          for (int t = 0; t < NT; ++t)
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load256(x[t][i].qs + 128 * h + 32 * k)), s));
        }
      }
      const float d = h2f(w[i].d);
      for (int t = 0; t < NT; ++t) {
        const __m256i corr = _mm256_madd_epi16(sc16, load256(x[t][i].bsums));
        const __m256i tot = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(corr, 5));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), _mm256_set1_ps(d * x[t][i].d), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum(acc[t]);
  }
};

// Q3_K: code = q2 + 4 * hbit in 0..7 (value code - 4); the -4 is applied via bsums.
struct KQ3 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const BlockQ3_K* w = static_cast<const BlockQ3_K*>(wv);
    const BlockQ8_K* x[NT];
    init_x<NT>(xv, xs, x);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      int8_t sc[16];
      unpack_scales_q3_k(w[i].scales, sc);
      const __m256i sc16 = _mm256_cvtepi8_epi16(load128(sc));
      const __m256i hm = load256(w[i].hmask);
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i qv = load256(w[i].qs + 32 * h);
        for (int j = 0; j < 4; ++j) {
          const __m256i q2 = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), m2);
          const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), one);
          const __m256i q = _mm256_or_si256(q2, _mm256_slli_epi16(hb, 2));
          const __m256i s = scale_pair(sc[8 * h + 2 * j], sc[8 * h + 2 * j + 1]);
#pragma GCC unroll 8
          for (int t = 0; t < NT; ++t)
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, load256(x[t][i].qs + 128 * h + 32 * j)), s));
        }
      }
      const float d = h2f(w[i].d);
      for (int t = 0; t < NT; ++t) {
        const __m256i corr = _mm256_madd_epi16(sc16, load256(x[t][i].bsums));
        const __m256i tot = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(corr, 2));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), _mm256_set1_ps(d * x[t][i].d), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum(acc[t]);
  }
};

struct KQ2 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const BlockQ2_K* w = static_cast<const BlockQ2_K*>(wv);
    const BlockQ8_K* x[NT];
    init_x<NT>(xv, xs, x);
    __m256 acc[NT], accm[NT];
    for (int t = 0; t < NT; ++t) acc[t] = accm[t] = _mm256_setzero_ps();
    const __m256i m2 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / kQK_K; ++i) {
      const uint8_t* sc = w[i].scales;
      const __m128i scv = load128(sc);
      const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(scv, 4), _mm_set1_epi8(0x0F)));
      __m256i isum[NT];
      for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i qv = load256(w[i].qs + 32 * h);
        for (int j = 0; j < 4; ++j) {
          const __m256i q = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), m2);
          const __m256i s = scale_pair(sc[8 * h + 2 * j] & 0xF, sc[8 * h + 2 * j + 1] & 0xF);
#pragma GCC unroll 8
          for (int t = 0; t < NT; ++t)
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, load256(x[t][i].qs + 128 * h + 32 * j)), s));
        }
      }
      const float d = h2f(w[i].d), dmin = h2f(w[i].dmin);
      for (int t = 0; t < NT; ++t) {
        const __m256i mp = _mm256_madd_epi16(m16, load256(x[t][i].bsums));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * x[t][i].d), acc[t]);
        accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mp), _mm256_set1_ps(dmin * x[t][i].d), accm[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum(acc[t]) - hsum(accm[t]);
  }
};

// ---------------- Float weights (x is F32) ----------------
struct LoadF32 {
  using T = float;
  static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  static float one(const float* p) { return *p; }
};
struct LoadF16 {
  using T = uint16_t;
  static __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(load128(p)); }
  static float one(const uint16_t* p) { return h2f(*p); }
};
struct LoadBF16 {
  using T = uint16_t;
  static __m256 load8(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
  }
  static float one(const uint16_t* p) {
    uint32_t u = static_cast<uint32_t>(*p) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

// Two accumulators over 16-element steps, an 8-element step into acc0, then the last < 8
// elements added in order after the horizontal sum.
template <class L>
struct Float {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const typename L::T* w = static_cast<const typename L::T*>(wv);
    const float* x[NT];
    __m256 acc0[NT], acc1[NT];
    for (int t = 0; t < NT; ++t) {
      x[t] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(xv) + t * xs);
      acc0[t] = acc1[t] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256 w0 = L::load8(w + i), w1 = L::load8(w + i + 8);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[t] + i), acc0[t]);
        acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[t] + i + 8), acc1[t]);
      }
    }
    if (i + 8 <= n) {
      const __m256 w0 = L::load8(w + i);
      for (int t = 0; t < NT; ++t) acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[t] + i), acc0[t]);
      i += 8;
    }
    for (int t = 0; t < NT; ++t) {
      float r = hsum(_mm256_add_ps(acc0[t], acc1[t]));
      for (int64_t j = i; j < n; ++j) r += L::one(w + j) * x[t][j];
      out[t * os] = r;
    }
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
  return Tiles<OneRow<K>>::make();
}

}  // namespace

DotKernel dot_kernel_avx2(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return make<Float<LoadF32>>();
    case GgmlType::F16: return make<Float<LoadF16>>();
    case GgmlType::BF16: return make<Float<LoadBF16>>();
    case GgmlType::Q4_0: return make<Legacy<PQ4_0>>();
    case GgmlType::Q4_1: return make<Legacy<PQ4_1>>();
    case GgmlType::Q5_0: return make<Legacy<PQ5_0>>();
    case GgmlType::Q5_1: return make<Legacy<PQ5_1>>();
    case GgmlType::Q8_0: return make<Legacy<PQ8_0>>();
    case GgmlType::Q2_K: return make<KQ2>();
    case GgmlType::Q3_K: return make<KQ3>();
    case GgmlType::Q4_K: return make<KQ4>();
    case GgmlType::Q5_K: return make<KQ5>();
    case GgmlType::Q6_K: return make<KQ6>();
    default: return {};
  }
}

}  // namespace mlxs::kern::detail
