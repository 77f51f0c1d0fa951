// mlx-serving tokenize: prints the token ids of a text as a JSON array. Loads only the
// tokenizer, so vocabulary-only GGUF files work.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/file_io.h"
#include "engine/model_source.h"
#include "tokenizer/tokenizer.h"

namespace mlxs::cli {

int cmd_tokenize(int argc, char** argv) {
  Args args({"--model", "--file"}, {"--no-bos", "--no-parse-special", "--help"},
            {{"-m", "--model"}, {"-f", "--file"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    std::puts("usage: mlx-serving tokenize -m MODEL [--no-bos] [--no-parse-special] (TEXT | --file F)");
    return 0;
  }
  if (err.empty() && !args.get("--model")) err = "missing -m MODEL";
  if (err.empty() && !args.get("--file") && args.positionals().size() != 1)
    err = "give exactly one TEXT argument or --file F";
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving tokenize: %s (see --help)\n", err.c_str());
    return 2;
  }
  std::string text;
  if (auto f = args.get("--file")) {
    auto data = read_file(*f);
    if (!data) {
      std::fprintf(stderr, "mlx-serving tokenize: cannot read %s\n", f->c_str());
      return 1;
    }
    text = std::move(*data);
  } else {
    text = args.positionals()[0];
  }
  auto tok = load_tokenizer(*args.get("--model"));
  if (!tok.ok()) {
    std::fprintf(stderr, "mlx-serving tokenize: %s\n", tok.status().message().c_str());
    return 1;
  }
  auto ids = tok.value()->encode(text, !args.has("--no-bos"), !args.has("--no-parse-special"));
  std::cout << nlohmann::json(ids).dump() << "\n";
  return 0;
}

}  // namespace mlxs::cli
