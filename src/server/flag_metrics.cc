#include "server/flag_metrics.h"

#include <chrono>

namespace mlxs::server {
namespace {

using flags::Feature;

void render(metrics::Exposition& out, const flags::FeatureFlagLoader& loader) {
  auto snap = loader.snapshot();
  const flags::FlagConfig& c = snap->config;
  if (!c.export_metrics) return;
  const std::string& p = c.metric_prefix;
  flags::FlagStats stats = loader.get_stats();

  out.family(p + "_decisions_total", "Feature flag decisions, by feature and outcome.", "counter");
  for (const flags::FeatureStats& f : stats.features) {
    out.sample(p + "_decisions_total", {{"feature", f.feature}, {"enabled", "true"}},
               static_cast<double>(f.enabled));
    out.sample(p + "_decisions_total", {{"feature", f.feature}, {"enabled", "false"}},
               static_cast<double>(f.disabled));
  }

  out.family(p + "_rollout_percentage",
             "Configured rollout percentage of each top-level feature (0..100).", "gauge");
  for (Feature f : flags::all_features()) {
    if (const flags::Rollout* r = c.rollout(f))
      out.sample(p + "_rollout_percentage", {{"feature", flags::feature_name(f)}}, r->percentage);
  }

  out.family(p + "_enabled", "Whether each feature's own switch is on (1) or off (0).", "gauge");
  for (Feature f : flags::all_features()) {
    const flags::Rollout* r = c.rollout(f);
    bool on = r ? r->enabled : c.sub_enabled(f);
    out.sample(p + "_enabled", {{"feature", flags::feature_name(f)}}, on ? 1 : 0);
  }

  // A state set: both series always exist and the current state reads 1.
  out.family(p + "_kill_switch", "Emergency kill switch: 1 on the series of its current value.",
             "gauge");
  out.sample(p + "_kill_switch", {{"value", "true"}}, c.kill_switch ? 1 : 0);
  out.sample(p + "_kill_switch", {{"value", "false"}}, c.kill_switch ? 0 : 1);
  out.family(p + "_rollback_to_baseline", "Emergency rollback to baseline: 1 when on.", "gauge");
  out.sample(p + "_rollback_to_baseline", {}, c.rollback_to_baseline ? 1 : 0);

  flags::ReloadStats rs = loader.reload_stats();
  out.family(p + "_reloads_total", "Reloads of the feature flags file, by result.", "counter");
  out.sample(p + "_reloads_total", {{"result", "success"}}, static_cast<double>(rs.successes));
  out.sample(p + "_reloads_total", {{"result", "failure"}}, static_cast<double>(rs.failures));

  out.family(p + "_config_loaded_timestamp_seconds",
             "Unix time the live feature flags were loaded.", "gauge");
  out.sample(p + "_config_loaded_timestamp_seconds", {},
             std::chrono::duration<double>(snap->loaded_at.time_since_epoch()).count());
  out.family(p + "_config_info", "The live feature flags file and the SHA-256 of its bytes.",
             "gauge");
  out.sample(p + "_config_info", {{"source", snap->source_path}, {"sha256", snap->sha256}}, 1);
}

}  // namespace

void export_flag_metrics(metrics::Registry& registry, const flags::FeatureFlagLoader& loader) {
  registry.add_exposition_source([&loader](metrics::Exposition& out) { render(out, loader); });
}

}  // namespace mlxs::server
