#include "testmodel/hf_folder.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "model/gguf.h"
#include "testmodel/hf_config_json.h"
#include "testmodel/hf_layout.h"
#include "testmodel/hf_tokenizer.h"

namespace mlxs::testmodel {
namespace {

namespace fs = std::filesystem;

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::Error(path.string() + ": cannot write");
  return Status::Ok();
}

struct SpecialIds {
  int64_t bos = -1, eos = -1;
};

// The converter reads a GGUF, so the tokenizer keys go through a vocabulary-only GGUF
// (removed again) on their way to tokenizer.json: one converter for tests and tool.
Result<SpecialIds> write_tokenizer_files(const fs::path& dir, GgufWriter* keys) {
  const fs::path tmp = dir / (".vocab-" + std::to_string(::getpid()) + ".gguf");
  MLXS_RETURN_IF_ERROR(keys->write(tmp.string()));
  HfExport ex;
  SpecialIds ids;
  Status opened = Status::Ok();
  {
    auto file = GgufFile::open(tmp.string());
    if (file.ok()) {
      ex = export_hf(*file.value(), SpmLayout::kLegacyNormalizer, MergeForm::kString);
      ids.bos = file.value()->get_int("tokenizer.ggml.bos_token_id").value_or(-1);
      ids.eos = file.value()->get_int("tokenizer.ggml.eos_token_id").value_or(-1);
    } else {
      opened = file.status();
    }
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  MLXS_RETURN_IF_ERROR(opened);
  if (!ex.error.empty()) return Status::Error("tokenizer.json: " + ex.error);
  MLXS_RETURN_IF_ERROR(write_text(dir / "tokenizer.json", ex.tokenizer_json));
  MLXS_RETURN_IF_ERROR(write_text(dir / "tokenizer_config.json", ex.config_json));
  return ids;
}

}  // namespace

Result<HfWeightStats> write_hf_folder(const Options& o, const ModelPlan& plan,
                                      GgufWriter* tokenizer_keys, int threads) {
  size_t n_weights = 0;
  for (const TensorSpec& t : plan.tensors) n_weights += !hf_tensor_name(t.name).empty();
  if (o.shards > static_cast<int64_t>(n_weights))
    return Status::Error("--shards " + std::to_string(o.shards) + " is more than the " +
                         std::to_string(n_weights) + " weights to split");
  const fs::path dir(o.output);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec))
    return Status::Error(o.output + ": cannot create the folder" + (ec ? ": " + ec.message() : ""));
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name == "model.safetensors.index.json" ||
        (name.rfind("model", 0) == 0 && e.path().extension() == ".safetensors"))
      fs::remove(e.path(), ec);
  }
  auto ids = write_tokenizer_files(dir, tokenizer_keys);
  if (!ids.ok()) return ids.status();
  MLXS_RETURN_IF_ERROR(write_text(dir / "config.json", hf_config_json(o, ids.value().bos, ids.value().eos)));
  return write_hf_weights(o, plan, o.output, threads);
}

}  // namespace mlxs::testmodel
