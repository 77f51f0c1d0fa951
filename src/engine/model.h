// A loaded Llama-family model and its forward pass over a batch of sequences.
// One forward call runs any mix of prefill chunks and single decode tokens from different
// sequences at different positions; each token attends only to its own sequence's KV.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "engine/model_source.h"

namespace mlxs {

using TokenId = int32_t;

// One sequence's part of a batch: `n_tokens` tokens placed at positions pos..pos+n_tokens-1
// (the KV cache already holds positions 0..pos-1 for this sequence).
struct BatchSeq {
  int seq = 0;  // KvCache sequence handle
  const TokenId* tokens = nullptr;
  int n_tokens = 0;
  int pos = 0;
  enum class Logits { kNone, kLast, kAll };
  Logits logits = Logits::kLast;  // which rows of output logits this entry wants
};

class Model {
 public:
  // A GGUF file or a Hugging Face / MLX folder.
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  static Result<std::unique_ptr<Model>> load(ModelSource source);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const ModelSource& source() const { return source_; }

  // Runs the batch. Appends to `logits` n_vocab floats per requested row: for each BatchSeq
  // in order, one row per token (kAll), one row for its last token (kLast) or none.
  // Every sequence must have KV capacity for pos + n_tokens.
  void forward(std::span<const BatchSeq> batch, KvCache& cache, ThreadPool& pool,
               std::vector<float>* logits);

 private:
  Model() = default;
  void attention(int layer, std::span<const BatchSeq> batch, KvCache& cache, ThreadPool& pool);

  ModelSource source_;
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<float> inv_freq_;  // rope_dim / 2 rotation frequencies

  // Activations for the current batch (grown on demand, reused across calls).
  struct Scratch {
    std::vector<float> x, xn, q, k, v, attn, proj, gate, up, out_rows;
    std::vector<int> tok_seq;   // batch entry of each token
    std::vector<int> tok_pos;   // position of each token
  } s_;
};

}  // namespace mlxs
