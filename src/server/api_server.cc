#include "server/api_server.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "base/logging.h"
#include "server/flag_files.h"
#include "server/flag_metrics.h"
#include "server/process_metrics.h"
#include "http/http_client.h"

namespace mlxs::server {
namespace {

using nlohmann::ordered_json;

double seconds_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string random_hex(int n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = kHex[rng() & 15];
  return s;
}

// A client-chosen X-Request-Id is kept when it is short and printable.
bool usable_request_id(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 32 && c < 127; });
}

// Constant-time comparison: the time taken does not tell how much of a key matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned diff = a.size() ^ b.size();
  for (size_t i = 0; i < a.size(); ++i) diff |= uint8_t(a[i]) ^ uint8_t(b[i % (b.size() + 1)]);
  return diff == 0;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The metric label for a path: known routes by name, everything else "other", so clients
// cannot grow the label set.
std::string endpoint_label(const std::string& path) {
  static const std::set<std::string> kKnown = {
      "/v1/completions", "/v1/chat/completions", "/v1/models", "/tokenize", "/detokenize",
      "/health", "/metrics", "/v1/streams", "/admin/flags", "/admin/reload", "/admin/qos",
      "/health/canary", "/admin/canary/rollback", "/admin/ttft", "/admin/ttft/allowlist",
      "/v1/ttft/prefetch"};
  return kKnown.count(path) ? path : "other";
}

http::Response json_response(int status, const ordered_json& body) {
  http::Response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

http::Response error_response(const ApiError& e) {
  http::Response r;
  r.status = e.status;
  r.body = e.body();
  return r;
}

ApiError api_error(int status, std::string message, std::string type, std::string code = "") {
  ApiError e;
  e.status = status;
  e.message = std::move(message);
  e.type = std::move(type);
  e.code = std::move(code);
  return e;
}

std::string model_id_for(const ModelSection& m, const std::string& path) {
  if (!m.name.empty()) return m.name;
  std::filesystem::path p(path);
  if (std::filesystem::is_directory(p)) return p.filename().empty() ? p.parent_path().filename().string()
                                                                     : p.filename().string();
  return p.stem().string();
}

// One key per line; blank lines and '#' comments skipped, surrounding spaces trimmed.
Result<std::vector<std::string>> read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error(path + ": cannot read the API key file");
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    auto e = line.find_last_not_of(" \t\r");
    keys.push_back(line.substr(b, e - b + 1));
  }
  if (keys.empty()) return Status::Error(path + ": the API key file has no keys");
  return keys;
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

LogLevel parse_level(const std::string& s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kLoading: return "loading";
    case Phase::kReady: return "ok";
    case Phase::kDraining: return "draining";
    case Phase::kFailed: return "error";
  }
  return "";
}

// Settings a reload may change while requests run; replaced as a whole.
struct ApiServer::LiveSettings {
  std::vector<std::string> api_keys;
  CorsConfig cors;
  int request_timeout_ms = 0;
  int max_waiting = 0;
  int retry_after_s = 1;
  int default_max_tokens = 256;
  std::string flag_key_header;
  bool flag_response_header = true;
  FaultInjectionSection fault;
};

// One HTTP request and its answer: common headers, the access log line and the request
// metric are written in one place whichever way the request ends.
struct ApiServer::Exchange {
  ApiServer* server;
  http::Request req;
  std::shared_ptr<http::ResponseWriter> writer;
  std::string request_id;
  std::string endpoint;
  SteadyClock::time_point start = SteadyClock::now();
  std::shared_ptr<const LiveSettings> live;
  std::string features;  // X-Feature-Flags: set once the flags are decided
  std::string variant;   // X-Canary-Variant: set when the canary router chose

  void add_common_headers(http::Headers& h) const {
    h["X-Request-Id"] = request_id;
    if (!features.empty() && live->flag_response_header) h["X-Feature-Flags"] = features;
    if (!variant.empty()) h["X-Canary-Variant"] = variant;
    std::string origin = req.header("Origin");
    if (origin.empty()) return;
    for (const auto& allowed : live->cors.allowed_origins) {
      if (allowed == "*" || allowed == origin) {
        h["Access-Control-Allow-Origin"] = allowed == "*" ? "*" : origin;
        h["Vary"] = "Origin";
        h["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After, X-Feature-Flags, X-Canary-Variant";
        return;
      }
    }
  }
  void log_done(int status, const std::string& extra = "") const {
    double ms = seconds_between(start, SteadyClock::now()) * 1000;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", ms);
    log_info("request id=" + request_id + " method=" + req.method + " path=" + req.path +
             " status=" + std::to_string(status) + " ms=" + buf + (extra.empty() ? "" : " " + extra));
    server->metrics_.request(endpoint, status);
  }
  void send(http::Response r, const std::string& extra = "") {
    add_common_headers(r.headers);
    int status = r.status;
    writer->send(std::move(r));
    log_done(status, extra);
  }
  void send_error(const ApiError& e) { send(error_response(e), "error=\"" + e.message + "\""); }
  void start_stream() {
    http::Response head;
    head.content_type = "text/event-stream";
    head.headers["Cache-Control"] = "no-cache";
    add_common_headers(head.headers);
    writer->start_stream(std::move(head));
  }
};

ApiServer::ApiServer(RuntimeConfig config, std::shared_ptr<const flags::FlagSnapshot> flags,
                     qos::QosConfig qos, canary::CanaryConfig canary, std::string canary_path,
                     ttft::TtftConfig ttft)
    : config_(std::move(config)),
      metrics_(registry_),
      flags_(std::make_unique<flags::FeatureFlagLoader>(flags ? std::move(flags)
                                                              : flags::builtin_flag_snapshot())) {
  qos_ = std::make_unique<QosService>(
      std::move(qos), config_.scheduler.max_sequences,
      [this] {
        Engine* e = engine();
        return e ? e->stats().max_active : 0;
      },
      [this](int n) {
        if (Engine* e = engine()) e->set_max_active(n);
      },
      [this] { return static_cast<int>(streams_.size()); });
  qos_->export_metrics(registry_);
  // Rollbacks are told to the operators through the QoS alert channels.
  canary_ = std::make_unique<CanaryService>(std::move(canary), std::move(canary_path),
                                            [this](const std::string& text) {
                                              qos::AlertMessage m;
                                              m.policy_id = "canary";
                                              m.slo_name = "rollback";
                                              m.severity = qos::Severity::kCritical;
                                              m.reason = text;
                                              m.time = iso8601(std::chrono::system_clock::now());
                                              for (const auto& ch : qos_->alert_channels())
                                                (void)qos_->alert(ch, m);
                                            });
  canary_->set_server_memory_source([] { return process_resident_bytes(); });
  canary_->export_metrics(registry_);
  export_process_metrics(registry_);
  ttft_ = std::move(ttft);
  ttft_service_ = std::make_unique<TtftService>(ttft_, [this](std::function<void()> job) {
    run_on_io(std::move(job));
  });
  ttft_service_->export_metrics(registry_);
  // The engine's prefix cache (ttft_accelerator.kv_prep), read at every scrape.
  registry_.add_exposition_source([this](metrics::Exposition& out) {
    PrefixCacheStats p;
    if (Engine* e = engine()) p = e->stats().prefix;
    auto counter = [&](const char* name, const char* help, uint64_t v) {
      out.family(name, help, "counter");
      out.sample(name, {}, static_cast<double>(v));
    };
    counter("mlx_serving_prefix_cache_queries_total", "Prompts looked up in the prefix cache.",
            p.queries);
    counter("mlx_serving_prefix_cache_hits_total",
            "Lookups that found at least one cached block.", p.hits);
    counter("mlx_serving_prefix_cache_hit_tokens_total",
            "Prompt tokens served from the prefix cache instead of computed.", p.hit_tokens);
    counter("mlx_serving_prefix_cache_evictions_total",
            "Cached blocks recycled for new sequences.", p.evictions);
    counter("mlx_serving_prefix_cache_block_copies_total",
            "Partly matching cached blocks copied at a prompt's first divergent block.", p.copies);
    out.family("mlx_serving_prefix_cache_blocks", "KV blocks held in the prefix index.", "gauge");
    out.sample("mlx_serving_prefix_cache_blocks", {}, static_cast<double>(p.cached_blocks));
  });
  registry_.add_collect_hook([this] {
    if (Engine* e = engine()) metrics_.engine(e->stats());
  });
  export_flag_metrics(registry_, *flags_);
  metrics_.config_loaded(static_cast<double>(unix_now()));
}

ApiServer::~ApiServer() { stop(); }

std::shared_ptr<const ApiServer::LiveSettings> ApiServer::live() const {
  std::lock_guard<std::mutex> lock(live_mu_);
  return live_;
}

Result<std::shared_ptr<const ApiServer::LiveSettings>> ApiServer::prepare_live_settings(
    const RuntimeConfig& c) const {
  auto s = std::make_shared<LiveSettings>();
  s->api_keys = c.server.api_keys;
  if (!c.server.api_keys_file.empty()) {
    auto keys = read_key_file(c.server.api_keys_file);
    if (!keys.ok()) return keys.status();
    s->api_keys.insert(s->api_keys.end(), keys->begin(), keys->end());
  }
  s->cors = c.server.cors;
  s->request_timeout_ms = c.server.request_timeout_ms;
  s->max_waiting = c.scheduler.max_waiting;
  s->retry_after_s = c.scheduler.retry_after_s;
  s->default_max_tokens = c.scheduler.default_max_tokens;
  s->flag_key_header = c.feature_flags.key_header;
  s->flag_response_header = c.feature_flags.response_header;
  s->fault = c.fault_injection;
  return std::shared_ptr<const LiveSettings>(std::move(s));
}

void ApiServer::apply_live_settings(std::shared_ptr<const LiveSettings> s, const RuntimeConfig& c) {
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_ = std::move(s);
  }
  set_log_level(parse_level(c.server.log_level));
  if (Engine* e = engine()) e->set_max_active(c.scheduler.max_active_streams);
}

