// mlx-serving generate: streams a completion for one prompt through the real engine
// (scheduler, sampler, detokenizer), as a server request would run.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/file_io.h"
#include "cli/direct_model.h"
#include "engine/engine.h"

namespace mlxs::cli {

int cmd_generate(int argc, char** argv) {
  Args args({"--model", "--prompt", "--n-predict", "--temperature", "--top-k", "--top-p",
             "--min-p", "--repeat-penalty", "--repeat-last-n", "--presence-penalty",
             "--frequency-penalty", "--seed", "--stop", "--threads", "--ctx-size", "--kv-type",
             "--logprobs", "--file", "--system"},
            {"--json", "--ignore-eos", "--no-bos", "--chat", "--help"},
            {{"-m", "--model"}, {"-p", "--prompt"}, {"-n", "--n-predict"}, {"-t", "--threads"},
             {"-c", "--ctx-size"}, {"-s", "--seed"}, {"-f", "--file"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    std::puts(
        "usage: mlx-serving generate -m MODEL (-p PROMPT | -f FILE) [-n N] [--temperature T]\n"
        "         [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--repeat-last-n N]\n"
        "         [--presence-penalty X] [--frequency-penalty X] [--seed S] [--stop TEXT]\n"
        "         [--logprobs N] [--ignore-eos] [--no-bos] [-t THREADS] [-c CTX] [--kv-type f16|f32]\n"
        "         [--chat [--system TEXT]] [--json]\n"
        "Streams the completion to stdout; --json prints one JSON object instead.\n"
        "--chat sends the prompt as a user message through the model's chat template.");
    return 0;
  }
  if (err.empty() && !args.get("--model")) err = "missing -m MODEL";
  if (err.empty() && !args.get("--prompt") && !args.get("--file")) err = "missing -p PROMPT";

  GenerateRequest req;
  req.max_tokens = args.get_int("--n-predict", 128, &err);
  // Defaults as llama.cpp's command line uses them.
  req.sampling.temperature = static_cast<float>(args.get_double("--temperature", 0.8, &err));
  req.sampling.top_k = args.get_int("--top-k", 40, &err);
  req.sampling.top_p = static_cast<float>(args.get_double("--top-p", 0.95, &err));
  req.sampling.min_p = static_cast<float>(args.get_double("--min-p", 0.05, &err));
  req.sampling.repetition_penalty = static_cast<float>(args.get_double("--repeat-penalty", 1.0, &err));
  req.sampling.penalty_last_n = args.get_int("--repeat-last-n", 64, &err);
  req.sampling.presence_penalty = static_cast<float>(args.get_double("--presence-penalty", 0.0, &err));
  req.sampling.frequency_penalty = static_cast<float>(args.get_double("--frequency-penalty", 0.0, &err));
  if (args.get("--seed")) req.sampling.seed = static_cast<uint64_t>(args.get_double("--seed", 0, &err));
  int n_logprobs = args.get_int("--logprobs", -1, &err);
  if (n_logprobs >= 0) {
    req.sampling.want_logprobs = true;
    req.sampling.n_top_logprobs = n_logprobs;
  }
  if (auto s = args.get("--stop")) req.stop.push_back(*s);
  req.ignore_eos = args.has("--ignore-eos");
  req.add_special = !args.has("--no-bos");
  auto kv = parse_kv_type(args.get_or("--kv-type", "f16"));
  if (err.empty() && !kv) err = "--kv-type must be f16 or f32";
  EngineOptions opts;
  opts.n_threads = args.get_int("--threads", 0, &err);
  opts.n_ctx = args.get_int("--ctx-size", 0, &err);
  opts.max_sequences = 1;
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving generate: %s (see --help)\n", err.c_str());
    return 2;
  }
  if (auto f = args.get("--file")) {
    auto data = read_file(*f);
    if (!data) {
      std::fprintf(stderr, "mlx-serving generate: cannot read %s\n", f->c_str());
      return 1;
    }
    req.prompt = std::move(*data);
  } else {
    req.prompt = *args.get("--prompt");
  }
  opts.model_path = *args.get("--model");
  opts.kv_type = *kv;
  if (opts.n_ctx <= 0) opts.n_ctx = 0;

  auto engine = Engine::create(opts);
  if (!engine.ok()) {
    std::fprintf(stderr, "mlx-serving generate: %s\n", engine.status().message().c_str());
    return 1;
  }
  if (args.has("--chat")) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (auto sys = args.get("--system")) messages.push_back({{"role", "system"}, {"content", *sys}});
    messages.push_back({{"role", "user"}, {"content", req.prompt}});
    auto prompt = engine.value()->chat().render(messages, nullptr, true);
    if (!prompt.ok()) {
      std::fprintf(stderr, "mlx-serving generate: %s\n", prompt.status().message().c_str());
      return 1;
    }
    req.prompt = std::move(prompt.value());
    req.add_special = false;  // the template writes BOS itself
  }
  const bool json = args.has("--json");
  auto stream = engine.value()->generate(req);
  Chunk c;
  std::string text;
  std::vector<TokenId> tokens;
  nlohmann::json logprobs = nlohmann::json::array();
  GenerationStats stats;
  FinishReason finish = FinishReason::kNone;
  std::string error;
  while (stream->next(&c)) {
    if (c.token >= 0) {
      tokens.push_back(c.token);
      if (req.sampling.want_logprobs) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& t : c.top_logprobs) top.push_back({{"token", t.token}, {"logprob", t.logprob}});
        logprobs.push_back({{"token", c.token}, {"logprob", c.logprob}, {"top", top}});
      }
    }
    text += c.text;
    if (!json) {
      std::fwrite(c.text.data(), 1, c.text.size(), stdout);
      std::fflush(stdout);
    }
    stats = c.stats;
    finish = c.finish;
    error = c.error;
  }
  if (finish == FinishReason::kError) {
    std::fprintf(stderr, "mlx-serving generate: %s\n", error.c_str());
    return 1;
  }
  if (json) {
    nlohmann::json out = {
        {"text", text},
        {"tokens", tokens},
        {"finish_reason", finish_reason_name(finish)},
        {"prompt_tokens", stats.prompt_tokens},
        {"generated_tokens", stats.generated_tokens},
        {"ttft_ms", stats.ttft_ms},
        {"total_ms", stats.total_ms},
        {"tokens_per_s", stats.decode_tokens_per_s},
    };
    if (req.sampling.want_logprobs) out["logprobs"] = logprobs;
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::fputc('\n', stdout);
    std::fprintf(stderr, "\n[%d prompt tokens, %d generated, TTFT %.1f ms, %.2f tokens/s, finish: %s]\n",
                 stats.prompt_tokens, stats.generated_tokens, stats.ttft_ms,
                 stats.decode_tokens_per_s, finish_reason_name(finish));
  }
  return 0;
}

}  // namespace mlxs::cli
