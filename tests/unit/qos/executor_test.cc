// The remediation executor under an injected clock: each safety rule (dry run, loop
// detection, cooldown, rate limit), their order, target failures, statistics and the
// bounded audit log. The targets record what they were asked to do.
#include "qos/executor.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;

const Clock::time_point t0 = Clock::time_point(std::chrono::hours(1000));
Clock::time_point at_ms(int64_t ms) { return t0 + milliseconds(ms); }

// Records every call; fails the calls named in `fail`.
class RecordingTargets : public RemediationTargets {
 public:
  Result<std::string> scale(int delta) override {
    calls.push_back("scale " + std::to_string(delta));
    if (fail_scale) return Status::Error("governor unavailable");
    const int before = streams;
    streams += delta;
    return "max_active_streams " + std::to_string(before) + " -> " + std::to_string(streams);
  }
  Result<std::string> shed_load(const std::string& owner, double percentage) override {
    calls.push_back("shed " + owner + " " + std::to_string(static_cast<int>(percentage)));
    return std::string("shedding");
  }
  Result<std::string> circuit_break(milliseconds duration, Clock::time_point now) override {
    calls.push_back("circuit " + std::to_string(duration.count()) + " at " +
                    std::to_string(std::chrono::duration_cast<milliseconds>(now - t0).count()));
    return std::string("circuit open");
  }
  Result<std::string> alert(const std::string& channel, const AlertMessage& message) override {
    calls.push_back("alert " + channel);
    alerts.emplace_back(channel, message);
    return std::string("queued");
  }
  std::vector<std::string> alert_channels() const override { return channels; }
  void release(const std::string& owner) override { calls.push_back("release " + owner); }

  int streams = 4;
  bool fail_scale = false;
  std::vector<std::string> channels{"slack", "pagerduty"};
  std::vector<std::string> calls;
  std::vector<std::pair<std::string, AlertMessage>> alerts;
};

RemediationSpec scale_up(int delta = 2) {
  RemediationSpec s;
  s.type = Action::kScaleUp;
  s.target = Target::kGovernor;
  s.delta = delta;
  s.reason = "TTFT SLO violated - scaling up concurrency";
  return s;
}
RemediationSpec scale_down(int delta = 2) {
  RemediationSpec s = scale_up(delta);
  s.type = Action::kScaleDown;
  return s;
}
RemediationSpec alert_spec(const std::string& channel) {
  RemediationSpec s;
  s.type = Action::kAlert;
  s.target = Target::kStreamRegistry;
  s.channel = channel;
  s.reason = "Error rate SLO violated - alerting team";
  return s;
}

AlertMessage context() {
  AlertMessage m;
  m.policy_id = "default_ttft_policy";
  m.slo_name = "ttft_p95";
  m.value = 812.3;
  m.threshold = 550;
  m.severity = Severity::kCritical;
  m.reason = "context reason";
  m.time = "2024-05-01T12:00:00.000Z";
  return m;
}

// No cooldown and no rate limit unless a test sets them.
ExecutorConfig open_config() {
  ExecutorConfig c;
  c.cooldown_ms = 0;
  c.max_executions_per_window = 1000;
  c.execution_window_ms = 300000;
  c.loop_detection_window = 6;
  return c;
}

struct Fixture {
  explicit Fixture(ExecutorConfig config) : executor(config, &targets) {}
  AuditEntry run(const RemediationSpec& spec, int64_t ms, bool dry_run = false) {
    return executor.execute("default_ttft_policy", "ttft_p95", spec, context(), dry_run,
                            at_ms(ms));
  }
  RecordingTargets targets;
  Executor executor;
};

TEST(Executor, OutcomeNames) {
  EXPECT_STREQ(outcome_name(Outcome::kExecuted), "executed");
  EXPECT_STREQ(outcome_name(Outcome::kDryRun), "dry_run");
  EXPECT_STREQ(outcome_name(Outcome::kCooldown), "cooldown");
  EXPECT_STREQ(outcome_name(Outcome::kRateLimited), "rate_limited");
  EXPECT_STREQ(outcome_name(Outcome::kLoopDetected), "loop_detected");
  EXPECT_STREQ(outcome_name(Outcome::kDisabled), "disabled");
}

