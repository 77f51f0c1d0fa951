// The continuous-batching loop. Each step admits waiting sequences while KV blocks and
// batch slots allow, builds one batch (a decode token for every running sequence, then
// prefill chunks up to the step's token budget), runs one forward pass, samples, and hands
// text to the streams. Cancellation is noticed at the next step.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/generation.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace mlxs {

struct SchedulerOptions {
  int max_sequences = 8;
  int max_active = 0;  // live concurrency limit; 0: max_sequences
  int step_token_budget = 512;
  int n_ctx = 2048;
};

// A consistent-enough view for metrics and admission control, readable from any thread.
struct SchedulerStats {
  int running = 0;          // sequences admitted (prefilling or decoding)
  int waiting = 0;          // submitted, not yet admitted
  int max_active = 0;       // the current live concurrency limit
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  uint64_t steps = 0;       // forward passes run
  uint64_t batched_tokens = 0;  // tokens through those passes
  PrefixCacheStats prefix;      // prefix-cache lookups, hits and evictions
};

class Scheduler {
 public:
  Scheduler(Model& model, const Tokenizer& tok, KvCache& cache, ThreadPool& pool,
            const SchedulerOptions& opts);
  ~Scheduler();

  // Queues a request whose prompt is already tokenized and validated.
  void submit(std::shared_ptr<GenerationStream> stream, GenerateRequest req,
              std::vector<TokenId> prompt);

  SchedulerStats stats() const;
  // The live concurrency limit: at most this many sequences run at once (clamped to
  // 1..max_sequences). Takes effect at the next step; running sequences are never
  // preempted, so lowering it lets the surplus finish.
  void set_max_active(int n);

 private:
  struct Sequence;
  void loop();
  void admit();
  void resolve_prompts();
  void speculate(Sequence& s, TokenId token);
  void finish_prefetch_step(Sequence& s, std::chrono::steady_clock::time_point now);
  bool step();
  void wait_for_held();
  void emit_token(Sequence& s, const SampleResult& r);
  void finish(Sequence& s, FinishReason reason, const std::string& error = "",
              bool invalid_request = false);
  void publish_counts();

  Model& model_;
  const Tokenizer& tok_;
  KvCache& cache_;
  ThreadPool& pool_;
  SchedulerOptions opts_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool prompt_ready_ = false;  // a pending prompt was fulfilled since the loop last looked
  std::deque<std::unique_ptr<Sequence>> incoming_;  // guarded by mu_

  std::atomic<int> max_active_;
  std::atomic<int> n_running_{0}, n_waiting_{0}, kv_used_{0};
  std::atomic<uint64_t> steps_{0}, batched_tokens_{0};

  // Owned by the loop thread.
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<float> logits_;
  std::thread thread_;
};

}  // namespace mlxs
