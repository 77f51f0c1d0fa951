// mlx-serving bench-serve: loads a running OpenAI-compatible server the way vLLM's
// benchmark_serving.py does and reports throughput and latency percentiles.
// Exit codes: 0 at least one request completed, 1 every request failed, 2 bad flags.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/bench_serve/config.h"
#include "cli/bench_serve/prompts.h"
#include "cli/bench_serve/runner.h"
#include "cli/bench_serve/stats.h"
#include "cli/commands.h"
#include "http/http_client.h"

namespace mlxs::cli {
namespace {

using bench::BenchConfig;

// Both the server root and the OpenAI base URL are accepted: trailing slashes and a final
// "/v1" are dropped, since every request path starts with "/v1/".
void to_server_root(std::string* prefix) {
  while (!prefix->empty() && prefix->back() == '/') prefix->pop_back();
  if (prefix->size() >= 3 && prefix->compare(prefix->size() - 3, 3, "/v1") == 0)
    prefix->resize(prefix->size() - 3);
}

void usage() {
  std::puts(
      "usage: mlx-serving bench-serve [--url URL] [--concurrency N] [--requests M]\n"
      "         [--rate R] [--prompt-len L] [--output-len O] [--shared-prefix-len P]\n"
      "         [--endpoint completions|chat] [--model NAME] [--api-key KEY] [--seed S]\n"
      "         [--timeout SECONDS] [--json] [--output FILE]\n"
      "Sends M streamed requests to a running server (default http://127.0.0.1:3000), at\n"
      "most N at a time (default 1), released at R requests/s with Poisson arrivals\n"
      "(default: all at once). Prompts are synthetic text of about L tokens (default 128)\n"
      "as the server's /tokenize counts them, the first P shared by all requests; every\n"
      "request asks for exactly O tokens (default 128; ignore_eos, temperature 0).\n"
      "Reports request and token throughput and mean / median / p95 / p99 of TTFT, TPOT,\n"
      "ITL and end-to-end latency: a table, or with --json one JSON object. --output\n"
      "also writes the JSON object to FILE.\n"
      "Exit code 1 when every request failed, 2 on bad flags.");
}

// Reads the flags into `cfg`; returns "" or what is wrong.
std::string read_flags(const Args& args, BenchConfig* cfg) {
  std::string err;
  cfg->url_text = args.get_or("--url", cfg->url_text);
  cfg->api_key = args.get_or("--api-key", "");
  cfg->model = args.get_or("--model", "");
  cfg->output_file = args.get_or("--output", "");
  cfg->json = args.has("--json");
  cfg->concurrency = args.get_int("--concurrency", cfg->concurrency, &err);
  cfg->requests = args.get_int("--requests", cfg->requests, &err);
  cfg->rate = args.get_double("--rate", cfg->rate, &err);
  cfg->prompt_len = args.get_int("--prompt-len", cfg->prompt_len, &err);
  cfg->output_len = args.get_int("--output-len", cfg->output_len, &err);
  cfg->shared_prefix_len = args.get_int("--shared-prefix-len", cfg->shared_prefix_len, &err);
  cfg->timeout_s = args.get_double("--timeout", cfg->timeout_s, &err);
  const int seed = args.get_int("--seed", 0, &err);
  cfg->seed = static_cast<uint64_t>(static_cast<uint32_t>(seed));
  if (!err.empty()) return err;
  if (!args.positionals().empty()) return "unexpected argument '" + args.positionals()[0] + "'";
  const std::string endpoint = args.get_or("--endpoint", "completions");
  if (endpoint == "completions") {
    cfg->endpoint = bench::Endpoint::kCompletions;
  } else if (endpoint == "chat") {
    cfg->endpoint = bench::Endpoint::kChat;
  } else {
    return "--endpoint must be completions or chat, got '" + endpoint + "'";
  }
  if (cfg->concurrency < 1 || cfg->concurrency > 4096) return "--concurrency must be 1..4096";
  if (cfg->requests < 1) return "--requests must be at least 1";
  if (!(cfg->rate > 0)) return "--rate must be positive (inf: no limit)";
  if (cfg->prompt_len < 1) return "--prompt-len must be at least 1";
  if (cfg->output_len < 1) return "--output-len must be at least 1";
  if (cfg->shared_prefix_len < 0 || cfg->shared_prefix_len > cfg->prompt_len)
    return "--shared-prefix-len must be 0..prompt-len";
  if (!(cfg->timeout_s > 0) || std::isinf(cfg->timeout_s)) return "--timeout must be positive";
  auto url = http::parse_url(cfg->url_text);
  if (!url.ok()) return url.status().message();
  cfg->url = url.value();
  to_server_root(&cfg->url.prefix);
  return "";
}

// The first model /v1/models lists, or "" (the request then names none).
std::string discover_model(http::HttpConnection& conn) {
  auto r = conn.request("/v1/models", "", /*post=*/false);
  if (!r.ok() || r->status != 200) return "";
  auto j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_array() ||
      j["data"].empty() || !j["data"][0].is_object())
    return "";
  const auto& id = j["data"][0]["id"];
  return id.is_string() ? id.get<std::string>() : "";
}

// Set-up calls on a connection of their own: the model name and prompt calibration.
bench::PromptSet prepare(BenchConfig* cfg) {
  http::HttpConnection setup(cfg->url, cfg->api_key, std::chrono::seconds(30));
  if (cfg->model.empty()) cfg->model = discover_model(setup);
  if (!cfg->json) {
    std::fprintf(stderr, "bench-serve: %s, model %s, %d requests, concurrency %d\n",
                 cfg->url_text.c_str(), cfg->model.empty() ? "(unnamed)" : cfg->model.c_str(),
                 cfg->requests, cfg->concurrency);
  }
  bench::PromptSet prompts =
      bench::build_prompts(*cfg, bench::server_token_counter(setup, cfg->model));
  if (prompts.estimated) {
    std::fprintf(stderr,
                 "bench-serve: warning: the server's /tokenize did not answer; prompt lengths "
                 "are estimated\n");
  } else if (!prompts.prompts.empty()) {
    // Whole words (and, for chat, the template) can keep short targets out of reach.
    double mean = 0;
    for (const auto& p : prompts.prompts) mean += p.tokens;
    mean /= static_cast<double>(prompts.prompts.size());
    if (std::abs(mean - cfg->prompt_len) > std::max(2.0, 0.1 * cfg->prompt_len)) {
      std::fprintf(stderr, "bench-serve: warning: prompts average %.1f tokens (asked for %d)\n",
                   mean, cfg->prompt_len);
    }
  }
  return prompts;
}

}  // namespace

