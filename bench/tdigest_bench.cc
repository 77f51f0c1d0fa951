// Cost of the QoS measurement core: adding a sample to a t-digest (amortised over buffer
// merges), reading a quantile, and taking a rolling-window snapshot as the evaluator does.
// Run: build/bench/tdigest_bench
#include <benchmark/benchmark.h>

#include <chrono>
#include <random>
#include <vector>

#include "qos/rolling_window.h"
#include "qos/tdigest.h"

namespace {

using mlxs::qos::RollingDigest;
using mlxs::qos::TDigest;

std::vector<double> latencies(size_t n) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(5, 0.7);
  std::vector<double> out(n);
  for (double& x : out) x = dist(rng);
  return out;
}

void BM_TDigestAdd(benchmark::State& state) {
  const auto values = latencies(1 << 16);
  TDigest digest(static_cast<double>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    digest.add(values[i++ & (values.size() - 1)]);
  }
  benchmark::DoNotOptimize(digest.quantile(0.5));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TDigestAdd)->Arg(100)->Arg(500);

void BM_TDigestQuantile(benchmark::State& state) {
  TDigest digest(100);
  for (double x : latencies(100000)) digest.add(x);
  for (auto _ : state) benchmark::DoNotOptimize(digest.quantile(0.95));
}
BENCHMARK(BM_TDigestQuantile);

void BM_RollingSnapshot(benchmark::State& state) {
  RollingDigest window(std::chrono::seconds(60), 12, 100);
  const auto start = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  const auto values = latencies(120000);
  // 2000 requests per second over one full window.
  for (size_t i = 0; i < values.size(); ++i) {
    window.add(values[i], start + std::chrono::microseconds(500 * i));
  }
  const auto now = start + std::chrono::seconds(60);
  for (auto _ : state) benchmark::DoNotOptimize(window.snapshot(now).quantile(0.95));
}
BENCHMARK(BM_RollingSnapshot);

}  // namespace

BENCHMARK_MAIN();
