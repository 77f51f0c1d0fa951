#include "server/canary_service.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/logging.h"
#include "http/http_client.h"

namespace mlxs::server {
namespace {

using nlohmann::ordered_json;
using canary::Variant;

ordered_json number(double v) { return std::isnan(v) ? ordered_json(nullptr) : ordered_json(v); }

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The weights on disk plus the KV pool: what a local variant holds.
double engine_bytes(const Engine& e) {
  std::error_code ec;
  namespace fs = std::filesystem;
  double bytes = 0;
  const fs::path p(e.options().model_path);
  if (fs::is_directory(p, ec)) {
    for (const auto& f : fs::recursive_directory_iterator(p, ec))
      if (f.is_regular_file(ec)) bytes += static_cast<double>(f.file_size(ec));
  } else {
    bytes = static_cast<double>(fs::file_size(p, ec));
  }
  return bytes + static_cast<double>(e.kv_cache_bytes());
}

// process_resident_memory_bytes from an upstream server's /metrics; NaN when unavailable.
double scrape_resident_bytes(const canary::VariantConfig& v) {
  auto url = http::parse_url(v.url);
  if (!url.ok()) return NAN;
  http::HttpConnection conn(std::move(url.value()), v.api_key, std::chrono::milliseconds(1000));
  auto r = conn.request("/metrics", "", /*post=*/false);
  if (!r.ok() || r->status != 200) return NAN;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    static const std::string kName = "process_resident_memory_bytes ";
    if (line.compare(0, kName.size(), kName) == 0) return std::atof(line.c_str() + kName.size());
  }
  return NAN;
}

ordered_json variant_json(const canary::VariantConfig& v) {
  using Kind = canary::VariantConfig::Kind;
  ordered_json j;
  j["kind"] = v.kind == Kind::kServer ? "server" : v.kind == Kind::kLocal ? "local" : "upstream";
  if (v.kind == Kind::kLocal) j["model"] = v.model_path;
  if (v.kind == Kind::kUpstream) j["url"] = v.url;
  return j;
}

ordered_json health_metrics_json(const canary::VariantHealth& h) {
  return {{"p95Latency", number(h.p95_latency_ms)},
          {"errorRate", h.error_rate},
          {"p95Ttft", number(h.p95_ttft_ms)},
          {"requests", h.requests},
          {"errors", h.errors},
          {"crashes", h.crashes},
          {"crashRate", h.crash_rate},
          {"memoryMb", number(h.memory_mb)},
          {"memoryGrowthMbPerHour", h.memory_growth_mb_per_hour}};
}

}  // namespace