TEST(Executor, ExecutesEachActionOnItsTarget) {
  Fixture f(open_config());
  AuditEntry up = f.run(scale_up(5), 0);
  EXPECT_EQ(up.outcome, Outcome::kExecuted);
  EXPECT_TRUE(up.success);
  EXPECT_EQ(up.detail, "max_active_streams 4 -> 9");
  EXPECT_EQ(up.policy_id, "default_ttft_policy");
  EXPECT_EQ(up.slo_name, "ttft_p95");
  EXPECT_EQ(up.at, at_ms(0));
  EXPECT_EQ(up.wall_time.size(), 24u);  // 2024-05-01T12:00:00.000Z
  EXPECT_EQ(up.wall_time.back(), 'Z');

  f.run(scale_down(3), 1);
  RemediationSpec shed;
  shed.type = Action::kShedLoad;
  shed.percentage = 25;
  f.run(shed, 2);
  RemediationSpec circuit;
  circuit.type = Action::kCircuitBreak;
  circuit.target = Target::kTransport;
  circuit.duration_ms = 30000;
  f.run(circuit, 3);
  f.run(alert_spec("slack"), 4);

  const std::vector<std::string> expected{"scale 5", "scale -3",
                                          "shed default_ttft_policy/ttft_p95 25",
                                          "circuit 30000 at 3", "alert slack"};
  EXPECT_EQ(f.targets.calls, expected);
  ASSERT_EQ(f.targets.alerts.size(), 1u);
  // The alert carries the violation's context with the remediation's reason.
  const AlertMessage& sent = f.targets.alerts[0].second;
  EXPECT_EQ(sent.reason, "Error rate SLO violated - alerting team");
  EXPECT_EQ(sent.value, 812.3);
  EXPECT_EQ(sent.threshold, 550);
  EXPECT_EQ(sent.severity, Severity::kCritical);
}

TEST(Executor, DisabledDoesNothingButAudits) {
  ExecutorConfig c = open_config();
  c.enabled = false;
  Fixture f(c);
  AuditEntry e = f.run(scale_up(), 0);
  EXPECT_EQ(e.outcome, Outcome::kDisabled);
  EXPECT_FALSE(e.success);
  EXPECT_TRUE(f.targets.calls.empty());
  ASSERT_EQ(f.executor.audit_log().size(), 1u);
  EXPECT_EQ(f.executor.audit_log()[0].outcome, Outcome::kDisabled);
  EXPECT_EQ(f.executor.stats(at_ms(0)).total_executions, 0u);
  // Switched on by a reload, it acts.
  c.enabled = true;
  f.executor.set_config(c);
  EXPECT_EQ(f.run(scale_up(), 1).outcome, Outcome::kExecuted);
}

TEST(Executor, DryRunDecidesButChangesNothing) {
  ExecutorConfig c = open_config();
  c.cooldown_ms = 60000;
  Fixture f(c);
  AuditEntry e = f.run(scale_up(5), 0, /*dry_run=*/true);
  EXPECT_EQ(e.outcome, Outcome::kDryRun);
  EXPECT_FALSE(e.success);
  EXPECT_EQ(e.detail.rfind("would scale_up governor by 5", 0), 0u) << e.detail;
  EXPECT_TRUE(f.targets.calls.empty());
  // A dry run leaves no history: no cooldown follows it.
  EXPECT_EQ(f.run(scale_up(5), 1).outcome, Outcome::kExecuted);
  ExecutorStats s = f.executor.stats(at_ms(1));
  EXPECT_EQ(s.dry_runs, 1u);
  EXPECT_EQ(s.total_executions, 1u);
}

TEST(Executor, CooldownPerActionAndTarget) {
  ExecutorConfig c = open_config();
  c.cooldown_ms = 60000;
  Fixture f(c);
  EXPECT_EQ(f.run(scale_up(), 0).outcome, Outcome::kExecuted);
  AuditEntry again = f.run(scale_up(), 15000);
  EXPECT_EQ(again.outcome, Outcome::kCooldown);
  EXPECT_NE(again.detail.find("45000 ms remain"), std::string::npos) << again.detail;
  // Another action on the same target, or another target, has its own cooldown.
  EXPECT_EQ(f.run(scale_down(), 15000).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(alert_spec("slack"), 15000).outcome, Outcome::kExecuted);
  EXPECT_TRUE(f.executor.stats(at_ms(59999)).in_cooldown);
  EXPECT_EQ(f.run(scale_up(), 59999).outcome, Outcome::kCooldown);
  EXPECT_EQ(f.run(scale_up(), 60000).outcome, Outcome::kExecuted);
  EXPECT_FALSE(f.executor.stats(at_ms(200000)).in_cooldown);
  EXPECT_EQ(f.executor.stats(at_ms(200000)).suppressed, 2u);
}

TEST(Executor, RateLimitWindowSlides) {
  ExecutorConfig c = open_config();
  c.max_executions_per_window = 3;
  c.execution_window_ms = 10000;
  Fixture f(c);
  RemediationSpec a = alert_spec("slack");
  EXPECT_EQ(f.run(a, 0).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(a, 4000).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(a, 8000).outcome, Outcome::kExecuted);
  AuditEntry limited = f.run(a, 9999);
  EXPECT_EQ(limited.outcome, Outcome::kRateLimited);
  EXPECT_NE(limited.detail.find("max 3"), std::string::npos) << limited.detail;
  // At 10000 the first execution has left the window: one slot frees.
  EXPECT_EQ(f.run(a, 10000).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(a, 10001).outcome, Outcome::kRateLimited);
  EXPECT_EQ(f.run(a, 14000).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.targets.alerts.size(), 5u);
}

