// Evaluator: one pass over the enabled policies, highest priority first. Violation state
// is kept per (policy, SLO) so that a recovery is reported once, on the transition.
#include "qos/evaluator.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace mlxs::qos {
namespace {

using ViolationStates = std::map<std::pair<std::string, std::string>, bool>;

SloEvaluation evaluate_slo(const Policy& policy, const SloSpec& slo,
                           const MetricsCollector& metrics, Clock::time_point now,
                           ViolationStates& violated, EvaluatorStats& stats) {
  SloEvaluation e;
  e.policy_id = policy.id;
  e.slo_name = slo.name;
  e.metric = slo.metric;
  e.statistic = slo.statistic;
  e.threshold = slo.threshold;
  e.window_ms = slo.window_ms;
  e.severity = slo.severity;
  e.current_value = metrics.value(slo.metric, slo.statistic, slo.window_ms, now);
  if (std::isnan(e.current_value)) {
    // Nothing measured: neither violated nor recovered, and the state stays as it was.
    e.no_data = true;
    return e;
  }
  bool& was_violated = violated[{policy.id, slo.name}];
  e.violated = slo.violated_by(e.current_value);
  e.recovered = was_violated && !e.violated;
  was_violated = e.violated;
  if (e.violated) {
    ++stats.total_violations;
    ++stats.violations_by_policy[{policy.id, slo.severity}];
  }
  return e;
}

}  // namespace

bool PolicyEvaluation::violated() const {
  return std::any_of(slos.begin(), slos.end(), [](const SloEvaluation& s) { return s.violated; });
}

std::vector<PolicyEvaluation> Evaluator::evaluate(const QosConfig& config,
                                                  const MetricsCollector& metrics,
                                                  Clock::time_point now) {
  std::vector<const Policy*> order;
  for (const auto& p : config.policies) {
    if (p.enabled) order.push_back(&p);
  }
  // Stable: equal priorities keep their file order.
  std::stable_sort(order.begin(), order.end(),
                   [](const Policy* a, const Policy* b) { return a->priority > b->priority; });
  stats_.policies_enabled = static_cast<int>(order.size());

  std::vector<PolicyEvaluation> out;
  out.reserve(order.size());
  for (const Policy* policy : order) {
    PolicyEvaluation pe;
    pe.policy = policy;
    for (const auto& slo : policy->slos) {
      pe.slos.push_back(evaluate_slo(*policy, slo, metrics, now, violated_, stats_));
    }
    ++stats_.total_evaluations;
    ++stats_.evaluations_by_policy[policy->id];
    out.push_back(std::move(pe));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Evaluator::violated_slos() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, violated] : violated_) {
    if (violated) out.push_back(key);
  }
  return out;
}

void Evaluator::retain(const QosConfig& config) {
  std::set<std::pair<std::string, std::string>> keep;
  for (const auto& p : config.policies) {
    for (const auto& s : p.slos) keep.insert({p.id, s.name});
  }
  for (auto it = violated_.begin(); it != violated_.end();) {
    it = keep.count(it->first) ? std::next(it) : violated_.erase(it);
  }
}

}  // namespace mlxs::qos