double process_resident_bytes() {
  std::ifstream in("/proc/self/statm");
  double pages_total = 0, pages_resident = 0;
  if (!(in >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

CanaryService::CanaryService(canary::CanaryConfig config, std::string path,
                             std::function<void(const std::string&)> alert)
    : config_(config),
      path_(std::move(path)),
      hash_key_(config.hash_key),
      deployed_percentage_(config.rollout_percentage),
      alert_(std::move(alert)),
      router_(config),
      health_(config.monitoring),
      controller_(config.rollback) {}

CanaryService::~CanaryService() {
  if (loader_.joinable()) loader_.join();
}

void CanaryService::start() {
  canary::VariantConfig v = variant(Variant::kCanary);
  bool enabled = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    enabled = config_.enabled;
  }
  if (enabled && v.kind == canary::VariantConfig::Kind::kLocal) {
    ensure_local_loaded();
  } else {
    canary_ready_.store(enabled && v.kind == canary::VariantConfig::Kind::kUpstream);
  }
}

// Loads the local canary model once, in the background, the first time the canary is
// enabled (at start or by a reload).
void CanaryService::ensure_local_loaded() {
  canary::VariantConfig v = variant(Variant::kCanary);
  if (v.kind != canary::VariantConfig::Kind::kLocal || canary_ready_.load() ||
      loading_.exchange(true))
    return;
  if (loader_.joinable()) loader_.join();  // an earlier, failed load
  loader_ = std::thread([this, v] {
    load_local(v);
    loading_.store(false);
  });
}

void CanaryService::load_local(canary::VariantConfig v) {
  EngineOptions eo;
  eo.model_path = v.model_path;
  eo.n_threads = v.threads;
  eo.n_ctx = v.n_ctx;
  eo.max_sequences = v.max_sequences;
  eo.kv_type = v.kv_type == "f32" ? KvType::kF32 : KvType::kF16;
  log_info("canary: loading the canary variant's model " + v.model_path);
  auto e = Engine::create(eo);
  std::lock_guard<std::mutex> lock(mu_);
  if (!e.ok()) {
    canary_error_ = e.status().message();
    log_error("canary: the canary variant failed to load, all traffic stays on the baseline: " +
              canary_error_);
    return;
  }
  canary_engine_ = std::move(e.value());
  canary_error_.clear();
  canary_ready_.store(true);
  log_info("canary: the canary variant is ready at " + fmt(router_.percentage()) + "%");
}

bool CanaryService::active() const {
  return canary_ready_.load() && router_.enabled() && router_.percentage() > 0;
}

canary::RouteDecision CanaryService::route(std::string_view key) { return router_.route(key); }

canary::VariantConfig CanaryService::variant(Variant v) const {
  std::lock_guard<std::mutex> lock(mu_);
  return v == Variant::kCanary ? config_.canary : config_.baseline;
}

Engine* CanaryService::local_engine(Variant v) const {
  if (v != Variant::kCanary || !canary_ready_.load()) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  return canary_engine_.get();
}

void CanaryService::record(Variant v, double latency_ms, double ttft_ms, bool failed,
                           bool crashed, canary::Clock::time_point now) {
  health_.record(v, latency_ms, ttft_ms, failed, crashed, now);
}

void CanaryService::set_server_memory_source(std::function<double()> bytes) {
  server_memory_ = std::move(bytes);
}

double CanaryService::memory_of(Variant v) {
  canary::VariantConfig vc = variant(v);
  switch (vc.kind) {
    case canary::VariantConfig::Kind::kServer:
      return server_memory_ ? server_memory_() : NAN;
    case canary::VariantConfig::Kind::kLocal: {
      Engine* e = local_engine(v);
      return e ? engine_bytes(*e) : NAN;
    }
    case canary::VariantConfig::Kind::kUpstream:
      return scrape_resident_bytes(vc);
  }
  return NAN;
}

void CanaryService::tick(canary::Clock::time_point now) {
  canary::MonitoringConfig mon;
  {
    std::lock_guard<std::mutex> lock(mu_);
    mon = config_.monitoring;
    if (!config_.enabled || !mon.enabled || now < next_tick_) return;
    next_tick_ = now + std::chrono::milliseconds(mon.interval_ms);
  }
  for (Variant v : {Variant::kBaseline, Variant::kCanary}) {
    double bytes = memory_of(v);
    if (!std::isnan(bytes) && bytes > 0) health_.record_memory(v, bytes, now);
  }
  canary::HealthSnapshot snap = health_.snapshot(now, router_.percentage());
  canary::RollbackDecision d = controller_.should_rollback(canary::compare(snap), now);
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = snap;
  }
  if (!d.rollback || router_.percentage() <= 0) return;
  std::string why;
  for (const auto& t : d.triggers)
    if (t.fired) why += (why.empty() ? "" : "; ") + t.why;
  double to = controller_.next_percentage(router_.percentage(), deployed_percentage_);
  Status st = rollback(d.reason, to, why, now);
  if (!st.ok()) log_error("canary: rollback: " + st.message());
}

Status CanaryService::rollback(const std::string& reason, double to, const std::string& detail,
                               canary::Clock::time_point now) {
  double from = router_.percentage();
  router_.set_percentage(to);  // first: traffic leaves the canary even if the file cannot be written
  {
    std::lock_guard<std::mutex> lock(mu_);
    config_.rollout_percentage = to;
    rolled_back_ = true;
  }
  canary::RollbackRecord rec = controller_.execute_rollback(reason, from, to, detail, now);
  health_.reset_canary();
  std::string text = "canary rolled back from " + fmt(from) + "% to " + fmt(to) + "% (" + reason +
                     "): " + detail;
  log_warn(text);
  if (alert_) alert_(text);
  if (path_.empty()) return Status::Ok();
  std::ifstream in(path_, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  auto next = canary::with_rollout_percentage(buf.str(), to);
  if (!next.ok()) return next.status();
  Status written = canary::write_file_atomically(path_, next.value());
  if (written.ok()) log_info("canary: " + path_ + " now says rolloutPercentage " + fmt(to));
  return written;
}

Status CanaryService::check_flags(const canary::CanaryConfig& c, const flags::FlagConfig& f) {
  // canary.yaml owns the canary's share. The flags file's canary block is its master
  // switch and may only say 100 (or leave the percentage out): two percentages would
  // multiply into a share nobody configured.
  if (c.enabled && f.canary.enabled && f.canary.percentage < 100) {
    return Status::Error("feature-flags.yaml canary.rolloutPercentage is " + fmt(f.canary.percentage) +
                         ", but the canary's share is set in canary.yaml (canary.rolloutPercentage " +
                         fmt(c.rollout_percentage) +
                         "): set it to 100 in feature-flags.yaml, or switch the canary off there "
                         "with canary.enabled: false");
  }
  return Status::Ok();
}

Result<std::function<void()>> CanaryService::prepare(const std::string& path,
                                                     const flags::FlagConfig& flags) {
  canary::CanaryConfig next;
  if (!path.empty()) {
    auto c = canary::load_canary_config(path);
    if (!c.ok()) return c.status();
    next = std::move(c.value());
  }
  MLXS_RETURN_IF_ERROR(check_flags(next, flags));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto same_variant = [](const canary::VariantConfig& a, const canary::VariantConfig& b) {
      return a.kind == b.kind && a.model_path == b.model_path && a.url == b.url;
    };
    if (!same_variant(next.canary, config_.canary) || next.enabled != config_.enabled) {
      if (next.canary.kind == canary::VariantConfig::Kind::kLocal || config_.canary.kind == canary::VariantConfig::Kind::kLocal)
        if (!same_variant(next.canary, config_.canary))
          return Status::Error(path + ": a change of the local canary variant takes a restart");
    }
  }
  return std::function<void()>([this, next, path] {
    double before = router_.percentage();
    {
      std::lock_guard<std::mutex> lock(mu_);
      bool was_enabled = config_.enabled;
      config_ = next;
      path_ = path;
      hash_key_ = next.hash_key;
      if (next.rollout_percentage != before) {
        deployed_percentage_ = next.rollout_percentage;
        rolled_back_ = next.rollout_percentage == 0 && rolled_back_;
        if (next.rollout_percentage > before) rolled_back_ = false;
      }
      (void)was_enabled;
      if (next.canary.kind == canary::VariantConfig::Kind::kUpstream)
        canary_ready_.store(next.enabled);
    }
    if (next.enabled) ensure_local_loaded();
    router_.configure(next);
    health_.configure(next.monitoring);
    controller_.configure(next.rollback);
    if (next.rollout_percentage > before) health_.reset_canary();  // a new stage starts clean
    log_info("canary: " + std::string(next.enabled ? "enabled" : "disabled") + " at " +
             fmt(next.rollout_percentage) + "%" +
             (next.rollout_percentage != before ? " (was " + fmt(before) + "%)" : ""));
  });
}

ordered_json CanaryService::health_json(canary::Clock::time_point now) const {
  canary::HealthSnapshot snap;
  canary::CanaryConfig cfg;
  bool rolled_back = false;
  std::string error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snap = last_;
    cfg = config_;
    rolled_back = rolled_back_;
    error = canary_error_;
  }
  canary::RouterStats rs = router_.stats();
  auto triggers = controller_.trigger_states();
  bool degraded = false;
  ordered_json tj = ordered_json::array();
  for (const auto& t : triggers) {
    degraded = degraded || t.breached;
    tj.push_back({{"name", canary::trigger_name(t.kind)},
                  {"severity", canary::trigger_severity_name(t.severity)},
                  {"threshold", t.threshold},
                  {"value", number(t.value)},
                  {"breached", t.breached},
                  {"fired", t.fired},
                  {"consecutive", t.consecutive},
                  {"why", t.why}});
  }
  std::string status = !cfg.enabled                                   ? "disabled"
                       : rolled_back && router_.percentage() <= 0     ? "rolled_back"
                       : degraded || !error.empty()                   ? "degraded"
                                                                      : "healthy";
  ordered_json history = ordered_json::array();
  for (const auto& r : controller_.get_rollback_history()) {
    history.push_back({{"time", r.wall_time},
                       {"reason", r.reason},
                       {"from", r.from_percentage},
                       {"to", r.to_percentage},
                       {"detail", r.detail}});
  }
  ordered_json c;
  c["enabled"] = cfg.enabled;
  c["percentage"] = router_.percentage();
  c["requests"] = {{"baseline", rs.baseline}, {"canary", rs.canary}};
  c["metrics"] = {{"baseline", health_metrics_json(snap.baseline)},
                  {"canary", health_metrics_json(snap.canary)}};
  c["status"] = status;
  c["actualPercentage"] = rs.actual_percentage;
  c["cacheHitRate"] = rs.cache_hit_rate;
  c["strategy"] = canary::strategy_name(cfg.strategy);
  c["hashKey"] = cfg.hash_key;
  c["variants"] = {{"baseline", variant_json(cfg.baseline)}, {"canary", variant_json(cfg.canary)}};
  c["canaryReady"] = canary_ready_.load();
  if (!error.empty()) c["canaryError"] = error;
  c["triggers"] = std::move(tj);
  c["rollbacks"] = std::move(history);
  c["lastEvaluation"] = snap.wall_time.empty() ? ordered_json(nullptr) : ordered_json(snap.wall_time);
  c["config"] = path_;
  (void)now;
  return {{"canary", std::move(c)}};
}

