// The safetensors side of a Hugging Face test-model folder: the plan's tensors under
// Hugging Face names and shapes ([out, in]), llama q/k rows in Hugging Face order, encoded
// as F32/F16/BF16 or MLX affine (weight U32 + scales + biases), in one file or in shards
// with model.safetensors.index.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "testmodel/options.h"
#include "testmodel/tensors.h"

namespace mlxs::testmodel {

struct HfWeightStats {
  size_t n_tensors = 0;  // safetensors entries
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;
  std::vector<std::string> notes;  // matrices MLX could not quantize, printed on stderr
};

// Writes the weight files into the existing folder `dir`.
Result<HfWeightStats> write_hf_weights(const Options& o, const ModelPlan& plan,
                                       const std::string& dir, int threads);

}  // namespace mlxs::testmodel
