#include "cli/bench_serve/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace mlxs::cli::bench {

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

Distribution distribution(std::vector<double> v) {
  Distribution d;
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  d.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - d.mean) * (x - d.mean);
  d.stddev = std::sqrt(sq / static_cast<double>(v.size()));
  d.median = percentile(v, 50);
  d.p95 = percentile(v, 95);
  d.p99 = percentile(v, 99);
  return d;
}

Summary summarize(const std::vector<RequestResult>& results, double duration_s) {
  Summary s;
  s.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el;
  for (const RequestResult& r : results) {
    if (!r.ok) {
      ++s.failed;
      if (s.first_error.empty()) s.first_error = r.error;
      continue;
    }
    ++s.completed;
    s.total_input_tokens += r.prompt_tokens;
    s.total_output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_s * 1e3);
    e2el.push_back(r.latency_s * 1e3);
    // The first token's wait is TTFT; the rest of the stream is shared by the others.
    if (r.output_tokens > 1) tpot.push_back((r.latency_s - r.ttft_s) * 1e3 / (r.output_tokens - 1));
    for (double gap : r.itl_s) itl.push_back(gap * 1e3);
  }
  if (duration_s > 0) {
    s.request_throughput = s.completed / duration_s;
    s.input_throughput = static_cast<double>(s.total_input_tokens) / duration_s;
    s.output_throughput = static_cast<double>(s.total_output_tokens) / duration_s;
    s.total_token_throughput =
        static_cast<double>(s.total_input_tokens + s.total_output_tokens) / duration_s;
  }
  s.ttft = distribution(std::move(ttft));
  s.tpot = distribution(std::move(tpot));
  s.itl = distribution(std::move(itl));
  s.e2el = distribution(std::move(e2el));
  return s;
}

nlohmann::ordered_json summary_json(const Summary& s, const BenchConfig& cfg,
                                    bool estimated_prompts) {
  nlohmann::ordered_json j;
  j["endpoint"] = endpoint_name(cfg.endpoint);
  j["model"] = cfg.model;
  j["concurrency"] = cfg.concurrency;
  j["num_prompts"] = cfg.requests;
  // JSON has no infinity: an unlimited rate is null.
  j["request_rate"] =
      std::isinf(cfg.rate) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(cfg.rate);
  j["prompt_len"] = cfg.prompt_len;
  j["output_len"] = cfg.output_len;
  j["shared_prefix_len"] = cfg.shared_prefix_len;
  j["prompt_lengths_estimated"] = estimated_prompts;
  j["completed"] = s.completed;
  j["failed"] = s.failed;
  j["first_error"] = s.first_error.empty() ? nlohmann::ordered_json(nullptr)
                                           : nlohmann::ordered_json(s.first_error);
  j["duration"] = s.duration_s;
  j["total_input_tokens"] = s.total_input_tokens;
  j["total_output_tokens"] = s.total_output_tokens;
  j["request_throughput"] = s.request_throughput;
  j["input_throughput"] = s.input_throughput;
  j["output_throughput"] = s.output_throughput;
  j["total_token_throughput"] = s.total_token_throughput;
  auto put = [&j](const std::string& name, const Distribution& d) {
    j["mean_" + name + "_ms"] = d.mean;
    j["median_" + name + "_ms"] = d.median;
    j["std_" + name + "_ms"] = d.stddev;
    j["p95_" + name + "_ms"] = d.p95;
    j["p99_" + name + "_ms"] = d.p99;
  };
  put("ttft", s.ttft);
  put("tpot", s.tpot);
  put("itl", s.itl);
  put("e2el", s.e2el);
  return j;
}

namespace {

std::string row(const std::string& label, const std::string& value) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%-40s%10s\n", label.c_str(), value.c_str());
  return buf;
}
std::string fixed(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
std::string banner(const std::string& title, char fill) {
  const size_t width = 50;
  const size_t side = (width - std::min(width, title.size())) / 2;
  std::string out(side, fill);
  out += title;
  out += std::string(width - out.size(), fill);
  return out + "\n";
}
std::string section(const std::string& title, const std::string& name, const Distribution& d) {
  return banner(title, '-') + row("Mean " + name + " (ms):", fixed(d.mean)) +
         row("Median " + name + " (ms):", fixed(d.median)) +
         row("P95 " + name + " (ms):", fixed(d.p95)) + row("P99 " + name + " (ms):", fixed(d.p99));
}

}  // namespace

std::string summary_table(const Summary& s) {
  return banner(" Serving Benchmark Result ", '=') +
         row("Successful requests:", std::to_string(s.completed)) +
         row("Failed requests:", std::to_string(s.failed)) +
         row("Benchmark duration (s):", fixed(s.duration_s)) +
         row("Total input tokens:", std::to_string(s.total_input_tokens)) +
         row("Total generated tokens:", std::to_string(s.total_output_tokens)) +
         row("Request throughput (req/s):", fixed(s.request_throughput)) +
         row("Input token throughput (tok/s):", fixed(s.input_throughput)) +
         row("Output token throughput (tok/s):", fixed(s.output_throughput)) +
         row("Total token throughput (tok/s):", fixed(s.total_token_throughput)) +
         section("Time to First Token", "TTFT", s.ttft) +
         section("Time per Output Token (excl. 1st token)", "TPOT", s.tpot) +
         section("Inter-token Latency", "ITL", s.itl) +
         section("End-to-end Latency", "E2EL", s.e2el) + std::string(50, '=') + "\n";
}

}  // namespace mlxs::cli::bench
