// What a caller asks the engine for, and what comes back: a stream of chunks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/pending_prompt.h"
#include "engine/sampler.h"

namespace mlxs {

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled", "error"

// What became of a first token streamed ahead of prefill (GenerateRequest's speculation).
enum class SpeculationOutcome { kNone, kHit, kMiss };

struct GenerationStats {
  int prompt_tokens = 0;
  int generated_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose keys and values came from the prefix cache
  double queue_ms = 0;    // submitted → admitted into the batch
  double ttft_ms = 0;     // submitted → first token sampled
  double total_ms = 0;    // submitted → finished
  double decode_tokens_per_s = 0;  // generated tokens after the first / time after the first
  int prompt_tokens_ready = 0;  // prompt tokens whose keys and values are in the cache now
  // The first token the model computed for the prompt (-1 before prefill ends). With a
  // speculated first token, the one checked against it.
  TokenId first_computed_token = -1;
  SpeculationOutcome speculation = SpeculationOutcome::kNone;
};

struct Chunk {
  std::string text;        // new text (possibly empty: held back for UTF-8 or stop strings)
  TokenId token = -1;      // the sampled token; -1 in a final chunk that carries no token
  float logprob = 0;
  std::vector<TokenLogprob> top_logprobs;
  FinishReason finish = FinishReason::kNone;  // set on the last chunk only
  std::string error;       // when finish == kError
  bool invalid_request = false;  // the error is the request's own fault (bad parameters, too big)
  GenerationStats stats;   // running totals; final on the last chunk
};

// Faults a request carries for chaos drills and tests of the QoS monitor: the scheduler
// holds the sequence (keeping its batch slot, as a slow model would) before its first
// token and between tokens, and can fail it after some tokens. All zero: none.
struct FaultInjection {
  int first_token_delay_ms = 0;
  int per_token_delay_ms = 0;
  int fail_after_tokens = -1;  // >= 0: end with an error once this many tokens went out
  bool any() const { return first_token_delay_ms > 0 || per_token_delay_ms > 0 || fail_after_tokens >= 0; }
};

struct GenerateRequest {
  std::string prompt;                  // tokenized with the model's tokenizer...
  std::vector<TokenId> prompt_tokens;  // ...unless tokens are given
  bool add_special = true;             // BOS/EOS as the model's metadata says
  bool parse_special = true;           // "<|im_start|>" in the prompt text is that token
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  std::string request_id;
  FaultInjection fault;
  // Lets this request share KV blocks with earlier requests of the same prefix (when the
  // engine's prefix cache is on). Off: the whole prompt is computed.
  bool use_prefix_cache = true;
  // The prompt is tokenized elsewhere (the TTFT warm queue); prompt and prompt_tokens are
  // then ignored, and the producer has validated the length against the context.
  std::shared_ptr<PendingPrompt> pending_prompt;
  // >= 0: streamed as the first token at once, before prefill; the engine then continues
  // conditioned on it and reports whether the token it computed agreed
  // (GenerationStats::speculation). Only meaningful for greedy sampling.
  TokenId speculated_first_token = -1;
  // Computes the prompt's keys and values into the prefix cache and generates nothing
  // (KV prefetch); max_tokens may be 0. Low priority: admitted and prefilled after every
  // other request. prefill_budget_ms > 0: stops after the step in which that much time
  // since admission has passed (the blocks computed so far stay cached).
  bool prefill_only = false;
  int64_t prefill_budget_ms = 0;
  // When set, chunks are delivered to this callback (on the scheduler thread; it must not
  // block) instead of being queued for next().
  std::function<void(const Chunk&)> on_chunk;
};

// The consumer's handle. Thread-safe: the scheduler pushes, the consumer pulls or cancels.
class GenerationStream {
 public:
  // Blocks for the next chunk; false once the final chunk has been returned.
  bool next(Chunk* out);
  // Stops generation; the model sees it within one step. A final chunk with finish
  // reason kCancelled follows.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  bool finished() const;

  // Scheduler side.
  void push(Chunk c, const std::function<void(const Chunk&)>& callback);

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
  bool ended_ = false;      // final chunk pushed
  bool delivered_ = false;  // final chunk handed to the consumer
};

}  // namespace mlxs
