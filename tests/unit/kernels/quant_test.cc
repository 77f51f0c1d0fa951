// Format tests: round-trip error per type, and hand-built blocks that must decode to values
// worked out from the format definitions (so a wrong formula cannot pass by symmetry).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "kernels/quant.h"
#include "test_util.h"

namespace mlxs::kern {
namespace {

using testing::dequantize;
using testing::quantize;
using testing::random_floats;

struct RoundTripCase {
  GgmlType type;
  double max_rel_rmse;  // RMSE of the round trip relative to the data's RMS
};

class RoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTrip, ErrorWithinBound) {
  const RoundTripCase c = GetParam();
  const QuantOps* ops = quant_ops(c.type);
  ASSERT_NE(ops, nullptr);
  ASSERT_EQ(ops->type, c.type);
  const int64_t n = 8192;
  for (float scale : {1.f, 1e-3f, 50.f}) {
    std::vector<float> x = random_floats(n, 1234, scale);
    // A few outliers, as real weights have.
    x[5] = 6 * scale;
    x[3000] = -7 * scale;
    const auto q = quantize(c.type, x);
    const auto y = dequantize(c.type, q.data(), n);
    double se = 0, ss = 0;
    for (int64_t i = 0; i < n; ++i) {
      se += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      ss += double(x[i]) * x[i];
    }
    const double rel = std::sqrt(se / ss);
    EXPECT_LT(rel, c.max_rel_rmse) << type_name(c.type) << " scale " << scale;
    RecordProperty(std::string("rel_rmse_") + type_name(c.type), std::to_string(rel));
  }
}

TEST_P(RoundTrip, ZerosStayZero) {
  const GgmlType t = GetParam().type;
  const int64_t n = 512;
  std::vector<float> x(n, 0.f);
  const auto y = dequantize(t, quantize(t, x).data(), n);
  for (float v : y) EXPECT_EQ(v, 0.f) << type_name(t);
}

TEST_P(RoundTrip, QuantizingTwiceIsStable) {
  // Values already on the grid should quantize back onto (almost) the same grid.
  const GgmlType t = GetParam().type;
  const int64_t n = 1024;
  const auto x = random_floats(n, 99);
  const auto y1 = dequantize(t, quantize(t, x).data(), n);
  const auto y2 = dequantize(t, quantize(t, y1).data(), n);
  double se = 0, ss = 0;
  for (int64_t i = 0; i < n; ++i) {
    se += (double(y2[i]) - y1[i]) * (double(y2[i]) - y1[i]);
    ss += double(y1[i]) * y1[i];
  }
  EXPECT_LT(std::sqrt(se / ss), GetParam().max_rel_rmse) << type_name(t);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, RoundTrip,
    ::testing::Values(RoundTripCase{GgmlType::F32, 1e-9}, RoundTripCase{GgmlType::F16, 1e-3},
                      RoundTripCase{GgmlType::BF16, 5e-3}, RoundTripCase{GgmlType::Q4_0, 0.1},
                      RoundTripCase{GgmlType::Q4_1, 0.095}, RoundTripCase{GgmlType::Q5_0, 0.05},
                      RoundTripCase{GgmlType::Q5_1, 0.047}, RoundTripCase{GgmlType::Q8_0, 0.0065},
                      RoundTripCase{GgmlType::Q8_1, 0.0065}, RoundTripCase{GgmlType::Q2_K, 0.32},
                      RoundTripCase{GgmlType::Q3_K, 0.18}, RoundTripCase{GgmlType::Q4_K, 0.09},
                      RoundTripCase{GgmlType::Q5_K, 0.045}, RoundTripCase{GgmlType::Q6_K, 0.023},
                      RoundTripCase{GgmlType::Q8_K, 0.0095}),
    [](const ::testing::TestParamInfo<RoundTripCase>& i) { return std::string(type_name(i.param.type)); });

TEST(QuantOps, TableFacts) {
  EXPECT_EQ(quant_ops(GgmlType::Q4_0)->vec_dot_type, GgmlType::Q8_0);
  EXPECT_EQ(quant_ops(GgmlType::Q5_0)->vec_dot_type, GgmlType::Q8_0);
  EXPECT_EQ(quant_ops(GgmlType::Q8_0)->vec_dot_type, GgmlType::Q8_0);
  EXPECT_EQ(quant_ops(GgmlType::Q4_1)->vec_dot_type, GgmlType::Q8_1);
  EXPECT_EQ(quant_ops(GgmlType::Q5_1)->vec_dot_type, GgmlType::Q8_1);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
    EXPECT_EQ(quant_ops(t)->vec_dot_type, GgmlType::Q8_K);
  EXPECT_EQ(quant_ops(GgmlType::F16)->vec_dot_type, GgmlType::F32);
  EXPECT_EQ(quant_ops(GgmlType::BF16)->vec_dot_type, GgmlType::F32);
  EXPECT_EQ(quant_ops(GgmlType::F32)->vec_dot_type, GgmlType::F32);
  for (GgmlType t : testing::weight_types()) EXPECT_NE(quant_ops(t)->vec_dot, nullptr) << type_name(t);
  EXPECT_EQ(quant_ops(GgmlType::Q8_K)->vec_dot, nullptr);
  EXPECT_EQ(quant_ops(GgmlType::I32), nullptr);
  EXPECT_EQ(quant_ops(GgmlType::F64), nullptr);
}

// ---------------- Hand-built blocks ----------------

constexpr uint16_t kHalf = 0x3800;     // 0.5 in fp16
constexpr uint16_t kQuarter = 0x3400;  // 0.25
constexpr uint16_t kOne = 0x3C00;      // 1.0
constexpr uint16_t kMinusOne = 0xBC00; // -1.0

TEST(KnownBlocks, Q4_0) {
  BlockQ4_0 b;
  b.d = kHalf;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequantize(GgmlType::Q4_0, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * (7 - j)) << j;
  }
  EXPECT_EQ(y[0], -4.f);
  EXPECT_EQ(y[15], 3.5f);
}

