#include "flags/flag_eval.h"

#include "flags/bucketing.h"

namespace mlxs::flags {
namespace {

// The bucket a rollout reports: only a seeded rollout has a meaningful one.
int bucket_of(const Rollout& r, std::string_view key) {
  return r.hash_seed.empty() ? -1 : rollout_bucket(key, r.hash_seed);
}

// A rollout's own switch and bucket, once every gate above it has passed.
// One MD5 at most: the reported bucket is the one that decides (in_rollout's rule).
Decision own_rollout(const Rollout& r, std::string_view key) {
  if (!r.enabled) return {false, Reason::kDisabled, -1};
  int bucket = bucket_of(r, key);
  bool in = false;
  if (r.percentage >= 100) {
    in = true;
  } else if (r.percentage > 0) {
    in = (bucket >= 0 ? bucket : rollout_bucket(key, r.hash_seed)) < r.percentage;
  }
  if (!in) return {false, Reason::kNotInBucket, bucket};
  return {true, Reason::kRollout, bucket};
}

// A top-level feature other than phase4_rollout, given the key's phase4_rollout decision:
// the same answer as evaluate_top_level without hashing the global gate again.
Decision after_global(const FlagConfig& c, Feature f, const Decision& global,
                      std::string_view key) {
  switch (global.reason) {
    case Reason::kKillSwitch:
    case Reason::kRollbackToBaseline: return {false, global.reason, -1};
    case Reason::kDisabled: return {false, Reason::kGlobalDisabled, -1};
    case Reason::kNotInBucket: return {false, Reason::kGlobalNotInBucket, global.bucket};
    default: return own_rollout(*c.rollout(f), key);
  }
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
  // Parents come before their sub-features and the global gate is decided once, so a
  // request costs one MD5 per seeded top-level feature.
  const FlagConfig& c = out.snapshot->config;
  const Decision global = evaluate_top_level(c, Feature::kPhase4Rollout, key);
  for (Feature f : all_features()) {
    Decision d;
    if (f == Feature::kPhase4Rollout) {
      d = global;
    } else if (auto parent = parent_of(f)) {
      const Decision& p = out.decisions[static_cast<int>(*parent)];
      d = !p.enabled ? p
          : c.sub_enabled(f) ? Decision{true, Reason::kRollout, p.bucket}
                             : Decision{false, Reason::kDisabled, p.bucket};
    } else {
      d = after_global(c, f, global, key);
    }
    out.decisions[static_cast<int>(f)] = d;
  }
  return out;
}

}  // namespace mlxs::flags
