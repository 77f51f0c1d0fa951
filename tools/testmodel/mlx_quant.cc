#include "testmodel/mlx_quant.h"

#include <algorithm>
#include <cmath>

#include "base/fp16.h"

namespace mlxs::testmodel {

void mlx_quantize_row(const MlxQuant& m, const float* w, int64_t n, uint32_t* q,
                      uint16_t* scales, uint16_t* biases) {
  const int per_word = 32 / m.bits;
  const float qmax = static_cast<float>((1 << m.bits) - 1);
  auto to16 = [&](float x) { return m.bf16 ? f32_to_bf16(x) : f32_to_fp16(x); };
  auto from16 = [&](uint16_t h) { return m.bf16 ? bf16_to_f32(h) : fp16_to_f32(h); };
  std::fill(q, q + n / per_word, 0u);
  for (int64_t g = 0; g < n / m.group; ++g) {
    const float* x = w + g * m.group;
    const auto [lo, hi] = std::minmax_element(x, x + m.group);
    const uint16_t s16 = to16((*hi - *lo) / qmax), b16 = to16(*lo);
    scales[g] = s16;
    biases[g] = b16;
    const float scale = from16(s16), bias = from16(b16);
    for (int64_t k = 0; k < m.group; ++k) {
      // A constant group has scale 0: every q is 0 and the bias carries the value.
      const float v = scale > 0 ? std::nearbyint((x[k] - bias) / scale) : 0.0f;
      const uint32_t qi = static_cast<uint32_t>(std::clamp(v, 0.0f, qmax));
      const int64_t i = g * m.group + k;
      q[i / per_word] |= qi << (m.bits * (i % per_word));
    }
  }
}

}  // namespace mlxs::testmodel
