// QosMonitor with the real collector, evaluator and executor, driven by an injected
// clock. The acting parts are a recording RemediationTargets, so every call is checked.
#include "qos/qos_monitor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point t0{};

// Records what remediations asked for and reports success, as the real parts would.
class RecordingTargets : public RemediationTargets {
 public:
  std::vector<int> scales;
  std::vector<std::pair<std::string, double>> sheds;
  std::vector<std::pair<std::string, AlertMessage>> alerts;
  std::vector<std::string> releases;
  int circuit_breaks = 0;

  Result<std::string> scale(int delta) override {
    scales.push_back(delta);
    return std::string("scaled by ") + std::to_string(delta);
  }
  Result<std::string> shed_load(const std::string& owner, double percentage) override {
    sheds.emplace_back(owner, percentage);
    return std::string("shedding");
  }
  Result<std::string> circuit_break(std::chrono::milliseconds, Clock::time_point) override {
    ++circuit_breaks;
    return std::string("open");
  }
  Result<std::string> alert(const std::string& channel, const AlertMessage& message) override {
    alerts.emplace_back(channel, message);
    return std::string("queued");
  }
  std::vector<std::string> alert_channels() const override { return {"ops"}; }
  void release(const std::string& owner) override { releases.push_back(owner); }
};

struct Recorded {
  std::string name;
  std::string policy_id;
  std::string slo_name;
  double value;
  std::optional<Outcome> outcome;
};

class QosMonitorTest : public ::testing::Test {
 protected:
  // One policy: TTFT p95 above 500 ms over 10 s, remediated by scaling up by 5.
  static QosConfig make_config() {
    QosConfig c;
    c.enabled = true;
    c.evaluator.evaluation_interval_ms = 5000;
    c.evaluator.window_ms = 10000;
    c.executor.cooldown_ms = 60000;
    Policy p;
    p.id = "ttft_policy";
    p.name = "TTFT";
    p.priority = 10;
    SloSpec s;
    s.name = "ttft_p95";
    s.metric = Metric::kTtft;
    s.statistic = Statistic::kP95;
    s.threshold = 500;
    s.window_ms = 10000;
    s.severity = Severity::kCritical;
    p.slos.push_back(s);
    RemediationSpec r;
    r.type = Action::kScaleUp;
    r.target = Target::kGovernor;
    r.delta = 5;
    r.reason = "TTFT too high";
    p.remediations.push_back(r);
    c.policies.push_back(p);
    return c;
  }

  void make_monitor(QosConfig config) {
    monitor = std::make_unique<QosMonitor>(std::move(config), &targets);
    monitor->subscribe([this](const QosEvent& e) {
      events.push_back({e.name, e.policy_id, e.slo_name, e.value,
                        e.audit ? std::optional<Outcome>(e.audit->outcome) : std::nullopt});
    });
  }

  void ttft(double ms, Clock::time_point at) {
    monitor->collect_metric(MetricSample{Metric::kTtft, ms, at, "stream-1"});
  }

  std::vector<Recorded> named(const std::string& name) const {
    std::vector<Recorded> out;
    for (const auto& e : events) {
      if (e.name == name) out.push_back(e);
    }
    return out;
  }

  RecordingTargets targets;
  std::unique_ptr<QosMonitor> monitor;
  std::vector<Recorded> events;
};

TEST_F(QosMonitorTest, EvaluatesOncePerInterval) {
  make_monitor(make_config());
  EXPECT_TRUE(monitor->tick(t0, {}));  // the first tick evaluates at once
  EXPECT_FALSE(monitor->tick(t0 + milliseconds(1), {}));
  EXPECT_FALSE(monitor->tick(t0 + milliseconds(4999), {}));
  EXPECT_TRUE(monitor->tick(t0 + milliseconds(5000), {}));
  EXPECT_FALSE(monitor->tick(t0 + milliseconds(9000), {}));
  EXPECT_EQ(monitor->get_evaluator_stats().total_evaluations, 2u);
  EXPECT_EQ(named("policy:evaluated").size(), 2u);
  // No data: no violation, nothing done.
  EXPECT_TRUE(named("slo:violated").empty());
  EXPECT_TRUE(targets.scales.empty());
  ASSERT_EQ(monitor->last_evaluation().size(), 1u);
  EXPECT_TRUE(monitor->last_evaluation()[0].no_data);
}

