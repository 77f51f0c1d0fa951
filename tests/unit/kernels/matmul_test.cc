// matmul and get_row: agreement with a double-precision reference, and batch invariance
// (bitwise) across batch sizes, batch contents and thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

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

class MatmulByType : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatmulByType, MatchesReference) {
  const GgmlType t = GetParam();
  const int64_t rows = 37, cols = 512, tokens = 5;
  const Matrix m = make_matrix(t, rows, cols, 11);
  const auto x = random_floats(tokens * cols, 12);
  ThreadPool pool(2);
  std::vector<float> out(tokens * rows);
  matmul(m.w, x.data(), tokens, out.data(), pool);

  const GgmlType vdt = quant_ops(t)->vec_dot_type;
  for (int64_t tk = 0; tk < tokens; ++tk) {
    // What the kernel multiplies: dequantized weights and dequantized activations.
    std::vector<float> xt(x.begin() + tk * cols, x.begin() + (tk + 1) * cols);
    const auto xq = dequantize(vdt, quantize(vdt, xt).data(), cols);
    double y_norm = 0, err_exact = 0, err_float = 0;
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> wr(cols);
      get_row(m.w, r, wr.data());
      double exact = 0, mass = 0, unquantized_x = 0;
      for (int64_t c = 0; c < cols; ++c) {
        exact += double(wr[c]) * xq[c];
        mass += std::fabs(double(wr[c]) * xq[c]);
        unquantized_x += double(wr[c]) * xt[c];
      }
      const float got = out[tk * rows + r];
      const double tol = (vdt == GgmlType::Q8_1 ? 1e-3 : 1e-5) * mass;
      EXPECT_NEAR(got, exact, tol) << type_name(t) << " row " << r << " token " << tk;
      y_norm += unquantized_x * unquantized_x;
      err_exact += (got - exact) * (got - exact);
      err_float += (got - unquantized_x) * (got - unquantized_x);
    }
    // Against float activations the only extra error is the activation quantization.
    EXPECT_LT(std::sqrt(err_float / y_norm), 0.02) << type_name(t);
  }
}

TEST_P(MatmulByType, GetRowMatchesToFloat) {
  const GgmlType t = GetParam();
  const int64_t cols = 512;
  const Matrix m = make_matrix(t, 4, cols, 21);
  std::vector<float> a(cols), b(cols);
  get_row(m.w, 2, a.data());
  quant_ops(t)->to_float(m.bytes.data() + 2 * row_size(t, cols), b.data(), cols);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), cols * 4), 0);
}

// The result for a token must not depend on batch size, batch contents, its position in
// the batch or the number of threads.
TEST_P(MatmulByType, BatchInvariantBitwise) {
  const GgmlType t = GetParam();
  const int64_t rows = 67, cols = 512, max_tokens = 17;
  const Matrix m = make_matrix(t, rows, cols, 31);
  const auto x = random_floats(max_tokens * cols, 32);

  // Reference: each token alone, one thread.
  std::vector<float> single(max_tokens * rows);
  {
    ThreadPool pool1(1);
    for (int64_t tk = 0; tk < max_tokens; ++tk)
      matmul(m.w, x.data() + tk * cols, 1, single.data() + tk * rows, pool1);
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t nt = 1; nt <= max_tokens; ++nt) {
      // Tokens offset..offset+nt-1 (cyclically), so a token appears at different positions
      // beside different neighbours.
      for (int64_t offset : {int64_t(0), nt % max_tokens, int64_t(5)}) {
        std::vector<float> xb(nt * cols);
        for (int64_t i = 0; i < nt; ++i) {
          const int64_t src = (offset + i) % max_tokens;
          std::memcpy(xb.data() + i * cols, x.data() + src * cols, cols * 4);
        }
        std::vector<float> out(nt * rows, NAN);
        matmul(m.w, xb.data(), nt, out.data(), pool);
        for (int64_t i = 0; i < nt; ++i) {
          const int64_t src = (offset + i) % max_tokens;
          ASSERT_EQ(std::memcmp(out.data() + i * rows, single.data() + src * rows, rows * 4), 0)
              << type_name(t) << " threads=" << threads << " n_tokens=" << nt << " position " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatmulByType, ::testing::ValuesIn(testing::weight_types()),
                         [](const ::testing::TestParamInfo<GgmlType>& i) { return std::string(type_name(i.param)); });

// A batch large enough to split tokens across threads (few rows, many tokens), and a tall
// matrix where rows are split, both checked against single-token results.
TEST(Matmul, TokenSplitAndRowSplitAreInvariant) {
  for (auto [rows, tokens] : {std::pair<int64_t, int64_t>{8, 70}, {1030, 9}}) {
    const int64_t cols = 256;
    const Matrix m = make_matrix(GgmlType::Q4_K, rows, cols, 41);
    const auto x = random_floats(tokens * cols, 42);
    ThreadPool pool1(1), pool3(3);
    std::vector<float> batch(tokens * rows), one(rows);
    matmul(m.w, x.data(), tokens, batch.data(), pool3);
    for (int64_t tk = 0; tk < tokens; ++tk) {
      matmul(m.w, x.data() + tk * cols, 1, one.data(), pool1);
      ASSERT_EQ(std::memcmp(one.data(), batch.data() + tk * rows, rows * 4), 0) << rows << "x" << tokens << " token " << tk;
    }
  }
}

}  // namespace
}  // namespace mlxs::kern

namespace mlxs::kern {
namespace {

// Long rows make matmul cut a batch into several token chunks (each sized for L2); every
// token must still get exactly its single-token result.
TEST(Matmul, TokenChunksAreInvariant) {
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::F16}) {
    const int64_t rows = 21, cols = 8192, tokens = 45;
    const Matrix m = make_matrix(t, rows, cols, 51);
    const auto x = random_floats(tokens * cols, 52);
    ThreadPool pool1(1), pool2(2);
    std::vector<float> batch(tokens * rows), one(rows);
    matmul(m.w, x.data(), tokens, batch.data(), pool2);
    for (int64_t tk = 0; tk < tokens; ++tk) {
      matmul(m.w, x.data() + tk * cols, 1, one.data(), pool1);
      ASSERT_EQ(std::memcmp(one.data(), batch.data() + tk * rows, rows * 4), 0) << type_name(t) << " token " << tk;
    }
  }
}

}  // namespace
}  // namespace mlxs::kern
