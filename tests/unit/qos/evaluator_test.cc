// Evaluator over a real MetricsCollector with injected time: ceilings and floors,
// priority order, SLOs without data, recoveries on the transition only, and the stats.
#include "qos/evaluator.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point t0{};

SloSpec slo(std::string name, Metric metric, Statistic statistic, double threshold,
            Severity severity = Severity::kWarning) {
  SloSpec s;
  s.name = std::move(name);
  s.metric = metric;
  s.statistic = statistic;
  s.threshold = threshold;
  s.window_ms = 10000;
  s.severity = severity;
  return s;
}

Policy policy(std::string id, int priority, std::vector<SloSpec> slos, bool enabled = true) {
  Policy p;
  p.id = std::move(id);
  p.name = p.id;
  p.priority = priority;
  p.enabled = enabled;
  p.slos = std::move(slos);
  return p;
}

void add(MetricsCollector& c, Metric m, double v, Clock::time_point at) {
  c.collect(MetricSample{m, v, at, "s"});
}

TEST(Evaluator, CeilingAndFloor) {
  QosConfig config;
  config.policies = {
      policy("ttft", 0, {slo("ttft_p95", Metric::kTtft, Statistic::kP95, 500)}),
      policy("tput", 0, {slo("tput_p50", Metric::kThroughput, Statistic::kP50, 50)}),
  };
  MetricsCollector c;
  c.track_config(config);
  Evaluator e;

  add(c, Metric::kTtft, 400, t0);        // below a ceiling: fine
  add(c, Metric::kThroughput, 60, t0);   // above a floor: fine
  auto r = e.evaluate(config, c, t0);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].violated());
  EXPECT_FALSE(r[1].violated());
  EXPECT_DOUBLE_EQ(r[0].slos[0].current_value, 400);
  EXPECT_DOUBLE_EQ(r[0].slos[0].threshold, 500);

  MetricsCollector c2;
  c2.track_config(config);
  add(c2, Metric::kTtft, 600, t0);       // above a ceiling: violated
  add(c2, Metric::kThroughput, 40, t0);  // below a floor: violated
  r = e.evaluate(config, c2, t0);
  EXPECT_TRUE(r[0].violated());
  EXPECT_TRUE(r[1].violated());
  EXPECT_EQ(r[1].slos[0].policy_id, "tput");
  EXPECT_EQ(r[1].slos[0].slo_name, "tput_p50");
  EXPECT_EQ(r[1].slos[0].metric, Metric::kThroughput);
  EXPECT_EQ(r[1].slos[0].statistic, Statistic::kP50);
  EXPECT_EQ(r[1].slos[0].window_ms, 10000);
}

TEST(Evaluator, HighestPriorityFirstTiesInFileOrderDisabledSkipped) {
  QosConfig config;
  const auto s = [] { return std::vector<SloSpec>{slo("x", Metric::kTtft, Statistic::kP50, 1)}; };
  config.policies = {policy("low", 1, s()),  policy("tie_a", 5, s()),
                     policy("off", 99, s(), false), policy("high", 10, s()),
                     policy("tie_b", 5, s())};
  MetricsCollector c;
  Evaluator e;
  auto r = e.evaluate(config, c, t0);
  std::vector<std::string> order;
  for (const auto& pe : r) order.push_back(pe.policy->id);
  EXPECT_EQ(order, (std::vector<std::string>{"high", "tie_a", "tie_b", "low"}));
  EXPECT_EQ(r[0].policy, &config.policies[3]);
  EXPECT_EQ(e.stats().policies_enabled, 4);
  EXPECT_EQ(e.stats().evaluations_by_policy.count("off"), 0u);
}