TEST_F(QosMonitorTest, ViolationScalesUpThenCooldownSuppresses) {
  make_monitor(make_config());
  ttft(800, t0);
  ASSERT_TRUE(monitor->tick(t0, {}));

  auto violated = named("slo:violated");
  ASSERT_EQ(violated.size(), 1u);
  EXPECT_EQ(violated[0].policy_id, "ttft_policy");
  EXPECT_EQ(violated[0].slo_name, "ttft_p95");
  EXPECT_DOUBLE_EQ(violated[0].value, 800);
  auto evaluated = named("policy:evaluated");
  ASSERT_EQ(evaluated.size(), 1u);
  EXPECT_EQ(evaluated[0].value, 1);  // one violated SLO
  auto executed = named("remediation:executed");
  ASSERT_EQ(executed.size(), 1u);
  EXPECT_EQ(executed[0].outcome, Outcome::kExecuted);
  EXPECT_EQ(targets.scales, std::vector<int>{5});

  // Still violated at the next evaluation, but within the cooldown.
  ttft(900, t0 + seconds(5));
  ASSERT_TRUE(monitor->tick(t0 + seconds(5), {}));
  auto suppressed = named("remediation:suppressed");
  ASSERT_EQ(suppressed.size(), 1u);
  EXPECT_EQ(suppressed[0].outcome, Outcome::kCooldown);
  EXPECT_EQ(suppressed[0].slo_name, "ttft_p95");
  EXPECT_EQ(targets.scales, std::vector<int>{5});
  EXPECT_EQ(named("slo:violated").size(), 2u);

  const auto log = monitor->audit_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].outcome, Outcome::kExecuted);
  EXPECT_TRUE(log[0].success);
  EXPECT_EQ(log[0].policy_id, "ttft_policy");
  EXPECT_EQ(log[1].outcome, Outcome::kCooldown);

  const ExecutorStats xs = monitor->get_executor_stats(t0 + seconds(5));
  EXPECT_EQ(xs.total_executions, 1u);
  EXPECT_EQ(xs.suppressed, 1u);
  EXPECT_TRUE(xs.in_cooldown);
  const Telemetry t = monitor->get_telemetry(t0 + seconds(5));
  EXPECT_EQ(t.violations, 2u);
  EXPECT_EQ(t.remediations, 1u);
}

TEST_F(QosMonitorTest, RecoveryReleasesWhatTheSloAskedFor) {
  QosConfig config = make_config();
  config.policies[0].remediations[0].type = Action::kShedLoad;
  config.policies[0].remediations[0].target = Target::kStreamRegistry;
  config.policies[0].remediations[0].percentage = 25;
  make_monitor(config);

  ttft(800, t0);
  ASSERT_TRUE(monitor->tick(t0, {}));
  ASSERT_EQ(targets.sheds.size(), 1u);
  EXPECT_EQ(targets.sheds[0].first, "ttft_policy/ttft_p95");
  EXPECT_DOUBLE_EQ(targets.sheds[0].second, 25);
  EXPECT_TRUE(targets.releases.empty());

  // The slow value leaves the 10 s window; fast ones replace it.
  ttft(100, t0 + seconds(20));
  ASSERT_TRUE(monitor->tick(t0 + seconds(20), {}));
  auto recovered = named("slo:recovered");
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].policy_id, "ttft_policy");
  EXPECT_DOUBLE_EQ(recovered[0].value, 100);
  EXPECT_EQ(targets.releases, std::vector<std::string>{"ttft_policy/ttft_p95"});
  EXPECT_EQ(named("slo:violated").size(), 1u);

  // Only on the transition.
  ttft(100, t0 + seconds(25));
  ASSERT_TRUE(monitor->tick(t0 + seconds(25), {}));
  EXPECT_EQ(named("slo:recovered").size(), 1u);
  EXPECT_EQ(targets.releases.size(), 1u);
}

TEST_F(QosMonitorTest, EvaluatorSwitchOffDoesNothing) {
  make_monitor(make_config());
  ttft(800, t0);
  Switches off;
  off.evaluator = false;
  EXPECT_FALSE(monitor->tick(t0, off));
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(targets.scales.empty());
  EXPECT_EQ(monitor->get_evaluator_stats().total_evaluations, 0u);
  // Switched back on, the first tick evaluates at once.
  EXPECT_TRUE(monitor->tick(t0 + seconds(1), {}));
}

TEST_F(QosMonitorTest, ExecutorSwitchOffEvaluatesWithoutActing) {
  make_monitor(make_config());
  ttft(800, t0);
  Switches s;
  s.executor = false;
  ASSERT_TRUE(monitor->tick(t0, s));
  EXPECT_EQ(named("slo:violated").size(), 1u);
  EXPECT_TRUE(named("remediation:executed").empty());
  EXPECT_TRUE(named("remediation:suppressed").empty());
  EXPECT_TRUE(monitor->audit_log().empty());
  EXPECT_TRUE(targets.scales.empty());
}