Status ApiServer::start() {
  auto settings = prepare_live_settings(config_);
  if (!settings.ok()) return settings.status();
  apply_live_settings(std::move(settings.value()), config_);
  if (config_.fault_injection.enabled) log_warn("fault injection is ON (fault_injection in " + config_.source_path + ")");
  auto snap = flags_->snapshot();
  log_info("feature flags: " + (snap->source_path.empty()
                                    ? std::string("no feature-flags.yaml found; every feature is off")
                                    : snap->source_path + " (sha256 " + snap->sha256.substr(0, 12) + ")"));
  const ServerSection& s = config_.server;
  http::ServerOptions o;
  o.host = s.host;
  o.port = s.port;
  o.io_threads = s.io_threads;
  o.max_header_bytes = s.max_header_bytes;
  o.max_body_bytes = s.max_request_bytes;
  o.header_timeout_ms = s.header_timeout_ms;
  o.body_timeout_ms = s.body_timeout_ms;
  o.keep_alive_timeout_ms = s.keep_alive_timeout_ms;
  o.tls_cert_file = s.tls_cert_file;
  o.tls_key_file = s.tls_key_file;
  http_ = std::make_unique<http::Server>(
      o, [this](http::Request req, std::shared_ptr<http::ResponseWriter> w) {
        handle(std::move(req), std::move(w));
      });
  MLXS_RETURN_IF_ERROR(http_->start());
  log_info(std::string("listening on ") + (s.tls_cert_file.empty() ? "http://" : "https://") +
           s.host + ":" + std::to_string(http_->port()));
  // The loader works on a copy: a SIGHUP during the load may replace config_.
  prefix_cache_built_ = ttft_.enabled && ttft_.kv_prep.enabled;
  loader_ = std::thread([this, model = config_.model, sched = config_.scheduler,
                         prefix = prefix_cache_built_] {
    load_model(model, sched, prefix);
  });
  housekeeper_ = std::thread([this] { housekeeping(); });
  canary_->start();
  return Status::Ok();
}

int ApiServer::port() const { return http_ ? http_->port() : 0; }

void ApiServer::load_model(const ModelSection& m, const SchedulerSection& sc, bool prefix_cache) {
  EngineOptions eo;
  eo.prefix_cache = prefix_cache;
  eo.model_path = m.path;
  eo.n_threads = m.threads;
  eo.n_ctx = m.n_ctx;
  eo.max_sequences = sc.max_sequences;
  eo.max_active = sc.max_active_streams;
  eo.step_token_budget = sc.step_token_budget;
  eo.kv_cache_tokens = m.kv_cache_tokens;
  eo.kv_type = m.kv_type == "f32" ? KvType::kF32 : KvType::kF16;
  eo.chat_template_file = m.chat_template_file;
  log_info("loading model " + m.path);
  auto e = Engine::create(eo);
  std::lock_guard<std::mutex> lock(load_mu_);
  if (!e.ok()) {
    load_error_ = e.status().message();
    log_error("model load failed: " + load_error_);
    phase_.store(Phase::kFailed);
  } else {
    engine_ = std::move(e.value());
    model_info_.id = model_id_for(m, m.path);
    model_info_.n_ctx = engine_->n_ctx();
    model_info_.default_max_tokens = sc.default_max_tokens;
    model_info_.created = unix_now();
    engine_ready_.store(true);
    Phase expected = Phase::kLoading;
    phase_.compare_exchange_strong(expected, Phase::kReady);
    log_info("ready: model " + model_info_.id);
  }
  load_cv_.notify_all();
}

Status ApiServer::wait_until_loaded() {
  std::unique_lock<std::mutex> lock(load_mu_);
  load_cv_.wait(lock, [&] { return engine_ready_.load() || !load_error_.empty(); });
  return engine_ready_.load() ? Status::Ok() : Status::Error(load_error_);
}

void ApiServer::housekeeping() {
  std::unique_lock<std::mutex> lock(hk_mu_);
  while (!stopping_.load()) {
    hk_cv_.wait_for(lock, std::chrono::milliseconds(100));
    int n = streams_.expire(SteadyClock::now());
    if (n > 0) log_warn("cancelled " + std::to_string(n) + " request(s) past the request timeout");
    lock.unlock();
    qos_->tick(SteadyClock::now(), flags_->snapshot()->config);
    canary_->tick(SteadyClock::now());
    ttft_service_->expire_due();
    lock.lock();
  }
}

void ApiServer::begin_drain() {
  Phase p = phase_.exchange(Phase::kDraining);
  if (p == Phase::kDraining) return;
  log_info("draining: no new connections; " + std::to_string(streams_.size()) +
           " stream(s) running");
  if (http_) http_->stop_accepting();
}

