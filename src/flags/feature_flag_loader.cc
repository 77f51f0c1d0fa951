#include "flags/feature_flag_loader.h"

#include <exception>

#include "base/logging.h"
#include "flags/log_text.h"

namespace mlxs::flags {
namespace {

// What the live config aims at for `f` (see FeatureStats::target_percentage).
double target_percentage(const FlagConfig& c, Feature f) {
  if (c.kill_switch || c.rollback_to_baseline) return 0;
  if (auto parent = parent_of(f)) return c.sub_enabled(f) ? target_percentage(c, *parent) : 0;
  const Rollout& own = *c.rollout(f);
  if (f == Feature::kPhase4Rollout) return own.enabled ? own.percentage : 0;
  return c.phase4_rollout.enabled && own.enabled ? own.percentage : 0;
}

// Listeners run on the evaluating thread; one that throws must not fail the request that
// happened to trigger it.
template <typename ListenerList>
void publish(const ListenerList& listeners, const DecisionEvent& event) {
  for (const auto& [id, fn] : listeners) {
    try {
      fn(event);
    } catch (const std::exception& e) {
      log_warn(std::string("feature flag listener failed: ") + e.what());
    } catch (...) {
      log_warn("feature flag listener failed");
    }
  }
}

double share(uint64_t part, uint64_t total) {
  return total == 0 ? 0.0 : static_cast<double>(part) * 100.0 / static_cast<double>(total);
}

}  // namespace

FeatureFlagLoader::FeatureFlagLoader(std::shared_ptr<const FlagSnapshot> initial)
    : snapshot_(initial ? std::move(initial) : builtin_flag_snapshot()),
      listeners_(std::make_shared<const Listeners>()) {}

Result<std::unique_ptr<FeatureFlagLoader>> FeatureFlagLoader::open(const std::string& path) {
  auto snap = load_flag_file(path);
  if (!snap.ok()) return snap.status();
  return std::make_unique<FeatureFlagLoader>(std::move(snap.value()));
}

bool FeatureFlagLoader::is_enabled(std::string_view feature, std::string_view key) {
  return evaluate(feature, key).enabled;
}

Decision FeatureFlagLoader::evaluate(std::string_view feature, std::string_view key) {
  auto f = parse_feature(feature);
  if (!f) {
    unknown_.fetch_add(1, std::memory_order_relaxed);
    Decision d{false, Reason::kUnknownFeature, -1};
    publish(*listeners_.load(), DecisionEvent{feature, key, d.enabled, d.reason});
    return d;
  }
  auto snap = snapshot_.load();
  Decision d = flags::evaluate(snap->config, *f, key);
  count(*f, d, key);
  if (snap->config.log_feature_decisions) {
    std::string line = std::string("feature flag decision feature=") + feature_name(*f) +
                       " key=\"" + escape_log_value(key) + "\" enabled=" +
                       (d.enabled ? "true" : "false") + " reason=" + reason_name(d.reason);
    if (d.bucket >= 0) line += " bucket=" + std::to_string(d.bucket);
    log_info(line);
  }
  return d;
}

RequestFlags FeatureFlagLoader::evaluate_request(std::string_view key,
                                                 std::string_view log_context) {
  RequestFlags flags = evaluate_all(snapshot_.load(), key);
  for (Feature f : all_features()) count(f, flags.decision(f), key);
  if (flags.snapshot->config.log_feature_decisions) {
    std::string line = "feature flags ";
    if (!log_context.empty()) line.append(log_context).append(" ");
    line += "key=\"" + escape_log_value(key) + "\" " + flags.summary();
    log_info(line);
  }
  return flags;
}

void FeatureFlagLoader::count(Feature f, const Decision& d, std::string_view key) {
  Counts& c = counts_[static_cast<int>(f)];
  (d.enabled ? c.enabled : c.disabled).fetch_add(1, std::memory_order_relaxed);
  publish(*listeners_.load(), DecisionEvent{feature_name(f), key, d.enabled, d.reason});
}

void FeatureFlagLoader::replace(std::shared_ptr<const FlagSnapshot> next) {
  if (!next) return;
  snapshot_.store(std::move(next));
  std::lock_guard<std::mutex> lock(reload_mu_);
  ++reload_stats_.successes;
  reload_stats_.last_error.clear();
  reload_stats_.last_attempt = std::chrono::system_clock::now();
}

void FeatureFlagLoader::record_failure(const std::string& error) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  ++reload_stats_.failures;
  reload_stats_.last_error = error;
  reload_stats_.last_attempt = std::chrono::system_clock::now();
}

Status FeatureFlagLoader::reload(const std::string& path) {
  const std::string source = path.empty() ? snapshot()->source_path : path;
  if (source.empty()) {
    Status st = Status::Error("no feature flags file to reload");
    record_failure(st.message());
    return st;
  }
  auto next = load_flag_file(source);
  if (!next.ok()) {
    record_failure(next.status().message());
    return next.status();
  }
  replace(std::move(next.value()));
  return Status::Ok();
}

FlagStats FeatureFlagLoader::get_stats() const {
  FlagStats stats;
  auto snap = snapshot_.load();
  for (Feature f : all_features()) {
    const Counts& c = counts_[static_cast<int>(f)];
    FeatureStats fs;
    fs.feature = feature_name(f);
    fs.enabled = c.enabled.load(std::memory_order_relaxed);
    fs.disabled = c.disabled.load(std::memory_order_relaxed);
    fs.total = fs.enabled + fs.disabled;
    fs.actual_percentage = share(fs.enabled, fs.total);
    fs.target_percentage = target_percentage(snap->config, f);
    stats.total_decisions += fs.total;
    stats.enabled_count += fs.enabled;
    stats.disabled_count += fs.disabled;
    stats.features.push_back(std::move(fs));
  }
  stats.actual_percentage = share(stats.enabled_count, stats.total_decisions);
  stats.unknown_feature = unknown_.load(std::memory_order_relaxed);
  return stats;
}

ReloadStats FeatureFlagLoader::reload_stats() const {
  std::lock_guard<std::mutex> lock(reload_mu_);
  return reload_stats_;
}

int FeatureFlagLoader::subscribe(std::function<void(const DecisionEvent&)> listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  auto next = std::make_shared<Listeners>(*listeners_.load());
  int id = next_listener_id_++;
  next->emplace_back(id, std::move(listener));
  listeners_.store(std::move(next));
  return id;
}

void FeatureFlagLoader::unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  auto next = std::make_shared<Listeners>(*listeners_.load());
  std::erase_if(*next, [id](const auto& entry) { return entry.first == id; });
  listeners_.store(std::move(next));
}

}  // namespace mlxs::flags
