// Dot-product kernels: every instruction set against the scalar reference, tiles against
// vec_dot (bitwise), and the reference against a float dot of the dequantized rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "base/cpu_features.h"
#include "kernels/dot_kernels.h"
#include "kernels/quant.h"
#include "test_util.h"

namespace mlxs::kern {
namespace {

using detail::DotKernel;
using testing::dequantize;
using testing::quantize;
using testing::random_floats;

bool has_avx512() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}
bool has_avx2() { return cpu_features().avx2 && cpu_features().fma && cpu_features().f16c; }

std::vector<int64_t> lengths_for(GgmlType t) {
  const int b = testing::block_of(t);
  if (b == 1) return {1, 7, 8, 15, 16, 17, 31, 64, 100, 1000, 4096};
  return {int64_t(b), int64_t(2 * b), int64_t(3 * b), int64_t(5 * b), 4096, 8192};
}

struct Operands {
  std::vector<uint8_t> w, x;
  std::vector<float> wf, xf;  // dequantized: what the kernels effectively multiply
};

Operands make_operands(GgmlType t, int64_t n, uint32_t seed) {
  const QuantOps* ops = quant_ops(t);
  Operands o;
  o.w = quantize(t, random_floats(n, seed));
  o.x = quantize(ops->vec_dot_type, random_floats(n, seed + 1000, 3.f));
  o.wf = dequantize(t, o.w.data(), n);
  o.xf = dequantize(ops->vec_dot_type, o.x.data(), n);
  return o;
}

// Sum of |w_i x_i|: float sums in a different order differ by a small multiple of this.
double abs_mass(const Operands& o) {
  double s = 0;
  for (size_t i = 0; i < o.wf.size(); ++i) s += std::fabs(double(o.wf[i]) * o.xf[i]);
  return s;
}

class DotByType : public ::testing::TestWithParam<GgmlType> {};

void check_against_scalar(GgmlType t, const DotKernel& k, const char* isa) {
  const DotKernel ref = detail::dot_kernel_scalar(t);
  ASSERT_TRUE(ref);
  ASSERT_TRUE(k) << isa << " has no kernel for " << type_name(t);
  uint32_t seed = 1;
  for (int64_t n : lengths_for(t)) {
    for (int rep = 0; rep < 3; ++rep) {
      const Operands o = make_operands(t, n, seed++);
      float a = 0, b = 0;
      ref.vec_dot(n, o.w.data(), o.x.data(), &a);
      k.vec_dot(n, o.w.data(), o.x.data(), &b);
      EXPECT_NEAR(a, b, 2e-6 * abs_mass(o) + 1e-30) << type_name(t) << " " << isa << " n=" << n;
    }
  }
}

// A tile of nt tokens must give each token exactly what vec_dot gives it.
void check_tiles_bitwise(GgmlType t, const DotKernel& k, const char* isa) {
  const QuantOps* ops = quant_ops(t);
  const int64_t n = testing::block_of(t) == 1 ? 1037 : 2048;
  const auto w = quantize(t, random_floats(n, 7));
  const size_t xs = row_size(ops->vec_dot_type, n);
  std::vector<uint8_t> x(xs * k.max_tokens);
  for (int i = 0; i < k.max_tokens; ++i) {
    const auto xi = quantize(ops->vec_dot_type, random_floats(n, 100 + i));
    std::memcpy(x.data() + i * xs, xi.data(), xs);
  }
  for (int nt = 1; nt <= k.max_tokens; ++nt) {
    std::vector<float> out(nt * 3, -1.f);
    k.tile(n, w.data(), x.data(), xs, nt, out.data(), 3);
    for (int i = 0; i < nt; ++i) {
      float single;
      k.vec_dot(n, w.data(), x.data() + i * xs, &single);
      EXPECT_EQ(std::memcmp(&single, &out[i * 3], 4), 0)
          << type_name(t) << " " << isa << " nt=" << nt << " token " << i << ": " << single << " vs " << out[i * 3];
    }
  }
}

// The block kernel over nr rows x nt tokens (register tiles plus every remainder shape),
// on activations in the kernel's prepared layout, must give each (row, token) pair exactly
// what vec_dot gives it.
void check_gemm_bitwise(GgmlType t, const DotKernel& k, const char* isa) {
  ASSERT_TRUE(k.gemm) << isa;
  const QuantOps* ops = quant_ops(t);
  const int b = testing::block_of(t);
  // An odd block count exercises the last unpaired block of the pairwise kernels.
  for (int64_t n : {int64_t(b == 1 ? 1037 : 2048), int64_t(b == 1 ? 96 : 3 * b)}) {
    const int max_rows = 9, max_tokens = 11;
    const size_t ws = row_size(t, n), xs = row_size(ops->vec_dot_type, n);
    std::vector<uint8_t> w(ws * max_rows), x(xs * max_tokens);
    for (int r = 0; r < max_rows; ++r) {
      const auto wr = quantize(t, random_floats(n, 300 + r));
      std::memcpy(w.data() + r * ws, wr.data(), ws);
    }
    for (int i = 0; i < max_tokens; ++i) {
      const auto xi = quantize(ops->vec_dot_type, random_floats(n, 400 + i, 2.f));
      std::memcpy(x.data() + i * xs, xi.data(), xs);
    }
    // Prepared activations, 64-byte aligned as matmul lays them out.
    const size_t xps = k.prep ? (k.prep_bytes(n) + 63) / 64 * 64 : xs;
    std::vector<uint8_t> xbuf(xps * max_tokens + 64);
    uint8_t* xp = xbuf.data() + (-reinterpret_cast<uintptr_t>(xbuf.data()) & 63);
    for (int i = 0; i < max_tokens; ++i) {
      if (k.prep) k.prep(n, x.data() + i * xs, xp + i * xps);
      else std::memcpy(xp + i * xps, x.data() + i * xs, xs);
    }
    std::vector<float> single(max_rows * max_tokens);
    for (int r = 0; r < max_rows; ++r)
      for (int i = 0; i < max_tokens; ++i) k.vec_dot(n, w.data() + r * ws, x.data() + i * xs, &single[i * max_rows + r]);
    for (int nr = 1; nr <= max_rows; ++nr) {
      for (int nt = 1; nt <= max_tokens; ++nt) {
        // Start at row 1 / token 1 where possible, so tiles do not always begin at 0.
        const int r0 = nr < max_rows ? 1 : 0, t0 = nt < max_tokens ? 1 : 0;
        const int64_t os = nr + 3;
        std::vector<float> out(os * nt, NAN);
        k.gemm(n, w.data() + r0 * ws, ws, nr, xp + t0 * xps, xps, nt, out.data(), os);
        for (int i = 0; i < nt; ++i) {
          for (int r = 0; r < nr; ++r) {
            const float want = single[(t0 + i) * max_rows + r0 + r];
            ASSERT_EQ(std::memcmp(&want, &out[i * os + r], 4), 0)
                << type_name(t) << " " << isa << " n=" << n << " nr=" << nr << " nt=" << nt << " row " << r
                << " token " << i << ": " << want << " vs " << out[i * os + r];
          }
        }
      }
    }
  }
}

TEST_P(DotByType, GemmTilesEqualVecDotBitwise) {
  check_gemm_bitwise(GetParam(), detail::dot_kernel_scalar(GetParam()), "scalar");
  if (has_avx2()) check_gemm_bitwise(GetParam(), detail::dot_kernel_avx2(GetParam()), "avx2");
  if (has_avx512()) check_gemm_bitwise(GetParam(), detail::dot_kernel(GetParam(), detail::Isa::kAvx512), "avx512");
}

TEST_P(DotByType, ScalarMatchesDequantizedDot) {
  const GgmlType t = GetParam();
  const DotKernel ref = detail::dot_kernel_scalar(t);
  uint32_t seed = 50;
  for (int64_t n : lengths_for(t)) {
    const Operands o = make_operands(t, n, seed++);
    double want = 0;
    for (int64_t i = 0; i < n; ++i) want += double(o.wf[i]) * o.xf[i];
    float got;
    ref.vec_dot(n, o.w.data(), o.x.data(), &got);
    // The mins/offsets of some formats go through fp16 (Q8_1's s), hence the 1e-3.
    const double tol = (t == GgmlType::Q4_1 || t == GgmlType::Q5_1 ? 1e-3 : 1e-5) * abs_mass(o);
    EXPECT_NEAR(got, want, tol) << type_name(t) << " n=" << n;
  }
}

TEST_P(DotByType, Avx2MatchesScalar) {
  if (!has_avx2()) GTEST_SKIP() << "no AVX2";
  check_against_scalar(GetParam(), detail::dot_kernel_avx2(GetParam()), "avx2");
}

TEST_P(DotByType, Avx512MatchesScalar) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 VNNI";
  // Types without an AVX-512 kernel fall back to AVX2; test what dispatch would run.
  check_against_scalar(GetParam(), detail::dot_kernel(GetParam(), detail::Isa::kAvx512), "avx512");
}