TEST_F(QosMonitorTest, DryRunDecidesWithoutActing) {
  make_monitor(make_config());
  ttft(800, t0);
  Switches s;
  s.dry_run = true;
  ASSERT_TRUE(monitor->tick(t0, s));
  auto executed = named("remediation:executed");
  ASSERT_EQ(executed.size(), 1u);
  EXPECT_EQ(executed[0].outcome, Outcome::kDryRun);
  EXPECT_TRUE(targets.scales.empty());
  ASSERT_EQ(monitor->audit_log().size(), 1u);
  EXPECT_EQ(monitor->audit_log()[0].outcome, Outcome::kDryRun);
  EXPECT_EQ(monitor->get_telemetry(t0).remediations, 0u);
}

TEST_F(QosMonitorTest, PolicyStoreOffEvaluatesNoPolicy) {
  make_monitor(make_config());
  ttft(800, t0);
  Switches s;
  s.policy_store = false;
  EXPECT_TRUE(monitor->tick(t0, s));
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(targets.scales.empty());
  EXPECT_EQ(monitor->get_evaluator_stats().policies_enabled, 0);
  EXPECT_TRUE(monitor->last_evaluation().empty());
}

TEST_F(QosMonitorTest, AlertCarriesTheViolation) {
  QosConfig config = make_config();
  config.alert_channels.push_back({"ops", "http://127.0.0.1:1/x", 1000});
  config.policies[0].remediations[0].type = Action::kAlert;
  config.policies[0].remediations[0].target = Target::kStreamRegistry;
  config.policies[0].remediations[0].channel = "ops";
  config.policies[0].remediations[0].reason = "";
  make_monitor(config);
  ttft(800, t0);
  ASSERT_TRUE(monitor->tick(t0, {}));
  ASSERT_EQ(targets.alerts.size(), 1u);
  EXPECT_EQ(targets.alerts[0].first, "ops");
  const AlertMessage& m = targets.alerts[0].second;
  EXPECT_EQ(m.policy_id, "ttft_policy");
  EXPECT_EQ(m.slo_name, "ttft_p95");
  EXPECT_DOUBLE_EQ(m.value, 800);
  EXPECT_DOUBLE_EQ(m.threshold, 500);
  EXPECT_EQ(m.severity, Severity::kCritical);
  EXPECT_NE(m.reason.find("above the threshold 500"), std::string::npos) << m.reason;
  ASSERT_EQ(m.time.size(), 20u) << m.time;  // 2025-01-08T12:00:00Z
  EXPECT_EQ(m.time[10], 'T');
  EXPECT_EQ(m.time.back(), 'Z');
}

TEST_F(QosMonitorTest, PoliciesActInPriorityOrder) {
  QosConfig config = make_config();
  Policy urgent = config.policies[0];
  urgent.id = "urgent";
  urgent.priority = 50;
  urgent.remediations[0].type = Action::kCircuitBreak;
  urgent.remediations[0].target = Target::kTransport;
  urgent.remediations[0].duration_ms = 1000;
  config.policies.push_back(urgent);
  make_monitor(config);
  ttft(800, t0);
  ASSERT_TRUE(monitor->tick(t0, {}));
  auto executed = named("remediation:executed");
  ASSERT_EQ(executed.size(), 2u);
  EXPECT_EQ(executed[0].policy_id, "urgent");
  EXPECT_EQ(executed[1].policy_id, "ttft_policy");
  EXPECT_EQ(targets.circuit_breaks, 1);
  EXPECT_EQ(targets.scales, std::vector<int>{5});
}

TEST_F(QosMonitorTest, RemediationLoopBecomesASuppressedEvent) {
  QosConfig config = make_config();
  config.executor.cooldown_ms = 0;
  Policy down = config.policies[0];
  down.id = "down";
  down.priority = 1;
  down.remediations[0].type = Action::kScaleDown;
  config.policies.push_back(down);
  make_monitor(config);
  ttft(800, t0);
  ASSERT_TRUE(monitor->tick(t0, {}));               // up, down
  ASSERT_TRUE(monitor->tick(t0 + seconds(5), {}));  // up, down: a loop
  EXPECT_EQ(targets.scales, (std::vector<int>{5, -5, 5, -5}));
  auto suppressed = named("remediation:suppressed");
  ASSERT_EQ(suppressed.size(), 1u);
  EXPECT_EQ(suppressed[0].outcome, Outcome::kLoopDetected);
  EXPECT_EQ(suppressed[0].policy_id, "down");
  // The loop is reported on every alert channel the targets name.
  ASSERT_EQ(targets.alerts.size(), 1u);
  EXPECT_EQ(targets.alerts[0].first, "ops");
  // The governor stays blocked.
  ttft(800, t0 + seconds(10));
  ASSERT_TRUE(monitor->tick(t0 + seconds(10), {}));
  EXPECT_EQ(targets.scales.size(), 4u);
  EXPECT_EQ(named("remediation:suppressed").size(), 3u);
  EXPECT_EQ(monitor->get_telemetry(t0 + seconds(10)).remediations, 4u);
}

