// mlx-serving perplexity, with llama.cpp's method: tokenize the text with BOS, cut it into
// chunks of n_ctx tokens, replace each chunk's first token by BOS, score only the second
// half of each chunk (every scored token has at least n_ctx/2 tokens of context).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/file_io.h"
#include "cli/direct_model.h"
#include "tokenizer/tokenizer.h"

namespace mlxs::cli {

int cmd_perplexity(int argc, char** argv) {
  Args args({"--model", "--file", "--ctx-size", "--threads", "--batch-size", "--kv-type", "--chunks"},
            {"--help"},
            {{"-m", "--model"}, {"-f", "--file"}, {"-c", "--ctx-size"}, {"-t", "--threads"},
             {"-b", "--batch-size"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    std::puts("usage: mlx-serving perplexity -m MODEL -f TEXTFILE -c N_CTX [-t THREADS] [-b BATCH]\n"
              "         [--chunks N] [--kv-type f16|f32]");
    return 0;
  }
  if (err.empty() && !args.get("--model")) err = "missing -m MODEL";
  if (err.empty() && !args.get("--file")) err = "missing -f TEXTFILE";
  int n_ctx = args.get_int("--ctx-size", 512, &err);
  int n_threads = args.get_int("--threads", 0, &err);
  int n_batch = args.get_int("--batch-size", 512, &err);
  int max_chunks = args.get_int("--chunks", -1, &err);
  auto kv = parse_kv_type(args.get_or("--kv-type", "f16"));
  if (err.empty() && !kv) err = "--kv-type must be f16 or f32";
  if (err.empty() && (n_ctx < 4 || n_batch < 1)) err = "-c must be at least 4 and -b at least 1";
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving perplexity: %s (see --help)\n", err.c_str());
    return 2;
  }
  auto text = read_file(*args.get("--file"));
  if (!text) {
    std::fprintf(stderr, "mlx-serving perplexity: cannot read %s\n", args.get("--file")->c_str());
    return 1;
  }
  auto dm = DirectModel::load(*args.get("--model"), n_threads, n_ctx, *kv);
  if (!dm.ok()) {
    std::fprintf(stderr, "mlx-serving perplexity: %s\n", dm.status().message().c_str());
    return 1;
  }
  auto tok = load_tokenizer(dm->model->source());
  if (!tok.ok()) {
    std::fprintf(stderr, "mlx-serving perplexity: %s\n", tok.status().message().c_str());
    return 1;
  }
  const Tokenizer& t = *tok.value();
  std::vector<TokenId> tokens = t.encode(*text, /*add_special=*/true, /*parse_special=*/false);
  // The first token of each chunk is replaced by BOS; a model without BOS keeps its token.
  const TokenId bos = t.bos_id();
  int n_chunks = static_cast<int>(tokens.size()) / n_ctx;
  if (max_chunks > 0) n_chunks = std::min(n_chunks, max_chunks);
  if (n_chunks == 0) {
    std::fprintf(stderr, "mlx-serving perplexity: the text has %zu tokens, fewer than one chunk of %d\n",
                 tokens.size(), n_ctx);
    return 1;
  }
  std::fprintf(stderr, "perplexity: %zu tokens, %d chunks of %d\n", tokens.size(), n_chunks, n_ctx);
  const int n_vocab = dm->model->config().n_vocab;
  const int first = n_ctx / 2;
  double nll = 0, nll2 = 0;
  long count = 0;
  std::vector<float> logits;
  for (int ch = 0; ch < n_chunks; ++ch) {
    std::vector<TokenId> chunk(tokens.begin() + static_cast<long>(ch) * n_ctx,
                               tokens.begin() + static_cast<long>(ch + 1) * n_ctx);
    if (bos >= 0) chunk[0] = bos;
    int seq = dm->cache->create_sequence();
    dm->cache->reserve(seq, n_ctx);
    logits.clear();
    for (int p = 0; p < n_ctx; p += n_batch) {
      int n = std::min(n_batch, n_ctx - p);
      BatchSeq b{seq, chunk.data() + p, n, p, BatchSeq::Logits::kAll};
      dm->model->forward({&b, 1}, *dm->cache, *dm->pool, &logits);
    }
    dm->cache->free_sequence(seq);
    for (int j = first; j < n_ctx - 1; ++j) {
      const float* row = logits.data() + static_cast<size_t>(j) * n_vocab;
      float mx = row[0];
      for (int v = 1; v < n_vocab; ++v) mx = std::max(mx, row[v]);
      double sum = 0;
      for (int v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - mx);
      double lp = row[chunk[j + 1]] - mx - std::log(sum);
      nll -= lp;
      nll2 += lp * lp;
      ++count;
    }
    std::fprintf(stderr, "[%d]%.4f%s", ch + 1, std::exp(nll / count), ch + 1 == n_chunks ? "\n" : ",");
  }
  double mean = nll / count;
  double var = nll2 / count - mean * mean;
  double ppl = std::exp(mean);
  double err_ppl = count > 1 ? ppl * std::sqrt(std::max(0.0, var) / (count - 1)) : 0.0;
  std::printf("PPL = %.4f +/- %.4f\n", ppl, err_ppl);
  return 0;
}

}  // namespace mlxs::cli
