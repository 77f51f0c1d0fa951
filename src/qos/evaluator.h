// The QoS evaluator: every evaluation_interval_ms it walks the enabled policies, highest
// priority first, computes each SLO's statistic over its window and compares it with the
// threshold. A violated SLO gives a violation every evaluation it stays violated (so its
// remediations can act again once their cooldown ends); the first evaluation back within
// the threshold gives a recovery. An SLO without data in its window keeps its state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "qos/collector.h"
#include "qos/qos_config.h"

namespace mlxs::qos {

struct SloEvaluation {
  std::string policy_id;
  std::string slo_name;
  Metric metric = Metric::kTtft;
  Statistic statistic = Statistic::kP95;
  double current_value = 0;  // NaN: no data in the window
  double threshold = 0;
  int64_t window_ms = 0;
  Severity severity = Severity::kWarning;
  bool violated = false;
  bool recovered = false;  // violated at the previous evaluation, within the threshold now
  bool no_data = false;
};

struct PolicyEvaluation {
  const Policy* policy = nullptr;  // points into the config passed to evaluate()
  std::vector<SloEvaluation> slos;
  bool violated() const;  // any SLO violated
};

// The spec's getEvaluatorStats().
struct EvaluatorStats {
  uint64_t total_evaluations = 0;  // policy evaluations
  uint64_t total_violations = 0;   // SLO evaluations that were violated
  int policies_enabled = 0;
  std::map<std::string, uint64_t> evaluations_by_policy;
  std::map<std::pair<std::string, Severity>, uint64_t> violations_by_policy;
};

class Evaluator {
 public:
  // Evaluates `config.policies` (enabled ones, by priority, ties in file order) at `now`.
  std::vector<PolicyEvaluation> evaluate(const QosConfig& config, const MetricsCollector& metrics,
                                         Clock::time_point now);
  EvaluatorStats stats() const { return stats_; }
  // SLOs currently in violation, as (policy id, SLO name).
  std::vector<std::pair<std::string, std::string>> violated_slos() const;
  // Forgets violation states of SLOs no longer in `config` (after a reload).
  void retain(const QosConfig& config);

 private:
  std::map<std::pair<std::string, std::string>, bool> violated_;
  EvaluatorStats stats_;
};

}  // namespace mlxs::qos
