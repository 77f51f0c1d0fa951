// mlx-serving flags: check a feature-flags file before it goes live, and ask which keys a
// file turns a feature on for (the same code the server runs, so the answers agree).
#include <cstdio>
#include <iostream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "flags/flag_config.h"
#include "flags/flag_eval.h"

namespace mlxs::cli {
namespace {

constexpr const char* kUsage =
    "usage: mlx-serving flags validate FILE\n"
    "       mlx-serving flags eval FILE FEATURE [KEY...]\n"
    "\n"
    "validate  Checks a feature-flags file (config/feature-flags.yaml) the way the server\n"
    "          does before it loads or reloads one. Valid: prints 'FILE: valid', a summary\n"
    "          of every feature and any warnings, exits 0. Invalid: prints every problem\n"
    "          as FILE:LINE: error: ... to stderr, then 'FILE: N error(s)', exits 1.\n"
    "eval      Decides FEATURE for each KEY (request id, user id, ...) under FILE and\n"
    "          prints one JSON object per key:\n"
    "            {\"feature\":...,\"key\":...,\"enabled\":...,\"reason\":...,\"bucket\":...}\n"
    "          bucket is the key's 0..99 bucket under the deciding feature's hash_seed (-1\n"
    "          when none was computed). Without KEY arguments, keys are read from stdin,\n"
    "          one per line. Put '--' before keys that start with '-'.\n"
    "          FEATURE is one of: phase4_rollout, ttft_pipeline, ttft_pipeline.warmup_queue,\n"
    "          ttft_pipeline.speculation, ttft_pipeline.kv_prep, qos_monitor,\n"
    "          qos_monitor.evaluator, qos_monitor.executor, qos_monitor.policy_store,\n"
    "          canary; any other name is a usage error (exit 2).\n"
    "\n"
    "Exit status: 0 success, 1 the file is missing or invalid, 2 bad command line.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "mlx-serving flags: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

std::string percent_text(double p) {
  std::ostringstream os;
  os << p << "%";
  return os.str();
}

const char* on_off(bool b) { return b ? "on" : "off"; }

std::string rollout_line(const char* name, const flags::Rollout& r) {
  std::string line = std::string("  ") + name + ": " + (r.enabled ? "enabled" : "disabled") +
                     ", " + percent_text(r.percentage);
  line += r.hash_seed.empty() ? ", no hash_seed" : ", hash_seed \"" + r.hash_seed + "\"";
  return line;
}

// What an operator wants to see before reloading: each feature's switch, share and seed,
// the sub-feature switches and the emergency state.
void print_summary(const flags::FlagConfig& c) {
  using flags::Feature;
  std::puts(rollout_line("phase4_rollout", c.phase4_rollout).c_str());
  std::printf("%s\n    warmup_queue %s, speculation %s%s, kv_prep %s\n",
              rollout_line("ttft_pipeline", c.ttft_pipeline).c_str(),
              on_off(c.warmup_queue_enabled), on_off(c.speculation_enabled),
              c.speculation_allowlist_only ? " (allowlist only)" : "", on_off(c.kv_prep_enabled));
  std::printf("%s\n    evaluator %s, executor %s%s, policy_store %s\n",
              rollout_line("qos_monitor", c.qos_monitor).c_str(), on_off(c.evaluator_enabled),
              on_off(c.executor_enabled), c.executor_dry_run ? " (dry run)" : "",
              on_off(c.policy_store_enabled));
  std::puts(rollout_line("canary", c.canary).c_str());
  std::printf("  emergency: kill_switch %s, rollback_to_baseline %s\n", on_off(c.kill_switch),
              on_off(c.rollback_to_baseline));
  std::printf("  observability: log_feature_decisions %s, export_metrics %s, metric_prefix %s\n",
              on_off(c.log_feature_decisions), on_off(c.export_metrics), c.metric_prefix.c_str());
  if (c.kill_switch || c.rollback_to_baseline) {
    std::puts("  note: an emergency control is on: every feature is off for every key");
  } else if (!c.phase4_rollout.enabled) {
    std::puts("  note: phase4_rollout is disabled: every feature is off for every key");
  }
}

int cmd_validate(const std::string& path) {
  flags::FlagCheck check;
  auto snap = flags::load_flag_file(path, &check);
  if (!snap.ok()) {
    std::fprintf(stderr, "%s\n%s: %zu error(s)\n", check.format().c_str(), path.c_str(),
                 check.errors.size());
    return 1;
  }
  std::printf("%s: valid\n", path.c_str());
  print_summary(snap.value()->config);
  if (!check.warnings.empty()) std::printf("%s\n", check.format().c_str());
  return 0;
}

void print_decision(flags::Feature f, const std::string& key, const flags::Decision& d) {
  nlohmann::ordered_json j;
  j["feature"] = flags::feature_name(f);
  j["key"] = key;
  j["enabled"] = d.enabled;
  j["reason"] = flags::reason_name(d.reason);
  j["bucket"] = d.bucket;
  // Keys are arbitrary bytes: invalid UTF-8 is replaced rather than failing the dump.
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::puts(line.c_str());
}

int cmd_eval(const std::vector<std::string>& pos) {
  auto feature = flags::parse_feature(pos[1]);
  if (!feature) return usage_error("unknown feature '" + pos[1] + "' (see the list below)");
  auto snap = flags::load_flag_file(pos[0]);
  if (!snap.ok()) {
    std::fprintf(stderr, "%s\n", snap.status().message().c_str());
    return 1;
  }
  const flags::FlagConfig& config = snap.value()->config;
  if (pos.size() > 2) {
    for (size_t i = 2; i < pos.size(); ++i) {
      print_decision(*feature, pos[i], flags::evaluate(config, *feature, pos[i]));
    }
    return 0;
  }
  std::string key;
  while (std::getline(std::cin, key)) {
    if (!key.empty() && key.back() == '\r') key.pop_back();
    print_decision(*feature, key, flags::evaluate(config, *feature, key));
  }
  return 0;
}

}  // namespace

int cmd_flags(int argc, char** argv) {
  if (argc < 3) return usage_error("missing subcommand (validate or eval)");
  const std::string sub = argv[2];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Args args({}, {"--help"}, {{"-h", "--help"}});
  std::string err = args.parse(argc, argv, 3);
  if (args.has("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!err.empty()) return usage_error(err);
  const auto& pos = args.positionals();
  if (sub == "validate") {
    if (pos.size() != 1) return usage_error("validate takes exactly one FILE");
    return cmd_validate(pos[0]);
  }
  if (sub == "eval") {
    if (pos.size() < 2) return usage_error("eval needs FILE and FEATURE");
    return cmd_eval(pos);
  }
  return usage_error("unknown subcommand '" + sub + "'");
}

}  // namespace mlxs::cli