TEST(KnownBlocks, Q4_1) {
  BlockQ4_1 b;
  b.d = kQuarter;
  b.m = kMinusOne;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (3 << 4));
  const auto y = dequantize(GgmlType::Q4_1, &b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * j - 1.f);
    EXPECT_EQ(y[j + 16], -0.25f);
  }
}

TEST(KnownBlocks, Q5_0AndQ5_1) {
  // qh = 0x80000001: element 0 and element 31 carry the fifth bit.
  BlockQ5_0 b;
  b.d = kOne;
  const uint8_t qh[4] = {0x01, 0x00, 0x00, 0x80};
  std::memcpy(b.qh, qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = 0x52;  // low nibble 2, high nibble 5
  auto y = dequantize(GgmlType::Q5_0, &b, 32);
  EXPECT_EQ(y[0], 2.f + 16 - 16);
  EXPECT_EQ(y[1], 2.f - 16);
  EXPECT_EQ(y[16], 5.f - 16);
  EXPECT_EQ(y[31], 5.f + 16 - 16);

  BlockQ5_1 c;
  c.d = kHalf;
  c.m = kOne;
  std::memcpy(c.qh, qh, 4);
  for (int j = 0; j < 16; ++j) c.qs[j] = 0x52;
  y = dequantize(GgmlType::Q5_1, &c, 32);
  EXPECT_EQ(y[0], 0.5f * 18 + 1);
  EXPECT_EQ(y[1], 0.5f * 2 + 1);
  EXPECT_EQ(y[16], 0.5f * 5 + 1);
  EXPECT_EQ(y[31], 0.5f * 21 + 1);
}

TEST(KnownBlocks, Q8_0AndQ8_1AndQ8_K) {
  BlockQ8_0 b;
  b.d = 0x4000;  // 2.0
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j - 16);
  auto y = dequantize(GgmlType::Q8_0, &b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 2.f * (j - 16));

  // Q8_1's s is d * sum(q).
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j);  // d = 31/127
  const auto q = quantize(GgmlType::Q8_1, x);
  BlockQ8_1 c;
  std::memcpy(&c, q.data(), sizeof(c));
  int sum = 0;
  for (int j = 0; j < 32; ++j) sum += c.qs[j];
  EXPECT_EQ(c.qs[31], 127);
  EXPECT_NEAR(fp16_to_f32(c.s), fp16_to_f32(c.d) * sum, 0.5);  // s uses the unrounded d
  EXPECT_NEAR(fp16_to_f32(c.s), 496.f, 0.5);

  BlockQ8_K k;
  k.d = 0.5f;
  for (int j = 0; j < 256; ++j) k.qs[j] = static_cast<int8_t>(j - 128);
  y = dequantize(GgmlType::Q8_K, &k, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], 0.5f * (j - 128));

  // bsums are sums over 16 consecutive codes.
  const auto r = random_floats(256, 5);
  const auto qk = quantize(GgmlType::Q8_K, r);
  std::memcpy(&k, qk.data(), sizeof(k));
  for (int g = 0; g < 16; ++g) {
    int s = 0;
    for (int j = 0; j < 16; ++j) s += k.qs[16 * g + j];
    EXPECT_EQ(k.bsums[g], s);
  }
}

