// A model on disk, whatever its format: a GGUF file, or a Hugging Face / MLX folder
// (config.json + safetensors). Either way the engine sees the same thing: hyper-parameters
// and tensors under GGUF names, pointing into memory maps that this object keeps alive.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "engine/model_config.h"
#include "kernels/affine.h"
#include "model/gguf.h"

namespace mlxs {

struct ModelSource {
  enum class Format { kGguf, kHfFolder };
  Format format = Format::kGguf;
  std::string path;  // the file or folder given
  ModelConfig config;
  std::map<std::string, GgufTensor> tensors;  // by GGUF name ("blk.0.attn_q.weight")
  // MLX-quantized matrices of a folder (codes, scales and biases), by the GGUF name of the
  // weight. A name is in `tensors` or here, never both.
  std::map<std::string, kern::AffineMatrix> affine;
  std::shared_ptr<GgufFile> gguf;             // kGguf: the file (tokenizer metadata, template)
  std::shared_ptr<const void> keep_alive;     // kHfFolder: the safetensors maps

  // A regular file is read as GGUF; a directory as a Hugging Face folder.
  static Result<ModelSource> open(const std::string& path);

  const GgufTensor* find(const std::string& name) const;
  const kern::AffineMatrix* find_affine(const std::string& name) const;
  // Where a tensor came from, for messages ("model.gguf", "folder/model-00001.safetensors").
  std::string origin(const std::string& name) const;

 private:
  friend Result<ModelSource> open_hf_folder(const std::string& dir);
  std::map<std::string, std::string> origins_;  // GGUF name → file:original name (folders)
};

// The tokenizer that ships with the model: GGUF metadata, or tokenizer.json (+
// tokenizer_config.json) in a folder.
class Tokenizer;
Result<std::unique_ptr<Tokenizer>> load_tokenizer(const ModelSource& source);
// The same from a path alone, reading only what the tokenizer needs (vocabulary-only GGUF
// files work).
Result<std::unique_ptr<Tokenizer>> load_tokenizer(const std::string& path);

// Reads config.json and the safetensors of a Hugging Face folder (see hf_folder.cc).
Result<ModelSource> open_hf_folder(const std::string& dir);

}  // namespace mlxs