int ApiServer::drain() {
  begin_drain();
  int drain_ms = 0;
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    drain_ms = config_.server.drain_timeout_ms;
  }
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(drain_ms);
  while (!streams_.empty() && SteadyClock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int cancelled = 0;
  if (!streams_.empty()) {
    cancelled = streams_.cancel_all();
    log_warn("drain timeout: cancelled " + std::to_string(cancelled) + " stream(s)");
    auto grace = SteadyClock::now() + std::chrono::seconds(2);
    while (!streams_.empty() && SteadyClock::now() < grace)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Let the last bytes of finished responses reach their clients.
  auto flush = SteadyClock::now() + std::chrono::seconds(2);
  while (http_ && http_->busy_connections() > 0 && SteadyClock::now() < flush)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return cancelled;
}

void ApiServer::stop() {
  if (stopping_.exchange(true)) return;
  hk_cv_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  if (loader_.joinable()) loader_.join();
  // HTTP first: once its I/O threads are joined no handler can be using the engine. The
  // engine's scheduler then ends what is left through callbacks whose writers are closed
  // (ignored) and whose registry and metrics are still members here.
  // Proxied canary requests end at their next piece (stopping_) or network timeout.
  auto proxy_deadline = SteadyClock::now() + std::chrono::seconds(35);
  while (proxies_in_flight_.load() > 0 && SteadyClock::now() < proxy_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (http_) http_->stop();
  // Tokenizations still queued finish now, while their engines exist.
  ttft_service_->shutdown();
  engine_ready_.store(false);
  engine_.reset();
}

// An expired warm-queue job goes back to the request's own path: an I/O thread, where
// requests are tokenized when the pipeline is off.
void ApiServer::run_on_io(std::function<void()> job) {
  void* ctx = http_ ? http_->io_context() : nullptr;
  if (!ctx || stopping_.load()) return job();
  boost::asio::post(*static_cast<boost::asio::io_context*>(ctx), std::move(job));
}

void ApiServer::add_reload_participant(std::string name, ReloadPrepare prepare) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  reload_participants_.emplace_back(std::move(name), std::move(prepare));
}

void ApiServer::set_overrides(std::function<void(RuntimeConfig&)> apply) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  overrides_ = std::move(apply);
}

Result<ReloadReport> ApiServer::reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  auto failed = [&](const std::string& message) -> Status {
    metrics_.reload(false, 0);
    log_error("reload failed, the running configuration stays in force: " + message);
    return Status::Error(message);
  };
  ReloadReport report;

  // 1. Read and check everything; nothing is applied yet.
  RuntimeConfig next = config_;
  if (!config_.source_path.empty()) {
    auto c = load_runtime_config(config_.source_path);
    if (!c.ok()) return failed(c.status().message());
    next = std::move(c.value());
    if (overrides_) overrides_(next);
    std::string bad = validate(next);
    if (!bad.empty()) return failed(config_.source_path + ": " + bad);
    report.files.push_back(config_.source_path);
  }
  auto settings = prepare_live_settings(next);
  if (!settings.ok()) return failed(settings.status().message());
  auto flag_snapshot = load_feature_flags(next);
  if (!flag_snapshot.ok()) {
    flags_->record_failure(flag_snapshot.status().message());
    return failed(flag_snapshot.status().message());
  }
  if (!flag_snapshot.value()->source_path.empty())
    report.files.push_back(flag_snapshot.value()->source_path);
  std::vector<std::function<void()>> commits;
  {
    auto canary_step = canary_->prepare(canary_config_path(next, canary_override_),
                                        flag_snapshot.value()->config);
    if (!canary_step.ok()) return failed(canary_step.status().message());
    std::string cpath = canary_config_path(next, canary_override_);
    if (!cpath.empty()) report.files.push_back(cpath);
    commits.push_back(std::move(canary_step.value()));
  }
  ttft::TtftConfig next_ttft = ttft_;
  if (!next.source_path.empty()) {
    auto t = ttft::parse_ttft_config(next.source_text, next.source_path);
    if (!t.ok()) return failed(t.status().message());
    next_ttft = std::move(t.value());
  }
  if (!next.source_path.empty()) {
    auto qos_config = qos::parse_qos_config(next.source_text, next.source_path);
    if (!qos_config.ok()) return failed(qos_config.status().message());
    commits.push_back(qos_->prepare(std::move(qos_config.value())));
  }
  for (auto& [name, prepare] : reload_participants_) {
    auto commit = prepare(next);
    if (!commit.ok()) return failed(name + ": " + commit.status().message());
    commits.push_back(std::move(commit.value()));
  }

  // 2. Settings baked into sockets, threads, the loaded model and the metric names wait
  // for a restart.
  auto differs = [&](bool changed, const char* key) {
    if (changed) report.restart_required.push_back(key);
  };
  differs(next.server.host != config_.server.host, "server.host");
  differs(next.server.port != config_.server.port, "server.port");
  differs(next.server.io_threads != config_.server.io_threads, "server.io_threads");
  differs(next.server.tls_cert_file != config_.server.tls_cert_file, "server.tls_cert_file");
  differs(next.server.tls_key_file != config_.server.tls_key_file, "server.tls_key_file");
  differs(next.model.path != config_.model.path, "model.path");
  differs(next.model.n_ctx != config_.model.n_ctx, "model.n_ctx");
  differs(next.model.threads != config_.model.threads, "model.threads");
  differs(next.scheduler.max_sequences != config_.scheduler.max_sequences, "scheduler.max_sequences");
  differs(next.scheduler.step_token_budget != config_.scheduler.step_token_budget,
          "scheduler.step_token_budget");
  differs((next_ttft.enabled && next_ttft.kv_prep.enabled) != prefix_cache_built_,
          "ttft_accelerator.kv_prep.enabled");

  // 3. Apply all of it.
  apply_live_settings(std::move(settings.value()), next);
  auto old_flags = flags_->snapshot();
  flags_->replace(flag_snapshot.value());
  for (auto& commit : commits) commit();
  for (const auto& key : report.restart_required)
    log_warn("reload: " + key + " changed; it takes effect after a restart");
  if (next.fault_injection.enabled != config_.fault_injection.enabled)
    log_warn(std::string("fault injection is ") + (next.fault_injection.enabled ? "ON" : "off"));
  const auto& fl = *flag_snapshot.value();
  log_info("reloaded " + (config_.source_path.empty() ? std::string("(no runtime config file)")
                                                      : config_.source_path) +
           ": max_active_streams=" + std::to_string(next.scheduler.max_active_streams) +
           " max_waiting=" + std::to_string(next.scheduler.max_waiting) +
           " request_timeout_ms=" + std::to_string(next.server.request_timeout_ms) +
           "; feature flags " + (fl.source_path.empty() ? std::string("off (no file)") : fl.source_path) +
           " sha256=" + fl.sha256.substr(0, 12) +
           (fl.sha256 == old_flags->sha256 ? " (unchanged)" : " (changed)"));
  // Keep what needs a restart as it runs now; take the rest.
  RuntimeConfig kept = next;
  kept.server.host = config_.server.host;
  kept.server.port = config_.server.port;
  kept.server.io_threads = config_.server.io_threads;
  kept.server.tls_cert_file = config_.server.tls_cert_file;
  kept.server.tls_key_file = config_.server.tls_key_file;
  kept.model = config_.model;
  kept.scheduler.max_sequences = config_.scheduler.max_sequences;
  kept.scheduler.step_token_budget = config_.scheduler.step_token_budget;
  config_ = std::move(kept);
  // The prefix cache is built into the loaded engine (or not); the rest applies now.
  next_ttft.kv_prep.enabled = prefix_cache_built_;
  ttft_ = std::move(next_ttft);
  ttft_service_->apply(ttft_);
  metrics_.reload(true, static_cast<double>(unix_now()));
  return report;
}

bool ApiServer::authorized(const http::Request& req) const {
  auto l = live();
  if (l->api_keys.empty()) return true;
  std::string auth = req.header("Authorization");
  static const std::string kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() || auth.compare(0, kBearer.size(), kBearer) != 0) return false;
  std::string key = auth.substr(kBearer.size());
  bool ok = false;
  for (const auto& k : l->api_keys) ok |= same_secret(key, k);
  return ok;
}

void ApiServer::handle(http::Request req, std::shared_ptr<http::ResponseWriter> writer) {
  auto ex = std::make_shared<Exchange>();
  ex->server = this;
  ex->writer = std::move(writer);
  std::string given = req.header("X-Request-Id");
  ex->request_id = usable_request_id(given) ? given : random_hex(24);
  ex->endpoint = endpoint_label(req.path);
  ex->live = live();
  ex->req = std::move(req);
  route(ex);
}

