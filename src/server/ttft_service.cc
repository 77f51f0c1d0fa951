#include "server/ttft_service.h"

#include <algorithm>
#include <thread>

#include "base/logging.h"

namespace mlxs::server {
namespace {

using nlohmann::ordered_json;
using ttft::EventType;

// Tokenization is short and CPU-bound: a couple of workers keep up with any request rate
// the engine can serve, without competing with the forward pass for every core.
int warm_workers() {
  unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(n / 4, 1, 4));
}

const char* stage_label(EventType t) {
  switch (t) {
    case EventType::kQueued: return "queued";
    case EventType::kWarmed: return "warmed";
    case EventType::kSpeculated: return "speculated";
    case EventType::kFirstToken: return "first_token";
    default: return "";
  }
}

}  // namespace

TtftService::TtftService(const ttft::TtftConfig& config, ttft::WarmQueue::Executor fallback)
    : config_(config),
      queue_(std::make_unique<ttft::WarmQueue>(config.warm_queue, warm_workers(), std::move(fallback))),
      speculation_(config.speculation) {}

TtftService::~TtftService() = default;

void TtftService::apply(const ttft::TtftConfig& config) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_ = config;
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (queue_) queue_->set_config(config.warm_queue);
  }
  speculation_.set_config(config.speculation);
}

bool TtftService::enqueue(ttft::WarmJob job) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return queue_ && queue_->enqueue(std::move(job));
}

void TtftService::record_take(bool ready) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (queue_) queue_->record_take(ready);
}

void TtftService::expire_due() {
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (queue_) queue_->expire_due();
}

void TtftService::shutdown() {
  std::unique_ptr<ttft::WarmQueue> q;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    q = std::move(queue_);
  }
  q.reset();  // joins the workers and runs what was still queued
}

ttft::WarmQueueStats TtftService::queue_stats() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return queue_ ? queue_->stats() : ttft::WarmQueueStats{};
}

ttft::TtftConfig TtftService::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

bool TtftService::warm_queue_on(const flags::RequestFlags& f) const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_.enabled && f.on(flags::Feature::kTtftWarmupQueue);
}

bool TtftService::kv_prep_on(const flags::RequestFlags& f) const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_.enabled && config_.kv_prep.enabled && f.on(flags::Feature::kTtftKvPrep);
}

bool TtftService::may_speculate(const flags::RequestFlags& f, const std::string& match_text) const {
  bool only_allowlisted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!config_.enabled || !config_.speculation.enabled) return false;
    only_allowlisted = config_.speculation.allowlist_only ||
                       (f.snapshot && f.snapshot->config.speculation_allowlist_only);
  }
  if (!f.on(flags::Feature::kTtftSpeculation)) return false;
  return !only_allowlisted || speculation_.allowlisted(match_text);
}

bool TtftService::prefetch_on(bool prefix_cache_on) const {
  std::lock_guard<std::mutex> lock(mu_);
  return prefix_cache_on && config_.enabled && config_.kv_prep.prefetch_enabled;
}

int64_t TtftService::prefetch_budget_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_.kv_prep.cache_warmup_ms;
}

void TtftService::stage(EventType type, const std::string& stream_id, double duration_ms) {
  ttft::Event e;
  e.type = type;
  e.stream_id = stream_id;
  e.duration_ms = duration_ms;
  events_.emit(e);
  if (stage_seconds_) stage_seconds_->with({stage_label(type)}).observe(duration_ms / 1000.0);
}

void TtftService::first_token(const std::string& request_id, const std::string& prompt_hash,
                              int32_t computed, int32_t speculated) {
  ttft::Observation o = speculation_.observe(prompt_hash, computed, speculated);
  using Outcome = ttft::Observation::Outcome;
  if (o.outcome != Outcome::kHit && o.outcome != Outcome::kMiss) return;
  ttft::Event e;
  e.type = o.outcome == Outcome::kHit ? EventType::kSpeculationHit : EventType::kSpeculationMiss;
  e.stream_id = request_id;
  e.prompt_hash = prompt_hash;
  e.confidence = o.confidence;
  events_.emit(e);
  if (o.outcome == Outcome::kMiss) {
    log_info("speculation miss id=" + request_id + " prompt_hash=" + prompt_hash +
             " speculated=" + std::to_string(speculated) + " computed=" + std::to_string(computed) +
             " confidence=" + std::to_string(o.confidence));
  }
}

void TtftService::prefetched(bool complete, int computed_tokens) {
  (complete ? prefetch_complete_ : prefetch_partial_).fetch_add(1);
  prefetch_tokens_.fetch_add(static_cast<uint64_t>(std::max(computed_tokens, 0)));
}

