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
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax_inplace(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
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

  // Scores: each key row is read (and converted) once for all heads of the group.
  for (int b0 = 0; b0 < n_ctx; b0 += bs) {
    const uint8_t* kb = kv.k_blocks[b0 / bs] + kv.offset;
    const int n = std::min(bs, n_ctx - b0);
    for (int i = 0; i < n; ++i) {
      const uint8_t* row = kb + i * kv.row_stride;
      const float* k = reinterpret_cast<const float*>(row);
      if (kv.f16) {
        // Exact conversion, so the dot below equals dot_f32_f16 on the raw row.
        const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
        int j = 0;
        for (; j + 8 <= hd; j += 8)
          _mm256_storeu_ps(kf + j, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + j))));
        for (; j < hd; ++j) kf[j] = _cvtsh_ss(h[j]);
        k = kf;
      }
      for (int g = 0; g < n_q; ++g) scores[g * n_ctx + b0 + i] = scale * dot_f32(q + g * hd, k, hd);
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