void ApiServer::route(const std::shared_ptr<Exchange>& ex) {
  const http::Request& req = ex->req;
  const std::string& path = req.path;
  auto method_is = [&](const char* m) { return req.method == m; };

  if (method_is("OPTIONS")) {  // CORS preflight
    http::Response r;
    r.status = 204;
    r.content_type.clear();
    if (!ex->live->cors.allowed_origins.empty()) {
      std::string headers;
      for (const auto& h : ex->live->cors.allowed_headers) headers += (headers.empty() ? "" : ", ") + h;
      r.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS";
      r.headers["Access-Control-Allow-Headers"] = headers;
      r.headers["Access-Control-Max-Age"] = std::to_string(ex->live->cors.max_age_s);
    }
    ex->send(std::move(r));
    return;
  }
  if (path == "/health") {
    if (!method_is("GET")) return ex->send_error(api_error(405, "use GET for /health", "invalid_request_error"));
    return handle_health(ex);
  }
  if (path == "/health/canary") {
    if (!method_is("GET"))
      return ex->send_error(api_error(405, "use GET for /health/canary", "invalid_request_error"));
    return ex->send(json_response(200, canary_->health_json(SteadyClock::now())));
  }
  if (path == "/metrics") {
    if (!method_is("GET")) return ex->send_error(api_error(405, "use GET for /metrics", "invalid_request_error"));
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    // Count this scrape before rendering so the body includes it.
    metrics_.request(ex->endpoint, 200);
    r.body = registry_.render();
    ex->add_common_headers(r.headers);
    ex->writer->send(std::move(r));
    return;
  }

  // Operator endpoints: protected like the API, and working while the model loads.
  if (path == "/admin/flags" || path == "/admin/reload" || path == "/admin/qos" ||
      path == "/admin/canary/rollback" || path == "/admin/ttft" || path == "/admin/ttft/allowlist") {
    const char* want = path == "/admin/reload" || path == "/admin/canary/rollback" ? "POST"
                       : path == "/admin/ttft/allowlist"                           ? "POST or DELETE"
                                                                                   : "GET";
    bool method_ok = path == "/admin/ttft/allowlist" ? method_is("POST") || method_is("DELETE")
                                                     : req.method == want;
    if (!method_ok)
      return ex->send_error(api_error(405, std::string("use ") + want + " for " + path,
                                      "invalid_request_error", "method_not_allowed"));
    if (!authorized(req))
      return ex->send_error(api_error(401, "Incorrect API key provided. Send it as 'Authorization: Bearer KEY'.",
                                      "invalid_request_error", "invalid_api_key"));
    if (path == "/admin/qos") return handle_admin_qos(ex);
    if (path == "/admin/ttft") return handle_admin_ttft(ex);
    if (path == "/admin/ttft/allowlist") return handle_ttft_allowlist(ex);
    if (path == "/admin/canary/rollback") return handle_canary_rollback(ex);
    return path == "/admin/flags" ? handle_admin_flags(ex) : handle_admin_reload(ex);
  }

  struct Route {
    const char* path;
    const char* method;
  };
  static const Route kRoutes[] = {{"/v1/completions", "POST"}, {"/v1/chat/completions", "POST"},
                                  {"/v1/models", "GET"},       {"/tokenize", "POST"},
                                  {"/detokenize", "POST"},     {"/v1/streams", "GET"},
                                  {"/v1/ttft/prefetch", "POST"}};
  const Route* found = nullptr;
  for (const auto& r : kRoutes)
    if (path == r.path) found = &r;
  if (!found) return ex->send_error(api_error(404, "Unknown path " + path, "invalid_request_error", "not_found"));
  if (req.method != found->method)
    return ex->send_error(api_error(405, std::string("use ") + found->method + " for " + path,
                                    "invalid_request_error", "method_not_allowed"));
  if (!authorized(req)) {
    return ex->send_error(api_error(401, "Incorrect API key provided. Send it as 'Authorization: Bearer KEY'.",
                                    "invalid_request_error", "invalid_api_key"));
  }
  Phase phase = phase_.load();
  if (phase != Phase::kReady) {
    std::string why = phase == Phase::kLoading    ? "the model is still loading"
                      : phase == Phase::kDraining ? "the server is shutting down"
                                                  : "the model failed to load: " + load_error_;
    ApiError e = api_error(503, "Service unavailable: " + why, "server_error", "service_unavailable");
    http::Response r = error_response(e);
    r.headers["Retry-After"] = std::to_string(ex->live->retry_after_s);
    return ex->send(std::move(r), "error=\"" + e.message + "\"");
  }

  if (path == "/v1/completions") return handle_generation(ex, Endpoint::kCompletions);
  if (path == "/v1/chat/completions") return handle_generation(ex, Endpoint::kChatCompletions);
  if (path == "/v1/ttft/prefetch") return handle_prefetch(ex);
  if (path == "/tokenize") return handle_tokenize(ex, false);
  if (path == "/detokenize") return handle_tokenize(ex, true);
  if (path == "/v1/models") return ex->send(json_response(200, models_response(model_info_)));
  if (path == "/v1/streams") return ex->send(json_response(200, streams_.to_json(SteadyClock::now())));
}

void ApiServer::handle_health(const std::shared_ptr<Exchange>& ex) {
  Phase p = phase_.load();
  ordered_json j;
  j["status"] = phase_name(p);
  if (p == Phase::kReady || p == Phase::kDraining) {
    j["model"] = model_info_.id;
    if (Engine* e = engine()) {
      SchedulerStats st = e->stats();
      j["active_streams"] = st.running;
      j["waiting_streams"] = st.waiting;
      j["max_active_streams"] = st.max_active;
      j["kv_blocks_used"] = st.kv_blocks_used;
      j["kv_blocks_total"] = st.kv_blocks_total;
    }
  }
  if (p == Phase::kFailed) j["message"] = load_error_;
  ex->send(json_response(p == Phase::kReady ? 200 : 503, j));
}

namespace {


ordered_json flag_source_json(const flags::FlagSnapshot& snap) {
  ordered_json j;
  j["source"] = snap.source_path.empty() ? ordered_json(nullptr) : ordered_json(snap.source_path);
  j["sha256"] = snap.sha256;
  j["loaded_at"] = iso8601(snap.loaded_at);
  return j;
}

}  // namespace

void ApiServer::handle_admin_flags(const std::shared_ptr<Exchange>& ex) {
  auto snap = flags_->snapshot();
  ordered_json j = flag_source_json(*snap);
  j["config"] = snap->config.to_json();
  flags::FlagStats st = flags_->get_stats();
  ordered_json stats;
  stats["total_decisions"] = st.total_decisions;
  stats["enabled_count"] = st.enabled_count;
  stats["disabled_count"] = st.disabled_count;
  stats["actual_percentage"] = st.actual_percentage;
  stats["unknown_feature"] = st.unknown_feature;
  ordered_json features = ordered_json::object();
  for (const auto& f : st.features) {
    features[f.feature] = {{"total", f.total},
                           {"enabled", f.enabled},
                           {"disabled", f.disabled},
                           {"actual_percentage", f.actual_percentage},
                           {"target_percentage", f.target_percentage}};
  }
  stats["features"] = std::move(features);
  j["stats"] = std::move(stats);
  flags::ReloadStats rs = flags_->reload_stats();
  j["reloads"] = {{"successes", rs.successes},
                  {"failures", rs.failures},
                  {"last_error", rs.last_error.empty() ? ordered_json(nullptr)
                                                       : ordered_json(rs.last_error)}};
  ex->send(json_response(200, j));
}

