// Helpers shared by the kernel tests: random data and quantized rows.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/quant.h"
#include "model/ggml_type.h"

namespace mlxs::kern::testing {

inline std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) f = dist(rng);
  return v;
}

inline std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_size(t, static_cast<int64_t>(x.size())));
  quant_ops(t)->from_float(x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

inline std::vector<float> dequantize(GgmlType t, const void* q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  quant_ops(t)->to_float(q, y.data(), n);
  return y;
}

// Types that can be weights of a matmul.
inline const std::vector<GgmlType>& weight_types() {
  static const std::vector<GgmlType> v = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                                          GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                                          GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                                          GgmlType::Q6_K};
  return v;
}

inline int block_of(GgmlType t) { return type_info(t).block_size; }

}  // namespace mlxs::kern::testing
