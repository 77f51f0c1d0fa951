// mlx-serving bench: prompt processing (pp) and token generation (tg) speed, measured as
// llama-bench measures them: pp = one batch of P prompt tokens into an empty cache; tg = N
// single-token decode steps from an empty cache. Random token ids; means over repetitions.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "base/cpu_features.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/direct_model.h"

namespace mlxs::cli {
namespace {

struct Stat {
  double mean = 0, stddev = 0;
};
Stat summarize(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= v.size();
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / (v.size() - 1)) : 0;
  return s;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Args args({"--model", "--n-prompt", "--n-gen", "--threads", "--repetitions", "--kv-type"},
            {"--json", "--help"},
            {{"-m", "--model"}, {"-p", "--n-prompt"}, {"-n", "--n-gen"}, {"-t", "--threads"},
             {"-r", "--repetitions"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    std::puts("usage: mlx-serving bench -m MODEL [-p 512] [-n 64] [-t THREADS] [-r REPS] [--kv-type f16|f32] [--json]");
    return 0;
  }
  if (err.empty() && !args.get("--model")) err = "missing -m MODEL";
  int n_prompt = args.get_int("--n-prompt", 512, &err);
  int n_gen = args.get_int("--n-gen", 64, &err);
  int n_threads = args.get_int("--threads", 0, &err);
  int reps = args.get_int("--repetitions", 3, &err);
  auto kv = parse_kv_type(args.get_or("--kv-type", "f16"));
  if (err.empty() && !kv) err = "--kv-type must be f16 or f32";
  if (err.empty() && (n_prompt < 0 || n_gen < 0 || reps < 1)) err = "-p and -n must be >= 0, -r >= 1";
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving bench: %s (see --help)\n", err.c_str());
    return 2;
  }
  auto dm = DirectModel::load(*args.get("--model"), n_threads, std::max(n_prompt, n_gen) + 16, *kv);
  if (!dm.ok()) {
    std::fprintf(stderr, "mlx-serving bench: %s\n", dm.status().message().c_str());
    return 1;
  }
  Model& m = *dm->model;
  const ModelConfig& c = m.config();
  std::mt19937 rng(42);
  std::uniform_int_distribution<TokenId> dist(0, c.n_vocab - 1);
  std::vector<float> logits;
  using Clock = std::chrono::steady_clock;

  auto run_pp = [&]() {
    std::vector<TokenId> toks(n_prompt);
    for (auto& t : toks) t = dist(rng);
    int seq = dm->cache->create_sequence();
    dm->cache->reserve(seq, n_prompt);
    logits.clear();
    auto t0 = Clock::now();
    BatchSeq b{seq, toks.data(), n_prompt, 0, BatchSeq::Logits::kLast};
    m.forward({&b, 1}, *dm->cache, *dm->pool, &logits);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    dm->cache->free_sequence(seq);
    return n_prompt / s;
  };
  auto run_tg = [&]() {
    int seq = dm->cache->create_sequence();
    dm->cache->reserve(seq, n_gen);
    TokenId tok = dist(rng);
    auto t0 = Clock::now();
    for (int i = 0; i < n_gen; ++i) {
      logits.clear();
      BatchSeq b{seq, &tok, 1, i, BatchSeq::Logits::kLast};
      m.forward({&b, 1}, *dm->cache, *dm->pool, &logits);
      tok = dist(rng);
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    dm->cache->free_sequence(seq);
    return n_gen / s;
  };

  // One warm-up of each touches every weight page and sizes the scratch buffers.
  if (n_prompt > 0) run_pp();
  if (n_gen > 0) run_tg();
  std::vector<double> pp, tg;
  for (int r = 0; r < reps; ++r) {
    if (n_prompt > 0) pp.push_back(run_pp());
    if (n_gen > 0) tg.push_back(run_tg());
  }
  Stat spp = pp.empty() ? Stat{} : summarize(pp);
  Stat stg = tg.empty() ? Stat{} : summarize(tg);
  double gib = m.weights().matrix_bytes() / double(1 << 30);
  if (args.has("--json")) {
    nlohmann::json out = {
        {"model", *args.get("--model")}, {"arch", c.arch}, {"n_threads", dm->pool->size()},
        {"n_prompt", n_prompt}, {"n_gen", n_gen}, {"repetitions", reps},
        {"weights_gib", gib}, {"cpu", cpu_features().describe()},
        {"pp_tokens_per_s", spp.mean}, {"pp_stddev", spp.stddev},
        {"tg_tokens_per_s", stg.mean}, {"tg_stddev", stg.stddev},
    };
    std::cout << out.dump() << "\n";
  } else {
    std::printf("model: %s (%s, %.2f GiB of weight matrices), %d threads, cpu: %s\n",
                args.get("--model")->c_str(), c.describe().c_str(), gib, dm->pool->size(),
                cpu_features().describe().c_str());
    if (n_prompt > 0) std::printf("pp%-5d %10.2f ± %.2f tokens/s\n", n_prompt, spp.mean, spp.stddev);
    if (n_gen > 0) std::printf("tg%-5d %10.2f ± %.2f tokens/s\n", n_gen, stg.mean, stg.stddev);
  }
  return 0;
}

}  // namespace mlxs::cli
