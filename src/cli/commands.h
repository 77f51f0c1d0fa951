// Subcommands of the mlx-serving binary. Each returns the process exit code:
// 0 success, 1 runtime failure (bad model file, ...), 2 bad command line.
#pragma once

namespace mlxs::cli {

int cmd_generate(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_template(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_bench_serve(int argc, char** argv);
int cmd_flags(int argc, char** argv);
int cmd_canary(int argc, char** argv);

}  // namespace mlxs::cli
