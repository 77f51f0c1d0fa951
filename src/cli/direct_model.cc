#include "cli/direct_model.h"

#include <algorithm>
#include <thread>

namespace mlxs::cli {

Result<DirectModel> DirectModel::load(const std::string& path, int n_threads, int n_ctx_tokens,
                                      KvType kv_type, int n_sequences) {
  auto model = Model::load(path);
  if (!model.ok()) return model.status();
  DirectModel d;
  d.model = std::move(model.value());
  if (n_threads <= 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  d.pool = std::make_unique<ThreadPool>(n_threads);
  const ModelConfig& c = d.model->config();
  KvCacheConfig kc;
  kc.n_layers = c.n_layer;
  kc.kv_dim = c.kv_dim();
  kc.block_size = 16;
  kc.n_blocks = (n_ctx_tokens + kc.block_size - 1) / kc.block_size * std::max(1, n_sequences);
  kc.type = kv_type;
  d.cache = std::make_unique<KvCache>(kc);
  return d;
}

std::optional<KvType> parse_kv_type(const std::string& s) {
  if (s == "f16") return KvType::kF16;
  if (s == "f32") return KvType::kF32;
  return std::nullopt;
}

}  // namespace mlxs::cli
