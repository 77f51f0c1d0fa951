// config.json of a Hugging Face test-model folder, as transformers (and, for --type mlxN,
// mlx-lm) writes it for LlamaForCausalLM / Qwen2ForCausalLM.
#pragma once

#include <cstdint>
#include <string>

#include "testmodel/options.h"

namespace mlxs::testmodel {

// bos/eos: the tokenizer's ids, -1 when it has none.
std::string hf_config_json(const Options& o, int64_t bos, int64_t eos);

}  // namespace mlxs::testmodel
