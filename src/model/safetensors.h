// Reader for Hugging Face safetensors files over a memory map: an 8-byte header length, a
// JSON header naming each tensor's dtype, shape and byte range, then the data. Sharded
// checkpoints (model.safetensors.index.json) are opened as one set. Every byte range is
// checked against the file; errors name the file and the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"

namespace mlxs {

enum class StDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

const char* st_dtype_name(StDtype t);
size_t st_dtype_size(StDtype t);

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;  // row-major, outermost first (PyTorch order)
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // the shard that holds it, for messages

  int64_t n_elements() const;
  std::string shape_string() const;
};

class SafetensorsSet {
 public:
  // One .safetensors file.
  static Result<std::shared_ptr<SafetensorsSet>> open_file(const std::string& path);
  // A model folder: model.safetensors.index.json (every shard it lists must exist and hold
  // the tensors it is said to hold), else model.safetensors, else every *.safetensors.
  static Result<std::shared_ptr<SafetensorsSet>> open_folder(const std::string& dir);
  // Parses one file image already in memory (tests, fuzzing); `name` is used in messages.
  static Result<std::shared_ptr<SafetensorsSet>> parse(const uint8_t* data, size_t size,
                                                       const std::string& name);

  const StTensor* find(const std::string& name) const;
  const std::map<std::string, StTensor>& tensors() const { return tensors_; }
  // The "__metadata__" entries of the first file (e.g. {"format": "mlx"}).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  Status add_file(const uint8_t* data, size_t size, const std::string& name);
  std::vector<std::shared_ptr<MappedFile>> maps_;
  std::map<std::string, StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace mlxs
