// mlx-serving canary: check a canary.yaml before it goes live, ask which variant keys go
// to under it (the server's own router, so the answers agree), and set the rollout
// percentage in place for the deploy and rollback scripts.
#include <cstdio>
#include <iostream>
#include <regex>
#include <sstream>
#include <nlohmann/json.hpp>

#include "canary/canary_config.h"
#include "canary/router.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/file_io.h"

namespace mlxs::cli {
namespace {

constexpr const char* kUsage =
    "usage: mlx-serving canary validate FILE\n"
    "       mlx-serving canary route FILE [KEY...]\n"
    "       mlx-serving canary set-percentage FILE N\n"
    "\n"
    "validate        Checks a canary file (config/canary.yaml) the way the server does\n"
    "                before it loads or reloads one. Valid: prints 'FILE: valid' and a\n"
    "                summary, exits 0. Invalid: prints every problem as FILE:LINE: ... to\n"
    "                stderr, then 'FILE: N error(s)', exits 1.\n"
    "route           Routes each KEY (user id or request id) under FILE's enabled switch,\n"
    "                rolloutPercentage, strategy and hashSeed and prints one JSON object\n"
    "                per key: {\"key\":...,\"variant\":\"baseline\"|\"canary\",\"bucket\":...}.\n"
    "                bucket is the key's 0..9999 bucket (-1 with strategy random). Without\n"
    "                KEY arguments, keys are read from stdin, one per line. Put '--'\n"
    "                before keys that start with '-'.\n"
    "set-percentage  Sets canary.rolloutPercentage to N (0..100, fractions allowed) in\n"
    "                FILE, keeping its comments and layout, and replaces the file\n"
    "                atomically. The result must validate, else the file is left as it is.\n"
    "\n"
    "Exit status: 0 success, 1 the file is missing or invalid, 2 bad command line.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "mlx-serving canary: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

int error_count(const std::string& message) {
  int n = message.empty() ? 0 : 1;
  for (char c : message) n += c == '\n';
  return n;
}

const char* on_off(bool b) { return b ? "enabled" : "disabled"; }

std::string variant_text(const canary::VariantConfig& v) {
  using Kind = canary::VariantConfig::Kind;
  switch (v.kind) {
    case Kind::kServer: return "server (the server's own model)";
    case Kind::kLocal: return "local " + v.model_path + " (kv " + v.kv_type + ", " +
                              std::to_string(v.max_sequences) + " sequences)";
    case Kind::kUpstream: return "upstream " + v.url + " (timeout " +
                                 std::to_string(v.timeout_ms) + " ms" +
                                 (v.api_key.empty() ? "" : ", api key set") + ")";
  }
  return "?";
}

// What an operator checks before a deploy: the split, what serves each side, and what
// would roll the canary back.
void print_summary(const canary::CanaryConfig& c) {
  std::printf("  canary: %s, %s%%, strategy %s, hashKey %s, hashSeed \"%s\", cache %s\n",
              on_off(c.enabled), num(c.rollout_percentage).c_str(),
              canary::strategy_name(c.strategy), c.hash_key.c_str(), c.hash_seed.c_str(),
              c.enable_cache ? std::to_string(c.cache_size).c_str() : "off");
  std::printf("  baseline: %s\n", variant_text(c.baseline).c_str());
  const bool has_canary = c.canary.kind != canary::VariantConfig::Kind::kServer;
  std::printf("  canary variant: %s\n", has_canary ? variant_text(c.canary).c_str() : "none");
  const auto& r = c.rollback;
  std::string steps;
  for (double s : r.gradual_steps) steps += (steps.empty() ? "" : ", ") + num(s);
  std::printf("  rollback: %s, cooldown %lld ms, %s, minSamples %d, warningEvaluations %d\n",
              on_off(r.enabled), static_cast<long long>(r.cooldown_ms),
              r.gradual ? ("gradual [" + steps + "]").c_str() : "immediate", r.min_samples,
              r.warning_evaluations);
  for (const auto& t : r.triggers) {
    std::printf("    trigger %s > %s (%s)\n", canary::trigger_name(t.kind),
                num(t.threshold).c_str(), canary::trigger_severity_name(t.severity));
  }
  if (r.triggers.empty()) std::puts("    no triggers: nothing rolls the canary back");
  const auto& m = c.monitoring;
  std::printf("  monitoring: %s, every %lld ms, window %lld ms, retention %s h\n",
              on_off(m.enabled), static_cast<long long>(m.interval_ms),
              static_cast<long long>(m.window_ms), num(m.retention_hours).c_str());
}

int cmd_validate(const std::string& path) {
  auto config = canary::load_canary_config(path);
  if (!config.ok()) {
    const std::string& msg = config.status().message();
    std::fprintf(stderr, "%s\n%s: %d error(s)\n", msg.c_str(), path.c_str(), error_count(msg));
    return 1;
  }
  std::printf("%s: valid\n", path.c_str());
  print_summary(config.value());
  return 0;
}

void print_route(canary::CanaryRouter& router, const canary::CanaryConfig& c,
                 const std::string& key) {
  const canary::RouteDecision d = router.route(key);
  nlohmann::ordered_json j;
  j["key"] = key;
  j["variant"] = canary::variant_name(d.variant);
  // The key's bucket whatever the percentage, so an operator can see how far it is from
  // the canary side.
  j["bucket"] = c.strategy == canary::Strategy::kHash ? canary::canary_bucket(key, c.hash_seed)
                                                       : -1;
  // Keys are arbitrary bytes: invalid UTF-8 is replaced rather than failing the dump.
  std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

int cmd_route(const std::vector<std::string>& pos) {
  auto config = canary::load_canary_config(pos[0]);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  const canary::CanaryConfig& c = config.value();
  canary::CanaryRouter router(c);
  if (pos.size() > 1) {
    for (size_t i = 1; i < pos.size(); ++i) print_route(router, c, pos[i]);
    return 0;
  }
  std::string key;
  while (std::getline(std::cin, key)) {
    if (!key.empty() && key.back() == '\r') key.pop_back();
    print_route(router, c, key);
  }
  return 0;
}

int cmd_set_percentage(const std::string& path, const std::string& value) {
  static const std::regex kNumber(R"([0-9]+(\.[0-9]+)?)");
  if (!std::regex_match(value, kNumber)) {
    return usage_error("N must be a number from 0 to 100, not '" + value + "'");
  }
  const double pct = std::strtod(value.c_str(), nullptr);
  if (pct > 100) return usage_error("N must be a number from 0 to 100, not " + value);
  auto text = read_file(path);
  if (!text) {
    std::fprintf(stderr, "%s: cannot read the file\n", path.c_str());
    return 1;
  }
  auto edited = canary::with_rollout_percentage(*text, pct);
  if (!edited.ok()) {
    std::fprintf(stderr, "%s: %s\n%s: the file is unchanged\n", path.c_str(),
                 edited.status().message().c_str(), path.c_str());
    return 1;
  }
  // The whole result, model files included, under the file's own name: what the server
  // will read after the reload.
  auto check = canary::parse_canary_config(edited.value(), path);
  if (!check.ok()) {
    const std::string& msg = check.status().message();
    std::fprintf(stderr, "%s\n%s: %d error(s); the file is unchanged\n", msg.c_str(),
                 path.c_str(), error_count(msg));
    return 1;
  }
  const Status written = canary::write_file_atomically(path, edited.value());
  if (!written.ok()) {
    std::fprintf(stderr, "%s\n", written.message().c_str());
    return 1;
  }
  std::printf("%s: rolloutPercentage %s (line %d)\n", path.c_str(),
              num(check->rollout_percentage).c_str(), check->percentage_line);
  return 0;
}

}  // namespace

int cmd_canary(int argc, char** argv) {
  if (argc < 3) return usage_error("missing subcommand (validate, route or set-percentage)");
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
  if (sub == "route") {
    if (pos.empty()) return usage_error("route needs FILE");
    return cmd_route(pos);
  }
  if (sub == "set-percentage") {
    if (pos.size() != 2) return usage_error("set-percentage takes FILE and N");
    return cmd_set_percentage(pos[0], pos[1]);
  }
  return usage_error("unknown subcommand '" + sub + "'");
}

}  // namespace mlxs::cli
