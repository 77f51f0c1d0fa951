#include "canary/health.h"

#include <cmath>
#include <limits>

#include "canary/wall_time.h"

namespace mlxs::canary {

namespace {

constexpr int kSlots = 12;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::chrono::milliseconds window_of(const MonitoringConfig& c) {
  return std::chrono::milliseconds(c.window_ms > 0 ? c.window_ms : 1);
}

Clock::duration retention_of(const MonitoringConfig& c) {
  const double hours = c.retention_hours > 0 ? c.retention_hours : 1;
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::ratio<3600>>(hours));
}

// Least-squares slope of (hours, MB): the memory trend, robust to one noisy reading in a
// way a first-to-last difference is not. 0 with fewer than 2 samples or no time between.
double slope_mb_per_hour(const std::deque<std::pair<Clock::time_point, double>>& samples) {
  if (samples.size() < 2) return 0;
  const Clock::time_point t0 = samples.front().first;
  double sx = 0, sy = 0;
  for (const auto& [t, mb] : samples) {
    sx += std::chrono::duration<double, std::ratio<3600>>(t - t0).count();
    sy += mb;
  }
  const double n = static_cast<double>(samples.size());
  const double mx = sx / n, my = sy / n;
  double sxx = 0, sxy = 0;
  for (const auto& [t, mb] : samples) {
    const double dx = std::chrono::duration<double, std::ratio<3600>>(t - t0).count() - mx;
    sxx += dx * dx;
    sxy += dx * (mb - my);
  }
  return sxx > 0 ? sxy / sxx : 0;
}

}  // namespace

// One variant's windows and memory readings.
struct HealthMonitor::Series {
  explicit Series(std::chrono::milliseconds window)
      : requests(window, kSlots),
        errors(window, kSlots),
        crashes(window, kSlots),
        latency(window, kSlots),
        ttft(window, kSlots) {}

  // The same figures over a new window length: windowed data cannot be re-bucketed, so it
  // starts over; totals and memory readings carry across. (The windows hold mutexes, so
  // a series is rebuilt rather than assigned.)
  static std::unique_ptr<Series> rewindow(Series& old, std::chrono::milliseconds window) {
    auto fresh = std::make_unique<Series>(window);
    fresh->memory = std::move(old.memory);
    fresh->total_requests = old.total_requests;
    fresh->total_errors = old.total_errors;
    return fresh;
  }

  void prune_memory(Clock::time_point now, Clock::duration retention) {
    while (!memory.empty() && memory.front().first < now - retention) memory.pop_front();
  }

  VariantHealth health(Clock::time_point now, Clock::duration retention) {
    prune_memory(now, retention);
    VariantHealth h;
    h.requests = static_cast<uint64_t>(std::llround(requests.sum(now)));
    h.errors = static_cast<uint64_t>(std::llround(errors.sum(now)));
    h.crashes = static_cast<uint64_t>(std::llround(crashes.sum(now)));
    if (h.requests > 0) {
      h.error_rate = static_cast<double>(h.errors) / h.requests;
      h.crash_rate = static_cast<double>(h.crashes) / h.requests;
    }
    h.p95_latency_ms = latency.snapshot(now).quantile(0.95);  // NaN when empty
    h.p95_ttft_ms = ttft.snapshot(now).quantile(0.95);
    h.memory_mb = memory.empty() ? kNaN : memory.back().second;
    h.memory_growth_mb_per_hour = slope_mb_per_hour(memory);
    h.total_requests = total_requests;
    h.total_errors = total_errors;
    return h;
  }

  qos::RollingCounter requests, errors, crashes;
  qos::RollingDigest latency, ttft;
  std::deque<std::pair<Clock::time_point, double>> memory;  // (when, MB), oldest first
  uint64_t total_requests = 0, total_errors = 0;
};

HealthMonitor::HealthMonitor(const MonitoringConfig& config)
    : config_(config),
      baseline_(std::make_unique<Series>(window_of(config))),
      canary_(std::make_unique<Series>(window_of(config))) {}

HealthMonitor::~HealthMonitor() = default;

void HealthMonitor::configure(const MonitoringConfig& config) {
  std::lock_guard lock(mu_);
  const bool rewindow = config.window_ms != config_.window_ms;
  config_ = config;
  if (rewindow) {
    baseline_ = Series::rewindow(*baseline_, window_of(config));
    canary_ = Series::rewindow(*canary_, window_of(config));
  }
}

void HealthMonitor::record(Variant v, double latency_ms, double ttft_ms, bool failed,
                           bool crashed, Clock::time_point now) {
  std::lock_guard lock(mu_);
  Series& s = v == Variant::kCanary ? *canary_ : *baseline_;
  s.requests.add(1, now);
  ++s.total_requests;
  if (failed) {
    s.errors.add(1, now);
    ++s.total_errors;
  }
  if (crashed) s.crashes.add(1, now);
  if (latency_ms >= 0) s.latency.add(latency_ms, now);
  if (ttft_ms > 0) s.ttft.add(ttft_ms, now);
}

void HealthMonitor::record_memory(Variant v, double bytes, Clock::time_point now) {
  if (!std::isfinite(bytes) || bytes < 0) return;  // a failed reading is not a trend
  std::lock_guard lock(mu_);
  Series& s = v == Variant::kCanary ? *canary_ : *baseline_;
  s.memory.emplace_back(now, bytes / (1024.0 * 1024.0));
  s.prune_memory(now, retention_of(config_));
}

HealthSnapshot HealthMonitor::snapshot(Clock::time_point now, double percentage) {
  std::lock_guard lock(mu_);
  const Clock::duration retention = retention_of(config_);
  HealthSnapshot snap;
  snap.at = now;
  snap.wall_time = wall_time_now();
  snap.baseline = baseline_->health(now, retention);
  snap.canary = canary_->health(now, retention);
  snap.percentage = percentage;
  history_.push_back(snap);
  while (!history_.empty() && history_.front().at < now - retention) history_.pop_front();
  return snap;
}

std::vector<HealthSnapshot> HealthMonitor::history() const {
  std::lock_guard lock(mu_);
  return {history_.begin(), history_.end()};
}

void HealthMonitor::reset_canary() {
  std::lock_guard lock(mu_);
  canary_ = std::make_unique<Series>(window_of(config_));
}

}  // namespace mlxs::canary
