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

const kern::AffineMatrix* ModelSource::find_affine(const std::string& name) const {
  auto it = affine.find(name);
  return it == affine.end() ? nullptr : &it->second;
}

namespace {
Result<std::unique_ptr<Tokenizer>> hf_folder_tokenizer(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path config = fs::path(dir) / "tokenizer_config.json";
  return Tokenizer::from_hf_files((fs::path(dir) / "tokenizer.json").string(),
                                  fs::exists(config, ec) ? config.string() : std::string());
}
}  // namespace

Result<std::unique_ptr<Tokenizer>> load_tokenizer(const ModelSource& source) {
  if (source.format == ModelSource::Format::kGguf) return Tokenizer::from_gguf(*source.gguf);
  return hf_folder_tokenizer(source.path);
}

Result<std::unique_ptr<Tokenizer>> load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return hf_folder_tokenizer(path);
  auto file = GgufFile::open(path);
  if (!file.ok()) return file.status();
  return Tokenizer::from_gguf(*file.value());
}

std::string ModelSource::origin(const std::string& name) const {
  auto it = origins_.find(name);
  return it == origins_.end() ? path : it->second;
}

}  // namespace mlxs