void ApiServer::handle_admin_reload(const std::shared_ptr<Exchange>& ex) {
  log_info("reload requested by POST /admin/reload id=" + ex->request_id);
  auto r = reload();
  if (!r.ok()) {
    return ex->send_error(api_error(422, "The configuration was not reloaded: " + r.status().message(),
                                    "invalid_request_error", "invalid_config"));
  }
  ordered_json j;
  j["status"] = "reloaded";
  j["files"] = r.value().files;
  j["restart_required"] = r.value().restart_required;
  j["feature_flags"] = flag_source_json(*flags_->snapshot());
  ex->send(json_response(200, j));
}

// POST /admin/canary/rollback {"to": 0, "reason": "manual"}: a rollback by an operator
// (scripts/rollback-canary.sh), recorded and persisted like an automatic one.
void ApiServer::handle_canary_rollback(const std::shared_ptr<Exchange>& ex) {
  double to = 0;
  std::string reason = "manual";
  if (!ex->req.body.empty()) {
    auto j = nlohmann::json::parse(ex->req.body, nullptr, false);
    if (!j.is_object())
      return ex->send_error(bad_request("The body must be a JSON object like {\"to\": 0}."));
    if (j.contains("to")) {
      if (!j["to"].is_number() || j["to"].get<double>() < 0 || j["to"].get<double>() > 100)
        return ex->send_error(bad_request("'to' must be a number from 0 to 100.", "to"));
      to = j["to"].get<double>();
    }
    if (j.contains("reason")) {
      if (!j["reason"].is_string() || j["reason"].get<std::string>().empty())
        return ex->send_error(bad_request("'reason' must be a non-empty string.", "reason"));
      reason = j["reason"].get<std::string>();
    }
  }
  log_info("canary rollback requested by POST /admin/canary/rollback id=" + ex->request_id);
  Status st = canary_->rollback(reason, to, "requested by an operator", SteadyClock::now());
  if (!st.ok())
    return ex->send_error(api_error(500, "The rollback took effect but was not persisted: " + st.message(),
                                    "server_error", "not_persisted"));
  ex->send(json_response(200, canary_->health_json(SteadyClock::now())));
}

void ApiServer::handle_admin_ttft(const std::shared_ptr<Exchange>& ex) {
  ordered_json j = ttft_service_->to_json();
  PrefixCacheStats p;
  bool on = false;
  if (Engine* e = engine()) {
    p = e->stats().prefix;
    on = e->options().prefix_cache;
  }
  j["prefix_cache"] = {{"enabled", on},
                       {"queries", p.queries},
                       {"hits", p.hits},
                       {"hitTokens", p.hit_tokens},
                       {"evictions", p.evictions},
                       {"blockCopies", p.copies},
                       {"copiedTokens", p.copied_tokens},
                       {"cachedBlocks", p.cached_blocks}};
  ex->send(json_response(200, j));
}

// POST /admin/ttft/allowlist {"prompt": "..."} or {"prompts": [...]} adds prompts to the
// speculation allowlist (the spec's addToAllowlist); DELETE with the same body removes
// them. Run-time entries last until a restart; config entries come from runtime.yaml.
void ApiServer::handle_ttft_allowlist(const std::shared_ptr<Exchange>& ex) {
  auto j = nlohmann::json::parse(ex->req.body, nullptr, false);
  if (!j.is_object())
    return ex->send_error(bad_request("The body must be a JSON object like {\"prompt\": \"Hello\"}."));
  std::vector<std::string> prompts;
  for (const auto& [key, value] : j.items()) {
    if (key == "prompt") {
      if (!value.is_string()) return ex->send_error(bad_request("'prompt' must be a string.", "prompt"));
      prompts.push_back(value.get<std::string>());
    } else if (key == "prompts") {
      if (!value.is_array())
        return ex->send_error(bad_request("'prompts' must be an array of strings.", "prompts"));
      for (const auto& p : value) {
        if (!p.is_string())
          return ex->send_error(bad_request("'prompts' must be an array of strings.", "prompts"));
        prompts.push_back(p.get<std::string>());
      }
    } else {
      return ex->send_error(bad_request("Unknown field '" + key + "': use 'prompt' or 'prompts'.", key));
    }
  }
  if (prompts.empty())
    return ex->send_error(bad_request("Name at least one prompt ('prompt' or 'prompts').", "prompt"));
  for (const auto& p : prompts)
    if (p.find_first_not_of(" \t\r\n") == std::string::npos)
      return ex->send_error(bad_request("A prompt must not be empty or blank.", "prompt"));
  const bool add = ex->req.method == "POST";
  int changed = 0;
  for (const auto& p : prompts) {
    if (add ? ttft_service_->speculation().add_to_allowlist(p)
            : ttft_service_->speculation().remove_from_allowlist(p))
      ++changed;
  }
  log_info(std::string("speculation allowlist: ") + (add ? "added " : "removed ") +
           std::to_string(changed) + " prompt(s) id=" + ex->request_id);
  ordered_json out;
  out["allowlist"] = ttft_service_->speculation().allowlist();
  ex->send(json_response(200, out));
}

// POST /v1/ttft/prefetch: the body of a request to come (prompt or messages, as for
// /v1/completions or /v1/chat/completions). Its prompt's keys and values are computed
// into the prefix cache at low priority, within cache_warmup_ms, so that the request
// starts hot. Answers when done.
void ApiServer::handle_prefetch(const std::shared_ptr<Exchange>& ex) {
  Engine& engine = *engine_;
  if (!ttft_service_->prefetch_on(engine.options().prefix_cache)) {
    return ex->send_error(api_error(
        400,
        "KV prefetch is off: it needs ttft_accelerator.enabled, kv_prep.enabled (the prefix "
        "cache, at start) and kv_prep.prefetch_enabled in the runtime config.",
        "invalid_request_error", "prefetch_disabled"));
  }
  auto j = nlohmann::json::parse(ex->req.body, nullptr, false);
  Endpoint ep = j.is_object() && j.contains("messages") ? Endpoint::kChatCompletions
                                                         : Endpoint::kCompletions;
  ModelInfo model = model_info_;
  model.n_ctx = engine.n_ctx();
  auto parsed = parse_completion_request(ex->req.body, ep, model, engine.chat());
  if (auto* err = std::get_if<ApiError>(&parsed)) return ex->send_error(*err);
  GenerateRequest& g = std::get<ParsedRequest>(parsed).gen;
  std::vector<TokenId> tokens = g.prompt_tokens.empty()
                                    ? engine.tokenizer().encode(g.prompt, g.add_special, g.parse_special)
                                    : g.prompt_tokens;
  const int n = static_cast<int>(tokens.size());
  if (n == 0) return ex->send_error(bad_request("The prompt is empty.", "prompt"));
  if (n > engine.n_ctx())
    return ex->send_error(bad_request("The prompt has " + std::to_string(n) +
                                          " tokens; this model's context is " +
                                          std::to_string(engine.n_ctx()) + ".",
                                      "prompt", "context_length_exceeded"));
  if (engine.stats().waiting >= ex->live->max_waiting) {
    http::Response r = error_response(api_error(429, "The server is overloaded. Retry later.",
                                                "rate_limit_error", "overloaded"));
    r.headers["Retry-After"] = std::to_string(ex->live->retry_after_s);
    return ex->send(std::move(r), "error=overloaded");
  }
  GenerateRequest pre;
  pre.prompt_tokens = std::move(tokens);
  pre.max_tokens = 0;
  pre.prefill_only = true;
  pre.use_prefix_cache = true;
  pre.prefill_budget_ms = ttft_service_->prefetch_budget_ms();
  pre.request_id = ex->request_id;
  const int64_t budget = pre.prefill_budget_ms;
  pre.on_chunk = [this, ex, n, budget](const Chunk& c) {
    if (c.finish == FinishReason::kNone) return;
    if (c.finish == FinishReason::kError) {
      return ex->send_error(api_error(c.error.find("shutting down") != std::string::npos ? 503 : 500,
                                      "The prefetch failed: " + c.error, "server_error"));
    }
    if (c.finish == FinishReason::kCancelled) return ex->log_done(499, "prefetch cancelled");
    const bool complete = c.finish == FinishReason::kStop;
    const int computed = c.stats.prompt_tokens_ready - c.stats.cached_tokens;
    ttft_service_->prefetched(complete, computed);
    ordered_json out;
    out["object"] = "ttft.prefetch";
    out["prompt_tokens"] = n;
    out["cached_tokens"] = c.stats.cached_tokens;    // found in the cache already
    out["computed_tokens"] = computed;               // computed by this prefetch
    out["cacheable_tokens"] = (c.stats.prompt_tokens_ready / 16) * 16;  // full blocks now shared
    out["complete"] = complete;
    out["budget_ms"] = budget;
    out["elapsed_ms"] = c.stats.total_ms;
    ex->send(json_response(200, out),
             "prefetch prompt_tokens=" + std::to_string(n) + " cached_tokens=" +
                 std::to_string(c.stats.cached_tokens) + " computed_tokens=" +
                 std::to_string(computed) + (complete ? " complete" : " partial"));
  };
  auto stream = engine.generate(std::move(pre));
  ex->writer->on_disconnect([stream] { stream->cancel(); });
}

