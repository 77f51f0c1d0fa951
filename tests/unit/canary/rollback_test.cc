#include "canary/rollback.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace mlxs::canary {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

const Clock::time_point T0 = Clock::time_point() + std::chrono::hours(1000);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

RollbackConfig one_trigger(TriggerKind kind, double threshold,
                           TriggerSeverity severity = TriggerSeverity::kCritical) {
  RollbackConfig c;
  c.min_samples = 100;
  c.triggers = {{kind, threshold, severity, 0}};
  return c;
}

// A healthy pair with enough samples on both sides.
Comparison healthy() {
  Comparison c;
  c.canary_requests = c.baseline_requests = 1000;
  c.canary_error_rate = c.baseline_error_rate = 0.01;
  c.baseline_errors = 10;
  c.canary_latency = c.baseline_latency = 200;
  return c;
}

TEST(Compare, MapsTheSnapshot) {
  HealthSnapshot s;
  s.canary.error_rate = 0.2;
  s.baseline.error_rate = 0.1;
  s.canary.p95_latency_ms = 300;
  s.baseline.p95_latency_ms = 250;
  s.canary.requests = 7;
  s.baseline.requests = 9;
  s.baseline.errors = 1;
  s.canary.memory_growth_mb_per_hour = 12;
  s.canary.crash_rate = 0.5;
  const Comparison c = compare(s);
  EXPECT_EQ(c.canary_error_rate, 0.2);
  EXPECT_EQ(c.baseline_error_rate, 0.1);
  EXPECT_EQ(c.canary_latency, 300);
  EXPECT_EQ(c.baseline_latency, 250);
  EXPECT_EQ(c.canary_requests, 7u);
  EXPECT_EQ(c.baseline_requests, 9u);
  EXPECT_EQ(c.baseline_errors, 1u);
  EXPECT_EQ(c.canary_memory_growth_mb_per_hour, 12);
  EXPECT_EQ(c.canary_crash_rate, 0.5);
}

TEST(Rollback, HealthyDoesNotFire) {
  RollbackController r(RollbackConfig{});  // the spec's four are the parser's default;
  RollbackConfig c;                        // here all four explicitly
  c.triggers = {{TriggerKind::kHighErrorRate, 2, TriggerSeverity::kCritical, 0},
                {TriggerKind::kHighLatency, 1.5, TriggerSeverity::kCritical, 0},
                {TriggerKind::kMemoryLeak, 50, TriggerSeverity::kWarning, 0},
                {TriggerKind::kCrashRate, 0.001, TriggerSeverity::kCritical, 0}};
  r.configure(c);
  const RollbackDecision d = r.should_rollback(healthy(), T0);
  EXPECT_FALSE(d.rollback);
  EXPECT_EQ(d.reason, "");
  ASSERT_EQ(d.triggers.size(), 4u);
  for (const TriggerState& t : d.triggers) EXPECT_FALSE(t.breached) << trigger_name(t.kind);
  EXPECT_DOUBLE_EQ(d.triggers[0].value, 1.0);
}

TEST(Rollback, ErrorRateAtTheBoundary) {
  RollbackController r(one_trigger(TriggerKind::kHighErrorRate, 2.0));
  Comparison c = healthy();
  c.canary_error_rate = 0.02;  // exactly 2x: not over
  EXPECT_FALSE(r.should_rollback(c, T0).rollback);
  c.canary_error_rate = 0.0201;
  const RollbackDecision d = r.should_rollback(c, T0);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.reason, "high_error_rate");
  EXPECT_NEAR(d.triggers[0].value, 2.01, 1e-9);
  EXPECT_NE(d.triggers[0].why.find("canary error rate 0.0201 > 2 x baseline 0.01"),
            std::string::npos) << d.triggers[0].why;
}

TEST(Rollback, LatencyAtTheBoundaryAndWithoutData) {
  RollbackController r(one_trigger(TriggerKind::kHighLatency, 1.5));
  Comparison c = healthy();
  c.canary_latency = 300;  // exactly 1.5x
  EXPECT_FALSE(r.should_rollback(c, T0).rollback);
  c.canary_latency = 301;
  EXPECT_TRUE(r.should_rollback(c, T0).rollback);
  c.canary_latency = kNaN;
  const RollbackDecision d = r.should_rollback(c, T0);
  EXPECT_FALSE(d.rollback);
  EXPECT_TRUE(std::isnan(d.triggers[0].value));
  EXPECT_FALSE(d.triggers[0].breached);
}

