// Deciding one feature for one key. The order is fixed: kill switch, rollback to
// baseline, the global phase4_rollout gate (its switch, then its bucket), the feature's
// own switch, then its percentage bucket. A sub-feature is on only when its parent is on
// for that key and its own switch is on. Evaluation is pure: no I/O, no locks, no throw.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "flags/flag_config.h"

namespace mlxs::flags {

enum class Reason {
  kRollout,             // on: every gate passed
  kKillSwitch,          // emergency.kill_switch
  kRollbackToBaseline,  // emergency.rollback_to_baseline
  kGlobalDisabled,      // phase4_rollout.enabled is false
  kGlobalNotInBucket,   // the key is outside phase4_rollout.percentage
  kDisabled,            // the feature's (or sub-feature's) own enabled is false
  kNotInBucket,         // the key is outside the feature's percentage
  kUnknownFeature,      // no such feature
};
// "rollout", "kill_switch", "rollback_to_baseline", "phase4_disabled",
// "phase4_not_in_bucket", "disabled", "not_in_bucket", "unknown_feature".
const char* reason_name(Reason r);

struct Decision {
  bool enabled = false;
  Reason reason = Reason::kDisabled;
  // The key's bucket (0..99) under the seed of the feature that decided (a sub-feature
  // reports its parent's); -1 when no bucket was computed (gate closed earlier, or
  // no seed at 0 or 100 percent).
  int bucket = -1;
};

Decision evaluate(const FlagConfig& config, Feature feature, std::string_view key);

// Every feature decided for one key against one snapshot: what a request carries for
// its whole life, so a reload while it runs does not change its features.
struct RequestFlags {
  std::string key;
  std::shared_ptr<const FlagSnapshot> snapshot;  // the options (dry_run, ...) in force
  std::array<Decision, kFeatureCount> decisions{};

  bool on(Feature f) const { return decisions[static_cast<int>(f)].enabled; }
  const Decision& decision(Feature f) const { return decisions[static_cast<int>(f)]; }
  // Enabled features joined by ',' in enum order, or "none".
  std::string enabled_list() const;
  // "phase4_rollout=on ttft_pipeline=off(not_in_bucket) ...": one log field per feature.
  std::string summary() const;
};

RequestFlags evaluate_all(std::shared_ptr<const FlagSnapshot> snapshot, std::string_view key);

}  // namespace mlxs::flags
