// The mlx-serving binary: one subcommand per job.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {

void usage(FILE* out) {
  std::fputs(
      "usage: mlx-serving COMMAND [options]\n"
      "commands:\n"
      "  serve       the OpenAI-compatible HTTP server\n"
      "  generate    stream a completion for a prompt\n"
      "  tokenize    print the token ids of a text (works on vocabulary-only GGUF files)\n"
      "  perplexity  perplexity of a text file (llama.cpp's method)\n"
      "  bench       prompt-processing and generation speed (llama-bench's pp/tg)\n"
      "  logits      raw logits of a token sequence as JSON (for reference checks)\n"
      "  template    render the model's chat template for a conversation\n"
      "  bench-serve load a running server like vLLM's serving benchmark\n"
      "  flags       validate a feature-flags file; evaluate a feature for keys\n"
      "  canary      validate a canary file; route keys; set the rollout percentage\n"
      "Run 'mlx-serving COMMAND --help' for the options of a command.\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::puts("mlx-serving 0.1.0");
    return 0;
  }
  if (cmd == "serve") return mlxs::cli::cmd_serve(argc, argv);
  if (cmd == "bench-serve") return mlxs::cli::cmd_bench_serve(argc, argv);
  if (cmd == "generate") return mlxs::cli::cmd_generate(argc, argv);
  if (cmd == "tokenize") return mlxs::cli::cmd_tokenize(argc, argv);
  if (cmd == "perplexity") return mlxs::cli::cmd_perplexity(argc, argv);
  if (cmd == "bench") return mlxs::cli::cmd_bench(argc, argv);
  if (cmd == "logits") return mlxs::cli::cmd_logits(argc, argv);
  if (cmd == "template") return mlxs::cli::cmd_template(argc, argv);
  if (cmd == "flags") return mlxs::cli::cmd_flags(argc, argv);
  if (cmd == "canary") return mlxs::cli::cmd_canary(argc, argv);
  std::fprintf(stderr, "mlx-serving: unknown command '%s'\n", cmd.c_str());
  usage(stderr);
  return 2;
}
