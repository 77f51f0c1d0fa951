// mlx-serving serve: the OpenAI-compatible server. Settings come from config/runtime.yaml
// (or --config FILE), then command-line flags override them. Signals: SIGTERM/SIGINT
// drain and exit 0, SIGHUP reloads the config file.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "base/logging.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "server/api_server.h"
#include "canary/canary_config.h"
#include "qos/qos_config.h"
#include "ttft/ttft_config.h"
#include "server/canary_service.h"
#include "server/flag_files.h"
#include "server/runtime_config.h"

#ifndef MLXS_DEFAULT_MODEL_PATH
#define MLXS_DEFAULT_MODEL_PATH ""
#endif

namespace mlxs::cli {
namespace {

namespace fs = std::filesystem;

// The embedded default model: $MLXS_DEFAULT_MODEL, models/default.gguf next to the
// sources the binary was built from, or models/default.gguf under the current folder.
std::string default_model_path() {
  if (const char* env = std::getenv("MLXS_DEFAULT_MODEL"); env && *env) return env;
  for (const std::string& p : {std::string(MLXS_DEFAULT_MODEL_PATH), std::string("models/default.gguf")})
    if (!p.empty() && fs::exists(p)) return p;
  return MLXS_DEFAULT_MODEL_PATH;
}

// root can write the spec's /var/run path; anyone else gets a per-user runtime folder.
std::string default_pid_file() {
  if (geteuid() == 0) return "/var/run/mlx-serving.pid";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg)
    return std::string(xdg) + "/mlx-serving.pid";
  return "/tmp/mlx-serving-" + std::to_string(geteuid()) + ".pid";
}

Status write_pid_file(const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::Error(path + ": cannot write the pid file");
  out << getpid() << "\n";
  return out ? Status::Ok() : Status::Error(path + ": cannot write the pid file");
}

// Removes the pid file only if it still names this process (a newer server may own it).
void remove_pid_file(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid && pid == getpid()) fs::remove(path);
}