int cmd_bench_serve(int argc, char** argv) {
  Args args({"--url", "--concurrency", "--requests", "--rate", "--prompt-len", "--output-len",
             "--shared-prefix-len", "--endpoint", "--model", "--api-key", "--seed", "--output",
             "--timeout"},
            {"--json", "--help"}, {{"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    usage();
    return 0;
  }
  BenchConfig cfg;
  if (err.empty()) err = read_flags(args, &cfg);
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving bench-serve: %s\n", err.c_str());
    return 2;
  }

  bench::PromptSet prompts = prepare(&cfg);
  bench::RunOutcome run = bench::run_benchmark(cfg, prompts.prompts);
  bench::Summary summary = bench::summarize(run.results, run.duration_s);
  if (!summary.first_error.empty()) {
    std::fprintf(stderr, "bench-serve: %d request(s) failed; first error: %s\n", summary.failed,
                 summary.first_error.c_str());
  }
  const auto j = bench::summary_json(summary, cfg, prompts.estimated);
  if (cfg.json) {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::fputs(bench::summary_table(summary).c_str(), stdout);
  }
  if (!cfg.output_file.empty()) {
    std::ofstream out(cfg.output_file, std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "bench-serve: cannot write %s\n", cfg.output_file.c_str());
      return 1;
    }
  }
  return summary.completed == 0 ? 1 : 0;
}

}  // namespace mlxs::cli
