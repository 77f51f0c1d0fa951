#include "kernels/ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace mlxs::kern {
namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// exp of 8 floats (Cephes' expf: a degree-6 polynomial on x - n ln 2, then 2^n; about 1e-7
// relative error). Inputs are clamped to [-87.3, 88], where 2^n stays a normal float.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Up to 8 floats from p (n of them), the rest of the lanes `fill`.
inline __m256 load_partial(const float* p, int64_t n, float fill) {
  alignas(32) float b[8];
  for (int i = 0; i < 8; ++i) b[i] = i < n ? p[i] : fill;
  return _mm256_load_ps(b);
}

}  // namespace

void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void silu_mul_inplace(float* gate, const float* up, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.f);
  auto silu_mul = [&](__m256 g, __m256 u) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(gate + i, silu_mul(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i < n) {
    alignas(32) float r[8];
    _mm256_store_ps(r, silu_mul(load_partial(gate + i, n - i, 0.f), load_partial(up + i, n - i, 0.f)));
    for (int64_t j = i; j < n; ++j) gate[j] = r[j - i];
  }
}

void softmax_inplace(float* x, int64_t n) {
  if (n <= 0) return;
  // Every element goes through the same vector exp whatever n is; lanes past n are dropped.
  __m256 vmx = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(x + i));
  if (i < n) vmx = _mm256_max_ps(vmx, load_partial(x + i, n - i, -INFINITY));
  alignas(32) float m8[8];
  _mm256_store_ps(m8, vmx);
  const float mx = *std::max_element(m8, m8 + 8);
  const __m256 vm = _mm256_set1_ps(mx);
  // The sum in double, as 4 + 4 lanes.
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  auto add = [&](__m256 e) {
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  };
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    add(e);
  }
  if (i < n) {
    alignas(32) float r[8];
    const __m256 e = exp_ps(_mm256_sub_ps(load_partial(x + i, n - i, -INFINITY), vm));
    _mm256_store_ps(r, e);
    for (int64_t j = i; j < n; ++j) x[j] = r[j - i];
    for (int64_t k = n - i; k < 8; ++k) r[k] = 0.f;
    add(_mm256_load_ps(r));
  }
  alignas(32) double d[4];
  _mm256_store_pd(d, _mm256_add_pd(s0, s1));
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / ((d[0] + d[1]) + (d[2] + d[3]))));
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  for (; i < n; ++i) x[i] *= _mm256_cvtss_f32(inv);
}

float dot_f32(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 8)));
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), b0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), b1, acc1);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), b0, acc0);
  }
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * _cvtsh_ss(b[i]);
  return s;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 vx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, vx, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * _cvtsh_ss(x[i]);
}

void f32_to_f16_row(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void rope_inplace(float* x, int n_heads, int head_dim, int rope_dim, int pos,
                  const float* inv_freq, bool neox) {
  const int half = rope_dim / 2;
  for (int i = 0; i < half; ++i) {
    // double for the angle: positions reach tens of thousands and float loses the phase.
    double theta = static_cast<double>(pos) * inv_freq[i];
    float c = static_cast<float>(std::cos(theta));
    float s = static_cast<float>(std::sin(theta));
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + static_cast<int64_t>(h) * head_dim;
      int i0 = neox ? i : 2 * i;
      int i1 = neox ? i + half : 2 * i + 1;
      float a = v[i0], b = v[i1];
      v[i0] = a * c - b * s;
      v[i1] = a * s + b * c;
    }
  }
}

}  // namespace mlxs::kern

namespace mlxs::kern {
namespace {

// Lane j = the sum of a[j]'s 8 lanes, ((0+1)+(2+3)) + ((4+5)+(6+7)) for every j.
inline __m256 reduce8(const __m256* a) {
  const __m256 q0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  const __m256 q1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
}

// s[j] = scale * dot(q, k_j) for the m <= 8 key rows k_j (f32, hd a multiple of 8, rows
// `stride` floats apart). Each key's dot is one FMA chain over its 8-float chunks, summed
// across lanes by reduce8: the same operations whichever keys share the call.
void scores8(const float* q, const float* k, size_t stride, int m, int hd, float scale, float* s) {
  __m256 acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
  for (int c = 0; c < hd; c += 8) {
    const __m256 qc = _mm256_loadu_ps(q + c);
    for (int j = 0; j < m; ++j) acc[j] = _mm256_fmadd_ps(qc, _mm256_loadu_ps(k + j * stride + c), acc[j]);
  }
  const __m256 r = _mm256_mul_ps(_mm256_set1_ps(scale), reduce8(acc));
  if (m == 8) {
    _mm256_storeu_ps(s, r);
  } else {
    alignas(32) float b[8];
    _mm256_store_ps(b, r);
    std::copy(b, b + m, s);
  }
}

// out[g][0 .. 8 * NV) += sum over positions p of s[g][p] * v_p[d0 ..], for NG heads, in
// position order, each element with one FMA per position (as axpy does). The NG x NV
// accumulators stay in registers while every value row of the sequence streams past.
template <int NG, int NV>
void accumulate_values(const float* scores, int n_ctx, const KvHeadView& kv, int d0, float* out, int hd) {
  __m256 acc[NG][NV];
  for (int g = 0; g < NG; ++g)
    for (int j = 0; j < NV; ++j) acc[g][j] = _mm256_loadu_ps(out + g * hd + d0 + 8 * j);
  const int bs = kv.block_size;
  for (int b0 = 0; b0 < n_ctx; b0 += bs) {
    const uint8_t* vb = kv.v_blocks[b0 / bs] + kv.offset;
    const int n = std::min(bs, n_ctx - b0);
    for (int i = 0; i < n; ++i) {
      const uint8_t* row = vb + i * kv.row_stride;
      __m256 v[NV];
      for (int j = 0; j < NV; ++j) {
        v[j] = kv.f16 ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(
                            reinterpret_cast<const uint16_t*>(row) + d0 + 8 * j)))
                      : _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d0 + 8 * j);
      }
      for (int g = 0; g < NG; ++g) {
        const __m256 s = _mm256_broadcast_ss(scores + g * n_ctx + b0 + i);
        for (int j = 0; j < NV; ++j) acc[g][j] = _mm256_fmadd_ps(s, v[j], acc[g][j]);
      }
    }
  }
  for (int g = 0; g < NG; ++g)
    for (int j = 0; j < NV; ++j) _mm256_storeu_ps(out + g * hd + d0 + 8 * j, acc[g][j]);
}

