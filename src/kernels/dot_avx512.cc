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

#include "kernels/dot_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace mlxs::kern::detail {
namespace {

// 32 zmm registers: eight tokens' accumulators plus the unpacked weights fit.
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
// s8 * s8 with vpdpbusd (u8 * s8): |w| is the unsigned operand, w's sign moves onto x.
struct SignedW512 {
  __m512i abs;
  __mmask64 neg;
  explicit SignedW512(__m512i q) : abs(_mm512_abs_epi8(q)), neg(_mm512_movepi8_mask(q)) {}
  __m512i dot(__m512i x) const {
    const __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), abs, sx);
  }
};

struct Q8_0W {
  using W = BlockQ8_0;
  static __m256i one(const W& b) { return load256(b.qs); }
  static __m512i two(const W& a, const W& b) { return join(load256(a.qs), load256(b.qs)); }
};
struct Q4_0W {
  using W = BlockQ4_0;
  static __m256i one(const W& b) {
    const __m128i v = load128(b.qs);
    const __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(8));
  }
  // Both blocks' nibbles are split in one go: [qs_a | qs_b | qs_a >> 4 | qs_b >> 4] masked,
  // then the 128-bit lanes reordered to [lo_a hi_a lo_b hi_b], the element order of x.
  static __m512i two(const W& a, const W& b) {
    const __m256i v = _mm256_set_m128i(load128(b.qs), load128(a.qs));
    const __m512i q = _mm512_and_si512(join(v, _mm256_srli_epi16(v, 4)), _mm512_set1_epi8(0x0F));
    return _mm512_sub_epi8(_mm512_shuffle_i64x2(q, q, _MM_SHUFFLE(3, 1, 2, 0)), _mm512_set1_epi8(8));
  }
};

template <class P>
struct Legacy512 {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    using W = typename P::W;
    const W* w = static_cast<const W*>(wv);
    const BlockQ8_0* x[NT];
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) {
      x[t] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(xv) + t * xs);
      acc[t] = _mm512_setzero_ps();
    }
    const int64_t nb = n / kQK;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
      const SignedW512 q(P::two(w[i], w[i + 1]));
      const float d0 = h2f(w[i].d), d1 = h2f(w[i + 1].d);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m512i p = q.dot(join(load256(x[t][i].qs), load256(x[t][i + 1].qs)));
        // Lanes 0-7 hold block i's partial sums, lanes 8-15 block i+1's.
        const __m512 s = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d0 * h2f(x[t][i].d)),
                                              _mm512_set1_ps(d1 * h2f(x[t][i + 1].d)));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc[t]);
      }
    }
    if (i < nb) {  // odd block count: the upper half is zero data with zero scale
      const SignedW512 q(_mm512_zextsi256_si512(P::one(w[i])));
      const float d0 = h2f(w[i].d);
      for (int t = 0; t < NT; ++t) {
        const __m512i p = q.dot(_mm512_zextsi256_si512(load256(x[t][i].qs)));
        const __m512 s = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d0 * h2f(x[t][i].d)), _mm512_setzero_ps());
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum512(acc[t]);
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

// Two accumulators over 32-element steps, a 16-element step into acc0, the masked rest
// into acc1.
template <class L>
struct Float {
  template <int NT>
  static void run(int64_t n, const void* wv, const void* xv, size_t xs, float* out, int64_t os) {
    const typename L::T* w = static_cast<const typename L::T*>(wv);
    const float* x[NT];
    __m512 acc0[NT], acc1[NT];
    for (int t = 0; t < NT; ++t) {
      x[t] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(xv) + t * xs);
      acc0[t] = acc1[t] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      const __m512 w0 = L::load16(w + i), w1 = L::load16(w + i + 16);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x[t] + i), acc0[t]);
        acc1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x[t] + i + 16), acc1[t]);
      }
    }
    if (i + 16 <= n) {
      const __m512 w0 = L::load16(w + i);
      for (int t = 0; t < NT; ++t) acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x[t] + i), acc0[t]);
      i += 16;
    }
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
      const __m512 w0 = L::load_part(w + i, m);
      for (int t = 0; t < NT; ++t) acc1[t] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x[t] + i), acc1[t]);
    }
    for (int t = 0; t < NT; ++t) out[t * os] = hsum512(_mm512_add_ps(acc0[t], acc1[t]));
  }
};

template <class K>
void vec_dot_of(int64_t n, const void* w, const void* x, float* out) {
  K::template run<1>(n, w, x, 0, out, 0);
}

template <class K>
void tile_of(int64_t n, const void* w, const void* x, size_t xs, int nt, float* out, int64_t os) {
  switch (nt) {
    case 1: K::template run<1>(n, w, x, xs, out, os); break;
    case 2: K::template run<2>(n, w, x, xs, out, os); break;
    case 3: K::template run<3>(n, w, x, xs, out, os); break;
    case 4: K::template run<4>(n, w, x, xs, out, os); break;
    case 5: K::template run<5>(n, w, x, xs, out, os); break;
    case 6: K::template run<6>(n, w, x, xs, out, os); break;
    case 7: K::template run<7>(n, w, x, xs, out, os); break;
    default: K::template run<8>(n, w, x, xs, out, os); break;
  }
}
static_assert(kMaxTokens == 8, "tile_of dispatches nt = 1..8");

template <class K>
DotKernel make() {
  DotKernel k;
  k.vec_dot = vec_dot_of<K>;
  k.tile = tile_of<K>;
  k.max_tokens = kMaxTokens;
  return k;
}

}  // namespace

DotKernel dot_kernel_avx512(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return make<Float<LoadF32>>();
    case GgmlType::F16: return make<Float<LoadF16>>();
    case GgmlType::BF16: return make<Float<LoadBF16>>();
    case GgmlType::Q4_0: return make<Legacy512<Q4_0W>>();
    case GgmlType::Q8_0: return make<Legacy512<Q8_0W>>();
    case GgmlType::Q4_K: return make<KQ4>();
    case GgmlType::Q6_K: return make<KQ6>();
    default: return {};
  }
}

}  // namespace mlxs::kern::detail

#pragma GCC pop_options
#pragma GCC diagnostic pop
