// The tensors of a Llama-family model, bound by name and checked against the config.
// Matrices stay in the file's (quantized) form inside the memory map; small vectors
// (norms, biases, rope factors) are converted to float once.
#pragma once

#include <memory>
#include <vector>

#include "base/status.h"
#include "engine/model_config.h"
#include "engine/linear.h"
#include "engine/model_source.h"

namespace mlxs {

struct LayerWeights {
  std::vector<float> attn_norm;
  Linear wq, wk, wv, wo;
  std::vector<float> bq, bk, bv;  // empty unless the architecture has QKV bias
  std::vector<float> ffn_norm;
  Linear w_gate, w_up, w_down;
};

struct ModelWeights {
  Linear token_embd;        // n_vocab rows of n_embd
  std::vector<LayerWeights> layers;
  std::vector<float> output_norm;
  Linear output;                  // the embedding itself when the head is tied
  std::vector<float> rope_freqs;  // per rotated pair divisor (Llama 3 scaling); may be empty
  bool tied_output = false;

  static Result<ModelWeights> load(const ModelSource& src);
  size_t matrix_bytes() const;  // bytes of all weight matrices (what one decode step reads)
};

}  // namespace mlxs