template <int NV>
void accumulate_values_heads(const float* scores, int n_q, int n_ctx, const KvHeadView& kv, int d0, float* out, int hd) {
  int g = 0;
  for (; g + 4 <= n_q; g += 4) accumulate_values<4, NV>(scores + g * n_ctx, n_ctx, kv, d0, out + g * hd, hd);
  switch (n_q - g) {
    case 3: accumulate_values<3, NV>(scores + g * n_ctx, n_ctx, kv, d0, out + g * hd, hd); break;
    case 2: accumulate_values<2, NV>(scores + g * n_ctx, n_ctx, kv, d0, out + g * hd, hd); break;
    case 1: accumulate_values<1, NV>(scores + g * n_ctx, n_ctx, kv, d0, out + g * hd, hd); break;
    default: break;
  }
}

}  // namespace

size_t attend_scratch(int n_q, int hd, int n_ctx) {
  return static_cast<size_t>(n_q) * n_ctx + hd;
}

void attend(const float* q, int n_q, int hd, float scale, const KvHeadView& kv, int n_ctx, float* scratch,
            float* out) {
  float* scores = scratch;                // n_q rows of n_ctx
  float* kf = scratch + n_q * n_ctx;      // one key row as float
  const int bs = kv.block_size;

  // Scores: key rows 8 at a time, converted to f32 once for all heads of the group.
  if (hd % 8 == 0 && hd <= 256) {
    alignas(32) float k8[8 * 256];
    for (int b0 = 0; b0 < n_ctx; b0 += bs) {
      const uint8_t* kb = kv.k_blocks[b0 / bs] + kv.offset;
      const int n = std::min(bs, n_ctx - b0);
      for (int i = 0; i < n; i += 8) {
        const int m = std::min(8, n - i);
        const float* k = reinterpret_cast<const float*>(kb + i * kv.row_stride);
        size_t stride = kv.row_stride / sizeof(float);
        if (kv.f16) {
          for (int j = 0; j < m; ++j) {
            const uint16_t* h = reinterpret_cast<const uint16_t*>(kb + (i + j) * kv.row_stride);
            for (int c = 0; c < hd; c += 8)
              _mm256_store_ps(k8 + j * hd + c, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + c))));
          }
          k = k8;
          stride = hd;
        }
        for (int g = 0; g < n_q; ++g) scores8(q + g * hd, k, stride, m, hd, scale, scores + g * n_ctx + b0 + i);
      }
    }
  } else {
    for (int b0 = 0; b0 < n_ctx; b0 += bs) {
      const uint8_t* kb = kv.k_blocks[b0 / bs] + kv.offset;
      const int n = std::min(bs, n_ctx - b0);
      for (int i = 0; i < n; ++i) {
        const uint8_t* row = kb + i * kv.row_stride;
        const float* k = reinterpret_cast<const float*>(row);
        if (kv.f16) {
          // Exact conversion, so the dot below equals dot_f32_f16 on the raw row.
          const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
          for (int j = 0; j < hd; ++j) kf[j] = _cvtsh_ss(h[j]);
          k = kf;
        }
        for (int g = 0; g < n_q; ++g) scores[g * n_ctx + b0 + i] = scale * dot_f32(q + g * hd, k, hd);
      }
    }
  }
  for (int g = 0; g < n_q; ++g) softmax_inplace(scores + g * n_ctx, n_ctx);

  // Values, 16 or 8 dimensions of up to four heads at a time, then any last dimensions.
  for (int g = 0; g < n_q; ++g) std::fill(out + g * hd, out + (g + 1) * hd, 0.f);
  int d = 0;
  for (; d + 16 <= hd; d += 16) accumulate_values_heads<2>(scores, n_q, n_ctx, kv, d, out, hd);
  for (; d + 8 <= hd; d += 8) accumulate_values_heads<1>(scores, n_q, n_ctx, kv, d, out, hd);
  for (; d < hd; ++d) {
    for (int g = 0; g < n_q; ++g) {
      float acc = 0.f;
      for (int p = 0; p < n_ctx; ++p) {
        const uint8_t* row = kv.v_blocks[p / bs] + kv.offset + (p % bs) * kv.row_stride;
        const float v = kv.f16 ? _cvtsh_ss(reinterpret_cast<const uint16_t*>(row)[d]) : reinterpret_cast<const float*>(row)[d];
        acc += scores[g * n_ctx + p] * v;
      }
      out[g * hd + d] = acc;
    }
  }
}

}  // namespace mlxs::kern