TEST(KnownBlocks, Q2_K) {
  BlockQ2_K b;
  b.d = kOne;
  b.dmin = kHalf;
  // Sub-block k (16 elements): scale 1 + k % 4, min 2.
  for (int k = 0; k < 16; ++k) b.scales[k] = static_cast<uint8_t>((1 + k % 4) | (2 << 4));
  // Every byte 0b11'10'01'00: the element in 32-group g of a 128-half has code g.
  std::memset(b.qs, 0xE4, sizeof(b.qs));
  const auto y = dequantize(GgmlType::Q2_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int g = (e % 128) / 32, k = e / 16;
    EXPECT_EQ(y[e], 1.f * (1 + k % 4) * g - 0.5f * 2) << e;
  }
}

TEST(KnownBlocks, Q3_K) {
  BlockQ3_K b;
  b.d = kOne;
  // Stored 6-bit scales 24 + j, i.e. signed j - 8, packed by hand: low nibbles in bytes 0-7
  // (j < 8 low, j >= 8 high nibble), top bits 2*(j/4) of byte 8 + j%4: 1,1,2,2 -> 0xA5.
  const uint8_t sc[12] = {0x08, 0x19, 0x2A, 0x3B, 0x4C, 0x5D, 0x6E, 0x7F, 0xA5, 0xA5, 0xA5, 0xA5};
  std::memcpy(b.scales, sc, 12);
  std::memset(b.qs, 0xE4, sizeof(b.qs));   // code g in 32-group g, as Q2_K
  std::memset(b.hmask, 0x0F, sizeof(b.hmask));  // high bit set for elements 0..127 only
  const auto y = dequantize(GgmlType::Q3_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int g = (e % 128) / 32, j = e / 16;
    const int q = e < 128 ? g : g - 4;
    EXPECT_EQ(y[e], static_cast<float>((j - 8) * q)) << e;
  }
}

// Scales/mins bytes exercising both halves of the 6-bit packing.
constexpr uint8_t kK4Scales[12] = {0xC1, 2, 3, 4, 0x45, 6, 7, 8, 0x21, 0x43, 0x65, 0x87};
constexpr int kK4Sc[8] = {1, 2, 3, 4, 49, 3, 5, 7};
constexpr int kK4Mn[8] = {5, 6, 7, 8, 18, 4, 6, 8};