TEST(Executor, SuppressedActionsDoNotCountTowardsTheRateLimit) {
  ExecutorConfig c = open_config();
  c.cooldown_ms = 60000;
  c.max_executions_per_window = 2;
  Fixture f(c);
  EXPECT_EQ(f.run(scale_up(), 0).outcome, Outcome::kExecuted);
  for (int i = 1; i < 10; ++i) EXPECT_EQ(f.run(scale_up(), i).outcome, Outcome::kCooldown);
  EXPECT_EQ(f.run(alert_spec("slack"), 20).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(scale_down(), 21).outcome, Outcome::kRateLimited);
}

TEST(Executor, OscillationBlocksTheTargetAndAlerts) {
  Fixture f(open_config());
  EXPECT_EQ(f.run(scale_up(), 0).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(scale_down(), 1000).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(scale_up(), 2000).outcome, Outcome::kExecuted);
  EXPECT_TRUE(f.targets.alerts.empty());
  AuditEntry fourth = f.run(scale_down(), 3000);
  // The action that completes the loop is carried out; the loop is then reported.
  EXPECT_EQ(fourth.outcome, Outcome::kExecuted);

  ASSERT_EQ(f.targets.alerts.size(), 2u);
  EXPECT_EQ(f.targets.alerts[0].first, "slack");
  EXPECT_EQ(f.targets.alerts[1].first, "pagerduty");
  EXPECT_EQ(f.targets.alerts[0].second.reason,
            "remediation loop detected on governor: scale_up, scale_down, scale_up, scale_down");
  EXPECT_EQ(f.targets.alerts[0].second.policy_id, "default_ttft_policy");

  const std::vector<AuditEntry> log = f.executor.audit_log();
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[4].outcome, Outcome::kLoopDetected);
  EXPECT_EQ(log[4].target, Target::kGovernor);
  EXPECT_TRUE(log[4].success);
  EXPECT_NE(log[4].detail.find("blocked for 300000 ms"), std::string::npos) << log[4].detail;

  // Any action on the governor is suppressed until the block ends; others still run.
  AuditEntry blocked = f.run(scale_up(), 4000);
  EXPECT_EQ(blocked.outcome, Outcome::kLoopDetected);
  EXPECT_NE(blocked.detail.find("299000 ms remain"), std::string::npos) << blocked.detail;
  EXPECT_EQ(f.run(scale_down(), 302999).outcome, Outcome::kLoopDetected);
  EXPECT_EQ(f.run(alert_spec("slack"), 5000).outcome, Outcome::kExecuted);

  // After the block the governor acts again, with a fresh history: one more alternation
  // is not yet a loop.
  const size_t alerts_before = f.targets.alerts.size();
  EXPECT_EQ(f.run(scale_up(), 303000).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.run(scale_down(), 304000).outcome, Outcome::kExecuted);
  EXPECT_EQ(f.targets.alerts.size(), alerts_before);
}

TEST(Executor, NoLoopWithoutStrictAlternation) {
  Fixture f(open_config());
  // The last four scaling actions must alternate; repeats in between break the pattern.
  f.run(scale_up(), 0);
  f.run(scale_up(), 1);
  f.run(scale_down(), 2);
  f.run(scale_up(), 3);    // up, up, down, up
  f.run(scale_up(), 4);    // up, down, up, up
  f.run(scale_down(), 5);  // down, up, up, down
  f.run(scale_up(), 6);    // up, up, down, up
  EXPECT_TRUE(f.targets.alerts.empty());
  f.run(scale_down(), 7);  // up, down, up, down
  EXPECT_EQ(f.targets.alerts.size(), 2u);
}

TEST(Executor, OtherActionsDoNotBreakAnOscillation) {
  Fixture f(open_config());
  f.targets.channels = {"ops"};
  f.run(scale_down(), 0);
  f.run(scale_up(), 1);
  f.run(alert_spec("slack"), 2);  // another target, interleaved
  f.run(scale_down(), 3);
  f.run(scale_up(), 4);
  ASSERT_EQ(f.targets.alerts.size(), 2u);  // the slack alert, then the loop alert
  EXPECT_EQ(f.targets.alerts[1].first, "ops");
  EXPECT_EQ(f.targets.alerts[1].second.reason,
            "remediation loop detected on governor: scale_down, scale_up, scale_down, scale_up");
}

