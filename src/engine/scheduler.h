// The continuous-batching loop. Each step admits waiting sequences while KV blocks and
// batch slots allow, builds one batch (a decode token for every running sequence, then
// prefill chunks up to the step's token budget), runs one forward pass, samples, and hands
// text to the streams. Cancellation is noticed at the next step.
#pragma once

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
  int step_token_budget = 512;
  int n_ctx = 2048;
};

class Scheduler {
 public:
  Scheduler(Model& model, const Tokenizer& tok, KvCache& cache, ThreadPool& pool,
            const SchedulerOptions& opts);
  ~Scheduler();

  // Queues a request whose prompt is already tokenized and validated.
  void submit(std::shared_ptr<GenerationStream> stream, GenerateRequest req,
              std::vector<TokenId> prompt);

 private:
  struct Sequence;
  void loop();
  void admit();
  bool step();
  void emit_token(Sequence& s, const SampleResult& r);
  void finish(Sequence& s, FinishReason reason, const std::string& error = "");

  Model& model_;
  const Tokenizer& tok_;
  KvCache& cache_;
  ThreadPool& pool_;
  SchedulerOptions opts_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<std::unique_ptr<Sequence>> incoming_;  // guarded by mu_

  // Owned by the loop thread.
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<float> logits_;
  std::thread thread_;
};

}  // namespace mlxs
