// A model with its own KV cache and compute pool, driven directly by tools that run the
// forward pass themselves (perplexity, bench, logits) without the scheduler.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/kv_cache.h"
#include "engine/model.h"

namespace mlxs::cli {

struct DirectModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<KvCache> cache;

  // n_ctx_tokens: KV capacity for one sequence; room for n_sequences of them.
  static Result<DirectModel> load(const std::string& path, int n_threads, int n_ctx_tokens,
                                  KvType kv_type, int n_sequences = 1);
};

// Parses "f16" / "f32"; nullopt otherwise.
std::optional<KvType> parse_kv_type(const std::string& s);

}  // namespace mlxs::cli
