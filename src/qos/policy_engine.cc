#include "qos/policy_engine.h"

#include <exception>

#include "base/logging.h"

namespace mlxs::qos {

PolicyEngine::PolicyEngine(std::vector<Policy> policies)
    : policies_(std::make_shared<const std::vector<Policy>>(std::move(policies))) {}

void PolicyEngine::set_policies(std::vector<Policy> policies) {
  std::lock_guard<std::mutex> lock(mu_);
  policies_ = std::make_shared<const std::vector<Policy>>(std::move(policies));
  QosConfig kept;
  kept.policies = *policies_;
  evaluator_.retain(kept);
}

std::vector<Policy> PolicyEngine::get_policies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return *policies_;
}

PolicyRun PolicyEngine::evaluate(const MetricsCollector& metrics, Clock::time_point now) {
  PolicyRun run;
  decltype(listeners_) listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    run.policies = policies_;
    QosConfig config;
    config.policies = *policies_;
    // The evaluator points into `config`; re-point the results at the shared copy.
    auto results = evaluator_.evaluate(config, metrics, now);
    for (auto& pe : results) {
      for (const Policy& p : *run.policies)
        if (p.id == pe.policy->id) pe.policy = &p;
    }
    run.evaluations = std::move(results);
    listeners = listeners_;
  }
  for (const auto& pe : run.evaluations) {
    std::vector<SloEvaluation> violated;
    for (const auto& s : pe.slos)
      if (s.violated) violated.push_back(s);
    for (const auto& [id, fn] : listeners) {
      try {
        fn(pe.policy->id, violated);
      } catch (const std::exception& e) {
        log_warn(std::string("qos: a policy:evaluated listener threw: ") + e.what());
      }
    }
  }
  return run;
}

EvaluatorStats PolicyEngine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evaluator_.stats();
}

int PolicyEngine::on_policy_evaluated(
    std::function<void(const std::string&, const std::vector<SloEvaluation>&)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.emplace_back(next_listener_, std::move(listener));
  return next_listener_++;
}

}  // namespace mlxs::qos
