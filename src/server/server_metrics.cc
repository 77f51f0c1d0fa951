#include "server/server_metrics.h"

#include <mutex>

namespace mlxs::server {

ServerMetrics::ServerMetrics(metrics::Registry& r) : registry_(r) {
  requests_ = &r.counter("mlx_serving_requests_total",
                         "HTTP requests answered, by endpoint and status code.",
                         {"endpoint", "status"});
  finished_ = &r.counter("mlx_serving_request_success_total",
                         "Generations finished, by finish reason.", {"finished_reason"});
  prompt_tokens_ = &r.counter("mlx_serving_prompt_tokens_total", "Prompt tokens processed.").get();
  generation_tokens_ =
      &r.counter("mlx_serving_generation_tokens_total", "Tokens generated.").get();
  ttft_ = &r.histogram("mlx_serving_time_to_first_token_seconds",
                       "Time from request arrival to the first generated token.",
                       metrics::ttft_buckets_seconds()).get();
  itl_ = &r.histogram("mlx_serving_inter_token_latency_seconds",
                      "Time between two consecutive tokens of one stream.",
                      metrics::inter_token_buckets_seconds()).get();
  e2e_ = &r.histogram("mlx_serving_e2e_request_latency_seconds",
                      "Time from request arrival to its last token.",
                      metrics::request_latency_buckets_seconds()).get();
  queue_ = &r.histogram("mlx_serving_request_queue_time_seconds",
                        "Time a request waited before joining the running batch.",
                        metrics::request_latency_buckets_seconds()).get();
  running_ = &r.gauge("mlx_serving_active_streams", "Streams in the running batch.").get();
  waiting_ = &r.gauge("mlx_serving_waiting_streams", "Streams queued for a batch slot.").get();
  max_active_ = &r.gauge("mlx_serving_max_active_streams",
                         "The live concurrency limit (max_active_streams).").get();
  kv_used_ = &r.gauge("mlx_serving_kv_blocks_used", "KV-cache blocks in use.").get();
  kv_total_ = &r.gauge("mlx_serving_kv_blocks_capacity", "KV-cache blocks in the pool.").get();
  kv_usage_ = &r.gauge("mlx_serving_kv_cache_usage_ratio",
                       "Fraction of KV-cache blocks in use (0..1).").get();
  steps_ = &r.counter("mlx_serving_engine_steps_total", "Forward passes run by the scheduler.")
                .get();
  batched_tokens_ = &r.counter("mlx_serving_engine_batched_tokens_total",
                               "Tokens processed by those forward passes.").get();
  reloads_ = &r.counter("mlx_serving_config_reloads_total",
                        "Configuration reloads (SIGHUP, POST /admin/reload), by result.",
                        {"result"});
  reloads_->with({"success"});
  reloads_->with({"failure"});
  last_reload_ = &r.gauge("mlx_serving_config_last_reload_success_timestamp_seconds",
                          "Unix time of the last successful configuration load.").get();
}

void ServerMetrics::reload(bool ok, double unix_seconds) {
  reloads_->with({ok ? "success" : "failure"}).inc();
  if (ok) last_reload_->set(unix_seconds);
}

void ServerMetrics::request(const std::string& endpoint, int status) {
  requests_->with({endpoint, std::to_string(status)}).inc();
}

void ServerMetrics::generation(const GenerationStats& st, FinishReason finish) {
  prompt_tokens_->inc(st.prompt_tokens);
  generation_tokens_->inc(st.generated_tokens);
  finished_->with({finish_reason_name(finish)}).inc();
  if (st.generated_tokens > 0) ttft_->observe(st.ttft_ms / 1000.0);
  if (finish == FinishReason::kStop || finish == FinishReason::kLength) {
    e2e_->observe(st.total_ms / 1000.0);
  }
  if (st.queue_ms > 0 || st.generated_tokens > 0) queue_->observe(st.queue_ms / 1000.0);
}

void ServerMetrics::engine(const SchedulerStats& st) {
  running_->set(st.running);
  waiting_->set(st.waiting);
  max_active_->set(st.max_active);
  kv_used_->set(st.kv_blocks_used);
  kv_total_->set(st.kv_blocks_total);
  kv_usage_->set(st.kv_blocks_total > 0 ? double(st.kv_blocks_used) / st.kv_blocks_total : 0.0);
  // The engine's counters only grow; scrapes copy the difference.
  std::lock_guard<std::mutex> lock(counters_mu_);
  if (st.steps > last_steps_) steps_->inc(double(st.steps - last_steps_));
  if (st.batched_tokens > last_batched_) batched_tokens_->inc(double(st.batched_tokens - last_batched_));
  last_steps_ = st.steps;
  last_batched_ = st.batched_tokens;
}

}  // namespace mlxs::server