ordered_json TtftService::to_json() const {
  ttft::TtftConfig c = config();
  ordered_json j;
  j["enabled"] = c.enabled;
  ttft::WarmQueueStats q = queue_stats();
  j["queue"] = {{"size", q.size},
                {"maxSize", q.max_size},
                {"totalQueued", q.total_queued},
                {"totalWarmed", q.total_warmed},
                {"totalExpired", q.total_expired},
                {"totalRejected", q.total_rejected},
                {"hits", q.hits},
                {"misses", q.misses},
                {"hitRate", q.hit_rate},
                {"ttlMs", c.warm_queue.ttl_ms},
                {"priorityByTokens", c.warm_queue.priority_by_tokens}};
  ttft::SpeculationStats s = speculation_.stats();
  j["speculation"] = {{"enabled", c.speculation.enabled},
                      {"allowlistOnly", c.speculation.allowlist_only},
                      {"totalHits", s.total_hits},
                      {"totalMisses", s.total_misses},
                      {"hitRate", s.hit_rate},
                      {"candidateCount", s.candidate_count},
                      {"maxCandidates", c.speculation.max_candidates},
                      {"minConfidence", c.speculation.min_confidence},
                      {"decayFactor", c.speculation.decay_factor},
                      {"totalObserved", s.total_observed},
                      {"evictions", s.evictions},
                      {"allowlist", speculation_.allowlist()}};
  j["prefetch"] = {{"enabled", c.kv_prep.enabled && c.kv_prep.prefetch_enabled},
                   {"cacheWarmupMs", c.kv_prep.cache_warmup_ms},
                   {"complete", prefetch_complete_.load()},
                   {"partial", prefetch_partial_.load()},
                   {"computedTokens", prefetch_tokens_.load()}};
  ordered_json events = ordered_json::object();
  auto counts = events_.counts();
  for (int i = 0; i < ttft::kEventTypes; ++i)
    events[ttft::event_name(static_cast<EventType>(i))] = counts[i];
  j["events"] = std::move(events);
  return j;
}

void TtftService::export_metrics(metrics::Registry& registry) {
  stage_seconds_ = &registry.histogram(
      "mlx_serving_ttft_stage_seconds",
      "TTFT pipeline stages per request: queued (request start to warm-queue entry), warmed "
      "(queue entry to tokens ready), speculated and first_token (request start to that token).",
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
      {"stage"});
  registry.add_exposition_source([this](metrics::Exposition& out) {
    ttft::WarmQueueStats q = queue_stats();
    out.family("mlx_serving_ttft_warm_queue_size", "Prompts waiting for a tokenizer worker.", "gauge");
    out.sample("mlx_serving_ttft_warm_queue_size", {}, static_cast<double>(q.size));
    out.family("mlx_serving_ttft_warm_queue_max_size", "The warm queue's capacity (max_size).", "gauge");
    out.sample("mlx_serving_ttft_warm_queue_max_size", {}, q.max_size);
    out.family("mlx_serving_ttft_warm_queue_jobs_total",
               "Warm-queue jobs by result: queued, warmed (by a worker), expired (waited past "
               "ttl_ms), rejected (queue full).",
               "counter");
    out.sample("mlx_serving_ttft_warm_queue_jobs_total", {{"result", "queued"}}, static_cast<double>(q.total_queued));
    out.sample("mlx_serving_ttft_warm_queue_jobs_total", {{"result", "warmed"}}, static_cast<double>(q.total_warmed));
    out.sample("mlx_serving_ttft_warm_queue_jobs_total", {{"result", "expired"}}, static_cast<double>(q.total_expired));
    out.sample("mlx_serving_ttft_warm_queue_jobs_total", {{"result", "rejected"}}, static_cast<double>(q.total_rejected));
    out.family("mlx_serving_ttft_warm_queue_takes_total",
               "Requests the scheduler took, by whether their tokens were ready when it wanted them.",
               "counter");
    out.sample("mlx_serving_ttft_warm_queue_takes_total", {{"tokens", "ready"}}, static_cast<double>(q.hits));
    out.sample("mlx_serving_ttft_warm_queue_takes_total", {{"tokens", "waited"}}, static_cast<double>(q.misses));

    ttft::SpeculationStats s = speculation_.stats();
    out.family("mlx_serving_ttft_speculation_total",
               "Speculated first tokens, by whether the computed token agreed.", "counter");
    out.sample("mlx_serving_ttft_speculation_total", {{"result", "hit"}}, static_cast<double>(s.total_hits));
    out.sample("mlx_serving_ttft_speculation_total", {{"result", "miss"}}, static_cast<double>(s.total_misses));
    out.family("mlx_serving_ttft_speculation_candidates", "Prompts with a remembered first token.", "gauge");
    out.sample("mlx_serving_ttft_speculation_candidates", {}, static_cast<double>(s.candidate_count));
    out.family("mlx_serving_ttft_speculation_allowlist_size", "Prompts on the speculation allowlist.", "gauge");
    out.sample("mlx_serving_ttft_speculation_allowlist_size", {}, static_cast<double>(s.allowlist_size));

    out.family("mlx_serving_ttft_events_total", "TTFT pipeline events, by the spec's event name.", "counter");
    auto counts = events_.counts();
    for (int i = 0; i < ttft::kEventTypes; ++i)
      out.sample("mlx_serving_ttft_events_total", {{"event", ttft::event_name(static_cast<EventType>(i))}},
                 static_cast<double>(counts[i]));

    out.family("mlx_serving_ttft_prefetch_total",
               "KV prefetches, by whether the whole prompt was computed within cache_warmup_ms.", "counter");
    out.sample("mlx_serving_ttft_prefetch_total", {{"result", "complete"}}, static_cast<double>(prefetch_complete_.load()));
    out.sample("mlx_serving_ttft_prefetch_total", {{"result", "partial"}}, static_cast<double>(prefetch_partial_.load()));
    out.family("mlx_serving_ttft_prefetch_tokens_total", "Prompt tokens computed by prefetches.", "counter");
    out.sample("mlx_serving_ttft_prefetch_tokens_total", {}, static_cast<double>(prefetch_tokens_.load()));
  });
}

}  // namespace mlxs::server
