// mlx-serving logits: the raw output logits for every position of a token sequence, as
// JSON. Used to check the forward pass against an independent reference implementation.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/direct_model.h"

namespace mlxs::cli {

int cmd_logits(int argc, char** argv) {
  Args args({"--model", "--tokens", "--threads", "--kv-type", "--batch-size"}, {"--help"},
            {{"-m", "--model"}, {"-t", "--threads"}, {"-b", "--batch-size"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    std::puts("usage: mlx-serving logits -m MODEL --tokens 1,2,3 [-t THREADS] [-b BATCH] [--kv-type f16|f32]\n"
              "Prints {\"n_vocab\": V, \"logits\": [[V floats] per position]}.");
    return 0;
  }
  if (err.empty() && !args.get("--model")) err = "missing -m MODEL";
  if (err.empty() && !args.get("--tokens")) err = "missing --tokens";
  int n_threads = args.get_int("--threads", 0, &err);
  int n_batch = args.get_int("--batch-size", 512, &err);
  auto kv = parse_kv_type(args.get_or("--kv-type", "f16"));
  if (err.empty() && !kv) err = "--kv-type must be f16 or f32";
  std::vector<TokenId> tokens;
  if (err.empty()) {
    std::stringstream ss(*args.get("--tokens"));
    std::string item;
    while (std::getline(ss, item, ',')) {
      try {
        size_t used = 0;
        long v = std::stol(item, &used);
        if (used != item.size()) throw std::invalid_argument(item);
        tokens.push_back(static_cast<TokenId>(v));
      } catch (const std::exception&) {
        err = "--tokens must be comma-separated integers, got '" + item + "'";
        break;
      }
    }
    if (err.empty() && tokens.empty()) err = "--tokens is empty";
  }
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving logits: %s (see --help)\n", err.c_str());
    return 2;
  }
  auto dm = DirectModel::load(*args.get("--model"), n_threads, static_cast<int>(tokens.size()), *kv);
  if (!dm.ok()) {
    std::fprintf(stderr, "mlx-serving logits: %s\n", dm.status().message().c_str());
    return 1;
  }
  const int n_vocab = dm->model->config().n_vocab;
  for (TokenId t : tokens) {
    if (t < 0 || t >= n_vocab) {
      std::fprintf(stderr, "mlx-serving logits: token %d is outside the vocabulary (0..%d)\n", t, n_vocab - 1);
      return 2;
    }
  }
  int seq = dm->cache->create_sequence();
  dm->cache->reserve(seq, static_cast<int>(tokens.size()));
  std::vector<float> logits;
  for (size_t p = 0; p < tokens.size(); p += n_batch) {
    int n = static_cast<int>(std::min<size_t>(n_batch, tokens.size() - p));
    BatchSeq b{seq, tokens.data() + p, n, static_cast<int>(p), BatchSeq::Logits::kAll};
    dm->model->forward({&b, 1}, *dm->cache, *dm->pool, &logits);
  }
  nlohmann::json rows = nlohmann::json::array();
  for (size_t r = 0; r < tokens.size(); ++r)
    rows.push_back(std::vector<float>(logits.begin() + r * n_vocab, logits.begin() + (r + 1) * n_vocab));
  std::cout << nlohmann::json{{"n_vocab", n_vocab}, {"logits", rows}}.dump() << "\n";
  return 0;
}

}  // namespace mlxs::cli
