// Hyper-parameters of a Llama-family model, read from GGUF metadata (never guessed).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "model/gguf.h"

namespace mlxs {

enum class RopeStyle { kNormal, kNeox };  // adjacent pairs vs. halves

struct ModelConfig {
  std::string arch;  // "llama", "qwen2"
  std::string name;
  int n_vocab = 0;
  int n_ctx_train = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int n_ff = 0;
  int head_dim = 0;   // n_embd / n_head unless the file says otherwise
  int rope_dim = 0;   // dimensions rotated per head
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // linear scaling (rope.scaling.factor for type "linear")
  float rms_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::kNormal;
  bool qkv_bias = false;
  // Per rotated pair divisors of the rotation frequency (Llama 3 "rope_scaling"), when the
  // model describes them in its config rather than in a rope_freqs tensor.
  std::vector<float> rope_freq_factors;
  int kv_dim() const { return n_head_kv * head_dim; }
  int q_dim() const { return n_head * head_dim; }

  static Result<ModelConfig> from_gguf(const GgufFile& f);
  // Hugging Face config.json (already parsed); `path` names the file in messages.
  static Result<ModelConfig> from_hf_config(const std::string& json_text, const std::string& path);
  std::string describe() const;
};

}  // namespace mlxs
