// mlx-serving bench: prompt processing (pp) and token generation (tg) speed, measured as
// llama-bench measures them: pp = one batch of P prompt tokens into an empty cache; tg = N
// single-token decode steps from an empty cache. Random token ids; means over repetitions.
// --streams S adds batched decode: S sequences decoding together, one token each per
// forward step (the aggregate tokens/s of S concurrent users). --bandwidth measures the
// machine's memory bandwidth in the same run, and reports tg against its ceiling
// (bandwidth ÷ the weight bytes one decode step reads).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "base/cpu_features.h"
#include "base/memory_bandwidth.h"
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
  Args args({"--model", "--n-prompt", "--n-gen", "--threads", "--repetitions", "--kv-type",
             "--streams"},
            {"--json", "--help", "--bandwidth"},
            {{"-m", "--model"}, {"-p", "--n-prompt"}, {"-n", "--n-gen"}, {"-t", "--threads"},
             {"-r", "--repetitions"}, {"-s", "--streams"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    std::puts(
        "usage: mlx-serving bench -m MODEL [-p 512] [-n 64] [-t THREADS] [-r REPS]\n"
        "         [-s STREAMS] [--bandwidth] [--kv-type f16|f32] [--json]\n"
        "  -s N         also decode N sequences together (aggregate tokens/s of N users)\n"
        "  --bandwidth  measure memory bandwidth (triad, read) and report tg against it");
    return 0;
  }
  if (err.empty() && !args.get("--model")) err = "missing -m MODEL";
  int n_prompt = args.get_int("--n-prompt", 512, &err);
  int n_gen = args.get_int("--n-gen", 64, &err);
  int n_threads = args.get_int("--threads", 0, &err);
  int reps = args.get_int("--repetitions", 3, &err);
  int n_streams = args.get_int("--streams", 0, &err);
  auto kv = parse_kv_type(args.get_or("--kv-type", "f16"));
  if (err.empty() && !kv) err = "--kv-type must be f16 or f32";
  if (err.empty() && (n_prompt < 0 || n_gen < 0 || reps < 1)) err = "-p and -n must be >= 0, -r >= 1";
  if (err.empty() && (n_streams < 0 || n_streams > 256)) err = "-s must be 0..256";
  if (err.empty() && n_streams > 0 && n_gen == 0) err = "-s needs -n > 0";
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving bench: %s (see --help)\n", err.c_str());
    return 2;
  }
  auto dm = DirectModel::load(*args.get("--model"), n_threads, std::max(n_prompt, n_gen) + 16, *kv,
                              std::max(1, n_streams));
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

  // n_streams sequences, each one decode token per step: aggregate tokens/s.
  auto run_streams = [&]() {
    std::vector<int> seqs(n_streams);
    std::vector<TokenId> toks(n_streams);
    for (int k = 0; k < n_streams; ++k) {
      seqs[k] = dm->cache->create_sequence();
      dm->cache->reserve(seqs[k], n_gen);
      toks[k] = dist(rng);
    }
    std::vector<BatchSeq> batch(n_streams);
    auto t0 = Clock::now();
    for (int i = 0; i < n_gen; ++i) {
      for (int k = 0; k < n_streams; ++k) batch[k] = {seqs[k], &toks[k], 1, i, BatchSeq::Logits::kLast};
      logits.clear();
      m.forward(batch, *dm->cache, *dm->pool, &logits);
      for (auto& t : toks) t = dist(rng);
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    for (int seq : seqs) dm->cache->free_sequence(seq);
    return static_cast<double>(n_streams) * n_gen / s;
  };

  // One warm-up of each touches every weight page and sizes the scratch buffers.
  if (n_prompt > 0) run_pp();
  if (n_gen > 0) run_tg();
  if (n_streams > 0) run_streams();
  std::vector<double> pp, tg, st;
  for (int r = 0; r < reps; ++r) {
    if (n_prompt > 0) pp.push_back(run_pp());
    if (n_gen > 0) tg.push_back(run_tg());
    if (n_streams > 0) st.push_back(run_streams());
  }
  Stat spp = pp.empty() ? Stat{} : summarize(pp);
  Stat stg = tg.empty() ? Stat{} : summarize(tg);
  Stat sst = st.empty() ? Stat{} : summarize(st);
  const double weight_bytes = static_cast<double>(m.weights().matrix_bytes());
  double gib = weight_bytes / double(1 << 30);
  // After the runs, so the weights and KV pages touched are counted.
  const double rss_mib = static_cast<double>(resident_bytes()) / (1 << 20);
  const double kv_mib = static_cast<double>(dm->cache->bytes()) / (1 << 20);
  MemoryBandwidth bw;
  if (args.has("--bandwidth")) bw = measure_memory_bandwidth(*dm->pool);
  // Decode's ceiling: every weight byte read once per token.
  const double tg_limit = bw.triad_gbs * 1e9 / weight_bytes;
  const double tg_limit_read = bw.read_gbs * 1e9 / weight_bytes;
  if (args.has("--json")) {
    nlohmann::json out = {
        {"model", *args.get("--model")}, {"arch", c.arch}, {"n_threads", dm->pool->size()},
        {"n_prompt", n_prompt}, {"n_gen", n_gen}, {"repetitions", reps},
        {"weights_gib", gib}, {"cpu", cpu_features().describe()},
        {"pp_tokens_per_s", spp.mean}, {"pp_stddev", spp.stddev},
        {"tg_tokens_per_s", stg.mean}, {"tg_stddev", stg.stddev},
        {"rss_mib", rss_mib}, {"kv_cache_mib", kv_mib},
    };
    if (n_streams > 0) {
      out["streams"] = n_streams;
      out["streams_tokens_per_s"] = sst.mean;
      out["streams_stddev"] = sst.stddev;
      out["streams_speedup"] = stg.mean > 0 ? sst.mean / stg.mean : 0;
    }
    if (args.has("--bandwidth")) {
      out["triad_gbs"] = bw.triad_gbs;
      out["read_gbs"] = bw.read_gbs;
      out["tg_limit_tokens_per_s"] = tg_limit;
      out["tg_percent_of_limit"] = tg_limit > 0 ? 100 * stg.mean / tg_limit : 0;
      out["tg_percent_of_read_limit"] = tg_limit_read > 0 ? 100 * stg.mean / tg_limit_read : 0;
    }
    std::cout << out.dump() << "\n";
  } else {
    std::printf("model: %s (%s, %.2f GiB of weight matrices), %d threads, cpu: %s\n",
                args.get("--model")->c_str(), c.describe().c_str(), gib, dm->pool->size(),
                cpu_features().describe().c_str());
    if (n_prompt > 0) std::printf("pp%-5d %10.2f ± %.2f tokens/s\n", n_prompt, spp.mean, spp.stddev);
    if (n_gen > 0) std::printf("tg%-5d %10.2f ± %.2f tokens/s\n", n_gen, stg.mean, stg.stddev);
    if (n_streams > 0)
      std::printf("tg%-5d x%-3d %6.2f ± %.2f tokens/s aggregate (%.2fx single stream)\n", n_gen,
                  n_streams, sst.mean, sst.stddev, stg.mean > 0 ? sst.mean / stg.mean : 0);
    if (args.has("--bandwidth")) {
      std::printf("memory: triad %.1f GB/s, read %.1f GB/s; tg ceiling %.1f tokens/s (triad), "
                  "%.1f (read)\n",
                  bw.triad_gbs, bw.read_gbs, tg_limit, tg_limit_read);
      if (n_gen > 0)
        std::printf("tg%-5d at %.0f %% of the triad ceiling, %.0f %% of the read ceiling\n", n_gen,
                    tg_limit > 0 ? 100 * stg.mean / tg_limit : 0,
                    tg_limit_read > 0 ? 100 * stg.mean / tg_limit_read : 0);
    }
    std::printf("memory: resident %.0f MiB (weights %.0f MiB, KV cache %.0f MiB)\n", rss_mib,
                weight_bytes / (1 << 20), kv_mib);
  }
  return 0;
}

}  // namespace mlxs::cli