TEST_P(DotByType, TilesEqualVecDotBitwise) {
  check_tiles_bitwise(GetParam(), detail::dot_kernel_scalar(GetParam()), "scalar");
  if (has_avx2()) check_tiles_bitwise(GetParam(), detail::dot_kernel_avx2(GetParam()), "avx2");
  if (has_avx512()) check_tiles_bitwise(GetParam(), detail::dot_kernel(GetParam(), detail::Isa::kAvx512), "avx512");
}

TEST_P(DotByType, QuantOpsVecDotIsActiveKernel) {
  const GgmlType t = GetParam();
  const Operands o = make_operands(t, 1024, 3);
  float a, b;
  quant_ops(t)->vec_dot(1024, o.w.data(), o.x.data(), &a);
  detail::active_dot_kernel(t).vec_dot(1024, o.w.data(), o.x.data(), &b);
  EXPECT_EQ(std::memcmp(&a, &b, 4), 0);
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, DotByType, ::testing::ValuesIn(testing::weight_types()),
                         [](const ::testing::TestParamInfo<GgmlType>& i) { return std::string(type_name(i.param)); });

TEST(Dispatch, ReportsIsa) {
  const detail::Isa isa = detail::best_isa();
  const char* names[] = {"scalar", "avx2", "avx512"};
  std::printf("dispatch: %s (cpu: %s)\n", names[static_cast<int>(isa)], cpu_features().describe().c_str());
  if (has_avx512()) {
    // Required AVX-512 kernels exist (not fallbacks).
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16})
      EXPECT_TRUE(detail::dot_kernel_avx512(t)) << type_name(t);
  }
}

}  // namespace
}  // namespace mlxs::kern
