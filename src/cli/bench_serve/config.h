// The settings of one serving benchmark run, as the command line gave them.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "http/http_client.h"

namespace mlxs::cli::bench {

enum class Endpoint { kCompletions, kChat };

struct BenchConfig {
  std::string url_text = "http://127.0.0.1:3000";
  http::Url url;
  std::string api_key;
  std::string model;  // "" : the first model /v1/models lists
  Endpoint endpoint = Endpoint::kCompletions;
  int concurrency = 1;
  int requests = 10;
  double rate = std::numeric_limits<double>::infinity();  // requests/s, Poisson arrivals
  int prompt_len = 128;
  int output_len = 128;
  int shared_prefix_len = 0;
  uint64_t seed = 0;
  double timeout_s = 600;  // per HTTP call
  bool json = false;
  std::string output_file;
};

inline const char* endpoint_path(Endpoint e) {
  return e == Endpoint::kChat ? "/v1/chat/completions" : "/v1/completions";
}
inline const char* endpoint_name(Endpoint e) {
  return e == Endpoint::kChat ? "chat" : "completions";
}

}  // namespace mlxs::cli::bench