void ApiServer::handle_admin_qos(const std::shared_ptr<Exchange>& ex) {
  ex->send(json_response(200, qos_->to_json(SteadyClock::now(), flags_->snapshot()->config)));
}

// The faults of the next request: the configured delays, and a failure for exactly the
// configured share of requests.
FaultInjection ApiServer::next_fault(const LiveSettings& live, const char* variant) {
  FaultInjection f;
  if (!live.fault.enabled) return f;
  if (live.fault.variant != "all" && live.fault.variant != variant) return f;
  f.first_token_delay_ms = live.fault.first_token_delay_ms;
  f.per_token_delay_ms = live.fault.per_token_delay_ms;
  std::lock_guard<std::mutex> lock(fault_mu_);
  fault_accumulator_ += live.fault.error_rate;
  if (fault_accumulator_ >= 1.0 - 1e-9) {
    fault_accumulator_ -= 1.0;
    f.fail_after_tokens = live.fault.fail_after_tokens;
  }
  return f;
}

// Who the flags decide for: a configured header (a user or tenant id), the OpenAI "user"
// field, or the request itself.
std::string ApiServer::flag_key(const Exchange& ex, const std::string& user) const {
  if (!ex.live->flag_key_header.empty()) {
    std::string v = ex.req.header(ex.live->flag_key_header);
    if (!v.empty()) return v;
  }
  return user.empty() ? ex.request_id : user;
}

void ApiServer::handle_tokenize(const std::shared_ptr<Exchange>& ex, bool detokenize) {
  Engine& e = *engine_;
  auto result = detokenize ? detokenize_response(ex->req.body, e.tokenizer())
                           : tokenize_response(ex->req.body, model_info_, e.tokenizer(), e.chat());
  if (auto* err = std::get_if<ApiError>(&result)) return ex->send_error(*err);
  ex->send(json_response(200, std::get<ordered_json>(result)));
}

// The state of one generation shared by the handler and the engine's chunk callback.
struct GenerationState {
  ParsedRequest parsed;
  std::unique_ptr<ResponseBuilder> builder;
  std::string response_id;
  bool started = false;  // streaming: the SSE head was written
  int tokens = 0;
  SteadyClock::time_point last_token;
  SteadyClock::time_point first_token;
  flags::RequestFlags flags;  // decided once at admission; a reload does not change them
  bool qos = false;    // under QoS control: measured, and admitted by it
  bool probe = false;  // admitted as a circuit breaker probe
  canary::Variant variant = canary::Variant::kBaseline;
  bool canary_routed = false;  // measured per variant for the canary's health
  // TTFT pipeline. Written before the engine sees the prompt (by the handler or a warm
  // queue worker), read by the chunk callback after.
  std::shared_ptr<PendingPrompt> pending;  // tokenized on the warm queue
  std::optional<ApiError> early_error;     // the warm queue's verdict on the prompt
  bool spec_eligible = false;  // first-token speculation applies to it
  std::string spec_hash;       // then its (model, prompt) key, once tokenized
  TokenId speculated = -1;  // the first token streamed ahead
  bool first_token_event = false;
};