TEST(KnownBlocks, Q4_K) {
  BlockQ4_K b;
  b.d = kHalf;
  b.dmin = kQuarter;
  std::memcpy(b.scales, kK4Scales, 12);
  // Chunk c (64 elements) byte l: low nibble l % 16 (sub-block 2c), high nibble c (2c+1).
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>((l % 16) | (c << 4));
  const auto y = dequantize(GgmlType::Q4_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int sub = e / 32, c = e / 64, l = e % 32;
    const int q = sub % 2 == 0 ? l % 16 : c;
    EXPECT_EQ(y[e], 0.5f * kK4Sc[sub] * q - 0.25f * kK4Mn[sub]) << e;
  }
}

TEST(KnownBlocks, Q5_K) {
  BlockQ5_K b;
  b.d = kHalf;
  b.dmin = kQuarter;
  std::memcpy(b.scales, kK4Scales, 12);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>((l % 16) | (c << 4));
  std::memset(b.qh, 0xAA, sizeof(b.qh));  // odd sub-blocks get the fifth bit
  const auto y = dequantize(GgmlType::Q5_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int sub = e / 32, c = e / 64, l = e % 32;
    const int q = sub % 2 == 0 ? l % 16 : c + 16;
    EXPECT_EQ(y[e], 0.5f * kK4Sc[sub] * q - 0.25f * kK4Mn[sub]) << e;
  }
}

TEST(KnownBlocks, Q6_K) {
  BlockQ6_K b;
  b.d = kHalf;
  for (int k = 0; k < 16; ++k) b.scales[k] = static_cast<int8_t>(k - 8);
  std::memset(b.ql, 0x21, sizeof(b.ql));  // low nibble 1 (quarters 0,1), high 2 (quarters 2,3)
  std::memset(b.qh, 0xE4, sizeof(b.qh));  // quarter k's top two bits are k
  const auto y = dequantize(GgmlType::Q6_K, &b, 256);
  const int q_of_quarter[4] = {1, 1 + 16, 2 + 32, 2 + 48};
  for (int e = 0; e < 256; ++e) {
    const int quarter = (e % 128) / 32;
    EXPECT_EQ(y[e], 0.5f * (e / 16 - 8) * (q_of_quarter[quarter] - 32)) << e;
  }
}

TEST(KnownBlocks, FloatTypes) {
  const uint16_t h[3] = {kOne, 0xC000, kHalf};
  auto y = dequantize(GgmlType::F16, h, 3);
  EXPECT_EQ(y[0], 1.f);
  EXPECT_EQ(y[1], -2.f);
  EXPECT_EQ(y[2], 0.5f);
  const uint16_t bf[3] = {0x3F80, 0xC000, 0x3F00};
  y = dequantize(GgmlType::BF16, bf, 3);
  EXPECT_EQ(y[0], 1.f);
  EXPECT_EQ(y[1], -2.f);
  EXPECT_EQ(y[2], 0.5f);
  // Conversions of 17 values (vector body plus scalar tail) agree with the scalar helpers.
  const auto x = random_floats(17, 3);
  const auto q = quantize(GgmlType::F16, x);
  const uint16_t* qh = reinterpret_cast<const uint16_t*>(q.data());
  for (int i = 0; i < 17; ++i) EXPECT_EQ(qh[i], f32_to_fp16(x[i]));
}

// The quantizers place the element of largest magnitude on the extreme code exactly.
TEST(Quantizers, ExtremeLandsOnGrid) {
  std::vector<float> x(256, 0.f);
  for (int i = 0; i < 256; ++i) x[i] = 0.01f * ((i * 37) % 17 - 8);
  x[10] = -3.f;
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::Q8_K}) {
    const auto y = dequantize(t, quantize(t, x).data(), 256);
    EXPECT_NEAR(y[10], -3.f, 2e-3) << type_name(t);
  }
}

}  // namespace
}  // namespace mlxs::kern
