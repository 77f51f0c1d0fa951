// RepackedMatrix: the layout round trip (any CPU), and where the CPU has the kernel, agreement
// with a double-precision reference and bitwise batch invariance across batch sizes, batch
// contents, thread counts and row counts that are not a multiple of the 16-row group.
#include "kernels/repack.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "test_util.h"

namespace mlxs::kern {
namespace {

using testing::dequantize;
using testing::quantize;
using testing::random_floats;

struct Matrix {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

Matrix make_matrix(GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
  Matrix m;
  const auto f = random_floats(rows * cols, seed);
  m.bytes.resize(row_size(t, cols) * rows);
  for (int64_t r = 0; r < rows; ++r)
    quant_ops(t)->from_float(f.data() + r * cols, m.bytes.data() + r * row_size(t, cols), cols);
  m.w = WeightMatrix{t, cols, rows, m.bytes.data()};
  return m;
}

bool is_kquant(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q6_K; }

// Row lengths in whole blocks of the type: K-quants have 256-element super-blocks.
int64_t cols_for(GgmlType t, int64_t legacy_cols) {
  return is_kquant(t) ? (legacy_cols + 255) / 256 * 256 : legacy_cols;
}

bool kernel_here(GgmlType t) {
  Matrix m = make_matrix(t, 1, cols_for(t, 32), 1);
  return repack_available(m.w);
}

class RepackByType : public ::testing::TestWithParam<GgmlType> {};

TEST_P(RepackByType, RowsRoundTripBitwise) {
  const GgmlType t = GetParam();
  for (int64_t rows : {1, 15, 16, 17, 37}) {
    for (int64_t c : {32, 96, 512}) {
      const int64_t cols = is_kquant(t) ? c / 32 * 256 : c;
      const Matrix m = make_matrix(t, rows, cols, 7 + static_cast<uint32_t>(rows));
      const auto p = repack(m.w);
      ASSERT_EQ(p->n_rows, rows);
      ASSERT_EQ(p->n_groups(), (rows + 15) / 16);
      std::vector<float> a(cols), b(cols);
      for (int64_t r = 0; r < rows; ++r) {
        get_row(m.w, r, a.data());
        get_row(*p, r, b.data());
        ASSERT_EQ(std::memcmp(a.data(), b.data(), cols * 4), 0)
            << rows << "x" << cols << " row " << r;
      }
    }
  }
}

// Decode streams the repacked bytes: Q4_0 and Q8_0 keep their size, Q4_K grows by its
// unpacked scales (148 / 144 bytes), Q6_K by padding (212 / 210).
TEST_P(RepackByType, SizeAgainstGgufRows) {
  const GgmlType t = GetParam();
  const Matrix m = make_matrix(t, 32, 512, 3);
  const auto p = repack(m.w);
  const size_t gguf = row_size(t, 512) * 32, repacked = p->group_bytes * p->n_groups();
  if (t == GgmlType::Q4_K) {
    EXPECT_EQ(repacked * 144, gguf * 148);
  } else if (t == GgmlType::Q6_K) {
    EXPECT_EQ(repacked * 210, gguf * 212);
  } else {
    EXPECT_EQ(repacked, gguf);
  }
}

TEST_P(RepackByType, RowsOfWrongLengthAreNotSupported) {
  const GgmlType t = GetParam();
  const Matrix m = make_matrix(t, 4, is_kquant(t) ? 256 : 32, 4);
  EXPECT_TRUE(repack_supported(m.w));
  WeightMatrix odd = m.w;
  odd.n_cols = is_kquant(t) ? 128 : 16;  // half a block
  EXPECT_FALSE(repack_supported(odd));
  EXPECT_FALSE(repack_available(odd));
}

TEST_P(RepackByType, DisabledByEnvironment) {
  const GgmlType t = GetParam();
  const Matrix m = make_matrix(t, 16, cols_for(t, 64), 5);
  const char* old = std::getenv("MLXS_REPACK");
  const std::string saved = old ? old : "";
  setenv("MLXS_REPACK", "0", 1);
  EXPECT_FALSE(repack_available(m.w));
  EXPECT_EQ(repack_if_available(m.w), nullptr);
  setenv("MLXS_REPACK", "1", 1);
  // Enabled, it follows the CPU: the interleaved kernel exists only for AVX-512 VNNI.
  EXPECT_EQ(repack_available(m.w), repack_if_available(m.w) != nullptr);
  if (old) {
    setenv("MLXS_REPACK", saved.c_str(), 1);
  } else {
    unsetenv("MLXS_REPACK");
  }
}

TEST(Repack, OtherTypesAreNotRepacked) {
  for (GgmlType t : {GgmlType::Q5_K, GgmlType::Q4_1, GgmlType::F16}) {
    const Matrix m = make_matrix(t, 16, 256, 6);
    EXPECT_FALSE(repack_supported(m.w)) << type_name(t);
    EXPECT_FALSE(repack_available(m.w)) << type_name(t);
  }
}

TEST_P(RepackByType, MatchesReference) {
  const GgmlType t = GetParam();
  if (!kernel_here(t)) GTEST_SKIP() << "no repacked kernel on this CPU";
  const int64_t rows = 37, cols = cols_for(t, 544), tokens = 11;
  const GgmlType xtype = is_kquant(t) ? GgmlType::Q8_K : GgmlType::Q8_0;
  const Matrix m = make_matrix(t, rows, cols, 11);
  const auto p = repack(m.w);
  const auto x = random_floats(tokens * cols, 12);
  ThreadPool pool(2);
  std::vector<float> out(tokens * rows), plain(tokens * rows);
  matmul(*p, x.data(), tokens, out.data(), pool);
  matmul(m.w, x.data(), tokens, plain.data(), pool);
  for (int64_t tk = 0; tk < tokens; ++tk) {
    std::vector<float> xt(x.begin() + tk * cols, x.begin() + (tk + 1) * cols);
    const auto xq = dequantize(xtype, quantize(xtype, xt).data(), cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> wr(cols);
      get_row(m.w, r, wr.data());
      double exact = 0, mass = 0;
      for (int64_t c = 0; c < cols; ++c) {
        exact += double(wr[c]) * xq[c];
        mass += std::fabs(double(wr[c]) * xq[c]);
      }
      const float got = out[tk * rows + r];
      EXPECT_NEAR(got, exact, 1e-5 * mass) << type_name(t) << " row " << r << " token " << tk;
      // Same arithmetic up to float rounding order as the GGUF-layout kernel.
      EXPECT_NEAR(got, plain[tk * rows + r], 2e-5 * mass) << type_name(t) << " row " << r;
    }
  }
}

// The largest codes, scales and mins against activations of the largest magnitude: the
// kernels' integer sums (int16 half sub-blocks for Q4_K, int32 for Q6_K) must not overflow.
class RepackKQuant : public ::testing::TestWithParam<GgmlType> {};

TEST_P(RepackKQuant, ExtremeCodesStayExact) {
  const GgmlType t = GetParam();
  if (!kernel_here(t)) GTEST_SKIP() << "no repacked kernel on this CPU";
  const int64_t rows = 16, cols = 512;
  Matrix m;
  m.bytes.resize(row_size(t, cols) * rows);
  const uint16_t one = 0x3C00;  // 1.0 in fp16
  for (int64_t b = 0; b < rows * cols / 256; ++b) {
    if (t == GgmlType::Q4_K) {
      BlockQ4_K& q = reinterpret_cast<BlockQ4_K*>(m.bytes.data())[b];
      q.d = q.dmin = one;
      std::memset(q.scales, 0xFF, sizeof(q.scales));  // every scale and min 63
      std::memset(q.qs, b % 2 ? 0xFF : 0x00, sizeof(q.qs));  // codes all 15, or all 0
    } else {
      BlockQ6_K& q = reinterpret_cast<BlockQ6_K*>(m.bytes.data())[b];
      q.d = one;
      std::memset(q.scales, b % 2 ? 0x7F : 0x80, sizeof(q.scales));  // 127 or -128
      std::memset(q.ql, b % 2 ? 0xFF : 0x00, sizeof(q.ql));  // codes 63 or 0: +31 or -32
      std::memset(q.qh, b % 2 ? 0xFF : 0x00, sizeof(q.qh));
    }
  }
  m.w = WeightMatrix{t, cols, rows, m.bytes.data()};
  const auto p = repack(m.w);
  ThreadPool pool(1);
  for (float sign : {-1.f, 1.f}) {
    const std::vector<float> x(cols, sign);  // Q8_K codes of +-127
    std::vector<float> out(rows);
    matmul(*p, x.data(), 1, out.data(), pool);
    const auto xq = dequantize(GgmlType::Q8_K, quantize(GgmlType::Q8_K, x).data(), cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> wr(cols);
      get_row(m.w, r, wr.data());
      double exact = 0, mass = 0;
      for (int64_t c = 0; c < cols; ++c) {
        exact += double(wr[c]) * xq[c];
        mass += std::fabs(double(wr[c]) * xq[c]);
      }
      EXPECT_NEAR(out[r], exact, 1e-6 * mass) << type_name(t) << " row " << r << " sign " << sign;
    }
  }
}

// Every token gets exactly its single-token (decode) result, whatever the batch.
TEST_P(RepackByType, BatchInvariantBitwise) {
  const GgmlType t = GetParam();
  if (!kernel_here(t)) GTEST_SKIP() << "no repacked kernel on this CPU";
  const int64_t max_tokens = 20;
  for (int64_t rows : {5, 37, 67}) {
    const int64_t cols = cols_for(t, 320);
    const Matrix m = make_matrix(t, rows, cols, 31 + static_cast<uint32_t>(rows));
    const auto p = repack(m.w);
    const auto x = random_floats(max_tokens * cols, 32);
    std::vector<float> single(max_tokens * rows);
    {
      ThreadPool pool1(1);
      for (int64_t tk = 0; tk < max_tokens; ++tk)
        matmul(*p, x.data() + tk * cols, 1, single.data() + tk * rows, pool1);
    }
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      for (int64_t nt = 1; nt <= max_tokens; ++nt) {
        for (int64_t offset : {int64_t(0), int64_t(7)}) {
          std::vector<float> xb(nt * cols);
          for (int64_t i = 0; i < nt; ++i)
            std::memcpy(xb.data() + i * cols, x.data() + ((offset + i) % max_tokens) * cols,
                        cols * 4);
          std::vector<float> out(nt * rows, NAN);
          matmul(*p, xb.data(), nt, out.data(), pool);
          for (int64_t i = 0; i < nt; ++i)
            ASSERT_EQ(std::memcmp(out.data() + i * rows,
                                  single.data() + ((offset + i) % max_tokens) * rows, rows * 4),
                      0)
                << type_name(t) << " rows=" << rows << " threads=" << threads << " n_tokens=" << nt
                << " position " << i;
        }
      }
    }
  }
}

// Long rows: the batch is cut into several token chunks, tall matrices into row chunks.
TEST_P(RepackByType, ChunksAreInvariant) {
  const GgmlType t = GetParam();
  if (!kernel_here(t)) GTEST_SKIP() << "no repacked kernel on this CPU";
  for (auto [rows, cols, tokens] :
       {std::tuple<int64_t, int64_t, int64_t>{21, 8192, 45}, {1030, 256, 9}, {19, 2048, 1}}) {
    const Matrix m = make_matrix(t, rows, cols, 51);
    const auto p = repack(m.w);
    const auto x = random_floats(tokens * cols, 52);
    ThreadPool pool1(1), pool2(2);
    std::vector<float> batch(tokens * rows), one(rows);
    matmul(*p, x.data(), tokens, batch.data(), pool2);
    for (int64_t tk = 0; tk < tokens; ++tk) {
      matmul(*p, x.data() + tk * cols, 1, one.data(), pool1);
      ASSERT_EQ(std::memcmp(one.data(), batch.data() + tk * rows, rows * 4), 0)
          << type_name(t) << " token " << tk;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, RepackByType, ::testing::Values(GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K,
                                                           GgmlType::Q6_K),
                         [](const ::testing::TestParamInfo<GgmlType>& i) {
                           return std::string(type_name(i.param));
                         });
INSTANTIATE_TEST_SUITE_P(Types, RepackKQuant, ::testing::Values(GgmlType::Q4_K, GgmlType::Q6_K),
                         [](const ::testing::TestParamInfo<GgmlType>& i) {
                           return std::string(type_name(i.param));
                         });

}  // namespace
}  // namespace mlxs::kern