TEST(Rollback, CrashRateAndMemoryLeakBoundaries) {
  RollbackController crash(one_trigger(TriggerKind::kCrashRate, 0.001));
  Comparison c = healthy();
  c.canary_crash_rate = 0.001;
  EXPECT_FALSE(crash.should_rollback(c, T0).rollback);
  c.canary_crash_rate = 0.002;
  EXPECT_TRUE(crash.should_rollback(c, T0).rollback);
  c.canary_requests = 99;  // too few canary requests to trust the rate
  EXPECT_FALSE(crash.should_rollback(c, T0).rollback);

  RollbackController leak(one_trigger(TriggerKind::kMemoryLeak, 50));
  Comparison m = healthy();
  m.canary_memory_growth_mb_per_hour = 50;
  EXPECT_FALSE(leak.should_rollback(m, T0).rollback);
  m.canary_memory_growth_mb_per_hour = 51;
  m.canary_requests = 0;  // a leak shows without traffic
  EXPECT_TRUE(leak.should_rollback(m, T0).rollback);
}

TEST(Rollback, MinSamplesGuardsRatios) {
  RollbackController r(one_trigger(TriggerKind::kHighErrorRate, 2.0));
  Comparison c = healthy();
  c.canary_requests = 5;
  c.canary_error_rate = 0.2;  // one error in five
  RollbackDecision d = r.should_rollback(c, T0);
  EXPECT_FALSE(d.rollback);
  EXPECT_TRUE(std::isnan(d.triggers[0].value));
  EXPECT_EQ(d.triggers[0].why, "canary 5 samples < 100");
  c.canary_requests = 1000;
  c.baseline_requests = 50;
  d = r.should_rollback(c, T0);
  EXPECT_FALSE(d.rollback);
  EXPECT_EQ(d.triggers[0].why, "baseline 50 samples < 100");
  c.baseline_requests = 100;
  EXPECT_TRUE(r.should_rollback(c, T0).rollback);
}

TEST(Rollback, ZeroBaselineCountsOneMoreError) {
  RollbackController r(one_trigger(TriggerKind::kHighErrorRate, 2.0));
  Comparison c = healthy();
  c.baseline_error_rate = 0;
  c.baseline_errors = 0;
  c.baseline_requests = 1000;  // floor: 1 / 1000
  c.canary_error_rate = 0.002;  // exactly 2x the floor
  EXPECT_FALSE(r.should_rollback(c, T0).rollback);
  c.canary_error_rate = 0.003;
  const RollbackDecision d = r.should_rollback(c, T0);
  EXPECT_TRUE(d.rollback);
  EXPECT_NEAR(d.triggers[0].value, 3, 1e-9);
  c.canary_error_rate = 0;  // both clean
  EXPECT_FALSE(r.should_rollback(c, T0).rollback);
}

TEST(Rollback, WarningNeedsConsecutiveEvaluations) {
  RollbackConfig cfg = one_trigger(TriggerKind::kMemoryLeak, 50, TriggerSeverity::kWarning);
  cfg.warning_evaluations = 3;
  RollbackController r(cfg);
  Comparison bad = healthy();
  bad.canary_memory_growth_mb_per_hour = 80;
  EXPECT_FALSE(r.should_rollback(bad, T0).rollback);
  EXPECT_FALSE(r.should_rollback(bad, T0).rollback);
  EXPECT_FALSE(r.should_rollback(healthy(), T0).rollback);  // the run breaks
  EXPECT_EQ(r.trigger_states()[0].consecutive, 0);
  EXPECT_FALSE(r.should_rollback(bad, T0).rollback);
  EXPECT_FALSE(r.should_rollback(bad, T0).rollback);
  const RollbackDecision d = r.should_rollback(bad, T0);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.reason, "memory_leak");
  EXPECT_EQ(d.triggers[0].consecutive, 3);
  EXPECT_TRUE(d.triggers[0].fired);
  EXPECT_EQ(r.firings_by_trigger().at("memory_leak"), 1u);
}

TEST(Rollback, CooldownAfterARollback) {
  RollbackConfig cfg = one_trigger(TriggerKind::kCrashRate, 0.001);
  cfg.cooldown_ms = 300000;
  RollbackController r(cfg);
  Comparison bad = healthy();
  bad.canary_crash_rate = 0.5;
  ASSERT_TRUE(r.should_rollback(bad, T0).rollback);
  r.execute_rollback("crash_rate", 10, 0, "crash rate 0.5", T0);
  EXPECT_TRUE(r.in_cooldown(T0 + minutes(4)));
  const RollbackDecision during = r.should_rollback(bad, T0 + minutes(4));
  EXPECT_FALSE(during.rollback);
  EXPECT_EQ(during.reason, "crash_rate");  // fired, but held back
  EXPECT_TRUE(during.triggers[0].fired);
  EXPECT_FALSE(r.in_cooldown(T0 + milliseconds(300000)));
  EXPECT_TRUE(r.should_rollback(bad, T0 + milliseconds(300000)).rollback);
}

