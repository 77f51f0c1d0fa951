#include "engine/model_source.h"

#include <filesystem>

#include "tokenizer/tokenizer.h"

namespace mlxs {

Result<ModelSource> ModelSource::open(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return open_hf_folder(path);
  auto file = GgufFile::open(path);
  if (!file.ok()) return file.status();
  auto cfg = ModelConfig::from_gguf(*file.value());
  if (!cfg.ok()) return cfg.status();
  ModelSource s;
  s.format = Format::kGguf;
  s.path = path;
  s.config = std::move(cfg.value());
  for (const GgufTensor& t : file.value()->tensors()) s.tensors.emplace(t.name, t);
  s.gguf = file.value();
  return s;
}

const GgufTensor* ModelSource::find(const std::string& name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

Result<std::unique_ptr<Tokenizer>> load_tokenizer(const ModelSource& source) {
  if (source.format == ModelSource::Format::kGguf) return Tokenizer::from_gguf(*source.gguf);
  namespace fs = std::filesystem;
  fs::path dir(source.path);
  std::error_code ec;
  fs::path config = dir / "tokenizer_config.json";
  return Tokenizer::from_hf_files((dir / "tokenizer.json").string(),
                                  fs::exists(config, ec) ? config.string() : std::string());
}

std::string ModelSource::origin(const std::string& name) const {
  auto it = origins_.find(name);
  return it == origins_.end() ? path : it->second;
}

}  // namespace mlxs
