#include "cli/bench_serve/runner.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <thread>

namespace mlxs::cli::bench {

std::vector<double> arrival_offsets(int requests, double rate, uint64_t seed) {
  std::vector<double> at(static_cast<size_t>(requests), 0.0);
  if (std::isinf(rate)) return at;
  std::mt19937_64 rng(seed ^ 0xA5A5A5A5ULL);
  std::exponential_distribution<double> gap(rate);
  double t = 0;
  for (int i = 1; i < requests; ++i) {
    t += gap(rng);
    at[static_cast<size_t>(i)] = t;
  }
  return at;
}

RunOutcome run_benchmark(const BenchConfig& cfg, const std::vector<Prompt>& prompts) {
  RunOutcome out;
  const int n = static_cast<int>(prompts.size());
  out.results.resize(prompts.size());
  const std::vector<double> arrivals = arrival_offsets(n, cfg.rate, cfg.seed);
  const auto timeout = std::chrono::milliseconds(static_cast<long>(cfg.timeout_s * 1000));
  std::atomic<int> next{0};
  const Clock::time_point start = Clock::now();

  auto worker = [&] {
    http::HttpConnection conn(cfg.url, cfg.api_key, timeout);
    for (size_t i = static_cast<size_t>(next.fetch_add(1)); i < static_cast<size_t>(n);
         i = static_cast<size_t>(next.fetch_add(1))) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(arrivals[i])));
      RequestResult& r = out.results[i];
      r = run_request(conn, cfg, prompts[i].text, prompts[i].tokens);
      if (!r.ok) r.end = Clock::now();
    }
  };
  std::vector<std::thread> workers;
  const int threads = std::max(1, std::min(cfg.concurrency, n));
  for (int t = 0; t < threads; ++t) workers.emplace_back(worker);
  for (std::thread& t : workers) t.join();

  Clock::time_point last = start;
  for (const RequestResult& r : out.results) last = std::max(last, r.end);
  out.duration_s = std::chrono::duration<double>(last - start).count();
  return out;
}

}  // namespace mlxs::cli::bench