// The OpenAI "user" field of a request body, read before the full parse (which needs
// the variant's chat template); "" when absent or the body is not JSON.
static std::string peek_user(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "";
  auto it = j.find("user");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// An answer before the generation started; a circuit breaker probe learns nothing from it
// but must give its slot back.
void ApiServer::finish_early(const std::shared_ptr<Exchange>& ex,
                             const std::shared_ptr<GenerationState>& st, const ApiError& err) {
  if (st->probe) qos_->on_finished(0, 0, 0, 0, false, true, ex->request_id, SteadyClock::now());
  ex->send_error(err);
}

// The canary variant is another server: the request goes there as it is, and its answer
// comes back piece by piece as it arrives (SSE events keep their timing). Runs on its own
// thread, since the client is blocking; a transport failure is the variant's crash.
void ApiServer::proxy_generation(const std::shared_ptr<Exchange>& ex,
                                 const std::shared_ptr<GenerationState>& st) {
  canary::VariantConfig v = canary_->variant(canary::Variant::kCanary);
  bool streaming = false;
  if (auto j = nlohmann::json::parse(ex->req.body, nullptr, false); j.is_object())
    streaming = j.value("stream", false) == true;
  StreamInfo info;
  info.id = ex->request_id;
  info.endpoint = ex->req.path;
  info.remote = ex->req.remote;
  info.streaming = streaming;
  info.started = ex->start;
  info.deadline = SteadyClock::time_point::max();
  info.features = {"canary(upstream)"};
  streams_.add(info, nullptr);
  proxies_in_flight_.fetch_add(1);
  std::thread([this, ex, st, v, streaming] {
    auto url = http::parse_url(v.url);
    bool started = false, crashed = false, failed = false;
    SteadyClock::time_point first{};
    std::string error;
    int status = 200;
    if (!url.ok()) {
      crashed = true;
      error = url.status().message();
    } else {
      // Each network step may take the configured time, at most 30 s, so that a stop
      // never waits longer than that for a silent upstream.
      http::HttpConnection conn(std::move(url.value()), v.api_key,
                                std::chrono::milliseconds(std::min(v.timeout_ms, 30000)));
      auto r = conn.stream(ex->req.path, ex->req.body, [&](std::string_view piece) {
        if (stopping_.load() || ex->writer->disconnected()) return false;
        if (!started) {
          started = true;
          first = SteadyClock::now();
          http::Response head;
          head.content_type = streaming ? "text/event-stream" : "application/json";
          if (streaming) head.headers["Cache-Control"] = "no-cache";
          ex->add_common_headers(head.headers);
          ex->writer->start_stream(std::move(head));
          streams_.on_token(ex->request_id, first);
        }
        ex->writer->write(std::string(piece));
        return true;
      });
      if (!r.ok()) {
        crashed = !ex->writer->disconnected() && !stopping_.load();
        error = r.status().message();
      } else if (r->status < 200 || r->status >= 300) {
        status = r->status;
        failed = status >= 500;
        http::Response resp;
        resp.status = status;
        resp.body = r->body;
        ex->send(std::move(resp), "variant=canary upstream_status=" + std::to_string(status));
      }
    }
    auto now = SteadyClock::now();
    if (crashed) {
      failed = true;
      ApiError e = api_error(502, "The canary variant did not answer: " + error, "server_error",
                             "upstream_unavailable");
      if (!started) {
        ex->send_error(e);
      } else {
        ex->writer->write(ResponseBuilder::sse_error(e));
        ex->writer->end();
        ex->log_done(200, "variant=canary error=\"" + error + "\"");
      }
    } else if (started && status < 300) {
      ex->writer->end();
      ex->log_done(ex->writer->disconnected() ? 499 : 200, "variant=canary upstream=" + v.url);
    }
    double ttft_ms = started ? seconds_between(ex->start, first) * 1000 : 0;
    canary_->record(canary::Variant::kCanary, seconds_between(ex->start, now) * 1000, ttft_ms,
                    failed, crashed, now);
    if (st->qos) qos_->on_finished(ttft_ms, seconds_between(ex->start, now) * 1000, 0, 0, failed,
                                   st->probe, ex->request_id, now);
    streams_.remove(ex->request_id);
    proxies_in_flight_.fetch_sub(1);
  }).detach();
}

void ApiServer::handle_generation(const std::shared_ptr<Exchange>& ex, Endpoint endpoint) {
  auto st = std::make_shared<GenerationState>();
  const std::string user = peek_user(ex->req.body);

  // Decided once: the features follow these for the whole generation, whatever a reload
  // changes meanwhile.
  st->flags = flags_->evaluate_request(flag_key(*ex, user), "id=" + ex->request_id);
  ex->features = st->flags.enabled_list();

  // QoS admission control (shed_load, circuit_break) for the requests the flags put
  // under it. Running streams are never affected.
  if (st->flags.on(flags::Feature::kQosMonitor)) {
    st->qos = true;
    qos::AdmissionVerdict v = qos_->admit(SteadyClock::now());
    if (v.kind != qos::AdmissionVerdict::kAdmit) {
      bool shed = v.kind == qos::AdmissionVerdict::kShed;
      ApiError e = api_error(503,
                             shed ? "The server is shedding load to keep its latency objectives. Retry later."
                                  : "The server's circuit breaker is open. Retry later.",
                             "server_error", shed ? "load_shed" : "circuit_open");
      http::Response r = error_response(e);
      r.headers["Retry-After"] = std::to_string(std::max(v.retry_after_s, ex->live->retry_after_s));
      return ex->send(std::move(r), shed ? "error=load_shed" : "error=circuit_open");
    }
    st->probe = v.probe;
  }

  // Canary routing: which variant serves this request.
  if (canary_->active() && st->flags.on(flags::Feature::kCanary)) {
    std::string key = canary_->hash_key() == "request_id" ? ex->request_id : flag_key(*ex, user);
    st->variant = canary_->route(key).variant;
    st->canary_routed = true;
    ex->variant = canary::variant_name(st->variant);
    if (st->variant == canary::Variant::kCanary &&
        canary_->variant(st->variant).kind == canary::VariantConfig::Kind::kUpstream)
      return proxy_generation(ex, st);
  }
  Engine* local = canary_->local_engine(st->variant);
  Engine& engine = local ? *local : *engine_;
  ModelInfo model = model_info_;
  model.n_ctx = engine.n_ctx();

  auto parsed = parse_completion_request(ex->req.body, endpoint, model, engine.chat());
  if (auto* err = std::get_if<ApiError>(&parsed)) return finish_early(ex, st, *err);
  st->parsed = std::move(std::get<ParsedRequest>(parsed));
  GenerateRequest& gen = st->parsed.gen;

  // Admission: a full queue answers 429 at once instead of letting latency grow.
  SchedulerStats sst = engine.stats();
  if (sst.waiting >= ex->live->max_waiting) {
    ApiError e = api_error(429,
                           "The server is overloaded: " + std::to_string(sst.waiting) +
                               " requests are already waiting. Retry later.",
                           "rate_limit_error", "overloaded");
    http::Response r = error_response(e);
    r.headers["Retry-After"] = std::to_string(ex->live->retry_after_s);
    if (st->probe) qos_->on_finished(0, 0, 0, 0, false, true, ex->request_id, SteadyClock::now());
    return ex->send(std::move(r), "error=overloaded");
  }
  gen.fault = next_fault(*ex->live, canary::variant_name(st->variant));
  // The prefix cache serves the requests the ttft_pipeline.kv_prep flag puts under it.
  gen.use_prefix_cache = ttft_service_->kv_prep_on(st->flags);
  // First-token speculation: greedy requests whose first token is a function of the
  // prompt alone, and nothing that delays or fails tokens on purpose.
  if (plain_greedy(gen.sampling) && !st->parsed.echo && !gen.fault.any() &&
      ttft_service_->may_speculate(st->flags, st->parsed.match_text))
    st->spec_eligible = true;

  // Tokenization: on the warm queue's workers while the request waits for a batch slot,
  // or here when the pipeline is off for it (or the prompt came as token ids).
  const int default_max_tokens = ex->live->default_max_tokens;
  const bool warm = gen.prompt_tokens.empty() && ttft_service_->warm_queue_on(st->flags);
  int n_prompt = 0;
  if (!warm) {
    if (gen.prompt_tokens.empty())
      gen.prompt_tokens = engine.tokenizer().encode(gen.prompt, gen.add_special, gen.parse_special);
    if (auto err = settle_prompt(*st, engine, gen.prompt_tokens, default_max_tokens, &gen.max_tokens,
                                 &gen.speculated_first_token))
      return finish_early(ex, st, *err);
    n_prompt = static_cast<int>(gen.prompt_tokens.size());
  } else {
    st->pending = std::make_shared<PendingPrompt>();
    gen.pending_prompt = st->pending;
    TtftService* svc = ttft_service_.get();
    st->pending->set_on_taken([svc](bool ready) { svc->record_take(ready); });
  }

  bool chat = endpoint == Endpoint::kChatCompletions;
  std::string hex = random_hex(24);
  st->response_id = (chat ? "chatcmpl-" : "cmpl-") + hex;
  st->builder = std::make_unique<ResponseBuilder>(st->parsed, st->response_id, unix_now(),
                                                  st->parsed.model.empty() ? model_info_.id
                                                                           : st->parsed.model,
                                                  engine.tokenizer());
  gen.request_id = ex->request_id;
  // The engine gets its own copy carrying the callback: the state keeps the request for
  // the response (echo), and a callback stored inside the state would keep it alive.
  GenerateRequest submit = gen;

  StreamInfo info;
  info.id = ex->request_id;
  info.endpoint = ex->req.path;
  info.remote = ex->req.remote;
  info.streaming = st->parsed.stream;
  info.prompt_tokens = n_prompt;
  info.started = ex->start;
  info.deadline = ex->start + std::chrono::milliseconds(ex->live->request_timeout_ms);
  for (flags::Feature f : flags::all_features())
    if (st->flags.on(f)) info.features.push_back(flags::feature_name(f));
  streams_.add(info, nullptr);

  submit.on_chunk = [this, ex, st](const Chunk& c) {
    auto now = SteadyClock::now();
    if (c.token >= 0 && st->tokens == 0 && st->speculated >= 0)
      ttft_service_->stage(ttft::EventType::kSpeculated, ex->request_id,
                           seconds_between(ex->start, now) * 1000);
    if (c.stats.first_computed_token >= 0 && !st->first_token_event) {
      // The model's own first token is known: learnt (and a speculated one checked)
      // before anything reaches the client, so a repeat right after finds it.
      st->first_token_event = true;
      ttft_service_->stage(ttft::EventType::kFirstToken, ex->request_id,
                           seconds_between(ex->start, now) * 1000);
      if (!st->spec_hash.empty())
        ttft_service_->first_token(ex->request_id, st->spec_hash, c.stats.first_computed_token,
                                   st->speculated);
    }
    if (c.token >= 0) {
      if (st->tokens == 0) st->first_token = now;
      streams_.on_token(ex->request_id, now);
      if (st->tokens++ > 0) metrics_.inter_token(seconds_between(st->last_token, now));
      st->last_token = now;
    }
    const bool final = c.finish != FinishReason::kNone;
    // Why a generation was cut short decides what the client is told.
    std::optional<ApiError> failure;
    if (c.finish == FinishReason::kError && st->early_error) {
      failure = st->early_error;  // the prompt, checked on the warm queue
    } else if (c.finish == FinishReason::kError) {
      // The engine marks the errors that are the request's own fault: bad parameters
      // (token ids outside the vocabulary, ...) and requests larger than the KV pool.
      bool shutting_down = c.error.find("shutting down") != std::string::npos;
      bool client_fault = c.invalid_request;
      failure = shutting_down  ? api_error(503, c.error, "server_error", "service_unavailable")
                : client_fault ? bad_request(c.error)
                               : api_error(500, c.error, "server_error");
    } else if (c.finish == FinishReason::kCancelled) {
      if (streams_.timed_out(ex->request_id))
        failure = api_error(504, "The request timed out after " +
                                     std::to_string(ex->live->request_timeout_ms) + " ms.",
                            "server_error", "timeout");
      else if (phase_.load() == Phase::kDraining)
        failure = api_error(503, "The server is shutting down.", "server_error", "service_unavailable");
    }
    std::string usage = final ? "prompt_tokens=" + std::to_string(c.stats.prompt_tokens) +
                                    " completion_tokens=" + std::to_string(c.stats.generated_tokens) +
                                    " finish=" + finish_reason_name(c.finish) +
                                    " features=" + ex->features +
                                    (c.stats.cached_tokens > 0
                                         ? " cached_tokens=" + std::to_string(c.stats.cached_tokens)
                                         : "") +
                                    (st->speculated >= 0
                                         ? std::string(" speculation=") +
                                               (c.stats.speculation == SpeculationOutcome::kHit    ? "hit"
                                                : c.stats.speculation == SpeculationOutcome::kMiss ? "miss"
                                                                                                   : "unchecked")
                                         : "")
                              : "";
    if (st->parsed.stream) {
      if (!st->started && final && failure) {
        // Failed before the first byte: a plain HTTP error is still possible.
        ex->send_error(*failure);
      } else {
        if (!st->started) {
          st->started = true;
          ex->start_stream();
        }
        if (failure) {
          ex->writer->write(ResponseBuilder::sse_error(*failure));
        } else {
          std::string events = st->builder->sse_events(c);
          if (!events.empty()) ex->writer->write(std::move(events));
        }
        if (final) {
          ex->writer->end();
          int status = ex->writer->disconnected() ? 499 : 200;
          ex->log_done(status, usage);
        }
      }
    } else {
      st->builder->add(c);
      if (final) {
        if (failure) {
          ex->send(error_response(*failure), usage);
        } else if (c.finish == FinishReason::kCancelled) {
          // Nobody is listening any more (the client went away).
          ex->log_done(499, usage);
        } else {
          ex->send(json_response(200, st->builder->final_response()), usage);
        }
      }
    }
    if (final) {
      metrics_.generation(c.stats, c.finish);
      // Client disconnects are nobody's failure and measure nothing; errors after
      // admission (including mid-stream) and timeouts count against the error rate.
      bool client_fault = failure && failure->status == 400;
      bool failed = !client_fault && (c.finish == FinishReason::kError || (failure && failure->status == 504));
      if (st->qos && (failed || c.finish == FinishReason::kStop || c.finish == FinishReason::kLength)) {
        double ttft_ms = st->tokens > 0 ? seconds_between(ex->start, st->first_token) * 1000 : 0;
        qos_->on_finished(ttft_ms, seconds_between(ex->start, now) * 1000,
                          c.stats.decode_tokens_per_s, c.stats.generated_tokens, failed, st->probe,
                          ex->request_id, now);
      } else if (st->probe) {
        qos_->on_finished(0, 0, 0, 0, false, true, ex->request_id, now);
      }
      if (st->canary_routed && !client_fault && c.finish != FinishReason::kCancelled) {
        double ttft_ms = st->tokens > 0 ? seconds_between(ex->start, st->first_token) * 1000 : 0;
        canary_->record(st->variant, seconds_between(ex->start, now) * 1000, ttft_ms, failed,
                        /*crashed=*/false, now);
      }
      streams_.remove(ex->request_id);
    }
  };

  if (warm) {
    // The tokenization job. The request is submitted right after, and the scheduler
    // admits it once the job has fulfilled its prompt.
    auto enqueued = SteadyClock::now();
    ttft_service_->stage(ttft::EventType::kQueued, ex->request_id,
                         seconds_between(ex->start, enqueued) * 1000);
    Engine* eng = &engine;
    ttft::WarmJob job;
    job.stream_id = ex->request_id;
    job.priority = static_cast<ttft::HintPriority>(st->parsed.hint_priority);
    // About four bytes a token in the languages tokenizers are trained on most.
    job.estimated_tokens = st->parsed.hint_estimated_tokens > 0
                               ? st->parsed.hint_estimated_tokens
                               : static_cast<int64_t>(gen.prompt.size() / 4 + 1);
    job.run = [this, st, eng, enqueued, id = ex->request_id, default_max_tokens](double) {
      const GenerateRequest& g = st->parsed.gen;
      std::vector<TokenId> tokens = eng->tokenizer().encode(g.prompt, g.add_special, g.parse_special);
      int max_tokens = g.max_tokens;
      TokenId speculated = -1;
      if (auto err = settle_prompt(*st, *eng, tokens, default_max_tokens, &max_tokens, &speculated)) {
        st->early_error = *err;
        st->pending->fail(err->message);
        return;
      }
      ttft_service_->stage(ttft::EventType::kWarmed, id,
                           seconds_between(enqueued, SteadyClock::now()) * 1000);
      streams_.set_prompt_tokens(id, static_cast<int>(tokens.size()));
      st->pending->fulfil({std::move(tokens), max_tokens, speculated});
    };
    // A full queue: tokenized here, on the request's own path.
    if (!ttft_service_->enqueue(job)) job.run(0);
  }

  auto stream = engine.generate(std::move(submit));
  streams_.attach(ex->request_id, stream);
  ex->writer->on_disconnect([stream] { stream->cancel(); });
}

std::optional<ApiError> ApiServer::settle_prompt(GenerationState& st, const Engine& engine,
                                                 const std::vector<TokenId>& tokens,
                                                 int default_max_tokens, int* max_tokens,
                                                 TokenId* speculated) {
  int n_prompt = static_cast<int>(tokens.size());
  if (n_prompt == 0) return bad_request("The prompt is empty.", "prompt");
  const int n_ctx = engine.n_ctx();
  if (!st.parsed.max_tokens_given) {
    // No limit asked for: generate up to the default, or what the context leaves.
    *max_tokens = std::min(default_max_tokens, n_ctx - n_prompt);
    if (*max_tokens < 1) *max_tokens = default_max_tokens;
  }
  if (auto err = context_error(n_prompt, *max_tokens, n_ctx)) return err;
  if (st.spec_eligible) {
    st.spec_hash = ttft::SpeculativeProvider::prompt_hash(engine.options().model_path, tokens);
    // A token that would end the generation at once is never streamed ahead.
    if (auto p = ttft_service_->speculation().predict(st.spec_hash);
        p && p->token >= 0 && p->token < engine.config().n_vocab && !engine.tokenizer().is_eog(p->token)) {
      *speculated = p->token;
      st.speculated = p->token;
    }
  }
  return std::nullopt;
}

}  // namespace mlxs::server
