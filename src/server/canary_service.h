// The canary deployment inside the server (spec: "Canary Deployment"). It owns the
// router, the health monitor and the rollback controller, and the canary variant's
// backend: a second engine loaded in this process, or the URL of an upstream server the
// API server proxies to. Request threads route and report finished requests; the
// housekeeping thread calls tick(), which every monitoring.intervalMs samples memory,
// takes a health snapshot and lets the rollback controller decide. A rollback lowers the
// percentage, writes it back to config/canary.yaml (so a restart keeps it), records it
// and raises an alert.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "canary/canary_config.h"
#include "canary/health.h"
#include "canary/rollback.h"
#include "canary/router.h"
#include "engine/engine.h"
#include "flags/flag_config.h"
#include "server/metrics.h"

namespace mlxs::server {

class CanaryService {
 public:
  // `path`: the canary.yaml it came from ("" when the server has none: disabled).
  // `alert`: tells the operators (the QoS alert channels).
  CanaryService(canary::CanaryConfig config, std::string path,
                std::function<void(const std::string& text)> alert);
  ~CanaryService();

  // Loads a local canary variant in the background (requests go to the baseline until
  // it is ready).
  void start();

  // Whether canary routing applies at all now: enabled, a percentage above 0, and the
  // canary variant ready.
  bool active() const;
  canary::RouteDecision route(std::string_view key);
  const std::string& hash_key() const { return hash_key_; }
  canary::VariantConfig variant(canary::Variant v) const;
  // The loaded local engine of a variant (nullptr: none or not loaded).
  Engine* local_engine(canary::Variant v) const;

  // A request of a variant ended.
  void record(canary::Variant v, double latency_ms, double ttft_ms, bool failed, bool crashed,
              canary::Clock::time_point now);
  // The server's own memory (the baseline when it is the server's model).
  void set_server_memory_source(std::function<double()> bytes);

  void tick(canary::Clock::time_point now);

  // Reload: canary.yaml re-read and checked against the flags; the step applies it.
  Result<std::function<void()>> prepare(const std::string& path, const flags::FlagConfig& flags);

  // GET /health/canary: the spec's JSON, extended with triggers, history and variants.
  nlohmann::ordered_json health_json(canary::Clock::time_point now) const;
  void export_metrics(metrics::Registry& registry);

  // A manual or automatic rollback to `to` percent, persisted to the file.
  Status rollback(const std::string& reason, double to, const std::string& detail,
                  canary::Clock::time_point now);

  // The consistency rule between the two files (see docs/CANARY.md).
  static Status check_flags(const canary::CanaryConfig& c, const flags::FlagConfig& flags);

 private:
  void load_local(canary::VariantConfig v);
  void ensure_local_loaded();
  double memory_of(canary::Variant v);

  mutable std::mutex mu_;
  canary::CanaryConfig config_;
  std::string path_;
  std::string hash_key_;
  double deployed_percentage_ = 0;  // the last percentage deployed (not set by a rollback)
  bool rolled_back_ = false;        // the last change was a rollback
  std::function<void(const std::string&)> alert_;
  std::function<double()> server_memory_;
  canary::CanaryRouter router_;
  canary::HealthMonitor health_;
  canary::RollbackController controller_;
  canary::Clock::time_point next_tick_{};
  canary::HealthSnapshot last_{};

  std::unique_ptr<Engine> canary_engine_;
  std::atomic<bool> canary_ready_{false};
  std::atomic<bool> loading_{false};
  std::string canary_error_;
  std::thread loader_;
};

// The process's resident memory in bytes (from /proc/self/statm); 0 when unknown.
double process_resident_bytes();

}  // namespace mlxs::server