TEST(Evaluator, NoDataKeepsStateAndRecoveryIsReportedOnce) {
  QosConfig config;
  config.policies = {policy("p", 0, {slo("ttft_p50", Metric::kTtft, Statistic::kP50, 100)})};
  MetricsCollector c;
  c.track_config(config);
  Evaluator e;

  // No data yet: neither violated nor recovered.
  auto r = e.evaluate(config, c, t0);
  EXPECT_TRUE(r[0].slos[0].no_data);
  EXPECT_TRUE(std::isnan(r[0].slos[0].current_value));
  EXPECT_FALSE(r[0].slos[0].violated);
  EXPECT_FALSE(r[0].slos[0].recovered);

  add(c, Metric::kTtft, 200, t0);
  r = e.evaluate(config, c, t0 + seconds(1));
  EXPECT_TRUE(r[0].slos[0].violated);
  // Still violated: reported again (remediations may act again after their cooldown).
  r = e.evaluate(config, c, t0 + seconds(2));
  EXPECT_TRUE(r[0].slos[0].violated);
  EXPECT_FALSE(r[0].slos[0].recovered);
  EXPECT_EQ(e.violated_slos(),
            (std::vector<std::pair<std::string, std::string>>{{"p", "ttft_p50"}}));

  // The window empties: no data, and the violation state is kept.
  r = e.evaluate(config, c, t0 + seconds(30));
  EXPECT_TRUE(r[0].slos[0].no_data);
  EXPECT_FALSE(r[0].slos[0].violated);
  EXPECT_FALSE(r[0].slos[0].recovered);
  EXPECT_EQ(e.violated_slos().size(), 1u);

  // Back within the threshold: recovered once, then simply fine.
  add(c, Metric::kTtft, 50, t0 + seconds(30));
  r = e.evaluate(config, c, t0 + seconds(31));
  EXPECT_FALSE(r[0].slos[0].violated);
  EXPECT_TRUE(r[0].slos[0].recovered);
  EXPECT_TRUE(e.violated_slos().empty());
  r = e.evaluate(config, c, t0 + seconds(32));
  EXPECT_FALSE(r[0].slos[0].recovered);
}

TEST(Evaluator, ErrorRateAndStreamCount) {
  QosConfig config;
  config.policies = {policy("p", 0,
                            {slo("error_rate", Metric::kErrorRate, Statistic::kRate, 0.01),
                             slo("streams", Metric::kStreamCount, Statistic::kCurrent, 4)})};
  MetricsCollector c;
  c.track_config(config);
  int streams = 2;
  c.set_active_streams_source([&] { return streams; });
  Evaluator e;
  for (int i = 0; i < 99; ++i) c.record_request(false, t0);
  c.record_request(true, t0);  // exactly 1%: not above the ceiling
  auto r = e.evaluate(config, c, t0);
  EXPECT_DOUBLE_EQ(r[0].slos[0].current_value, 0.01);
  EXPECT_FALSE(r[0].slos[0].violated);
  EXPECT_FALSE(r[0].slos[1].violated);
  c.record_request(true, t0);
  streams = 5;
  r = e.evaluate(config, c, t0);
  EXPECT_TRUE(r[0].slos[0].violated);
  EXPECT_TRUE(r[0].slos[1].violated);
  EXPECT_DOUBLE_EQ(r[0].slos[1].current_value, 5);
}

TEST(Evaluator, StatsCountEvaluationsAndViolationsBySeverity) {
  QosConfig config;
  config.policies = {
      policy("a", 0,
             {slo("crit", Metric::kTtft, Statistic::kP50, 10, Severity::kCritical),
              slo("warn", Metric::kTtft, Statistic::kMean, 10, Severity::kWarning),
              slo("fine", Metric::kTtft, Statistic::kP50, 1000, Severity::kInfo)}),
      policy("b", 0, {slo("none", Metric::kLatency, Statistic::kP50, 1)}),
  };
  MetricsCollector c;
  c.track_config(config);
  add(c, Metric::kTtft, 100, t0);
  Evaluator e;
  e.evaluate(config, c, t0);
  e.evaluate(config, c, t0 + milliseconds(5));
  const EvaluatorStats s = e.stats();
  EXPECT_EQ(s.total_evaluations, 4u);
  EXPECT_EQ(s.evaluations_by_policy.at("a"), 2u);
  EXPECT_EQ(s.evaluations_by_policy.at("b"), 2u);
  EXPECT_EQ(s.total_violations, 4u);
  EXPECT_EQ(s.violations_by_policy.at({"a", Severity::kCritical}), 2u);
  EXPECT_EQ(s.violations_by_policy.at({"a", Severity::kWarning}), 2u);
  EXPECT_EQ(s.violations_by_policy.count({"a", Severity::kInfo}), 0u);
  EXPECT_EQ(s.violations_by_policy.count({"b", Severity::kWarning}), 0u);
  EXPECT_EQ(s.policies_enabled, 2);
}

TEST(Evaluator, RetainForgetsRemovedSlos) {
  QosConfig config;
  config.policies = {policy("p", 0,
                            {slo("a", Metric::kTtft, Statistic::kP50, 1),
                             slo("b", Metric::kTtft, Statistic::kP50, 1)})};
  MetricsCollector c;
  c.track_config(config);
  add(c, Metric::kTtft, 100, t0);
  Evaluator e;
  e.evaluate(config, c, t0);
  EXPECT_EQ(e.violated_slos().size(), 2u);
  config.policies[0].slos.pop_back();
  e.retain(config);
  EXPECT_EQ(e.violated_slos(),
            (std::vector<std::pair<std::string, std::string>>{{"p", "a"}}));
}

}  // namespace
}  // namespace mlxs::qos
