// ModelConfig from a Hugging Face config.json (llama, mistral, qwen2).
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/model_config.h"

namespace mlxs {
namespace {

using json = nlohmann::json;

// Llama 3.1's frequency-dependent RoPE scaling, expressed as a divisor per rotated pair
// (the same factors llama.cpp stores in a rope_freqs tensor).
std::vector<float> llama3_rope_factors(const json& rs, float base, int rope_dim, int* err_field) {
  double factor = rs.value("factor", 8.0);
  double low = rs.value("low_freq_factor", 1.0);
  double high = rs.value("high_freq_factor", 4.0);
  double old_ctx = rs.value("original_max_position_embeddings", 8192.0);
  if (factor <= 0 || low <= 0 || high <= low || old_ctx <= 0) {
    *err_field = 1;
    return {};
  }
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out(rope_dim / 2);
  for (int i = 0; i < rope_dim / 2; ++i) {
    double freq = 1.0 / std::pow(static_cast<double>(base), 2.0 * i / rope_dim);
    double wavelen = 2 * M_PI / freq;
    double f;
    if (wavelen < high_wavelen) {
      f = 1;
    } else if (wavelen > low_wavelen) {
      f = factor;
    } else {
      double smooth = (old_ctx / wavelen - low) / (high - low);
      f = 1.0 / ((1 - smooth) / factor + smooth);
    }
    out[i] = static_cast<float>(f);
  }
  return out;
}

}  // namespace

Result<ModelConfig> ModelConfig::from_hf_config(const std::string& text, const std::string& path) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error(path + ": not a JSON object");
  auto fail = [&](const std::string& what) { return Status::Error(path + ": " + what); };
  auto get_int = [&](const char* key, int* out, bool required) -> Status {
    if (!j.contains(key) || j[key].is_null()) {
      if (required) return fail(std::string("missing \"") + key + "\"");
      return Status::Ok();
    }
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 1 || j[key].get<int64_t>() > (1 << 30))
      return fail(std::string("\"") + key + "\" must be a positive integer");
    *out = j[key].get<int>();
    return Status::Ok();
  };
  ModelConfig c;
  std::string type = j.value("model_type", "");
  if (type == "llama" || type == "mistral") {
    c.arch = "llama";
  } else if (type == "qwen2") {
    c.arch = "qwen2";
    c.qkv_bias = true;
  } else {
    return fail("unsupported model_type \"" + type + "\" (supported: llama, mistral, qwen2)");
  }
  // Hugging Face checkpoints keep q/k projections in their original order, so RoPE pairs
  // dimension i with i + d/2 (rotate_half); llama.cpp permutes them when it converts.
  c.rope_style = RopeStyle::kNeox;
  c.name = j.value("_name_or_path", type);
  MLXS_RETURN_IF_ERROR(get_int("hidden_size", &c.n_embd, true));
  MLXS_RETURN_IF_ERROR(get_int("num_hidden_layers", &c.n_layer, true));
  MLXS_RETURN_IF_ERROR(get_int("num_attention_heads", &c.n_head, true));
  MLXS_RETURN_IF_ERROR(get_int("intermediate_size", &c.n_ff, true));
  MLXS_RETURN_IF_ERROR(get_int("vocab_size", &c.n_vocab, true));
  c.n_ctx_train = 4096;
  MLXS_RETURN_IF_ERROR(get_int("max_position_embeddings", &c.n_ctx_train, false));
  c.n_head_kv = c.n_head;
  MLXS_RETURN_IF_ERROR(get_int("num_key_value_heads", &c.n_head_kv, false));
  if (c.n_head % c.n_head_kv != 0)
    return fail("num_attention_heads " + std::to_string(c.n_head) +
                " is not a multiple of num_key_value_heads " + std::to_string(c.n_head_kv));
  c.head_dim = c.n_embd / c.n_head;
  MLXS_RETURN_IF_ERROR(get_int("head_dim", &c.head_dim, false));
  if (c.head_dim % 2 != 0) return fail("head dimension " + std::to_string(c.head_dim) + " is odd");
  c.rope_dim = c.head_dim;
  if (j.contains("rms_norm_eps") && j["rms_norm_eps"].is_number()) c.rms_eps = j["rms_norm_eps"].get<float>();
  if (j.contains("rope_theta") && j["rope_theta"].is_number()) c.rope_freq_base = j["rope_theta"].get<float>();
  if (j.value("attention_bias", false)) c.qkv_bias = true;
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    std::string rt = rs.value("rope_type", rs.value("type", ""));
    if (rt == "llama3") {
      int bad = 0;
      c.rope_freq_factors = llama3_rope_factors(rs, c.rope_freq_base, c.rope_dim, &bad);
      if (bad) return fail("rope_scaling (llama3) has invalid factors");
    } else if (rt == "linear") {
      double factor = rs.value("factor", 1.0);
      if (factor <= 0) return fail("rope_scaling.factor must be positive");
      c.rope_freq_scale = static_cast<float>(1.0 / factor);
    } else if (rt != "default" && !rt.empty()) {
      return fail("unsupported rope_scaling type \"" + rt + "\"");
    }
  }
  return c;
}

}  // namespace mlxs
