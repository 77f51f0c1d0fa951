// MLX affine kernels: the packing read as mlx-lm writes it, every instruction set equal to
// the scalar reference bit for bit, matmul within quantization error of a double-precision
// product of the dequantized weights, and results independent of batch and thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/cpu_features.h"
#include "base/fp16.h"
#include "kernels/affine.h"
#include "kernels/affine_kernels.h"
#include "test_util.h"

namespace mlxs::kern {
namespace {

bool has_avx512() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}
bool has_avx2() { return cpu_features().avx2 && cpu_features().fma && cpu_features().f16c; }

// A random matrix with its storage: codes uniform over all values, scales and biases as a
// min/max quantizer of weights around zero would give them.
struct Owned {
  std::vector<uint8_t> q, s, b;
  AffineMatrix m;
};

void put_scale(GgmlType t, std::vector<uint8_t>& v, size_t i, float f) {
  if (t == GgmlType::F32) {
    std::memcpy(v.data() + 4 * i, &f, 4);
  } else {
    const uint16_t h = t == GgmlType::F16 ? f32_to_fp16(f) : f32_to_bf16(f);
    std::memcpy(v.data() + 2 * i, &h, 2);
  }
}

Owned random_matrix(int bits, int group, int64_t cols, int64_t rows, GgmlType st, uint32_t seed) {
  Owned o;
  o.m = {bits, group, cols, rows, nullptr, nullptr, nullptr, st};
  std::mt19937 rng(seed);
  o.q.resize(o.m.row_bytes() * rows);
  for (auto& c : o.q) c = static_cast<uint8_t>(rng());
  const size_t ng = static_cast<size_t>(rows * (cols / group)), es = st == GgmlType::F32 ? 4 : 2;
  o.s.resize(ng * es);
  o.b.resize(ng * es);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  for (size_t g = 0; g < ng; ++g) {
    const float range = 0.1f * u(rng);
    put_scale(st, o.s, g, range / float((1 << bits) - 1));
    put_scale(st, o.b, g, -range * 0.5f * u(rng));
  }
  o.m.q = o.q.data();
  o.m.scales = o.s.data();
  o.m.biases = o.b.data();
  return o;
}

std::vector<float> dequantized(const AffineMatrix& m) {
  std::vector<float> w(m.n_rows * m.n_cols);
  for (int64_t r = 0; r < m.n_rows; ++r) get_row(m, r, &w[r * m.n_cols]);
  return w;
}

TEST(Affine, HandPackedWordsDecode) {
  // 4-bit: word 0x76543210 holds 0..7, lowest bits first; scale 0.5, bias -1.
  std::vector<uint32_t> words(8, 0x76543210u);
  words[1] = 0xfedcba98u;
  const uint16_t s = f32_to_fp16(0.5f), b = f32_to_fp16(-1.0f);
  AffineMatrix m{4, 64, 64, 1, reinterpret_cast<const uint8_t*>(words.data()),
                 reinterpret_cast<const uint8_t*>(&s), reinterpret_cast<const uint8_t*>(&b), GgmlType::F16};
  std::vector<float> row(64);
  get_row(m, 0, row.data());
  for (int i = 0; i < 16; ++i) EXPECT_EQ(row[i], 0.5f * i - 1.0f) << i;
  EXPECT_EQ(row[16], -1.0f);
  // 8-bit: bytes of the word in order; bf16 scale 1, bias 0.
  std::vector<uint32_t> w8(8, 0);
  w8[0] = 0x04030201u;
  w8[7] = 0xff000000u;
  const uint16_t s8 = f32_to_bf16(1.0f), b8 = 0;
  AffineMatrix m8{8, 32, 32, 1, reinterpret_cast<const uint8_t*>(w8.data()),
                  reinterpret_cast<const uint8_t*>(&s8), reinterpret_cast<const uint8_t*>(&b8), GgmlType::BF16};
  get_row(m8, 0, row.data());
  EXPECT_EQ(row[0], 1.0f);
  EXPECT_EQ(row[3], 4.0f);
  EXPECT_EQ(row[31], 255.0f);
  EXPECT_EQ(row[30], 0.0f);
  // 2-bit: 0b11100100 repeated gives 0, 1, 2, 3, ...; f32 scale 2, bias 1.
  std::vector<uint32_t> w2(2, 0xe4e4e4e4u);
  const float s2 = 2.0f, b2 = 1.0f;
  AffineMatrix m2{2, 32, 32, 1, reinterpret_cast<const uint8_t*>(w2.data()),
                  reinterpret_cast<const uint8_t*>(&s2), reinterpret_cast<const uint8_t*>(&b2), GgmlType::F32};
  get_row(m2, 0, row.data());
  for (int i = 0; i < 32; ++i) EXPECT_EQ(row[i], 1.0f + 2.0f * (i % 4)) << i;
}

TEST(Affine, RejectsUnsupported) {
  AffineMatrix m{3, 64, 128, 1, nullptr, nullptr, nullptr, GgmlType::F16};
  EXPECT_NE(affine_unsupported(m), "");
  m.bits = 4;
  EXPECT_EQ(affine_unsupported(m), "");
  m.group_size = 48;
  EXPECT_NE(affine_unsupported(m), "");
  m.group_size = 64;
  m.n_cols = 96;
  EXPECT_NE(affine_unsupported(m), "");
}

struct Case {
  int bits, group;
  int64_t cols;
  GgmlType st;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  for (int bits : {2, 4, 8})
    for (int group : {32, 64, 128})
      for (int64_t cols : {int64_t(group), int64_t(3 * group), int64_t(2048), int64_t(2048 + group), int64_t(5 * 256 + group)})
        for (GgmlType st : {GgmlType::F16, GgmlType::BF16, GgmlType::F32})
          if (cols % group == 0) v.push_back({bits, group, cols, st});
  return v;
}

std::vector<uint8_t> prepared(const affine::Layout& l, const std::vector<float>& x, int nt) {
  std::vector<uint8_t> xp(l.stride * nt + 64);
  for (int t = 0; t < nt; ++t) affine::prepare_token(l, &x[t * l.n], xp.data() + t * l.stride);
  return xp;
}

void check_isa(affine::GemmFn (*get)(int), const char* isa) {
  uint32_t seed = 1;
  for (const Case& c : cases()) {
    const int64_t rows = 5;
    const int nt = 11;  // more than one token tile of either kernel
    Owned o = random_matrix(c.bits, c.group, c.cols, rows, c.st, seed++);
    const affine::Layout l = affine::Layout::of(o.m);
    const auto x = testing::random_floats(c.cols * nt, seed++);
    const auto xp = prepared(l, x, nt);
    std::vector<float> ref(rows * nt), got(rows * nt, -1.f);
    affine::gemm_scalar(c.bits)(o.m, l, xp.data(), nt, 0, rows, ref.data(), rows);
    get(c.bits)(o.m, l, xp.data(), nt, 0, rows, got.data(), rows);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_EQ(std::memcmp(&ref[i], &got[i], 4), 0)
          << isa << " bits=" << c.bits << " group=" << c.group << " cols=" << c.cols << " scales="
          << type_name(c.st) << " i=" << i << ": " << ref[i] << " vs " << got[i];
  }
}

TEST(Affine, Avx2EqualsScalarBitwise) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  check_isa(affine::gemm_avx2, "avx2");
}

