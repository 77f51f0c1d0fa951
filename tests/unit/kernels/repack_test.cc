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

bool kernel_here(GgmlType t) {
  Matrix m = make_matrix(t, 1, 32, 1);
  return repack_available(m.w);
}

class RepackByType : public ::testing::TestWithParam<GgmlType> {};

TEST_P(RepackByType, RowsRoundTripBitwise) {
  const GgmlType t = GetParam();
  for (int64_t rows : {1, 15, 16, 17, 37}) {
    for (int64_t cols : {32, 96, 512}) {
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

TEST_P(RepackByType, SameSizeAsGgufRows) {
  const GgmlType t = GetParam();
  const Matrix m = make_matrix(t, 32, 256, 3);
  const auto p = repack(m.w);
  EXPECT_EQ(p->group_bytes * p->n_groups(), row_size(t, 256) * 32);
}

TEST_P(RepackByType, DisabledByEnvironment) {
  const GgmlType t = GetParam();
  const Matrix m = make_matrix(t, 16, 64, 5);
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
  const Matrix m = make_matrix(GgmlType::Q4_K, 16, 256, 6);
  EXPECT_FALSE(repack_available(m.w));
}

TEST_P(RepackByType, MatchesReference) {
  const GgmlType t = GetParam();
  if (!kernel_here(t)) GTEST_SKIP() << "no repacked kernel on this CPU";
  const int64_t rows = 37, cols = 544, tokens = 11;
  const Matrix m = make_matrix(t, rows, cols, 11);
  const auto p = repack(m.w);
  const auto x = random_floats(tokens * cols, 12);
  ThreadPool pool(2);
  std::vector<float> out(tokens * rows), plain(tokens * rows);
  matmul(*p, x.data(), tokens, out.data(), pool);
  matmul(m.w, x.data(), tokens, plain.data(), pool);
  for (int64_t tk = 0; tk < tokens; ++tk) {
    std::vector<float> xt(x.begin() + tk * cols, x.begin() + (tk + 1) * cols);
    const auto xq = dequantize(GgmlType::Q8_0, quantize(GgmlType::Q8_0, xt).data(), cols);
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

// Every token gets exactly its single-token (decode) result, whatever the batch.
TEST_P(RepackByType, BatchInvariantBitwise) {
  const GgmlType t = GetParam();
  if (!kernel_here(t)) GTEST_SKIP() << "no repacked kernel on this CPU";
  const int64_t max_tokens = 20;
  for (int64_t rows : {5, 37, 67}) {
    const int64_t cols = 320;
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
       {std::tuple<int64_t, int64_t, int64_t>{21, 8192, 45}, {1030, 256, 9}}) {
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

INSTANTIATE_TEST_SUITE_P(Types, RepackByType, ::testing::Values(GgmlType::Q4_0, GgmlType::Q8_0),
                         [](const ::testing::TestParamInfo<GgmlType>& i) {
                           return std::string(type_name(i.param));
                         });

}  // namespace
}  // namespace mlxs::kern
