#include "testmodel/hf_config_json.h"

#include <nlohmann/json.hpp>

namespace mlxs::testmodel {

std::string hf_config_json(const Options& o, int64_t bos, int64_t eos) {
  using J = nlohmann::json;
  const bool qwen2 = o.arch == "qwen2";
  const char* dtype = o.mlx_bits ? (o.mlx_dtype == "bf16" ? "bfloat16" : "float16")
                      : o.type == GgmlType::F16  ? "float16"
                      : o.type == GgmlType::BF16 ? "bfloat16"
                                                 : "float32";
  J c = {
      {"architectures", J::array({qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"})},
      {"model_type", o.arch},
      {"hidden_size", o.dim},
      {"num_hidden_layers", o.layers},
      {"num_attention_heads", o.heads},
      {"num_key_value_heads", o.kv_heads},
      {"intermediate_size", o.ffn},
      {"vocab_size", o.vocab},
      {"max_position_embeddings", o.ctx},
      {"hidden_act", "silu"},
      // The epsilons the real model families ship with (the GGUF writer uses the same).
      {"rms_norm_eps", qwen2 ? 1e-6 : 1e-5},
      {"rope_theta", o.rope_base},
      {"tie_word_embeddings", o.tied_output},
      {"torch_dtype", dtype},
  };
  if (!qwen2) c["attention_bias"] = false;
  if (bos >= 0) c["bos_token_id"] = bos;
  if (eos >= 0) c["eos_token_id"] = eos;
  // --rope-freqs: the llama3 scaling whose factors the GGUF stores in rope_freqs.weight
  // (factor 8, low/high frequency factors 1 and 4, original context = the context length).
  if (o.rope_freqs)
    c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0}, {"original_max_position_embeddings", o.ctx}};
  if (o.mlx_bits) {
    // mlx-lm writes both keys with the same content.
    const J q = {{"group_size", o.group_size}, {"bits", o.mlx_bits}};
    c["quantization"] = q;
    c["quantization_config"] = q;
  }
  return c.dump(2) + "\n";
}

}  // namespace mlxs::testmodel
