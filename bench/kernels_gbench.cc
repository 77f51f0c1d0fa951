// Google Benchmark micro-benchmarks of the forward pass's kernels, each reported with the
// bytes it streams per second and the floating-point (or integer multiply-add) work it does
// per second:
//   matmul/TYPE[r]/ROWSxCOLS/tN  a weight matrix times N activation rows (N = 1 is a decode
//                                GEMV, 8 is batched decode, 64 is prefill); "r" runs the
//                                repacked layout (kernels/repack.h). The weights rotate over
//                                copies totalling about 4x the L3 size, so they come from
//                                memory as in a real model.
//   attention/CTX                one KV head group (4 query heads of 64, f16 cache) over CTX
//                                cached positions, as one decode step of one layer does.
//   rms_norm/N                   one activation row.
// Run: build/bench/kernels_gbench [--benchmark_filter=REGEX] (MLXS_BENCH_THREADS sets the
// pool size, default 2).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/repack.h"

namespace {

using namespace mlxs;
using namespace mlxs::kern;

constexpr size_t kColdBytes = size_t{144} << 20;  // about 4x a 36 MiB L3

ThreadPool& pool() {
  static ThreadPool p([] {
    const char* v = std::getenv("MLXS_BENCH_THREADS");
    return v != nullptr ? std::max(1, std::atoi(v)) : 2;
  }());
  return p;
}

std::vector<float> normal_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The copies of one matrix, GGUF rows and (when asked for and this CPU has the kernel)
// repacked. One matrix at a time is kept: benchmarks of a shape run one after the other.
struct Copies {
  GgmlType type = GgmlType::F32;
  int64_t rows = 0, cols = 0;
  size_t bytes = 0;
  std::vector<uint8_t> data;
  std::vector<std::shared_ptr<const RepackedMatrix>> packed;

  WeightMatrix matrix(size_t i) const { return WeightMatrix{type, cols, rows, data.data() + i * bytes}; }
  size_t count() const { return data.size() / bytes; }
};

const Copies& copies(GgmlType t, int64_t rows, int64_t cols, bool repacked) {
  static Copies c;
  if (c.type != t || c.rows != rows || c.cols != cols) {
    c = Copies{};
    c.type = t;
    c.rows = rows;
    c.cols = cols;
    c.bytes = row_size(t, cols) * rows;
    const size_t n = std::max<size_t>(2, kColdBytes / c.bytes);
    c.data.resize(c.bytes * n);
    const auto f = normal_floats(static_cast<size_t>(rows * cols), 1);
    quant_ops(t)->from_float(f.data(), c.data.data(), rows * cols);
    for (size_t i = 1; i < n; ++i) std::memcpy(c.data.data() + i * c.bytes, c.data.data(), c.bytes);
  }
  if (repacked && c.packed.empty())
    for (size_t i = 0; i < c.count(); ++i) c.packed.push_back(repack(c.matrix(i)));
  return c;
}

void report(benchmark::State& state, double bytes, double flops) {
  const double n = static_cast<double>(state.iterations());
  state.counters["bytes/s"] = benchmark::Counter(bytes * n, benchmark::Counter::kIsRate);
  state.counters["FLOP/s"] = benchmark::Counter(flops * n, benchmark::Counter::kIsRate);
}

void BM_Matmul(benchmark::State& state, GgmlType t, int64_t rows, int64_t cols, int tokens, bool repacked) {
  if (repacked && !repack_available(copies(t, rows, cols, false).matrix(0))) {
    state.SkipWithError("no repacked kernel on this CPU");
    return;
  }
  const Copies& w = copies(t, rows, cols, repacked);
  const auto x = normal_floats(static_cast<size_t>(tokens * cols), 2);
  std::vector<float> out(static_cast<size_t>(tokens * rows));
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ % w.count();
    if (repacked) {
      matmul(*w.packed[k], x.data(), tokens, out.data(), pool());
    } else {
      matmul(w.matrix(k), x.data(), tokens, out.data(), pool());
    }
    benchmark::DoNotOptimize(out.data());
  }
  report(state, static_cast<double>(w.bytes), 2.0 * rows * cols * tokens);
}

// A KV head's cache as the paged cache holds it: f16 rows in blocks of 16 positions.
void BM_Attention(benchmark::State& state) {
  const int n_ctx = static_cast<int>(state.range(0)), hd = 64, n_q = 4, block = 16;
  const int n_blocks = (n_ctx + block - 1) / block;
  std::vector<uint16_t> k(static_cast<size_t>(n_blocks) * block * hd), v(k.size());
  const auto kf = normal_floats(k.size(), 3), vf = normal_floats(v.size(), 4);
  f32_to_f16_row(kf.data(), k.data(), static_cast<int64_t>(k.size()));
  f32_to_f16_row(vf.data(), v.data(), static_cast<int64_t>(v.size()));
  std::vector<const uint8_t*> kb(n_blocks), vb(n_blocks);
  for (int b = 0; b < n_blocks; ++b) {
    kb[b] = reinterpret_cast<const uint8_t*>(k.data() + static_cast<size_t>(b) * block * hd);
    vb[b] = reinterpret_cast<const uint8_t*>(v.data() + static_cast<size_t>(b) * block * hd);
  }
  KvHeadView view;
  view.k_blocks = kb.data();
  view.v_blocks = vb.data();
  view.block_size = block;
  view.row_stride = hd * sizeof(uint16_t);
  view.f16 = true;
  const auto q = normal_floats(static_cast<size_t>(n_q * hd), 5);
  std::vector<float> scratch(attend_scratch(n_q, hd, n_ctx)), out(static_cast<size_t>(n_q * hd));
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  for (auto _ : state) {
    attend(q.data(), n_q, hd, scale, view, n_ctx, scratch.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  // Keys and values read once; q.k and p*v are 2 FLOP per element per query head each.
  report(state, 2.0 * n_ctx * hd * sizeof(uint16_t), 4.0 * n_q * n_ctx * hd);
}
BENCHMARK(BM_Attention)->Name("attention")->Arg(512)->Arg(4096);

void BM_RmsNorm(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = normal_floats(static_cast<size_t>(n), 6), w = normal_floats(static_cast<size_t>(n), 7);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    rms_norm(x.data(), w.data(), out.data(), n, 1e-5f);
    benchmark::DoNotOptimize(out.data());
  }
  // x read twice (sum of squares, then scaling), w read, out written; 2 FLOP per element
  // for the sum and 2 for the scaling.
  report(state, 16.0 * n, 4.0 * n);
}
BENCHMARK(BM_RmsNorm)->Name("rms_norm")->Arg(2048)->Arg(8192);

void register_matmuls() {
  const GgmlType types[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16};
  const std::pair<int64_t, int64_t> shapes[] = {{2048, 2048}, {8192, 2048}, {2048, 8192}};
  for (GgmlType t : types) {
    const bool has_repacked = t != GgmlType::F16;
    for (auto [rows, cols] : shapes) {
      for (bool repacked : {false, true}) {
        if (repacked && !has_repacked) continue;
        for (int tokens : {1, 8, 64}) {
          const std::string name = std::string("matmul/") + type_name(t) + (repacked ? "r" : "") + "/" +
                                   std::to_string(rows) + "x" + std::to_string(cols) + "/t" +
                                   std::to_string(tokens);
          benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, rows, cols, tokens, repacked)
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_matmuls();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
