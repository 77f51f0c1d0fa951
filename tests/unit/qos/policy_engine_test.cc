// PolicyEngine: the policy store and its evaluation, with policy:evaluated events, over a
// real MetricsCollector with injected time.
#include "qos/policy_engine.h"

#include <gtest/gtest.h>

namespace mlxs::qos {
namespace {

const Clock::time_point t0{};

Policy ttft_policy(std::string id, int priority, double threshold) {
  SloSpec s;
  s.name = "ttft_p95";
  s.metric = Metric::kTtft;
  s.statistic = Statistic::kP95;
  s.threshold = threshold;
  s.window_ms = 10000;
  Policy p;
  p.id = std::move(id);
  p.name = p.id;
  p.priority = priority;
  p.slos = {s};
  return p;
}

TEST(PolicyEngine, GetPoliciesEvaluateAndEvents) {
  PolicyEngine engine({ttft_policy("low", 1, 100), ttft_policy("high", 9, 1000)});
  ASSERT_EQ(engine.get_policies().size(), 2u);
  EXPECT_EQ(engine.get_policies()[0].id, "low");  // the store keeps file order

  QosConfig tracked;
  tracked.policies = engine.get_policies();
  MetricsCollector metrics;
  metrics.track_config(tracked);
  metrics.collect({Metric::kTtft, 500, t0, "s"});

  std::vector<std::pair<std::string, size_t>> events;
  engine.on_policy_evaluated([&](const std::string& id, const std::vector<SloEvaluation>& v) {
    events.emplace_back(id, v.size());
  });
  PolicyRun run = engine.evaluate(metrics, t0);
  ASSERT_EQ(run.evaluations.size(), 2u);
  // Highest priority first; the pointers lead into the run's own copy of the store.
  EXPECT_EQ(run.evaluations[0].policy->id, "high");
  EXPECT_FALSE(run.evaluations[0].violated());
  EXPECT_TRUE(run.evaluations[1].violated());
  EXPECT_EQ(events, (std::vector<std::pair<std::string, size_t>>{{"high", 0}, {"low", 1}}));

  // A reload replaces the store; the earlier run stays valid.
  engine.set_policies({ttft_policy("only", 0, 50)});
  EXPECT_EQ(run.evaluations[1].policy->id, "low");
  EXPECT_EQ(engine.get_policies().size(), 1u);
  EXPECT_EQ(engine.stats().total_evaluations, 2u);
}

}  // namespace
}  // namespace mlxs::qos
