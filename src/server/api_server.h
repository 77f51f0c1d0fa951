// `mlx-serving serve`: the OpenAI-compatible HTTP API in front of the engine. The HTTP
// layer answers at once; the model loads in the background (/health says 503 "loading"
// until it is ready). Generation requests are validated and tokenized on the I/O thread,
// then run by the engine's continuous-batching scheduler, whose chunks flow straight back
// to the connection as SSE events or one JSON body. Nothing here blocks an I/O thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "flags/feature_flag_loader.h"
#include "http/http_server.h"
#include "qos/qos_config.h"
#include "ttft/ttft_config.h"
#include "server/metrics.h"
#include "server/openai_protocol.h"
#include "server/canary_service.h"
#include "server/qos_service.h"
#include "server/runtime_config.h"
#include "server/server_metrics.h"
#include "server/stream_registry.h"
#include "server/ttft_service.h"

namespace mlxs::server {

struct GenerationState;

enum class Phase { kLoading, kReady, kDraining, kFailed };
const char* phase_name(Phase p);

// What a successful reload read and what it could not apply live.
struct ReloadReport {
  std::vector<std::string> files;             // every file read, runtime config first
  std::vector<std::string> restart_required;  // changed keys that wait for a restart
};

// One part of the configuration that reloads with the rest. prepare() reads and checks
// its part against the new runtime config and returns the step that applies it; nothing
// is applied until every part has prepared, so one bad file changes nothing.
using ReloadPrepare = std::function<Result<std::function<void()>>(const RuntimeConfig&)>;

class ApiServer {
 public:
  // `flags`: the feature flags to start with (load_feature_flags(config)); null: all off.
  // `qos`: the qos_monitor section (parse_qos_config of the config file).
  // `canary`, `canary_path`: config/canary.yaml (load_canary_config); "": no canary.
  // `ttft`: the ttft_accelerator section (parse_ttft_config); its kv_prep switches the
  // engine's prefix cache on.
  explicit ApiServer(RuntimeConfig config,
                     std::shared_ptr<const flags::FlagSnapshot> flags = nullptr,
                     qos::QosConfig qos = {}, canary::CanaryConfig canary = {},
                     std::string canary_path = "", ttft::TtftConfig ttft = {});
  ~ApiServer();  // stops everything
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Starts HTTP and the background model load. Errors: the address cannot be bound, TLS
  // files unreadable.
  Status start();
  // Blocks until the model is loaded (or failed: its message).
  Status wait_until_loaded();
  int port() const;
  Phase phase() const { return phase_.load(); }

  // SIGTERM: stop accepting, fail new generation requests with 503, let running streams
  // finish. drain() waits up to the drain timeout, then cancels what is left; returns the
  // number of streams it had to cancel.
  void begin_drain();
  int drain();
  void stop();

  // SIGHUP and POST /admin/reload: re-reads the runtime config file it was started from
  // (with the command-line overrides applied again), the feature flags file and every
  // participant's part; when all of them are valid, applies the settings that can change
  // live (API keys, CORS, timeouts, queue and concurrency limits, log level, feature
  // flags) at once. Settings that need a restart are named in the log and the report. Any
  // error leaves everything as it was. Reloads are serialized.
  Result<ReloadReport> reload();
  void add_reload_participant(std::string name, ReloadPrepare prepare);
  // Applied to the file's settings at every reload: the command line's overrides.
  void set_overrides(std::function<void(RuntimeConfig&)> apply);
  // --canary-config FILE: used instead of the resolved path at every reload.
  void set_canary_override(std::string path) { canary_override_ = std::move(path); }

  flags::FeatureFlagLoader& feature_flags() { return *flags_; }
  QosService& qos() { return *qos_; }
  CanaryService& canary() { return *canary_; }
  TtftService& ttft() { return *ttft_service_; }

  Engine* engine() { return engine_ready_.load() ? engine_.get() : nullptr; }
  metrics::Registry& registry() { return registry_; }
  StreamRegistry& streams() { return streams_; }
  const ModelInfo& model_info() const { return model_info_; }

