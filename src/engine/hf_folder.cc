// Opens a Hugging Face model folder: config.json for the hyper-parameters, safetensors
// shards for the weights, renamed to the GGUF names the rest of the engine uses.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>

#include "engine/hf_quant.h"
#include "engine/model_source.h"
#include "model/safetensors.h"

namespace mlxs {
namespace {

namespace fs = std::filesystem;

// Hugging Face tensor name → GGUF tensor name; "" for tensors the engine does not use.
std::string gguf_name(const std::string& hf) {
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  static const std::pair<const char*, const char*> kLayer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  std::smatch m;
  if (std::regex_match(hf, m, layer)) {
    for (const auto& [from, to] : kLayer)
      if (m[2] == from) return "blk." + m[1].str() + "." + to;
  }
  return "";
}

std::optional<GgmlType> ggml_type_of(StDtype t) {
  switch (t) {
    case StDtype::F32: return GgmlType::F32;
    case StDtype::F16: return GgmlType::F16;
    case StDtype::BF16: return GgmlType::BF16;
    default: return std::nullopt;
  }
}

}  // namespace

Result<ModelSource> open_hf_folder(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  std::ifstream in(config_path, std::ios::binary);
  if (!in) return Status::Error(config_path + ": missing (a model folder needs config.json)");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto cfg = ModelConfig::from_hf_config(text, config_path);
  if (!cfg.ok()) return cfg.status();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  auto quant = MlxQuantization::from_config(j, config_path);
  if (!quant.ok()) return quant.status();

  auto set = SafetensorsSet::open_folder(dir);
  if (!set.ok()) return set.status();
  ModelSource s;
  s.format = ModelSource::Format::kHfFolder;
  s.path = dir;
  s.config = std::move(cfg.value());
  for (const auto& [name, t] : set.value()->tensors()) {
    std::string g = gguf_name(name);
    if (g.empty()) continue;
    s.origins_[g] = t.file + " ('" + name + "' as '" + g + "')";
    // An MLX-quantized module: X.weight holds packed codes, X.scales and X.biases beside it.
    const std::string module = name.ends_with(".weight") ? name.substr(0, name.size() - 7) : name;
    if (name.ends_with(".weight") && set.value()->find(module + ".scales")) {
      auto m = bind_mlx_matrix(*set.value(), module, quant.value(), config_path);
      if (!m.ok()) return m.status();
      s.affine.emplace(g, m.value());
      continue;
    }
    auto type = ggml_type_of(t.dtype);
    if (!type)
      return Status::Error(t.file + ": tensor '" + name + "' has dtype " + st_dtype_name(t.dtype) +
                           " (supported: F32, F16, BF16" +
                           (t.dtype == StDtype::U32 ? "; packed MLX codes need '" + module + ".scales' beside them)" : ")"));
    GgufTensor gt;
    gt.name = g;
    gt.type = *type;
    // safetensors shapes are outermost first; GGUF's ne lists the contiguous dimension first.
    gt.ne.assign(t.shape.rbegin(), t.shape.rend());
    gt.data = t.data;
    gt.nbytes = t.nbytes;
    s.tensors.emplace(g, std::move(gt));
  }
  // A tied head reuses the embedding; when the config ties them, an lm_head copy is ignored.
  if (j.value("tie_word_embeddings", false)) {
    s.tensors.erase("output.weight");
    s.affine.erase("output.weight");
  }
  s.keep_alive = set.value();
  return s;
}

}  // namespace mlxs
