// The reference affine kernel: the float steps of affine_kernels.h written out lane by
// lane. The vector kernels must match it bit for bit.
#include <cmath>

#include "kernels/affine_kernels.h"

namespace mlxs::kern::affine {
namespace {

// One (row, token) pair.
float dot_row(const AffineMatrix& w, const Layout& l, const uint8_t* q, const uint8_t* s,
              const uint8_t* b, const uint8_t* xp) {
  const int8_t* codes = reinterpret_cast<const int8_t*>(xp);
  const float* d_lane = reinterpret_cast<const float*>(xp + l.d_offset);
  const float* xsum = reinterpret_cast<const float*>(xp + l.xsum_offset);
  const int64_t row_bytes = static_cast<int64_t>(w.row_bytes());
  const int mask = (1 << l.bits) - 1;
  float acc[16] = {};
  for (int64_t c = 0; c < l.n_chunks; ++c) {
    for (int ln = 0; ln < 16; ++ln) {
      int32_t isum = 0;
      for (int k = 4 * ln; k < 4 * ln + 4; ++k) {
        if (c * 64 + k >= row_bytes) break;
        const int byte = q[c * 64 + k];
        for (int p = 0; p < l.per; ++p)
          isum += ((byte >> (p * l.bits)) & mask) * codes[(c * l.per + p) * 64 + k];
      }
      const int64_t g = (c * 16 + ln) / l.lpg;
      const float scale = g < l.n_groups ? load_scale(w.scale_type, s, g) : 0.0f;
      acc[ln] = std::fma(static_cast<float>(isum), d_lane[c * 16 + ln] * scale, acc[ln]);
    }
  }
  for (int64_t g0 = 0; g0 < l.groups_padded; g0 += 16) {
    for (int ln = 0; ln < 16; ++ln) {
      const float bias = g0 + ln < l.n_groups ? load_scale(w.scale_type, b, g0 + ln) : 0.0f;
      acc[ln] = std::fma(bias, xsum[g0 + ln], acc[ln]);
    }
  }
  float v[8], u[4];
  for (int i = 0; i < 8; ++i) v[i] = acc[i] + acc[i + 8];
  for (int i = 0; i < 4; ++i) u[i] = v[i] + v[i + 4];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

void gemm(const AffineMatrix& w, const Layout& l, const uint8_t* xp, int nt, int64_t r0, int nr,
          float* out, int64_t out_stride) {
  const size_t sb = static_cast<size_t>(l.n_groups) * (w.scale_type == GgmlType::F32 ? 4 : 2);
  for (int64_t r = r0; r < r0 + nr; ++r) {
    const uint8_t* q = w.q + r * w.row_bytes();
    const uint8_t* s = w.scales + r * sb;
    const uint8_t* b = w.biases + r * sb;
    for (int t = 0; t < nt; ++t) out[t * out_stride + (r - r0)] = dot_row(w, l, q, s, b, xp + t * l.stride);
  }
}

}  // namespace

GemmFn gemm_scalar(int bits) { return bits == 2 || bits == 4 || bits == 8 ? gemm : nullptr; }

}  // namespace mlxs::kern::affine
