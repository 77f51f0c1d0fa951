// Cost of the feature flags in the request path: one MD5 bucket, one feature decided, and
// every feature decided for a request (what the server does once per generation request),
// with decision logging off as in a busy production setup.
// Run: build/bench/flags_bench
#include <benchmark/benchmark.h>

#include <string>

#include "flags/bucketing.h"
#include "flags/feature_flag_loader.h"

namespace {

using namespace mlxs::flags;

std::shared_ptr<const FlagSnapshot> production_flags() {
  auto snap = std::make_shared<FlagSnapshot>();
  FlagConfig& c = snap->config;
  c.phase4_rollout = {true, 100, "phase4-rollout-2025-01-08"};
  c.ttft_pipeline = {true, 50, "ttft-pipeline-2025-01-08"};
  c.warmup_queue_enabled = c.speculation_enabled = true;
  c.qos_monitor = {true, 25, "qos-monitor-2025-01-08"};
  c.evaluator_enabled = c.executor_enabled = c.policy_store_enabled = true;
  c.canary = {true, 100, ""};
  c.log_feature_decisions = false;
  return snap;
}

void BM_RolloutBucket(benchmark::State& state) {
  int i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(rollout_bucket("user-" + std::to_string(i++), "ttft-pipeline-2025-01-08"));
}
BENCHMARK(BM_RolloutBucket);

void BM_EvaluateOneFeature(benchmark::State& state) {
  FeatureFlagLoader loader(production_flags());
  int i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(loader.evaluate("ttft_pipeline.speculation", "user-" + std::to_string(i++)));
}
BENCHMARK(BM_EvaluateOneFeature);

void BM_EvaluateRequest(benchmark::State& state) {
  FeatureFlagLoader loader(production_flags());
  int i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(loader.evaluate_request("user-" + std::to_string(i++)));
}
BENCHMARK(BM_EvaluateRequest);

// Request threads evaluating while the snapshot is read concurrently.
void BM_EvaluateRequestThreads(benchmark::State& state) {
  static FeatureFlagLoader loader(production_flags());
  int i = state.thread_index() * 1000000;
  for (auto _ : state) benchmark::DoNotOptimize(loader.evaluate_request("user-" + std::to_string(i++)));
}
BENCHMARK(BM_EvaluateRequestThreads)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
