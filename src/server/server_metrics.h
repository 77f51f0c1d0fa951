// The serving metrics of /metrics (mlx_serving_ prefix), registered once and fed by the
// request handlers and the engine's counters.
#pragma once

#include <mutex>
#include <string>

#include "engine/generation.h"
#include "engine/scheduler.h"
#include "server/metrics.h"

namespace mlxs::server {

class ServerMetrics {
 public:
  explicit ServerMetrics(metrics::Registry& registry);

  // One finished HTTP exchange.
  void request(const std::string& endpoint, int status);
  // A generation's final statistics.
  void generation(const GenerationStats& stats, FinishReason finish);
  // Gap between two streamed tokens of one request, in seconds.
  void inter_token(double seconds) { itl_->observe(seconds); }
  // A configuration reload finished; a success records its time.
  void reload(bool ok, double unix_seconds);
  // The configuration in force was loaded at this time (startup: no reload counted).
  void config_loaded(double unix_seconds) { last_reload_->set(unix_seconds); }
  // Engine occupancy, copied before each scrape.
  void engine(const SchedulerStats& st);

  metrics::Registry& registry() { return registry_; }

 private:
  metrics::Registry& registry_;
  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Counter>* finished_;
  metrics::Counter* prompt_tokens_;
  metrics::Counter* generation_tokens_;
  metrics::Histogram* ttft_;
  metrics::Histogram* itl_;
  metrics::Histogram* e2e_;
  metrics::Histogram* queue_;
  metrics::Gauge* running_;
  metrics::Gauge* waiting_;
  metrics::Gauge* max_active_;
  metrics::Gauge* kv_used_;
  metrics::Gauge* kv_total_;
  metrics::Gauge* kv_usage_;
  metrics::Counter* steps_;
  metrics::Counter* batched_tokens_;
  metrics::Family<metrics::Counter>* reloads_;
  metrics::Gauge* last_reload_;
  std::mutex counters_mu_;
  uint64_t last_steps_ = 0, last_batched_ = 0;
};

}  // namespace mlxs::server
