// MLX affine quantization in a Hugging Face folder (as mlx-lm saves it): the "quantization"
// entry of config.json, and each quantized Linear / Embedding stored as X.weight (uint32
// packed codes), X.scales and X.biases.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "kernels/affine.h"
#include "model/safetensors.h"

namespace mlxs {

struct MlxQuantization {
  bool present = false;  // config.json has a quantization entry
  int bits = 0;
  int group_size = 0;
  // Per-module settings mlx-lm writes for mixed quantization ("model.layers.0.mlp.down_proj":
  // {"bits": 8, "group_size": 64}); a module mapped to bits 0 is left unquantized.
  std::map<std::string, std::pair<int, int>> per_module;

  // Parses "quantization" (or "quantization_config") of config.json; absent: present = false.
  static Result<MlxQuantization> from_config(const nlohmann::json& config, const std::string& config_path);
};

// Binds the quantized module `module` ("model.layers.0.self_attn.q_proj"), whose
// `module`.scales exists in `set`: checks dtypes and that the packed width, the group count
// and the row count of weight, scales and biases agree with the configured bits and group
// size. Errors name the file and tensor.
Result<kern::AffineMatrix> bind_mlx_matrix(const SafetensorsSet& set, const std::string& module,
                                           const MlxQuantization& q, const std::string& config_path);

}  // namespace mlxs
