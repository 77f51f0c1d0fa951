// The benchmark's summary, computed like vLLM's benchmark_serving.py: request and token
// throughput over the whole run, and mean / median / p95 / p99 of TTFT, TPOT (time per
// output token after the first), ITL (gaps between streamed chunks) and end-to-end
// latency over the completed requests.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/bench_serve/config.h"
#include "cli/bench_serve/request.h"

namespace mlxs::cli::bench {

struct Distribution {
  double mean = 0, median = 0, stddev = 0, p95 = 0, p99 = 0;  // milliseconds
};
// Percentiles interpolate linearly between order statistics (numpy's default); an empty
// sample gives zeros.
Distribution distribution(std::vector<double> values_ms);
double percentile(const std::vector<double>& sorted, double q);

struct Summary {
  int completed = 0;
  int failed = 0;
  std::string first_error;
  double duration_s = 0;
  long total_input_tokens = 0;
  long total_output_tokens = 0;
  double request_throughput = 0;
  double input_throughput = 0;
  double output_throughput = 0;
  double total_token_throughput = 0;
  Distribution ttft, tpot, itl, e2el;
};

Summary summarize(const std::vector<RequestResult>& results, double duration_s);

nlohmann::ordered_json summary_json(const Summary& s, const BenchConfig& cfg,
                                    bool estimated_prompts);
std::string summary_table(const Summary& s);

}  // namespace mlxs::cli::bench
