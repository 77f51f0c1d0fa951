// PolicyEngine: the spec's PolicyEngine. It holds the policy store (the policies of
// qos_monitor.policy_store, replaced whole on reload) and evaluates them against the
// collected metrics, highest priority first, publishing policy:evaluated with each
// policy's violated SLOs. The QosMonitor drives it on its schedule and acts on the
// results. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "qos/collector.h"
#include "qos/evaluator.h"
#include "qos/qos_config.h"

namespace mlxs::qos {

// One evaluation run. `policies` keeps the evaluations' Policy pointers valid whatever a
// reload does meanwhile.
struct PolicyRun {
  std::shared_ptr<const std::vector<Policy>> policies;
  std::vector<PolicyEvaluation> evaluations;
};

class PolicyEngine {
 public:
  explicit PolicyEngine(std::vector<Policy> policies = {});

  // A reload: the violation states of SLOs that remain are kept.
  void set_policies(std::vector<Policy> policies);
  std::vector<Policy> get_policies() const;

  // Evaluates the enabled policies at `now` and publishes policy:evaluated for each.
  PolicyRun evaluate(const MetricsCollector& metrics, Clock::time_point now);
  EvaluatorStats stats() const;

  // policy:evaluated (policy id, its violated SLOs); runs on the evaluating thread.
  int on_policy_evaluated(
      std::function<void(const std::string&, const std::vector<SloEvaluation>&)> listener);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<Policy>> policies_;
  Evaluator evaluator_;
  std::vector<std::pair<int, std::function<void(const std::string&,
                                                const std::vector<SloEvaluation>&)>>>
      listeners_;
  int next_listener_ = 1;
};

}  // namespace mlxs::qos
