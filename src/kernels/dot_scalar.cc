// Scalar reference dot products: written to follow the format definitions as plainly as
// possible. Tests check the SIMD kernels against these; they also serve MLXS_CPU=scalar.
#include <cstring>

#include "base/fp16.h"
#include "kernels/dot_kernels.h"
#include "kernels/quant_impl.h"

namespace mlxs::kern::detail {
namespace {

void dot_f32(int64_t n, const void* w, const void* x, float* out) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  *out = s;
}

void dot_f16(int64_t n, const void* w, const void* x, float* out) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const float* b = static_cast<const float*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += fp16_to_f32(a[i]) * b[i];
  *out = s;
}

void dot_bf16(int64_t n, const void* w, const void* x, float* out) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const float* b = static_cast<const float*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += bf16_to_f32(a[i]) * b[i];
  *out = s;
}

// Legacy formats: integer dot per 32-block, then scaled. `codes` decodes a weight block to
// its 32 integer codes (before the offset/min is applied).
void dot_q4_0(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ4_0* a = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      isum += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j];
      isum += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + kQK / 2];
    }
    s += isum * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d));
  }
  *out = s;
}

void dot_q4_1(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ4_1* a = static_cast<const BlockQ4_1*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int isum = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      isum += (a[i].qs[j] & 0xF) * b[i].qs[j];
      isum += (a[i].qs[j] >> 4) * b[i].qs[j + kQK / 2];
    }
    // sum (d q + m) * dx qx = d dx sum(q qx) + m * (dx sum(qx)), the last factor being s.
    s += isum * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d)) + fp16_to_f32(a[i].m) * fp16_to_f32(b[i].s);
  }
  *out = s;
}

int q5_code(const uint8_t* qs, const uint8_t* qh_bytes, int e) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const int lo = e < kQK / 2 ? (qs[e] & 0xF) : (qs[e - kQK / 2] >> 4);
  return lo | (((qh >> e) & 1) << 4);
}

void dot_q5_0(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ5_0* a = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int isum = 0;
    for (int e = 0; e < kQK; ++e) isum += (q5_code(a[i].qs, a[i].qh, e) - 16) * b[i].qs[e];
    s += isum * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d));
  }
  *out = s;
}

void dot_q5_1(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ5_1* a = static_cast<const BlockQ5_1*>(w);
  const BlockQ8_1* b = static_cast<const BlockQ8_1*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int isum = 0;
    for (int e = 0; e < kQK; ++e) isum += q5_code(a[i].qs, a[i].qh, e) * b[i].qs[e];
    s += isum * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d)) + fp16_to_f32(a[i].m) * fp16_to_f32(b[i].s);
  }
  *out = s;
}

void dot_q8_0(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ8_0* a = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int isum = 0;
    for (int e = 0; e < kQK; ++e) isum += a[i].qs[e] * b[i].qs[e];
    s += isum * (fp16_to_f32(a[i].d) * fp16_to_f32(b[i].d));
  }
  *out = s;
}