void CanaryService::export_metrics(metrics::Registry& registry) {
  registry.add_exposition_source([this](metrics::Exposition& out) {
    canary::RouterStats rs = router_.stats();
    canary::HealthSnapshot snap;
    {
      std::lock_guard<std::mutex> lock(mu_);
      snap = last_;
    }
    out.family("mlx_serving_canary_requests_total", "Requests routed, by variant.", "counter");
    out.sample("mlx_serving_canary_requests_total", {{"variant", "baseline"}}, double(rs.baseline));
    out.sample("mlx_serving_canary_requests_total", {{"variant", "canary"}}, double(rs.canary));
    auto per_variant = [&](const std::string& name, const std::string& help, double base,
                           double can) {
      out.family(name, help, "gauge");
      if (!std::isnan(base)) out.sample(name, {{"variant", "baseline"}}, base);
      if (!std::isnan(can)) out.sample(name, {{"variant", "canary"}}, can);
    };
    per_variant("mlx_serving_canary_latency_p95_ms", "P95 latency over the monitoring window, ms.",
                snap.baseline.p95_latency_ms, snap.canary.p95_latency_ms);
    per_variant("mlx_serving_canary_latency_p95_seconds", "P95 latency over the monitoring window.",
                snap.baseline.p95_latency_ms / 1000, snap.canary.p95_latency_ms / 1000);
    per_variant("mlx_serving_canary_error_rate", "Errors / requests over the monitoring window.",
                snap.baseline.error_rate, snap.canary.error_rate);
    out.family("mlx_serving_canary_percentage", "The canary's live share of traffic (0..100).",
               "gauge");
    out.sample("mlx_serving_canary_percentage", {}, router_.percentage());
    out.family("mlx_serving_canary_rollbacks_total", "Rollbacks, by reason.", "counter");
    for (const auto& [reason, n] : controller_.rollbacks_by_reason())
      out.sample("mlx_serving_canary_rollbacks_total", {{"reason", reason}}, double(n));
    out.family("mlx_serving_canary_rollback_triggers_total",
               "Evaluations in which a rollback trigger fired, by trigger.", "counter");
    for (const auto& [trigger, n] : controller_.firings_by_trigger())
      out.sample("mlx_serving_canary_rollback_triggers_total", {{"trigger", trigger}}, double(n));
  });
}

}  // namespace mlxs::server