void usage() {
  std::puts(
      "usage: mlx-serving serve [-m MODEL] [--config FILE] [--host HOST] [--port PORT]\n"
      "         [--name ID] [-t THREADS] [-c CTX] [--max-sequences N] [--max-active-streams N]\n"
      "         [--max-waiting N] [--api-key KEY] [--pid-file PATH] [--log-level LEVEL]\n"
      "         [--feature-flags FILE] [--canary-config FILE]\n"
      "Serves the OpenAI API (/v1/completions, /v1/chat/completions, /v1/models), /tokenize,\n"
      "/detokenize, /health, /metrics, /v1/streams, GET /admin/flags and POST /admin/reload.\n"
      "Settings come from --config FILE, else config/runtime.yaml when it exists; the flags\n"
      "override them. Without a model the embedded default model is served.\n"
      "SIGTERM/SIGINT: finish running streams (server.drain_timeout_ms), exit 0.\n"
      "Feature flags come from --feature-flags FILE, feature_flags.file, feature-flags.yaml\n"
      "beside the config file, or config/feature-flags.yaml; without any, every feature is off.\n"
      "SIGHUP: reload the config file and the feature flags (an invalid file changes nothing).");
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  Args args({"--model", "--config", "--host", "--port", "--name", "--threads", "--ctx-size",
             "--max-sequences", "--max-active-streams", "--max-waiting", "--api-key",
             "--pid-file", "--log-level", "--kv-type", "--step-token-budget", "--feature-flags",
             "--canary-config"},
            {"--help"},
            {{"-m", "--model"}, {"-t", "--threads"}, {"-c", "--ctx-size"}, {"-h", "--help"}});
  std::string err = args.parse(argc, argv, 2);
  if (args.has("--help")) {
    usage();
    return 0;
  }
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving serve: %s\n", err.c_str());
    return 2;
  }

  std::string config_path = args.get_or("--config", "");
  if (config_path.empty() && fs::exists("config/runtime.yaml")) config_path = "config/runtime.yaml";
  server::RuntimeConfig config;
  if (!config_path.empty()) {
    auto c = server::load_runtime_config(config_path);
    if (!c.ok()) {
      std::fprintf(stderr, "mlx-serving serve: %s\n", c.status().message().c_str());
      return 2;
    }
    config = std::move(c.value());
  }

  // Flags override the file, at start and again at every reload.
  std::map<std::string, std::string> strings;
  for (const char* flag : {"--model", "--host", "--name", "--api-key", "--pid-file", "--log-level",
                           "--kv-type", "--feature-flags", "--canary-config"})
    if (auto v = args.get(flag)) strings[flag] = *v;
  std::map<std::string, int> ints;
  for (const char* flag : {"--port", "--threads", "--ctx-size", "--max-sequences",
                           "--max-active-streams", "--max-waiting", "--step-token-budget"})
    if (args.get(flag)) ints[flag] = args.get_int(flag, 0, &err);
  auto apply_overrides = [strings, ints](server::RuntimeConfig& c) {
    auto str = [&](const char* flag, std::string* field) {
      if (auto it = strings.find(flag); it != strings.end()) *field = it->second;
    };
    auto num = [&](const char* flag, int* field) {
      if (auto it = ints.find(flag); it != ints.end()) *field = it->second;
    };
    str("--model", &c.model.path);
    str("--host", &c.server.host);
    str("--name", &c.model.name);
    if (auto it = strings.find("--api-key"); it != strings.end())
      c.server.api_keys.push_back(it->second);
    str("--pid-file", &c.server.pid_file);
    str("--log-level", &c.server.log_level);
    str("--kv-type", &c.model.kv_type);
    str("--feature-flags", &c.feature_flags.file);
    num("--port", &c.server.port);
    num("--threads", &c.model.threads);
    num("--ctx-size", &c.model.n_ctx);
    num("--max-sequences", &c.scheduler.max_sequences);
    num("--max-active-streams", &c.scheduler.max_active_streams);
    num("--max-waiting", &c.scheduler.max_waiting);
    num("--step-token-budget", &c.scheduler.step_token_budget);
    // Raising the batch slots on the command line raises the live limit with it unless
    // that was set too.
    if (ints.count("--max-sequences") && !ints.count("--max-active-streams"))
      c.scheduler.max_active_streams = c.scheduler.max_sequences;
  };
  apply_overrides(config);
  if (err.empty()) err = server::validate(config);
  if (!err.empty()) {
    std::fprintf(stderr, "mlx-serving serve: %s\n", err.c_str());
    return 2;
  }
  if (config.model.path.empty()) {
    config.model.path = default_model_path();
    if (config.model.name.empty()) config.model.name = "mlx-serving-default";
  }
  if (config.server.pid_file.empty()) config.server.pid_file = default_pid_file();
  auto qos = qos::parse_qos_config(config.source_text, config.source_path);
  if (!qos.ok()) {
    std::fprintf(stderr, "mlx-serving serve: invalid qos_monitor section:\n%s\n",
                 qos.status().message().c_str());
    return 2;
  }
  auto ttft = ttft::parse_ttft_config(config.source_text, config.source_path);
  if (!ttft.ok()) {
    std::fprintf(stderr, "mlx-serving serve: invalid ttft_accelerator section:\n%s\n",
                 ttft.status().message().c_str());
    return 2;
  }
  auto flags = server::load_feature_flags(config);
  if (!flags.ok()) {
    std::fprintf(stderr, "mlx-serving serve: invalid feature flags:\n%s\n",
                 flags.status().message().c_str());
    return 2;
  }

  // Signals are taken by sigwait() on this thread: block them before any thread starts
  // so that none of the server's threads receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::string pid_file = config.server.pid_file;
  // The embedded model and default pid file chosen above are kept across reloads too.
  auto keep_defaults = [model = config.model, pid = config.server.pid_file,
                        apply_overrides](server::RuntimeConfig& c) {
    apply_overrides(c);
    if (c.model.path.empty()) c.model = model;
    if (c.server.pid_file.empty()) c.server.pid_file = pid;
  };
  std::string canary_override = strings.count("--canary-config") ? strings["--canary-config"] : "";
  std::string canary_path = server::canary_config_path(config, canary_override);
  canary::CanaryConfig canary_config;
  if (!canary_path.empty()) {
    auto c = canary::load_canary_config(canary_path);
    if (!c.ok()) {
      std::fprintf(stderr, "mlx-serving serve: invalid canary config:\n%s\n",
                   c.status().message().c_str());
      return 2;
    }
    canary_config = std::move(c.value());
  }
  if (Status c = server::CanaryService::check_flags(canary_config, flags.value()->config); !c.ok()) {
    std::fprintf(stderr, "mlx-serving serve: %s\n", c.message().c_str());
    return 2;
  }

  server::ApiServer srv(std::move(config), std::move(flags.value()), std::move(qos.value()),
                        std::move(canary_config), canary_path, std::move(ttft.value()));
  srv.set_canary_override(canary_override);
  srv.set_overrides(keep_defaults);
  Status st = srv.start();
  if (!st.ok()) {
    log_error(st.message());
    return 1;
  }
  if (Status p = write_pid_file(pid_file); !p.ok())
    log_warn(p.message());
  else
    log_info("pid " + std::to_string(getpid()) + " written to " + pid_file);

  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      log_info("SIGHUP: reloading configuration");
      (void)srv.reload();  // logs the outcome either way
      continue;
    }
    log_info(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": draining");
    int cancelled = srv.drain();
    srv.stop();
    remove_pid_file(pid_file);
    log_info("stopped" + (cancelled ? " (" + std::to_string(cancelled) + " stream(s) cut at the drain timeout)"
                                    : std::string()));
    return 0;
  }
}

}  // namespace mlxs::cli
