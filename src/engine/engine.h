// The engine facade: loads a model file, owns the compute pool, the KV cache and the
// scheduler loop, and turns requests into streams of chunks. Many requests run at once:
// the scheduler puts every active sequence into each forward step (continuous batching).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/chat_format.h"
#include "engine/generation.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace mlxs {

struct EngineOptions {
  std::string model_path;
  int n_threads = 0;       // 0: one per core
  int n_ctx = 0;           // per-sequence context; 0: the model's trained context, at most 4096
  int max_sequences = 8;   // sequences decoded together in one step
  int max_active = 0;      // live concurrency limit (<= max_sequences); 0: max_sequences
  int step_token_budget = 512;  // tokens per forward step (prefill is chunked to fit)
  int kv_cache_tokens = 0; // KV pool size in tokens; 0: n_ctx * max_sequences
  KvType kv_type = KvType::kF16;
  bool prefix_cache = false;  // share full KV blocks of common prompt prefixes across requests
  std::string chat_template_file;  // a Jinja file that replaces the model's chat template
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts a generation. Bad requests (empty prompt, prompt + max_tokens over the
  // context, invalid sampling values) produce a stream whose only chunk is an error.
  std::shared_ptr<GenerationStream> generate(GenerateRequest request);

  // Queue, batch and KV-cache occupancy, from any thread.
  SchedulerStats stats() const;
  // The live concurrency limit (the QoS governor's knob); see Scheduler::set_max_active.
  void set_max_active(int n);

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // The model's chat template (or ChatML); render() turns messages into a prompt to send
  // with add_special = false (templates write BOS themselves).
  const ChatFormatter& chat() const { return *chat_; }
  const ModelConfig& config() const { return model_->config(); }
  const EngineOptions& options() const { return options_; }
  int n_ctx() const { return options_.n_ctx; }
  // Bytes of the KV-cache pool (allocated once at load).
  size_t kv_cache_bytes() const;

  // Direct access for tools that drive the forward pass themselves (perplexity, bench,
  // logits dump). Not to be used while requests are running.
  Model& model() { return *model_; }
  ThreadPool& pool() { return *pool_; }

 private:
  Engine() = default;
  EngineOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatFormatter> chat_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace mlxs
