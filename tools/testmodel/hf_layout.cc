#include "testmodel/hf_layout.h"

#include <utility>

namespace mlxs::testmodel {

std::string hf_tensor_name(const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  static const std::pair<const char*, const char*> kLayer[] = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  if (g.rfind("blk.", 0) != 0) return "";
  const size_t dot = g.find('.', 4);
  if (dot == std::string::npos) return "";
  const std::string layer = g.substr(4, dot - 4), rest = g.substr(dot + 1);
  for (const auto& [from, to] : kLayer)
    if (rest == from) return "model.layers." + layer + "." + to;
  return "";
}

int64_t gguf_row_of(const std::string& arch, const std::string& g, int64_t head_dim, int64_t r) {
  const bool permuted =
      arch == "llama" && (g.ends_with(".attn_q.weight") || g.ends_with(".attn_k.weight"));
  if (!permuted) return r;
  // Within a head, HF row t*half + j (t = 0, 1) is GGUF row 2*j + t.
  const int64_t half = head_dim / 2, head = r / head_dim, within = r % head_dim;
  const int64_t t = within / half, j = within % half;
  return head * head_dim + 2 * j + t;
}

}  // namespace mlxs::testmodel
