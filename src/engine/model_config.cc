#include "engine/model_config.h"

#include <sstream>

namespace mlxs {
namespace {

Status require_int(const GgufFile& f, const std::string& key, int* out, int64_t min_value = 1) {
  auto v = f.get_int(key);
  if (!v) return Status::Error(f.path() + ": missing or non-integer metadata key '" + key + "'");
  if (*v < min_value || *v > (int64_t{1} << 30))
    return Status::Error(f.path() + ": metadata key '" + key + "' has invalid value " + std::to_string(*v));
  *out = static_cast<int>(*v);
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ModelConfig::from_gguf(const GgufFile& f) {
  ModelConfig c;
  auto arch = f.get_string("general.architecture");
  if (!arch) return Status::Error(f.path() + ": missing metadata key 'general.architecture'");
  c.arch = *arch;
  if (c.arch == "llama" || c.arch == "mistral") {
    c.rope_style = RopeStyle::kNormal;
  } else if (c.arch == "qwen2") {
    c.rope_style = RopeStyle::kNeox;
    c.qkv_bias = true;
  } else {
    return Status::Error(f.path() + ": unsupported architecture '" + c.arch +
                         "' (supported: llama, mistral, qwen2)");
  }
  c.name = f.get_string("general.name").value_or(c.arch);
  const std::string a = c.arch + ".";
  MLXS_RETURN_IF_ERROR(require_int(f, a + "embedding_length", &c.n_embd));
  MLXS_RETURN_IF_ERROR(require_int(f, a + "block_count", &c.n_layer));
  MLXS_RETURN_IF_ERROR(require_int(f, a + "feed_forward_length", &c.n_ff));
  MLXS_RETURN_IF_ERROR(require_int(f, a + "attention.head_count", &c.n_head));
  MLXS_RETURN_IF_ERROR(require_int(f, a + "context_length", &c.n_ctx_train));
  c.n_head_kv = c.n_head;
  if (f.find(a + "attention.head_count_kv"))
    MLXS_RETURN_IF_ERROR(require_int(f, a + "attention.head_count_kv", &c.n_head_kv));
  if (c.n_head % c.n_head_kv != 0)
    return Status::Error(f.path() + ": head_count " + std::to_string(c.n_head) +
                         " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
  c.head_dim = c.n_embd / c.n_head;
  if (f.find(a + "attention.key_length"))
    MLXS_RETURN_IF_ERROR(require_int(f, a + "attention.key_length", &c.head_dim));
  if (c.head_dim % 2 != 0)
    return Status::Error(f.path() + ": head dimension " + std::to_string(c.head_dim) + " is odd");
  c.rope_dim = c.head_dim;
  if (f.find(a + "rope.dimension_count"))
    MLXS_RETURN_IF_ERROR(require_int(f, a + "rope.dimension_count", &c.rope_dim));
  if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0)
    return Status::Error(f.path() + ": rope.dimension_count " + std::to_string(c.rope_dim) +
                         " does not fit head dimension " + std::to_string(c.head_dim));
  c.rope_freq_base = static_cast<float>(f.get_float(a + "rope.freq_base").value_or(10000.0));
  c.rms_eps = static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  if (auto st = f.get_string(a + "rope.scaling.type"); st && *st == "linear") {
    double factor = f.get_float(a + "rope.scaling.factor").value_or(1.0);
    if (factor <= 0) return Status::Error(f.path() + ": rope.scaling.factor must be positive");
    c.rope_freq_scale = static_cast<float>(1.0 / factor);
  }
  // The vocabulary size: the metadata key if present, else the embedding tensor's rows.
  if (auto v = f.get_int(a + "vocab_size")) {
    c.n_vocab = static_cast<int>(*v);
  } else if (const GgufTensor* t = f.find_tensor("token_embd.weight"); t && t->ne.size() == 2) {
    c.n_vocab = static_cast<int>(t->ne[1]);
  } else if (const GgufArray* toks = f.get_array("tokenizer.ggml.tokens")) {
    c.n_vocab = static_cast<int>(toks->size());
  }
  if (c.n_vocab <= 0) return Status::Error(f.path() + ": cannot determine the vocabulary size");
  return c;
}

std::string ModelConfig::describe() const {
  std::ostringstream os;
  os << arch << " '" << name << "': " << n_layer << " layers, dim " << n_embd << ", heads "
     << n_head << "/" << n_head_kv << " (head dim " << head_dim << "), ffn " << n_ff
     << ", vocab " << n_vocab << ", trained context " << n_ctx_train;
  return os.str();
}

}  // namespace mlxs
