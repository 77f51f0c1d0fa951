// One benchmark request: a streamed completion whose events are timed as they arrive.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cli/bench_serve/config.h"
#include "http/http_client.h"

namespace mlxs::cli::bench {

using Clock = std::chrono::steady_clock;

struct RequestResult {
  bool ok = false;
  std::string error;           // why it failed
  double ttft_s = 0;           // send → first generated text
  double latency_s = 0;        // send → end of the stream
  std::vector<double> itl_s;   // gaps between consecutive text events
  int prompt_tokens = 0;       // usage.prompt_tokens, else the calibrated length
  int output_tokens = 0;       // usage.completion_tokens, else the number of text events
  Clock::time_point end;
};

// The JSON body: stream with usage, exactly `output_len` tokens (ignore_eos), greedy.
std::string request_body(const BenchConfig& cfg, const std::string& prompt);

RequestResult run_request(http::HttpConnection& conn, const BenchConfig& cfg,
                          const std::string& prompt, int calibrated_tokens);

// The message of an OpenAI error body ({"error":{"message":...}}), else the body itself,
// shortened.
std::string error_message(int status, const std::string& body);

}  // namespace mlxs::cli::bench
