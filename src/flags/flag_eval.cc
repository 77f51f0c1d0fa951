#include "flags/flag_eval.h"

#include "flags/bucketing.h"

namespace mlxs::flags {
namespace {

// The bucket a rollout reports: only a seeded rollout has a meaningful one.
int bucket_of(const Rollout& r, std::string_view key) {
  return r.hash_seed.empty() ? -1 : rollout_bucket(key, r.hash_seed);
}

// A rollout's own switch and bucket, once every gate above it has passed.
Decision own_rollout(const Rollout& r, std::string_view key) {
  if (!r.enabled) return {false, Reason::kDisabled, -1};
  int bucket = bucket_of(r, key);
  if (!in_rollout(key, r.percentage, r.hash_seed)) return {false, Reason::kNotInBucket, bucket};
  return {true, Reason::kRollout, bucket};
}

Decision evaluate_top_level(const FlagConfig& c, Feature f, std::string_view key) {
  if (c.kill_switch) return {false, Reason::kKillSwitch, -1};
  if (c.rollback_to_baseline) return {false, Reason::kRollbackToBaseline, -1};
  const Rollout& global = c.phase4_rollout;
  if (f == Feature::kPhase4Rollout) return own_rollout(global, key);
  if (!global.enabled) return {false, Reason::kGlobalDisabled, -1};
  if (!in_rollout(key, global.percentage, global.hash_seed)) {
    return {false, Reason::kGlobalNotInBucket, bucket_of(global, key)};
  }
  return own_rollout(*c.rollout(f), key);
}

}  // namespace

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::kRollout: return "rollout";
    case Reason::kKillSwitch: return "kill_switch";
    case Reason::kRollbackToBaseline: return "rollback_to_baseline";
    case Reason::kGlobalDisabled: return "phase4_disabled";
    case Reason::kGlobalNotInBucket: return "phase4_not_in_bucket";
    case Reason::kDisabled: return "disabled";
    case Reason::kNotInBucket: return "not_in_bucket";
    case Reason::kUnknownFeature: return "unknown_feature";
  }
  return "unknown";
}

Decision evaluate(const FlagConfig& config, Feature feature, std::string_view key) {
  int i = static_cast<int>(feature);
  if (i < 0 || i >= kFeatureCount) return {false, Reason::kUnknownFeature, -1};
  if (auto parent = parent_of(feature)) {
    Decision p = evaluate_top_level(config, *parent, key);
    if (!p.enabled) return p;
    if (!config.sub_enabled(feature)) return {false, Reason::kDisabled, p.bucket};
    return {true, Reason::kRollout, p.bucket};
  }
  return evaluate_top_level(config, feature, key);
}

std::string RequestFlags::enabled_list() const {
  std::string out;
  for (Feature f : all_features()) {
    if (!on(f)) continue;
    if (!out.empty()) out += ',';
    out += feature_name(f);
  }
  return out.empty() ? "none" : out;
}

std::string RequestFlags::summary() const {
  std::string out;
  for (Feature f : all_features()) {
    if (!out.empty()) out += ' ';
    out += feature_name(f);
    const Decision& d = decision(f);
    if (d.enabled) {
      out += "=on";
    } else {
      out += "=off(";
      out += reason_name(d.reason);
      out += ')';
    }
  }
  return out;
}

RequestFlags evaluate_all(std::shared_ptr<const FlagSnapshot> snapshot, std::string_view key) {
  RequestFlags out;
  out.key = std::string(key);
  out.snapshot = snapshot ? std::move(snapshot) : builtin_flag_snapshot();
  for (Feature f : all_features()) {
    out.decisions[static_cast<int>(f)] = evaluate(out.snapshot->config, f, key);
  }
  return out;
}

}  // namespace mlxs::flags
