// mlx-testmodel --format hf: a Hugging Face model folder with the same weights as the GGUF
// the same options and seed give: config.json, model.safetensors (or shards and
// model.safetensors.index.json), tokenizer.json and tokenizer_config.json.
#pragma once

#include "base/status.h"
#include "model/gguf_writer.h"
#include "testmodel/hf_weights.h"
#include "testmodel/options.h"
#include "testmodel/tensors.h"

namespace mlxs::testmodel {

// Writes the folder o.output (created if needed; weight and index files of an earlier run
// are removed first, so a stale index cannot point at old shards). `tokenizer_keys` holds
// the tokenizer.* keys the GGUF would carry.
Result<HfWeightStats> write_hf_folder(const Options& o, const ModelPlan& plan,
                                      GgufWriter* tokenizer_keys, int threads);

}  // namespace mlxs::testmodel
