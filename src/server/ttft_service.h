// The TTFT acceleration pipeline inside the server (spec: "TTFT Acceleration Pipeline").
// It owns the tokenizer warm queue, the first-token speculation provider and the
// pipeline's event bus, and answers the per-request questions the generation handler
// asks: tokenize on the warm queue? speculate this prompt? The prefix KV cache itself
// lives in the engine (kv_prep); this service holds the prefetch settings for it.
// Switches: ttft_accelerator.enabled (runtime.yaml) and, per request, the ttft_pipeline
// feature flags.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "flags/flag_config.h"
#include "flags/flag_eval.h"
#include "server/metrics.h"
#include "ttft/pipeline_events.h"
#include "ttft/speculative_provider.h"
#include "ttft/ttft_config.h"
#include "ttft/warm_queue.h"

namespace mlxs::server {

class TtftService {
 public:
  // `fallback` runs warm-queue jobs that expired in the queue (on the request's own path).
  TtftService(const ttft::TtftConfig& config, ttft::WarmQueue::Executor fallback);
  ~TtftService();

  // A reload: queue limits, speculation thresholds and allowlist, prefetch budget.
  void apply(const ttft::TtftConfig& config);
  ttft::TtftConfig config() const;

  // Per request, from its flags.
  bool warm_queue_on(const flags::RequestFlags& f) const;
  // The prefix cache serves the request (when the engine has it): ttft_accelerator.enabled
  // and kv_prep.enabled, and the request's ttft_pipeline.kv_prep decision.
  bool kv_prep_on(const flags::RequestFlags& f) const;
  // Speculation for a prompt: on in the config and for the request, and the prompt on the
  // allowlist when either the runtime config or the flags file says allowlist_only.
  bool may_speculate(const flags::RequestFlags& f, const std::string& match_text) const;
  // POST /v1/ttft/prefetch is served (the prefix cache on, prefetch_enabled).
  bool prefetch_on(bool prefix_cache_on) const;
  int64_t prefetch_budget_ms() const;

  // The warm queue: false when it refused the job (full, or shut down): the caller runs
  // the job itself.
  bool enqueue(ttft::WarmJob job);
  // The scheduler took a warm-queue request: were its tokens ready?
  void record_take(bool ready);
  // Housekeeping: hands warm-queue jobs past ttl_ms back to their requests' own path
  // even while every worker is busy.
  void expire_due();
  // Stops the warm queue's workers; jobs still queued run now. Before the engines go.
  void shutdown();

  ttft::SpeculativeProvider& speculation() { return speculation_; }
  ttft::PipelineEvents& events() { return events_; }

  // A stage of one request's pipeline (stage:* events).
  void stage(ttft::EventType type, const std::string& stream_id, double duration_ms);
  // The first token the engine computed for a speculation-eligible prompt; `speculated`
  // the token streamed ahead, or -1. Learns, and emits speculation:hit / :miss.
  void first_token(const std::string& request_id, const std::string& prompt_hash,
                   int32_t computed, int32_t speculated);
  // A prefetch ended: tokens it computed (not counting those it found cached).
  void prefetched(bool complete, int computed_tokens);

  // GET /admin/ttft: getQueueStats, getSpeculationStats, events, allowlist, settings.
  nlohmann::ordered_json to_json() const;
  // The mlx_serving_ttft_* metrics.
  void export_metrics(metrics::Registry& registry);

 private:
  ttft::WarmQueueStats queue_stats() const;
  mutable std::mutex mu_;
  ttft::TtftConfig config_;
  mutable std::mutex queue_mu_;
  std::unique_ptr<ttft::WarmQueue> queue_;  // null after shutdown()
  ttft::SpeculativeProvider speculation_;
  ttft::PipelineEvents events_;
  metrics::Family<metrics::Histogram>* stage_seconds_ = nullptr;
  std::atomic<uint64_t> prefetch_complete_{0}, prefetch_partial_{0}, prefetch_tokens_{0};
};

}  // namespace mlxs::server
