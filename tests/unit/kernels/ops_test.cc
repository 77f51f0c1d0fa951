// Attention over the paged KV cache layout (kern::attend): agreement with a double-precision
// reference, and each head's result independent of the heads computed beside it.
#include <gtest/gtest.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/ops.h"
#include "test_util.h"

namespace mlxs::kern {
namespace {

using testing::random_floats;

// A fake cache: n_blocks blocks of block_size rows of `kv_heads * hd` elements, the blocks
// deliberately out of order in memory.
struct FakeCache {
  int hd, kv_heads, block_size;
  bool f16;
  std::vector<uint8_t> storage;
  std::vector<const uint8_t*> k_blocks, v_blocks;
  std::vector<float> k, v;  // [pos][kv_heads * hd], the values as stored (after F16 rounding)

  FakeCache(int hd_, int kv_heads_, int block_size_, int n_ctx, bool f16_, uint32_t seed)
      : hd(hd_), kv_heads(kv_heads_), block_size(block_size_), f16(f16_) {
    const int row = kv_heads * hd, es = f16 ? 2 : 4;
    const int n_blocks = (n_ctx + block_size - 1) / block_size;
    storage.resize(static_cast<size_t>(n_blocks) * 2 * block_size * row * es);
    k = random_floats(static_cast<int64_t>(n_ctx) * row, seed);
    v = random_floats(static_cast<int64_t>(n_ctx) * row, seed + 1);
    for (int b = 0; b < n_blocks; ++b) {
      const int slot = n_blocks - 1 - b;  // reversed placement
      k_blocks.push_back(storage.data() + static_cast<size_t>(slot) * 2 * block_size * row * es);
      v_blocks.push_back(k_blocks.back() + static_cast<size_t>(block_size) * row * es);
    }
    for (int p = 0; p < n_ctx; ++p) {
      for (int kv = 0; kv < 2; ++kv) {
        float* src = (kv ? v.data() : k.data()) + static_cast<size_t>(p) * row;
        uint8_t* dst = const_cast<uint8_t*>((kv ? v_blocks : k_blocks)[p / block_size]) + (p % block_size) * row * es;
        if (f16) {
          f32_to_f16_row(src, reinterpret_cast<uint16_t*>(dst), row);
          for (int i = 0; i < row; ++i) src[i] = _cvtsh_ss(reinterpret_cast<uint16_t*>(dst)[i]);
        } else {
          std::memcpy(dst, src, row * 4);
        }
      }
    }
  }

  KvHeadView view(int kvh) const {
    KvHeadView kv;
    kv.k_blocks = k_blocks.data();
    kv.v_blocks = v_blocks.data();
    kv.offset = static_cast<size_t>(kvh) * hd * (f16 ? 2 : 4);
    kv.block_size = block_size;
    kv.row_stride = static_cast<size_t>(kv_heads) * hd * (f16 ? 2 : 4);
    kv.f16 = f16;
    return kv;
  }
};

TEST(Attend, MatchesReferenceAndIsPerHead) {
  for (bool f16 : {true, false}) {
    for (int hd : {64, 24, 13}) {
      for (int n_q : {1, 3, 4, 6}) {
        for (int n_ctx : {1, 5, 16, 17, 40}) {
          const int kv_heads = 2, kvh = 1;
          const FakeCache cache(hd, kv_heads, 16, n_ctx, f16, 7 + n_ctx + hd);
          const KvHeadView kv = cache.view(kvh);
          const auto q = random_floats(static_cast<int64_t>(n_q) * hd, 99 + n_q);
          const float scale = 1.f / std::sqrt(static_cast<float>(hd));
          std::vector<float> scratch(attend_scratch(n_q, hd, n_ctx)), out(n_q * hd, NAN);
          attend(q.data(), n_q, hd, scale, kv, n_ctx, scratch.data(), out.data());
          const int row = kv_heads * hd;
          for (int g = 0; g < n_q; ++g) {
            // Reference in double.
            std::vector<double> s(n_ctx);
            double mx = -1e300, sum = 0;
            for (int p = 0; p < n_ctx; ++p) {
              double d = 0;
              for (int i = 0; i < hd; ++i) d += double(q[g * hd + i]) * cache.k[p * row + kvh * hd + i];
              s[p] = d * scale;
              mx = std::max(mx, s[p]);
            }
            for (int p = 0; p < n_ctx; ++p) sum += (s[p] = std::exp(s[p] - mx));
            for (int i = 0; i < hd; ++i) {
              double want = 0;
              for (int p = 0; p < n_ctx; ++p) want += s[p] / sum * cache.v[p * row + kvh * hd + i];
              EXPECT_NEAR(out[g * hd + i], want, 1e-4) << "f16=" << f16 << " hd=" << hd << " n_q=" << n_q << " n_ctx=" << n_ctx;
            }
            // The same head computed alone gives the same bits.
            std::vector<float> scratch1(attend_scratch(1, hd, n_ctx)), one(hd);
            attend(q.data() + g * hd, 1, hd, scale, kv, n_ctx, scratch1.data(), one.data());
            ASSERT_EQ(std::memcmp(one.data(), out.data() + g * hd, hd * 4), 0)
                << "f16=" << f16 << " hd=" << hd << " n_q=" << n_q << " n_ctx=" << n_ctx << " head " << g;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mlxs::kern

namespace mlxs::kern {
namespace {

// The vectorized exp behind softmax and SiLU: agreement with double precision for every
// length (vector body and tail) and at the clamped extremes.
TEST(Softmax, MatchesDoubleReference) {
  for (int64_t n : {1, 7, 8, 9, 31, 100, 1000}) {
    auto x = testing::random_floats(n, 3 + static_cast<uint32_t>(n));
    for (float& v : x) v *= 20.f;
    if (n > 2) x[1] = -1e30f;  // exp underflows to (about) nothing
    std::vector<float> y = x;
    softmax_inplace(y.data(), n);
    double mx = -1e300, sum = 0;
    for (float v : x) mx = std::max(mx, double(v));
    std::vector<double> e(n);
    for (int64_t i = 0; i < n; ++i) sum += (e[i] = std::exp(double(x[i]) - mx));
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      // x - max is rounded to float first: an absolute error of |x - max| * 2^-24 in the
      // exponent, relative in the result.
      const double rel = 1e-6 + std::fabs(double(x[i]) - mx) * 6e-8;
      EXPECT_NEAR(y[i], e[i] / sum, rel * (e[i] / sum) + 1e-30) << "n=" << n << " i=" << i;
      total += y[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-5) << "n=" << n;
  }
}

TEST(SiluMul, MatchesDoubleReference) {
  for (int64_t n : {1, 5, 8, 13, 64}) {
    auto g = testing::random_floats(n, 11 + static_cast<uint32_t>(n));
    const auto u = testing::random_floats(n, 12 + static_cast<uint32_t>(n));
    for (float& v : g) v *= 8.f;
    g[0] = -100.f;
    if (n > 1) g[1] = 100.f;
    if (n > 2) g[2] = 0.f;
    std::vector<float> y = g;
    silu_mul_inplace(y.data(), u.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
      EXPECT_NEAR(y[i], want, 1e-6 * std::fabs(want) + 1e-30) << "n=" << n << " g=" << g[i];
    }
  }
}

}  // namespace
}  // namespace mlxs::kern
