// config/feature-flags.yaml: which production features are on, for what share of the
// traffic. The structure is the spec's ("Feature Flags" in PRODUCTION_FEATURES.md); every
// key is documented in docs/FEATURE_FLAGS.md. Parsing reports every problem of a file at
// once, each with FILE:LINE, so an operator fixes a file in one pass; a file with any
// error is never used.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace mlxs::flags {

// Every feature a key can be evaluated for, parents before their sub-features. The
// names are the dotted paths of the file ("ttft_pipeline.speculation").
enum class Feature : int {
  kPhase4Rollout,    // the global gate every other feature sits behind
  kTtftPipeline,
  kTtftWarmupQueue,  // ttft_pipeline.warmup_queue
  kTtftSpeculation,  // ttft_pipeline.speculation
  kTtftKvPrep,       // ttft_pipeline.kv_prep
  kQosMonitor,
  kQosEvaluator,     // qos_monitor.evaluator
  kQosExecutor,      // qos_monitor.executor
  kQosPolicyStore,   // qos_monitor.policy_store
  kCanary,
};
inline constexpr int kFeatureCount = 10;

const char* feature_name(Feature f);
std::optional<Feature> parse_feature(std::string_view name);
// The parent of a sub-feature; nullopt for the top-level features.
std::optional<Feature> parent_of(Feature f);
// All features in enum order.
const std::vector<Feature>& all_features();

// A top-level feature's own rollout: phase4_rollout (percentage), ttft_pipeline and
// qos_monitor (rollout_percentage), canary (rolloutPercentage).
struct Rollout {
  bool enabled = false;
  double percentage = 0;  // 0..100
  std::string hash_seed;  // "" when the file gives none (allowed only at 0 or 100)
};

// One parsed file. Absent sections and keys keep these defaults: a feature that is not
// mentioned is off.
struct FlagConfig {
  Rollout phase4_rollout;

  Rollout ttft_pipeline;
  bool warmup_queue_enabled = false;
  bool speculation_enabled = false;
  bool speculation_allowlist_only = true;  // speculate only for allowlisted prompts
  bool kv_prep_enabled = false;

  Rollout qos_monitor;
  bool evaluator_enabled = false;
  bool executor_enabled = false;
  bool executor_dry_run = false;  // remediations are logged, not carried out
  bool policy_store_enabled = false;

  Rollout canary;  // the block the spec's "Combining features" puts here

  bool kill_switch = false;           // emergency: every feature off
  bool rollback_to_baseline = false;  // emergency: serve as before the features

  bool log_feature_decisions = false;
  bool export_metrics = true;
  std::string metric_prefix = "mlx_serving_feature_flags";

  // The Rollout of a top-level feature; nullptr for sub-features.
  const Rollout* rollout(Feature f) const;
  // The own switch of a sub-feature ("enabled" under it); false for top-level features.
  bool sub_enabled(Feature f) const;
  // The same structure as the file, with every key (defaults filled in).
  nlohmann::ordered_json to_json() const;
};

struct FlagProblem {
  int line = 0;  // 1-based; 0 when the problem is about the whole file
  std::string message;
};

// Everything found wrong with one file.
struct FlagCheck {
  std::string path;
  std::vector<FlagProblem> errors;
  std::vector<FlagProblem> warnings;  // the file is still used (a seed shared by features)
  bool ok() const { return errors.empty(); }
  // One line per problem: "PATH:LINE: error: MESSAGE" / "PATH:LINE: warning: MESSAGE",
  // errors first, in file order.
  std::string format() const;
};

// Parses YAML text (`path` names it in messages). `config` is set only when there is no
// error. Never throws.
struct ParsedFlags {
  std::optional<FlagConfig> config;
  FlagCheck check;
};
ParsedFlags parse_flag_config(const std::string& yaml_text, const std::string& path);

// A loaded, validated file: what every request reads. Immutable once built; the server
// swaps whole snapshots on reload.
struct FlagSnapshot {
  FlagConfig config;
  std::string source_path;  // "" for the built-in defaults (no file: every feature off)
  std::string sha256;       // hex digest of the file's bytes ("" without a file)
  std::chrono::system_clock::time_point loaded_at;
};

// Reads and parses `path`. On any error the status lists every problem (FlagCheck::format).
// `check`, when given, receives the problems and warnings either way.
Result<std::shared_ptr<const FlagSnapshot>> load_flag_file(const std::string& path,
                                                           FlagCheck* check = nullptr);

// Every feature off: used when the server has no flags file.
std::shared_ptr<const FlagSnapshot> builtin_flag_snapshot();

}  // namespace mlxs::flags