 private:
  struct Exchange;
  struct LiveSettings;
  void load_model(const ModelSection& model, const SchedulerSection& sched, bool prefix_cache);
  void housekeeping();
  void handle(http::Request req, std::shared_ptr<http::ResponseWriter> writer);
  void route(const std::shared_ptr<Exchange>& ex);
  void handle_generation(const std::shared_ptr<Exchange>& ex, Endpoint endpoint);
  void proxy_generation(const std::shared_ptr<Exchange>& ex,
                        const std::shared_ptr<GenerationState>& st);
  void finish_early(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<GenerationState>& st,
                    const ApiError& err);
  void handle_tokenize(const std::shared_ptr<Exchange>& ex, bool detokenize);
  void handle_health(const std::shared_ptr<Exchange>& ex);
  void handle_admin_flags(const std::shared_ptr<Exchange>& ex);
  void handle_admin_reload(const std::shared_ptr<Exchange>& ex);
  void handle_admin_qos(const std::shared_ptr<Exchange>& ex);
  void handle_canary_rollback(const std::shared_ptr<Exchange>& ex);
  void handle_admin_ttft(const std::shared_ptr<Exchange>& ex);
  void handle_ttft_allowlist(const std::shared_ptr<Exchange>& ex);
  void handle_prefetch(const std::shared_ptr<Exchange>& ex);
  // Tokenized prompt -> checked against the context, max_tokens settled, a speculated
  // first token chosen; the request's error when it does not fit.
  std::optional<ApiError> settle_prompt(GenerationState& st, const Engine& engine,
                                        const std::vector<TokenId>& tokens, int default_max_tokens,
                                        int* max_tokens, TokenId* speculated);
  void run_on_io(std::function<void()> job);
  FaultInjection next_fault(const LiveSettings& live, const char* variant);
  std::string flag_key(const Exchange& ex, const std::string& user) const;
  bool authorized(const http::Request& req) const;
  Result<std::shared_ptr<const LiveSettings>> prepare_live_settings(const RuntimeConfig& c) const;
  void apply_live_settings(std::shared_ptr<const LiveSettings> s, const RuntimeConfig& c);

  RuntimeConfig config_;
  std::shared_ptr<const LiveSettings> live_;  // swapped whole on reload
  mutable std::mutex live_mu_;
  std::shared_ptr<const LiveSettings> live() const;

  std::atomic<Phase> phase_{Phase::kLoading};
  std::string load_error_;
  std::unique_ptr<Engine> engine_;
  std::atomic<bool> engine_ready_{false};
  std::thread loader_;
  std::mutex load_mu_;
  std::condition_variable load_cv_;

  ModelInfo model_info_;
  metrics::Registry registry_;
  ServerMetrics metrics_;
  StreamRegistry streams_;
  std::unique_ptr<http::Server> http_;

  std::unique_ptr<flags::FeatureFlagLoader> flags_;
  std::unique_ptr<QosService> qos_;
  std::unique_ptr<CanaryService> canary_;
  std::atomic<int> proxies_in_flight_{0};
  std::string canary_override_;
  ttft::TtftConfig ttft_;  // guarded by reload_mu_ after start()
  std::unique_ptr<TtftService> ttft_service_;
  bool prefix_cache_built_ = false;  // the engines were loaded with the prefix cache
  std::mutex fault_mu_;
  double fault_accumulator_ = 0;  // spreads injected failures exactly over requests
  std::mutex reload_mu_;  // one reload at a time; guards config_ after start()
  std::function<void(RuntimeConfig&)> overrides_;
  std::vector<std::pair<std::string, ReloadPrepare>> reload_participants_;
  std::atomic<bool> stopping_{false};
  std::thread housekeeper_;
  std::mutex hk_mu_;
  std::condition_variable hk_cv_;
};

}  // namespace mlxs::server
