// Drives the load: `concurrency` workers, each with its own keep-alive connection, take
// the requests in order. With a finite rate each request is released at its Poisson
// arrival time (seeded exponential gaps) and waits for a free worker, as vLLM's
// --request-rate with --max-concurrency does.
#pragma once

#include <vector>

#include "cli/bench_serve/config.h"
#include "cli/bench_serve/prompts.h"
#include "cli/bench_serve/request.h"

namespace mlxs::cli::bench {

struct RunOutcome {
  std::vector<RequestResult> results;  // in request order
  double duration_s = 0;               // first send → last completion
};

// Offsets (seconds from the start) at which each request may be sent: all zero for an
// infinite rate.
std::vector<double> arrival_offsets(int requests, double rate, uint64_t seed);

RunOutcome run_benchmark(const BenchConfig& cfg, const std::vector<Prompt>& prompts);

}  // namespace mlxs::cli::bench