TEST_F(QosMonitorTest, TelemetryOverTheWindow) {
  make_monitor(make_config());
  int streams = 3;
  monitor->set_active_streams_source([&] { return streams; });
  Telemetry empty = monitor->get_telemetry(t0);
  EXPECT_TRUE(std::isnan(empty.p95_ttft));
  EXPECT_TRUE(std::isnan(empty.error_rate));
  EXPECT_EQ(empty.active_streams, 3);

  for (int i = 1; i <= 100; ++i) ttft(i, t0);
  for (int i = 0; i < 9; ++i) monitor->record_request(false, t0);
  monitor->record_request(true, t0);
  Telemetry t = monitor->get_telemetry(t0 + seconds(1));
  EXPECT_EQ(t.active_streams, 3);
  EXPECT_EQ(t.total_requests, 10u);
  EXPECT_EQ(t.total_errors, 1u);
  EXPECT_NEAR(t.p50_ttft, 50.5, 1);
  EXPECT_NEAR(t.p95_ttft, 95.5, 1);
  EXPECT_NEAR(t.p99_ttft, 99.5, 1);
  EXPECT_DOUBLE_EQ(t.error_rate, 0.1);
  EXPECT_EQ(t.violations, 0u);

  // Beyond the 10 s window the percentiles have no data; the totals remain.
  Telemetry later = monitor->get_telemetry(t0 + seconds(30));
  EXPECT_TRUE(std::isnan(later.p50_ttft));
  EXPECT_TRUE(std::isnan(later.error_rate));
  EXPECT_EQ(later.total_requests, 10u);
}

TEST_F(QosMonitorTest, ThrowingListenerIsIgnored) {
  make_monitor(make_config());
  monitor->subscribe([](const QosEvent&) { throw std::runtime_error("listener bug"); });
  int later = 0;
  const int id = monitor->subscribe([&](const QosEvent&) { ++later; });
  ttft(800, t0);
  ASSERT_TRUE(monitor->tick(t0, {}));
  EXPECT_EQ(later, 3);  // slo:violated, policy:evaluated, remediation:executed
  EXPECT_EQ(targets.scales, std::vector<int>{5});
  monitor->unsubscribe(id);
  ASSERT_TRUE(monitor->tick(t0 + seconds(5), {}));
  EXPECT_EQ(later, 3);
}

TEST_F(QosMonitorTest, ReloadKeepsMeasurementsAndState) {
  make_monitor(make_config());
  ttft(800, t0);
  ASSERT_TRUE(monitor->tick(t0, {}));
  QosConfig next = make_config();
  next.policies[0].slos[0].threshold = 1000;  // the same SLO, now satisfied
  monitor->set_config(next);
  EXPECT_EQ(monitor->config().policies[0].slos[0].threshold, 1000);
  ASSERT_TRUE(monitor->tick(t0 + seconds(5), {}));
  // The kept measurement (800) is now within the threshold: a recovery.
  EXPECT_EQ(named("slo:recovered").size(), 1u);
  EXPECT_EQ(targets.releases, std::vector<std::string>{"ttft_policy/ttft_p95"});
}

// Request threads feed the monitor while the housekeeping thread evaluates and reads.
TEST_F(QosMonitorTest, ConcurrentFeedingAndEvaluation) {
  make_monitor(make_config());
  monitor->set_active_streams_source([] { return 2; });
  std::vector<std::thread> feeders;
  for (int t = 0; t < 3; ++t) {
    feeders.emplace_back([this, t] {
      for (int i = 0; i < 2000; ++i) {
        const auto at = t0 + milliseconds(i);
        monitor->collect_metric(MetricSample{Metric::kTtft, 100.0 + t, at, "s"});
        monitor->record_request(i % 100 == 0, at);
      }
    });
  }
  int evaluations = 0;
  for (int i = 0; i < 200; ++i) {
    evaluations += monitor->tick(t0 + seconds(5) * i, {}) ? 1 : 0;
    (void)monitor->get_telemetry(t0 + milliseconds(i));
  }
  for (auto& f : feeders) f.join();
  EXPECT_EQ(evaluations, 200);
  const Telemetry t = monitor->get_telemetry(t0 + seconds(2));
  EXPECT_EQ(t.total_requests, 6000u);
  EXPECT_EQ(t.total_errors, 60u);
  EXPECT_EQ(t.active_streams, 2);
  EXPECT_TRUE(targets.scales.empty());  // 100..102 ms never exceeds 500
}

}  // namespace
}  // namespace mlxs::qos
