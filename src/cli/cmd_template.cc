// mlx-serving template: renders a chat template for a conversation and prints the prompt
// exactly (no trailing newline added), as llama.cpp's /apply-template does.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/file_io.h"
#include "engine/chat_format.h"
#include "engine/model_source.h"
#include "tokenizer/tokenizer.h"

namespace mlxs::cli {
namespace {

int fail(const std::string& msg, int code) {
  std::fprintf(stderr, "mlx-serving template: %s\n", msg.c_str());
  return code;
}

Result<nlohmann::ordered_json> read_json(const std::string& path, const char* what) {
  auto text = read_file(path);
  if (!text) return Status::Error(path + ": cannot read " + what);
  auto j = nlohmann::ordered_json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Status::Error(path + ": " + what + " is not valid JSON");
  if (!j.is_array()) return Status::Error(path + ": " + what + " must be a JSON array");
  return j;
}

}  // namespace

int cmd_template(int argc, char** argv) {
  Args args({"--model", "--template", "--bos", "--eos", "--messages", "--tools"},
            {"--no-generation-prompt", "--help"}, {{"-m", "--model"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    std::puts("usage: mlx-serving template (-m MODEL | --template FILE.jinja [--bos S] [--eos S])\n"
              "         --messages FILE.json [--tools FILE.json] [--no-generation-prompt]\n"
              "Prints the rendered prompt exactly, nothing else.");
    return 0;
  }
  if (err.empty() && args.has("--model") == args.has("--template")) err = "give either -m MODEL or --template FILE";
  if (err.empty() && !args.has("--messages")) err = "missing --messages FILE.json";
  if (err.empty() && args.has("--model") && (args.has("--bos") || args.has("--eos")))
    err = "--bos/--eos go with --template (a model has its own)";
  if (!err.empty()) return fail(err + " (see --help)", 2);

  auto messages = read_json(*args.get("--messages"), "messages");
  if (!messages.ok()) return fail(messages.status().message(), 1);
  nlohmann::ordered_json tools = nullptr;
  if (auto t = args.get("--tools")) {
    auto j = read_json(*t, "tools");
    if (!j.ok()) return fail(j.status().message(), 1);
    tools = std::move(j.value());
  }

  std::unique_ptr<ChatFormatter> fmt;
  if (auto path = args.get("--template")) {
    auto text = read_file(*path);
    if (!text) return fail(*path + ": cannot read", 1);
    fmt = std::make_unique<ChatFormatter>(ChatTemplateSource{*text, *path, false},
                                          args.get_or("--bos", ""), args.get_or("--eos", ""));
  } else {
    const std::string model = *args.get("--model");
    auto src = load_chat_template_source(model);
    if (!src.ok()) return fail(src.status().message(), 1);
    auto tok = load_tokenizer(model);
    if (!tok.ok()) return fail(tok.status().message(), 1);
    fmt = std::make_unique<ChatFormatter>(ChatFormatter::for_model(std::move(src.value()), *tok.value()));
  }
  auto out = fmt->render(messages.value(), tools, !args.has("--no-generation-prompt"));
  if (!out.ok()) return fail(out.status().message(), 1);
  std::fwrite(out.value().data(), 1, out.value().size(), stdout);
  return 0;
}

}  // namespace mlxs::cli