TEST(Affine, Avx512EqualsScalarBitwise) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 VNNI";
  check_isa(affine::gemm_avx512, "avx512");
}

TEST(Affine, MatmulMatchesDoubleReference) {
  ThreadPool pool(2);
  uint32_t seed = 100;
  for (const Case& c : cases()) {
    if (c.st != GgmlType::F16) continue;
    const int64_t rows = 7, nt = 3;
    Owned o = random_matrix(c.bits, c.group, c.cols, rows, c.st, seed++);
    const auto x = testing::random_floats(c.cols * nt, seed++);
    const auto w = dequantized(o.m);
    std::vector<float> out(rows * nt);
    matmul(o.m, x.data(), nt, out.data(), pool);
    for (int64_t t = 0; t < nt; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        // Activations are rounded to int8 per block of 32: each element moves by at most
        // half a step, amax / 254.
        double exact = 0, bound = 0;
        for (int64_t b = 0; b < c.cols / 32; ++b) {
          double amax = 0;
          for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(double(x[t * c.cols + b * 32 + i])));
          for (int i = 0; i < 32; ++i) {
            const int64_t k = b * 32 + i;
            exact += double(w[r * c.cols + k]) * x[t * c.cols + k];
            bound += std::fabs(double(w[r * c.cols + k])) * amax / 254.0 * 1.01;
          }
        }
        EXPECT_NEAR(out[t * rows + r], exact, bound + 1e-4)
            << "bits=" << c.bits << " group=" << c.group << " cols=" << c.cols;
      }
    }
  }
}

TEST(Affine, BatchAndThreadInvariance) {
  for (int bits : {2, 4, 8}) {
    Owned o = random_matrix(bits, 64, 1024 + 64, 67, GgmlType::BF16, 7 + bits);
    const int max_t = 17;
    const auto x = testing::random_floats(o.m.n_cols * max_t, 99);
    // Each token alone, on one thread: the values every other configuration must give.
    std::vector<float> single(o.m.n_rows * max_t);
    ThreadPool one(1);
    for (int t = 0; t < max_t; ++t)
      matmul(o.m, &x[t * o.m.n_cols], 1, &single[t * o.m.n_rows], one);
    for (int threads = 1; threads <= 3; ++threads) {
      ThreadPool pool(threads);
      for (int nt = 1; nt <= max_t; ++nt) {
        // Tokens start at an offset so that each batch holds different neighbours.
        const int first = max_t - nt;
        std::vector<float> out(o.m.n_rows * nt);
        matmul(o.m, &x[first * o.m.n_cols], nt, out.data(), pool);
        ASSERT_EQ(std::memcmp(out.data(), &single[first * o.m.n_rows], out.size() * 4), 0)
            << "bits=" << bits << " threads=" << threads << " tokens=" << nt;
      }
    }
  }
}

TEST(Affine, ZeroActivationsGiveZero) {
  Owned o = random_matrix(4, 64, 256, 3, GgmlType::F16, 5);
  std::vector<float> x(256, 0.f), out(3, 1.f);
  ThreadPool pool(1);
  matmul(o.m, x.data(), 1, out.data(), pool);
  for (float v : out) EXPECT_EQ(v, 0.f);
}

}  // namespace
}  // namespace mlxs::kern