// K-quants: integer sums per super-block; the mins are applied through Q8_K's bsums.
void dot_q2_k(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ2_K* a = static_cast<const BlockQ2_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int isum = 0, msum = 0;
    for (int e = 0; e < kQK_K; ++e) {
      const int q = (a[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      isum += (a[i].scales[e / 16] & 0xF) * q * b[i].qs[e];
    }
    for (int j = 0; j < 16; ++j) msum += (a[i].scales[j] >> 4) * b[i].bsums[j];
    s += b[i].d * fp16_to_f32(a[i].d) * isum - b[i].d * fp16_to_f32(a[i].dmin) * msum;
  }
  *out = s;
}

void dot_q3_k(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ3_K* a = static_cast<const BlockQ3_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t sc[16];
    unpack_scales_q3_k(a[i].scales, sc);
    int isum = 0;
    for (int e = 0; e < kQK_K; ++e) {
      const int q = (a[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const int h = (a[i].hmask[e % 32] >> (e / 32)) & 1;
      isum += sc[e / 16] * (q - (h ? 0 : 4)) * b[i].qs[e];
    }
    s += b[i].d * fp16_to_f32(a[i].d) * isum;
  }
  *out = s;
}

void dot_q4_k(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ4_K* a = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_scale_min_k4(a[i].scales, sc, m);
    int isum = 0, msum = 0;
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t byte = a[i].qs[32 * (e / 64) + e % 32];
      const int q = ((e / 32) & 1) ? (byte >> 4) : (byte & 0xF);
      isum += sc[e / 32] * q * b[i].qs[e];
    }
    for (int j = 0; j < 8; ++j) msum += m[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    s += b[i].d * fp16_to_f32(a[i].d) * isum - b[i].d * fp16_to_f32(a[i].dmin) * msum;
  }
  *out = s;
}

void dot_q5_k(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ5_K* a = static_cast<const BlockQ5_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], m[8];
    unpack_scale_min_k4(a[i].scales, sc, m);
    int isum = 0, msum = 0;
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t byte = a[i].qs[32 * (e / 64) + e % 32];
      const int q = (((e / 32) & 1) ? (byte >> 4) : (byte & 0xF)) | (((a[i].qh[e % 32] >> (e / 32)) & 1) << 4);
      isum += sc[e / 32] * q * b[i].qs[e];
    }
    for (int j = 0; j < 8; ++j) msum += m[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    s += b[i].d * fp16_to_f32(a[i].d) * isum - b[i].d * fp16_to_f32(a[i].dmin) * msum;
  }
  *out = s;
}

void dot_q6_k(int64_t n, const void* w, const void* x, float* out) {
  const BlockQ6_K* a = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* b = static_cast<const BlockQ8_K*>(x);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int isum = 0;
    for (int e = 0; e < kQK_K; ++e) {
      const int half = e / 128, quarter = (e % 128) / 32, l = e % 32;
      const uint8_t lo = a[i].ql[64 * half + 32 * (quarter & 1) + l];
      const int q = ((quarter < 2) ? (lo & 0xF) : (lo >> 4)) | (((a[i].qh[32 * half + l] >> (2 * quarter)) & 3) << 4);
      isum += a[i].scales[e / 16] * (q - 32) * b[i].qs[e];
    }
    s += b[i].d * fp16_to_f32(a[i].d) * isum;
  }
  *out = s;
}

// The scalar "tile" just repeats vec_dot per token, so it is trivially batch invariant.
template <VecDotFn F>
void tile_of(int64_t n, const void* w, const void* x, size_t x_stride, int nt, float* out,
             int64_t out_stride) {
  for (int t = 0; t < nt; ++t) F(n, w, static_cast<const uint8_t*>(x) + t * x_stride, out + t * out_stride);
}

template <VecDotFn F>
void gemm_of(int64_t n, const void* w, size_t w_stride, int nr, const void* x, size_t x_stride, int nt,
             float* out, int64_t out_stride) {
  for (int r = 0; r < nr; ++r)
    tile_of<F>(n, static_cast<const uint8_t*>(w) + r * w_stride, x, x_stride, nt, out + r, out_stride);
}

template <VecDotFn F>
DotKernel make() {
  DotKernel k;
  k.vec_dot = F;
  k.tile = tile_of<F>;
  k.max_tokens = 8;
  k.gemm = gemm_of<F>;
  return k;
}

}  // namespace

DotKernel dot_kernel_scalar(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return make<dot_f32>();
    case GgmlType::F16: return make<dot_f16>();
    case GgmlType::BF16: return make<dot_bf16>();
    case GgmlType::Q4_0: return make<dot_q4_0>();
    case GgmlType::Q4_1: return make<dot_q4_1>();
    case GgmlType::Q5_0: return make<dot_q5_0>();
    case GgmlType::Q5_1: return make<dot_q5_1>();
    case GgmlType::Q8_0: return make<dot_q8_0>();
    case GgmlType::Q2_K: return make<dot_q2_k>();
    case GgmlType::Q3_K: return make<dot_q3_k>();
    case GgmlType::Q4_K: return make<dot_q4_k>();
    case GgmlType::Q5_K: return make<dot_q5_k>();
    case GgmlType::Q6_K: return make<dot_q6_k>();
    default: return {};
  }
}

}  // namespace mlxs::kern::detail
