// config/canary.yaml: the canary deployment (spec: "Canary Deployment" in
// PRODUCTION_FEATURES.md): the split (canary), automatic rollback (rollback, triggers),
// the health monitor (monitoring), and what the two variants are (variants). Parsing
// lists every problem as "FILE:LINE: ..."; a file with any problem is never used.
// docs/CANARY.md documents every key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace mlxs::canary {

enum class Strategy { kHash, kRandom };
enum class TriggerSeverity { kCritical, kWarning, kInfo };
const char* strategy_name(Strategy s);            // "hash", "random"
const char* trigger_severity_name(TriggerSeverity s);  // "critical", ...

// The spec's triggers; any other name is an error.
enum class TriggerKind { kHighErrorRate, kHighLatency, kMemoryLeak, kCrashRate };
const char* trigger_name(TriggerKind k);  // "high_error_rate", ...

struct TriggerConfig {
  TriggerKind kind = TriggerKind::kHighErrorRate;
  double threshold = 0;  // a ratio to baseline (error rate, latency), MB/hour, or absolute rate
  TriggerSeverity severity = TriggerSeverity::kCritical;
  int line = 0;
};

struct RollbackConfig {
  bool enabled = true;
  int64_t cooldown_ms = 300000;  // no second rollback within this time
  bool gradual = false;          // step down through gradual_steps instead of to 0 at once
  std::vector<double> gradual_steps = {0.5, 0};  // gradualSteps: fractions of the deployed percentage
  int min_samples = 100;         // requests per variant in the window before ratios can fire
  int warning_evaluations = 3;   // consecutive evaluations before a warning trigger fires
  std::vector<TriggerConfig> triggers;
};

struct MonitoringConfig {
  bool enabled = true;
  int64_t interval_ms = 5000;    // health evaluation period
  double retention_hours = 1;    // history kept (and the memory trend's span)
  int64_t window_ms = 300000;    // requests, errors and percentiles are over this window
};

// What serves a variant's requests.
struct VariantConfig {
  enum class Kind {
    kServer,    // the server's own model (the baseline's default)
    kLocal,     // another model loaded in this process
    kUpstream,  // another OpenAI-compatible server, proxied
  };
  Kind kind = Kind::kServer;
  // kLocal
  std::string model_path;
  int n_ctx = 0;           // 0: the model's, at most 4096
  int threads = 0;         // 0: one per core
  int max_sequences = 4;
  std::string kv_type = "f16";
  // kUpstream
  std::string url;         // http://host:port (the server root; /v1/... is appended)
  std::string api_key;     // sent as a bearer token when set
  int timeout_ms = 600000; // the whole proxied request
};

struct CanaryConfig {
  bool enabled = false;
  double rollout_percentage = 0;  // 0..100, fractions allowed (0.1)
  Strategy strategy = Strategy::kHash;
  // user_id: the OpenAI "user" field, else the flags key header, else the request id;
  // request_id: always the request id.
  std::string hash_key = "user_id";
  bool enable_cache = true;
  int cache_size = 10000;
  std::string hash_seed = "canary";  // mixed into the hash, so splits differ per rollout
  RollbackConfig rollback;
  MonitoringConfig monitoring;
  VariantConfig baseline;  // variants.baseline (default: the server's own model)
  VariantConfig canary;    // variants.canary (required when enabled)
  int percentage_line = 0; // line of canary.rolloutPercentage (0: not in the file)
};

// Parses YAML text; `path` names it in messages. Every problem, one per line.
Result<CanaryConfig> parse_canary_config(const std::string& yaml_text, const std::string& path);
Result<CanaryConfig> load_canary_config(const std::string& path);

// The file's text with canary.rolloutPercentage set to `percentage`, everything else
// (comments, order, spacing) kept; adds the key under `canary:` when missing. Used to
// persist a rollback so that a restart does not re-enable the canary.
Result<std::string> with_rollout_percentage(const std::string& yaml_text, double percentage);
// Writes the file atomically (a temporary file renamed over it).
Status write_file_atomically(const std::string& path, const std::string& text);

}  // namespace mlxs::canary