TEST(Rollback, DisabledNeverRollsBackButCounts) {
  RollbackConfig cfg = one_trigger(TriggerKind::kCrashRate, 0.001);
  cfg.enabled = false;
  RollbackController r(cfg);
  Comparison bad = healthy();
  bad.canary_crash_rate = 0.5;
  const RollbackDecision d = r.should_rollback(bad, T0);
  EXPECT_FALSE(d.rollback);
  EXPECT_TRUE(d.triggers[0].fired);
  EXPECT_EQ(r.firings_by_trigger().at("crash_rate"), 1u);
}

TEST(Rollback, ReasonIsTheFirstFiredInConfigOrder) {
  RollbackConfig cfg;
  cfg.triggers = {{TriggerKind::kHighLatency, 1.5, TriggerSeverity::kCritical, 0},
                  {TriggerKind::kHighErrorRate, 2, TriggerSeverity::kCritical, 0}};
  RollbackController r(cfg);
  Comparison bad = healthy();
  bad.canary_error_rate = 0.5;
  bad.canary_latency = 1000;
  const RollbackDecision d = r.should_rollback(bad, T0);
  EXPECT_EQ(d.reason, "high_latency");
  EXPECT_EQ(r.firings_by_trigger().size(), 2u);
}

TEST(Rollback, GradualNextPercentage) {
  RollbackConfig cfg;
  cfg.gradual = true;
  cfg.gradual_steps = {0.5, 0};
  RollbackController r(cfg);
  EXPECT_DOUBLE_EQ(r.next_percentage(10, 10), 5);
  EXPECT_DOUBLE_EQ(r.next_percentage(5, 10), 0);
  EXPECT_DOUBLE_EQ(r.next_percentage(0, 10), 0);
  cfg.gradual_steps = {0.75, 0.25, 0};
  r.configure(cfg);
  EXPECT_DOUBLE_EQ(r.next_percentage(40, 40), 30);
  EXPECT_DOUBLE_EQ(r.next_percentage(30, 40), 10);
  EXPECT_DOUBLE_EQ(r.next_percentage(20, 40), 10);  // between steps: the next one below
  EXPECT_DOUBLE_EQ(r.next_percentage(10, 40), 0);
  cfg.gradual = false;
  r.configure(cfg);
  EXPECT_DOUBLE_EQ(r.next_percentage(10, 10), 0);
}

TEST(Rollback, HistoryAndCounters) {
  RollbackController r(one_trigger(TriggerKind::kCrashRate, 0.001));
  r.execute_rollback("crash_rate", 10, 5, "first", T0);
  r.execute_rollback("manual", 5, 0, "operator", T0 + minutes(10));
  r.execute_rollback("crash_rate", 1, 0, "again", T0 + minutes(20));
  const auto h = r.get_rollback_history();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].reason, "crash_rate");
  EXPECT_EQ(h[0].from_percentage, 10);
  EXPECT_EQ(h[0].to_percentage, 5);
  EXPECT_EQ(h[1].detail, "operator");
  EXPECT_EQ(h[2].wall_time.size(), 24u);  // 2025-01-08T12:34:56.789Z
  EXPECT_EQ(r.rollbacks_by_reason().at("crash_rate"), 2u);
  EXPECT_EQ(r.rollbacks_by_reason().at("manual"), 1u);
}

TEST(Rollback, ReconfigureKeepsRunsAndHistory) {
  RollbackConfig cfg = one_trigger(TriggerKind::kMemoryLeak, 50, TriggerSeverity::kWarning);
  cfg.warning_evaluations = 2;
  RollbackController r(cfg);
  Comparison bad = healthy();
  bad.canary_memory_growth_mb_per_hour = 80;
  EXPECT_FALSE(r.should_rollback(bad, T0).rollback);
  r.execute_rollback("manual", 1, 0, "", T0 - minutes(60));
  cfg.cooldown_ms = 1000;
  r.configure(cfg);
  EXPECT_EQ(r.trigger_states()[0].consecutive, 1);
  EXPECT_TRUE(r.should_rollback(bad, T0).rollback);
  EXPECT_EQ(r.get_rollback_history().size(), 1u);
}

}  // namespace
}  // namespace mlxs::canary
