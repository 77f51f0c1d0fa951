// The feature table, FlagConfig's accessors and JSON form, problem formatting and file
// loading. The YAML schema and its checks live in flag_parse.cc.
#include "flags/flag_config.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace mlxs::flags {
namespace {

struct FeatureInfo {
  Feature feature;
  const char* name;
  std::optional<Feature> parent;
};

constexpr std::array<FeatureInfo, kFeatureCount> kFeatures = {{
    {Feature::kPhase4Rollout, "phase4_rollout", std::nullopt},
    {Feature::kTtftPipeline, "ttft_pipeline", std::nullopt},
    {Feature::kTtftWarmupQueue, "ttft_pipeline.warmup_queue", Feature::kTtftPipeline},
    {Feature::kTtftSpeculation, "ttft_pipeline.speculation", Feature::kTtftPipeline},
    {Feature::kTtftKvPrep, "ttft_pipeline.kv_prep", Feature::kTtftPipeline},
    {Feature::kQosMonitor, "qos_monitor", std::nullopt},
    {Feature::kQosEvaluator, "qos_monitor.evaluator", Feature::kQosMonitor},
    {Feature::kQosExecutor, "qos_monitor.executor", Feature::kQosMonitor},
    {Feature::kQosPolicyStore, "qos_monitor.policy_store", Feature::kQosMonitor},
    {Feature::kCanary, "canary", std::nullopt},
}};

const FeatureInfo* info(Feature f) {
  int i = static_cast<int>(f);
  if (i < 0 || i >= kFeatureCount) return nullptr;
  return &kFeatures[i];
}

// A flags file is a few kilobytes; anything far larger is a wrong path, not a config.
constexpr size_t kMaxFileBytes = 1 << 20;

std::string hex(const unsigned char* p, unsigned int n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned int i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) return "";
  return hex(digest, len);
}

// Reads the whole file; "" error means success.
std::string read_all(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  char buf[16384];
  std::string error;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::string("cannot read: ") + std::strerror(errno);
      break;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > kMaxFileBytes) {
      error = "file is larger than 1 MiB: not a feature flags file";
      break;
    }
  }
  ::close(fd);
  return error;
}

nlohmann::ordered_json rollout_json(const Rollout& r, const char* pct_key) {
  nlohmann::ordered_json j;
  j["enabled"] = r.enabled;
  j[pct_key] = r.percentage;
  j["hash_seed"] = r.hash_seed;
  return j;
}

void append_lines(std::string* out, const std::string& path, const char* kind,
                  std::vector<FlagProblem> problems) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const FlagProblem& a, const FlagProblem& b) { return a.line < b.line; });
  for (const auto& p : problems) {
    if (!out->empty()) *out += '\n';
    *out += path;
    if (p.line > 0) *out += ":" + std::to_string(p.line);
    *out += std::string(": ") + kind + ": " + p.message;
  }
}

}  // namespace

const char* feature_name(Feature f) {
  const FeatureInfo* i = info(f);
  return i ? i->name : "unknown";
}

std::optional<Feature> parse_feature(std::string_view name) {
  for (const auto& i : kFeatures) {
    if (name == i.name) return i.feature;
  }
  return std::nullopt;
}

std::optional<Feature> parent_of(Feature f) {
  const FeatureInfo* i = info(f);
  return i ? i->parent : std::nullopt;
}

const std::vector<Feature>& all_features() {
  static const std::vector<Feature> kAll = [] {
    std::vector<Feature> v;
    for (const auto& i : kFeatures) v.push_back(i.feature);
    return v;
  }();
  return kAll;
}

const Rollout* FlagConfig::rollout(Feature f) const {
  switch (f) {
    case Feature::kPhase4Rollout: return &phase4_rollout;
    case Feature::kTtftPipeline: return &ttft_pipeline;
    case Feature::kQosMonitor: return &qos_monitor;
    case Feature::kCanary: return &canary;
    default: return nullptr;
  }
}

bool FlagConfig::sub_enabled(Feature f) const {
  switch (f) {
    case Feature::kTtftWarmupQueue: return warmup_queue_enabled;
    case Feature::kTtftSpeculation: return speculation_enabled;
    case Feature::kTtftKvPrep: return kv_prep_enabled;
    case Feature::kQosEvaluator: return evaluator_enabled;
    case Feature::kQosExecutor: return executor_enabled;
    case Feature::kQosPolicyStore: return policy_store_enabled;
    default: return false;
  }
}

nlohmann::ordered_json FlagConfig::to_json() const {
  nlohmann::ordered_json j;
  j["phase4_rollout"] = rollout_json(phase4_rollout, "percentage");
  auto& ttft = j["ttft_pipeline"] = rollout_json(ttft_pipeline, "rollout_percentage");
  ttft["warmup_queue"] = {{"enabled", warmup_queue_enabled}};
  ttft["speculation"] = {{"enabled", speculation_enabled},
                         {"allowlist_only", speculation_allowlist_only}};
  ttft["kv_prep"] = {{"enabled", kv_prep_enabled}};
  auto& qos = j["qos_monitor"] = rollout_json(qos_monitor, "rollout_percentage");
  qos["evaluator"] = {{"enabled", evaluator_enabled}};
  qos["executor"] = {{"enabled", executor_enabled}, {"dry_run", executor_dry_run}};
  qos["policy_store"] = {{"enabled", policy_store_enabled}};
  j["canary"] = rollout_json(canary, "rolloutPercentage");
  j["emergency"] = {{"kill_switch", kill_switch}, {"rollback_to_baseline", rollback_to_baseline}};
  j["observability"] = {{"log_feature_decisions", log_feature_decisions},
                        {"export_metrics", export_metrics},
                        {"metric_prefix", metric_prefix}};
  return j;
}

std::string FlagCheck::format() const {
  std::string out;
  append_lines(&out, path, "error", errors);
  append_lines(&out, path, "warning", warnings);
  return out;
}

Result<std::shared_ptr<const FlagSnapshot>> load_flag_file(const std::string& path,
                                                           FlagCheck* check) {
  std::string bytes;
  std::string io_error = read_all(path, &bytes);
  if (!io_error.empty()) {
    if (check) *check = FlagCheck{path, {{0, io_error}}, {}};
    return Status::Error(path + ": " + io_error);
  }
  ParsedFlags parsed = parse_flag_config(bytes, path);
  if (check) *check = parsed.check;
  if (!parsed.config) return Status::Error(parsed.check.format());
  auto snap = std::make_shared<FlagSnapshot>();
  snap->config = std::move(*parsed.config);
  snap->source_path = path;
  snap->sha256 = sha256_hex(bytes);
  snap->loaded_at = std::chrono::system_clock::now();
  return std::shared_ptr<const FlagSnapshot>(std::move(snap));
}

std::shared_ptr<const FlagSnapshot> builtin_flag_snapshot() {
  static const std::shared_ptr<const FlagSnapshot> kBuiltin = [] {
    auto s = std::make_shared<FlagSnapshot>();
    s->loaded_at = std::chrono::system_clock::now();
    return std::shared_ptr<const FlagSnapshot>(std::move(s));
  }();
  return kBuiltin;
}

}  // namespace mlxs::flags
