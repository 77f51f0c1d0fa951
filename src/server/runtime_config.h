// config/runtime.yaml: the server, model and scheduler settings of `mlx-serving serve`.
// Every key is documented in docs/CONFIG.md. Unknown keys, wrong types and out-of-range
// values are rejected with "FILE:LINE: ..." so a typo never silently falls back to a
// default. Sections that belong to other subsystems of the spec (ttft_accelerator,
// qos_monitor, policy_engine) are kept as parsed YAML text for their owners.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace mlxs::server {

struct CorsConfig {
  std::vector<std::string> allowed_origins;  // "*" allows any; empty: no CORS headers
  std::vector<std::string> allowed_headers = {"Authorization", "Content-Type"};
  int max_age_s = 600;
};

struct ServerSection {
  std::string host = "127.0.0.1";
  int port = 3000;
  int io_threads = 2;
  std::vector<std::string> api_keys;  // empty: no authentication
  std::string api_keys_file;          // one key per line, '#' comments; merged with api_keys
  CorsConfig cors;
  std::string tls_cert_file;
  std::string tls_key_file;
  int max_request_bytes = 4 << 20;
  int max_header_bytes = 16 * 1024;
  int header_timeout_ms = 10000;
  int body_timeout_ms = 30000;
  int keep_alive_timeout_ms = 30000;
  int request_timeout_ms = 600000;  // a generation running longer is cancelled
  int drain_timeout_ms = 30000;     // SIGTERM: how long running streams may finish
  std::string pid_file;             // "" : $XDG_RUNTIME_DIR/mlx-serving.pid or /tmp/mlx-serving.pid
  std::string log_level = "info";   // debug, info, warn, error
};

struct ModelSection {
  std::string path;          // GGUF file or model folder; "" : the embedded default model
  std::string name;          // id in /v1/models and the "model" field; "" : file stem
  int n_ctx = 0;             // 0: the model's trained context, at most 4096
  int threads = 0;           // 0: one per core
  std::string kv_type = "f16";  // f16 or f32
  int kv_cache_tokens = 0;   // 0: n_ctx * max_sequences
  std::string chat_template_file;  // overrides the model's template when set
};

struct SchedulerSection {
  int max_sequences = 8;        // batch slots: sequences decoded together in one step
  int max_active_streams = 8;   // live concurrency limit (<= max_sequences), adjustable at run time
  int max_waiting = 64;         // queued requests beyond the active ones; more: 429
  int step_token_budget = 512;  // tokens per forward step; prefill is chunked to fit
  int default_max_tokens = 256; // when a request gives none
  int retry_after_s = 1;        // Retry-After on 429
};

struct FeatureFlagsSection {
  // config/feature-flags.yaml to use; "": feature-flags.yaml beside this config file, then
  // config/feature-flags.yaml, when one exists; without any, every feature is off.
  std::string file;
  // A request header whose value keys the flag decisions (a user or tenant id); when the
  // header is absent the OpenAI "user" field, then the request id, is the key.
  std::string key_header;
  bool response_header = true;  // X-Feature-Flags: the features on for this request
};

// Faults injected into generation requests, for chaos drills and QoS tests. Off unless
// `enabled: true`; any other key set while it is off is refused, so faults never switch
// on by accident. Changeable by reload.
struct FaultInjectionSection {
  bool enabled = false;
  int first_token_delay_ms = 0;  // added before each request's first token
  int per_token_delay_ms = 0;    // added between tokens
  double error_rate = 0;         // share of requests that fail (0..1), exactly spread
  int fail_after_tokens = 1;     // a failing request fails after this many tokens
  std::string variant = "all";   // all, baseline or canary: which canary variant gets faults
};

struct DeploymentSection {
  // config/canary.yaml to use; "": canary.yaml beside this config file, then
  // config/canary.yaml, when one exists; without any, there is no canary.
  std::string canary_file;
};

struct RuntimeConfig {
  ServerSection server;
  ModelSection model;
  SchedulerSection scheduler;
  FeatureFlagsSection feature_flags;
  FaultInjectionSection fault_injection;
  DeploymentSection deployment;
  // Top-level sections owned by other subsystems, re-serialized as YAML text, keyed by
  // section name; the owner validates them.
  std::map<std::string, std::string> other_sections;
  std::string source_path;  // the file it came from ("" for defaults)
  std::string source_text;  // its bytes: owners of other sections parse them with lines
};

// Parses YAML text; `path` is used in messages. Missing sections and keys keep defaults.
Result<RuntimeConfig> parse_runtime_config(const std::string& yaml_text, const std::string& path);
Result<RuntimeConfig> load_runtime_config(const std::string& path);

// Checks cross-field rules (max_active_streams <= max_sequences, TLS cert and key both or
// neither, port range, ...). Returns "" or a message naming the keys.
std::string validate(const RuntimeConfig& config);

}  // namespace mlxs::server