TEST(Executor, LoopNeedsTheAlternationWithinTheDetectionWindow) {
  ExecutorConfig c = open_config();
  c.loop_detection_window = 5;
  Fixture f(c);
  f.run(scale_up(), 0);
  f.run(scale_down(), 1);
  f.run(alert_spec("slack"), 2);
  f.run(alert_spec("slack"), 3);
  f.run(scale_up(), 4);
  f.run(scale_down(), 5);  // the first scale_up has left the last 5 actions
  EXPECT_EQ(f.targets.alerts.size(), 2u);  // only the two slack alerts
  EXPECT_EQ(f.run(scale_up(), 6).outcome, Outcome::kExecuted);
}

TEST(Executor, OrderOfChecks) {
  ExecutorConfig c = open_config();
  c.cooldown_ms = 60000;
  c.max_executions_per_window = 1;
  Fixture f(c);
  EXPECT_EQ(f.run(scale_up(), 0).outcome, Outcome::kExecuted);
  // Both cooldown and rate limit apply: cooldown is checked first.
  EXPECT_EQ(f.run(scale_up(), 1).outcome, Outcome::kCooldown);
  // Dry run comes before every rule.
  EXPECT_EQ(f.run(scale_up(), 2, /*dry_run=*/true).outcome, Outcome::kDryRun);
  // Disabled comes before dry run.
  c.enabled = false;
  f.executor.set_config(c);
  EXPECT_EQ(f.run(scale_up(), 3, /*dry_run=*/true).outcome, Outcome::kDisabled);
}

TEST(Executor, LoopBlockComesBeforeCooldownAndRateLimit) {
  ExecutorConfig c = open_config();
  c.max_executions_per_window = 4;
  Fixture f(c);
  f.run(scale_up(), 0);
  f.run(scale_down(), 1);
  f.run(scale_up(), 2);
  f.run(scale_down(), 3);
  // The window is full and the governor blocked: the block is what is reported.
  EXPECT_EQ(f.run(scale_up(), 4).outcome, Outcome::kLoopDetected);
  EXPECT_EQ(f.run(alert_spec("slack"), 5).outcome, Outcome::kRateLimited);
}

TEST(Executor, TargetFailureIsExecutedWithoutSuccess) {
  Fixture f(open_config());
  f.targets.fail_scale = true;
  AuditEntry e = f.run(scale_up(), 0);
  EXPECT_EQ(e.outcome, Outcome::kExecuted);
  EXPECT_FALSE(e.success);
  EXPECT_EQ(e.detail, "governor unavailable");
  f.targets.fail_scale = false;
  f.run(scale_down(), 1);
  f.run(alert_spec("slack"), 2);

  ExecutorStats s = f.executor.stats(at_ms(3));
  EXPECT_EQ(s.total_executions, 3u);
  EXPECT_EQ(s.successes, 2u);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_DOUBLE_EQ(s.success_rate, 2.0 / 3.0);
  EXPECT_EQ((s.by_action[{"scale_up", false}]), 1u);
  EXPECT_EQ((s.by_action[{"scale_down", true}]), 1u);
  EXPECT_EQ((s.by_action[{"alert", true}]), 1u);
  EXPECT_EQ(s.by_action.count({"scale_up", true}), 0u);
}

TEST(Executor, StatsBeforeAnyExecution) {
  Fixture f(open_config());
  ExecutorStats s = f.executor.stats(t0);
  EXPECT_EQ(s.total_executions, 0u);
  EXPECT_DOUBLE_EQ(s.success_rate, 1.0);
  EXPECT_FALSE(s.in_cooldown);
}

TEST(Executor, NoTargetsIsAFailureNotACrash) {
  Executor executor(open_config(), nullptr);
  AuditEntry e = executor.execute("p", "s", scale_up(), context(), false, t0);
  EXPECT_EQ(e.outcome, Outcome::kExecuted);
  EXPECT_FALSE(e.success);
  EXPECT_FALSE(e.detail.empty());
}

TEST(Executor, AuditLogIsBoundedAndReported) {
  Fixture f(open_config());
  std::vector<Outcome> heard;
  f.executor.on_audit([&](const AuditEntry& e) {
    heard.push_back(e.outcome);
    // The listener runs outside the executor's lock: reading back works.
    EXPECT_GE(f.executor.stats(e.at).total_executions + f.executor.stats(e.at).dry_runs, 1u);
  });
  for (int i = 0; i < 1100; ++i) f.run(alert_spec("slack"), i, /*dry_run=*/i % 2 == 1);
  const std::vector<AuditEntry> log = f.executor.audit_log();
  ASSERT_EQ(log.size(), 1000u);
  EXPECT_EQ(log.front().at, at_ms(100));  // the oldest 100 were dropped
  EXPECT_EQ(log.back().at, at_ms(1099));
  EXPECT_EQ(heard.size(), 1100u);
  EXPECT_EQ(heard[0], Outcome::kExecuted);
  EXPECT_EQ(heard[1], Outcome::kDryRun);
}

}  // namespace
}  // namespace mlxs::qos
