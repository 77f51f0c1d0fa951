// parse_qos_config: the spec's example, defaults, statistic selection, and every kind of
// problem reported with its line, several at once.
#include "qos/qos_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace mlxs::qos {
namespace {

// The runtime.yaml example of PRODUCTION_FEATURES.md ("QoS Monitoring"), with the slack
// channel its alert remediation names, inside a file with other sections.
const char* kSpecExample = R"(server:
  port: 3000
model:
  path: ""
qos_monitor:
  enabled: true

  # QoS Evaluator (SLO monitoring with TDigest percentiles)
  evaluator:
    enabled: true
    evaluation_interval_ms: 5000      # Evaluate SLOs every 5 seconds
    window_ms: 60000                  # 1-minute rolling window
    tdigest_compression: 100          # TDigest compression factor

  # Remediation Executor (Auto-remediation with loop detection)
  executor:
    enabled: true
    cooldown_ms: 60000                # 1-minute cooldown between same remediation
    max_executions_per_window: 5      # Max 5 executions per window
    execution_window_ms: 300000       # 5-minute rolling window
    loop_detection_window: 6          # Check last 6 actions for loops

  alerts:
    channels:
      slack:
        url: http://127.0.0.1:9000/hooks/qos
        timeout_ms: 1500

  # Policy Store (YAML-driven SLO policies)
  policy_store:
    policies:
      - id: default_ttft_policy
        name: Default TTFT SLO
        description: Enforce 550ms TTFT target
        enabled: true
        priority: 100
        slos:
          - name: ttft_p95
            metric: ttft
            threshold: 550            # 550ms P95 TTFT
            window_ms: 60000          # 1-minute window
            severity: critical
        remediations:
          - type: scale_up
            target: governor
            params:
              delta: 5
            reason: TTFT SLO violated - scaling up concurrency

      - id: error_rate_policy
        name: Error Rate SLO
        description: Enforce < 1% error rate
        enabled: true
        priority: 90
        slos:
          - name: error_rate
            metric: error_rate
            threshold: 0.01           # 1% error rate
            window_ms: 60000          # 1-minute window
            severity: warning
        remediations:
          - type: alert
            target: stream_registry
            params:
              channel: slack
            reason: Error rate SLO violated - alerting team
)";

QosConfig parse_ok(const std::string& text) {
  auto r = parse_qos_config(text, "runtime.yaml");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : QosConfig{};
}

std::string parse_error(const std::string& text) {
  auto r = parse_qos_config(text, "runtime.yaml");
  EXPECT_FALSE(r.ok());
  return r.status().message();
}

// A minimal valid policy around one SLO block (indented for `slos:` items).
std::string with_slo(const std::string& slo_lines) {
  return "qos_monitor:\n"
         "  policy_store:\n"
         "    policies:\n"
         "      - id: p\n"
         "        name: P\n"
         "        slos:\n" +
         slo_lines;
}

TEST(QosConfig, SpecExampleParses) {
  QosConfig c = parse_ok(kSpecExample);
  EXPECT_TRUE(c.enabled);
  EXPECT_TRUE(c.evaluator.enabled);
  EXPECT_EQ(c.evaluator.evaluation_interval_ms, 5000);
  EXPECT_EQ(c.evaluator.window_ms, 60000);
  EXPECT_EQ(c.evaluator.tdigest_compression, 100);
  EXPECT_EQ(c.executor.cooldown_ms, 60000);
  EXPECT_EQ(c.executor.max_executions_per_window, 5);
  EXPECT_EQ(c.executor.execution_window_ms, 300000);
  EXPECT_EQ(c.executor.loop_detection_window, 6);
  ASSERT_EQ(c.alert_channels.size(), 1u);
  ASSERT_NE(c.channel("slack"), nullptr);
  EXPECT_EQ(c.channel("slack")->url, "http://127.0.0.1:9000/hooks/qos");
  EXPECT_EQ(c.channel("slack")->timeout_ms, 1500);
  EXPECT_EQ(c.channel("pagerduty"), nullptr);

  ASSERT_EQ(c.policies.size(), 2u);
  const Policy& ttft = c.policies[0];
  EXPECT_EQ(ttft.id, "default_ttft_policy");
  EXPECT_EQ(ttft.name, "Default TTFT SLO");
  EXPECT_EQ(ttft.description, "Enforce 550ms TTFT target");
  EXPECT_TRUE(ttft.enabled);
  EXPECT_EQ(ttft.priority, 100);
  ASSERT_EQ(ttft.slos.size(), 1u);
  EXPECT_EQ(ttft.slos[0].name, "ttft_p95");
  EXPECT_EQ(ttft.slos[0].metric, Metric::kTtft);
  EXPECT_EQ(ttft.slos[0].statistic, Statistic::kP95);
  EXPECT_EQ(ttft.slos[0].threshold, 550);
  EXPECT_EQ(ttft.slos[0].window_ms, 60000);
  EXPECT_EQ(ttft.slos[0].severity, Severity::kCritical);
  ASSERT_EQ(ttft.remediations.size(), 1u);
  EXPECT_EQ(ttft.remediations[0].type, Action::kScaleUp);
  EXPECT_EQ(ttft.remediations[0].target, Target::kGovernor);
  EXPECT_EQ(ttft.remediations[0].delta, 5);
  EXPECT_EQ(ttft.remediations[0].reason, "TTFT SLO violated - scaling up concurrency");

  const Policy& err = c.policies[1];
  EXPECT_EQ(err.id, "error_rate_policy");
  EXPECT_EQ(err.priority, 90);
  ASSERT_EQ(err.slos.size(), 1u);
  EXPECT_EQ(err.slos[0].metric, Metric::kErrorRate);
  EXPECT_EQ(err.slos[0].statistic, Statistic::kRate);
  EXPECT_DOUBLE_EQ(err.slos[0].threshold, 0.01);
  EXPECT_EQ(err.slos[0].severity, Severity::kWarning);
  ASSERT_EQ(err.remediations.size(), 1u);
  EXPECT_EQ(err.remediations[0].type, Action::kAlert);
  EXPECT_EQ(err.remediations[0].target, Target::kStreamRegistry);
  EXPECT_EQ(err.remediations[0].channel, "slack");
}

TEST(QosConfig, ShippedRuntimeConfigParses) {
  const char* src = std::getenv("MLXS_SOURCE_DIR");
#ifdef MLXS_SOURCE_DIR_DEFAULT
  if (!src) src = MLXS_SOURCE_DIR_DEFAULT;
#endif
  if (!src) GTEST_SKIP() << "MLXS_SOURCE_DIR not set";
  std::string path = std::string(src) + "/config/runtime.yaml";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = parse_qos_config(text, path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->enabled);
  ASSERT_EQ(r->policies.size(), 2u);
  EXPECT_EQ(r->policies[0].id, "default_ttft_policy");
  EXPECT_EQ(r->policies[0].slos[0].threshold, 550);
  EXPECT_EQ(r->policies[1].remediations[0].channel, "slack");
}

TEST(QosConfig, SpecExampleWithoutTheChannelNamesTheProblem) {
  std::string text = kSpecExample;
  const std::string alerts =
      "  alerts:\n    channels:\n      slack:\n        url: http://127.0.0.1:9000/hooks/qos\n"
      "        timeout_ms: 1500\n";
  text.erase(text.find(alerts), alerts.size());
  const std::string msg = parse_error(text);
  const size_t at = text.find("channel: slack");
  const auto line = std::count(text.begin(), text.begin() + at, '\n') + 1;
  EXPECT_NE(msg.find("runtime.yaml:" + std::to_string(line) + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find("alert channel 'slack' is not configured"), std::string::npos) << msg;
}

TEST(QosConfig, NoSectionGivesDefaults) {
  QosConfig c = parse_ok("server:\n  port: 3000\nmodel:\n  path: x.gguf\n");
  EXPECT_FALSE(c.enabled);
  EXPECT_TRUE(c.policies.empty());
  EXPECT_TRUE(c.evaluator.enabled);
  EXPECT_EQ(c.evaluator.evaluation_interval_ms, 5000);
  EXPECT_EQ(c.evaluator.window_ms, 60000);
  EXPECT_EQ(c.executor.cooldown_ms, 60000);
  EXPECT_EQ(c.executor.loop_detection_window, 6);
  EXPECT_EQ(c.governor.min_active_streams, 1);
  EXPECT_EQ(c.governor.max_active_streams, 0);
  EXPECT_EQ(c.half_open_requests, 3);
  EXPECT_TRUE(parse_ok("").policies.empty());
  // An empty section keeps the defaults too.
  EXPECT_FALSE(parse_ok("qos_monitor:\n").enabled);
}

TEST(QosConfig, PolicyAndSloDefaults) {
  QosConfig c = parse_ok(with_slo("          - name: lat\n"
                                  "            metric: latency\n"
                                  "            threshold: 1000\n"));
  ASSERT_EQ(c.policies.size(), 1u);
  EXPECT_TRUE(c.policies[0].enabled);
  EXPECT_EQ(c.policies[0].priority, 0);
  EXPECT_TRUE(c.policies[0].remediations.empty());
  const SloSpec& s = c.policies[0].slos[0];
  EXPECT_EQ(s.window_ms, 60000);
  EXPECT_EQ(s.severity, Severity::kWarning);
  EXPECT_EQ(s.statistic, Statistic::kP95);
}

TEST(QosConfig, GovernorCircuitBreakerAndAllRemediations) {
  QosConfig c = parse_ok(R"(qos_monitor:
  governor:
    min_active_streams: 2
    max_active_streams: 16
  circuit_breaker:
    half_open_requests: 5
  alerts:
    channels:
      pagerduty:
        url: http://alerts.internal/pd
  policy_store:
    policies:
      - id: all
        name: All actions
        priority: -3
        enabled: false
        slos:
          - {name: count, metric: stream_count, threshold: 100}
        remediations:
          - {type: scale_down, target: governor, params: {delta: 2}}
          - {type: alert, target: stream_registry, params: {channel: pagerduty}}
          - {type: shed_load, target: stream_registry, params: {percentage: 12.5}}
          - {type: circuit_break, target: transport, params: {duration_ms: 30000}}
)");
  EXPECT_EQ(c.governor.min_active_streams, 2);
  EXPECT_EQ(c.governor.max_active_streams, 16);
  EXPECT_EQ(c.half_open_requests, 5);
  ASSERT_NE(c.channel("pagerduty"), nullptr);
  EXPECT_EQ(c.channel("pagerduty")->timeout_ms, 2000);
  ASSERT_EQ(c.policies.size(), 1u);
  const Policy& p = c.policies[0];
  EXPECT_FALSE(p.enabled);
  EXPECT_EQ(p.priority, -3);
  EXPECT_EQ(p.slos[0].statistic, Statistic::kCurrent);
  ASSERT_EQ(p.remediations.size(), 4u);
  EXPECT_EQ(p.remediations[0].type, Action::kScaleDown);
  EXPECT_EQ(p.remediations[0].delta, 2);
  EXPECT_EQ(p.remediations[1].channel, "pagerduty");
  EXPECT_EQ(p.remediations[2].type, Action::kShedLoad);
  EXPECT_DOUBLE_EQ(p.remediations[2].percentage, 12.5);
  EXPECT_EQ(p.remediations[3].target, Target::kTransport);
  EXPECT_EQ(p.remediations[3].duration_ms, 30000);
}

TEST(QosConfig, StatisticSelection) {
  QosConfig c = parse_ok(with_slo("          - {name: a_p50, metric: ttft, threshold: 1}\n"
                                  "          - {name: b_p90, metric: latency, threshold: 1}\n"
                                  "          - {name: c_p99, metric: ttft, threshold: 1}\n"
                                  "          - {name: d_mean, metric: throughput, threshold: 1}\n"
                                  "          - {name: e, metric: throughput, threshold: 1}\n"
                                  "          - {name: f, metric: latency, threshold: 1}\n"
                                  "          - {name: g_p99, metric: ttft, threshold: 1,"
                                  " statistic: mean}\n"
                                  "          - {name: errors_rate, metric: error_rate,"
                                  " threshold: 0.5}\n"
                                  "          - {name: h, metric: ttft, threshold: 1,"
                                  " statistic: p90}\n"));
  const auto& s = c.policies[0].slos;
  ASSERT_EQ(s.size(), 9u);
  EXPECT_EQ(s[0].statistic, Statistic::kP50);
  EXPECT_EQ(s[1].statistic, Statistic::kP90);
  EXPECT_EQ(s[2].statistic, Statistic::kP99);
  EXPECT_EQ(s[3].statistic, Statistic::kMean);
  EXPECT_EQ(s[4].statistic, Statistic::kP50);  // throughput's default
  EXPECT_EQ(s[5].statistic, Statistic::kP95);  // latency's default
  EXPECT_EQ(s[6].statistic, Statistic::kMean);  // explicit wins over the suffix
  EXPECT_EQ(s[7].statistic, Statistic::kRate);
  EXPECT_EQ(s[8].statistic, Statistic::kP90);
  EXPECT_TRUE(s[4].is_floor());
  EXPECT_FALSE(s[5].is_floor());
}

TEST(QosConfig, StatisticThatDoesNotFitTheMetric) {
  std::string msg = parse_error(with_slo("          - name: a\n"                 // line 7
                                         "            metric: ttft\n"
                                         "            threshold: 1\n"
                                         "            statistic: rate\n"       // line 10
                                         "          - name: b\n"
                                         "            metric: error_rate\n"
                                         "            threshold: 0.1\n"
                                         "            statistic: p95\n"        // line 14
                                         "          - name: c\n"
                                         "            metric: stream_count\n"
                                         "            threshold: 10\n"
                                         "            statistic: mean\n"       // line 18
                                         "          - name: d_rate\n"          // line 19
                                         "            metric: latency\n"
                                         "            threshold: 10\n"
                                         "          - name: e\n"
                                         "            metric: throughput\n"
                                         "            threshold: 10\n"
                                         "            statistic: current\n"));  // line 25
  EXPECT_NE(msg.find("runtime.yaml:10: 'qos_monitor.policy_store.policies[0].slos[0].statistic':"
                     " statistic 'rate' does not apply to metric 'ttft' (it takes p50, p90, p95,"
                     " p99, mean)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:14: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("metric 'error_rate' (it takes rate)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("runtime.yaml:18: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("metric 'stream_count' (it takes current)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("runtime.yaml:19: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("the SLO name 'd_rate' ends in _rate"), std::string::npos) << msg;
  EXPECT_NE(msg.find("runtime.yaml:25: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("statistic 'current' does not apply to metric 'throughput'"),
            std::string::npos)
      << msg;
}

TEST(QosConfig, ScalarTypesAndRanges) {
  std::string msg = parse_error(R"(qos_monitor:
  enabled: yes
  evaluator:
    enabled: "true"
    evaluation_interval_ms: 50
    window_ms: 1.5
    tdigest_compression: 20000
  executor:
    cooldown_ms: -1
    max_executions_per_window: 0
    execution_window_ms: 999
    loop_detection_window: 1
  governor:
    min_active_streams: 0
  circuit_breaker:
    half_open_requests: many
)");
  const char* expected[] = {
      "runtime.yaml:2: 'qos_monitor.enabled' must be true or false, not 'yes'",
      "runtime.yaml:4: 'qos_monitor.evaluator.enabled' must be true or false, not \"true\" "
      "(quoted, so a string)",
      "runtime.yaml:5: 'qos_monitor.evaluator.evaluation_interval_ms' must be at least 100, "
      "not 50",
      "runtime.yaml:6: 'qos_monitor.evaluator.window_ms' must be an integer, not '1.5'",
      "runtime.yaml:7: 'qos_monitor.evaluator.tdigest_compression' must be between 10 and "
      "10000, not 20000",
      "runtime.yaml:9: 'qos_monitor.executor.cooldown_ms' must be at least 0, not -1",
      "runtime.yaml:10: 'qos_monitor.executor.max_executions_per_window' must be at least 1",
      "runtime.yaml:11: 'qos_monitor.executor.execution_window_ms' must be at least 1000",
      "runtime.yaml:12: 'qos_monitor.executor.loop_detection_window' must be between 2 and 1000",
      "runtime.yaml:14: 'qos_monitor.governor.min_active_streams' must be at least 1",
      "runtime.yaml:16: 'qos_monitor.circuit_breaker.half_open_requests' must be an integer, "
      "not 'many'",
  };
  for (const char* e : expected) EXPECT_NE(msg.find(e), std::string::npos) << e << "\n" << msg;
  // One line per problem, nothing else.
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n') + 1, std::size(expected)) << msg;
}

TEST(QosConfig, UnknownAndDuplicateKeys) {
  std::string msg = parse_error(R"(qos_monitor:
  enabled: true
  evaluater:
    enabled: true
  executor:
    cooldown_ms: 10
    cooldown_ms: 20
  enabled: false
qos_monitor:
  enabled: true
)");
  EXPECT_NE(msg.find("runtime.yaml:3: unknown key 'qos_monitor.evaluater' (known: enabled, "
                     "evaluator, executor, governor, alerts, circuit_breaker, policy_store)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:7: duplicate key 'qos_monitor.executor.cooldown_ms' (first at "
                     "line 6)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:8: duplicate key 'qos_monitor.enabled' (first at line 2)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:9: duplicate key 'qos_monitor' (first at line 1)"),
            std::string::npos)
      << msg;
}

TEST(QosConfig, GovernorBoundsMustBeOrdered) {
  std::string msg = parse_error(
      "qos_monitor:\n  governor:\n    min_active_streams: 8\n    max_active_streams: 4\n");
  EXPECT_NE(msg.find("runtime.yaml:4: 'qos_monitor.governor.max_active_streams' (4) must not be "
                     "below min_active_streams (8)"),
            std::string::npos)
      << msg;
  // 0 means "the scheduler's maximum": any minimum is fine.
  EXPECT_EQ(parse_ok("qos_monitor:\n  governor:\n    min_active_streams: 8\n"
                     "    max_active_streams: 0\n")
                .governor.min_active_streams,
            8);
}

TEST(QosConfig, AlertChannels) {
  std::string msg = parse_error(R"(qos_monitor:
  alerts:
    channels:
      secure:
        url: https://hooks.example/x
      bare:
        url: ftp://x
      nohost:
        url: http:///path
      port:
        url: http://h:70000/
      slow:
        url: http://h/
        timeout_ms: 0
      missing:
        timeout_ms: 10
      slack:
        url: http://h/
      slack:
        url: http://h/
)");
  EXPECT_NE(msg.find("runtime.yaml:5: 'qos_monitor.alerts.channels.secure.url': https is not "
                     "supported"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:7: 'qos_monitor.alerts.channels.bare.url' must be a URL "
                     "http://host[:port]/path"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:9: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("runtime.yaml:11: 'qos_monitor.alerts.channels.port.url' has port 70000"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:14: 'qos_monitor.alerts.channels.slow.timeout_ms' must be "
                     "between 1 and 60000, not 0"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:15: 'qos_monitor.alerts.channels.missing' needs 'url'"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:19: duplicate key 'qos_monitor.alerts.channels.slack'"),
            std::string::npos)
      << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n') + 1, 7) << msg;
}

TEST(QosConfig, PolicyEngineSection) {
  auto r = parse_qos_config("policy_engine:\n  enabled: false\n", "runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->policy_engine_enabled);
  EXPECT_TRUE(parse_qos_config("", "runtime.yaml")->policy_engine_enabled);
  auto bad = parse_qos_config("policy_engine:\n  enable: true\n", "runtime.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("runtime.yaml:2: unknown key 'policy_engine.enable'"),
            std::string::npos)
      << bad.status().message();
}

TEST(QosConfig, EmptyUrlIsALogOnlyChannel) {
  auto r = parse_qos_config("qos_monitor:\n  alerts:\n    channels:\n      slack:\n        url: \"\"\n",
                            "runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_NE(r->channel("slack"), nullptr);
  EXPECT_EQ(r->channel("slack")->url, "");
}

TEST(QosConfig, PolicyProblems) {
  std::string msg = parse_error(R"(qos_monitor:
  policy_store:
    policies:
      - id: a
        name: A
        slos: []
      - name: no id
        slos:
          - {name: s, metric: ttft, threshold: 1}
      - id: a
        name: A again
        priority: high
        slos:
          - {name: s, metric: ttft, threshold: 1}
          - {name: s, metric: latency, threshold: 1}
          - {name: t, metric: tokens, threshold: 1}
          - {name: u, metric: error_rate, threshold: 5}
          - {name: v, metric: ttft, threshold: -1, severity: fatal, window_ms: 10}
          - {metric: ttft}
      - just a string
)");
  const char* expected[] = {
      "runtime.yaml:6: 'qos_monitor.policy_store.policies[0].slos' must be a non-empty list of "
      "SLOs, not an empty list",
      "runtime.yaml:7: 'qos_monitor.policy_store.policies[1]' needs 'id'",
      "runtime.yaml:10: 'qos_monitor.policy_store.policies[2]': policy id 'a' is already used "
      "at line 4; ids must be unique",
      "runtime.yaml:12: 'qos_monitor.policy_store.policies[2].priority' must be an integer, not "
      "'high'",
      "runtime.yaml:15: 'qos_monitor.policy_store.policies[2].slos[1]': SLO name 's' is already "
      "used in this policy at line 14",
      "runtime.yaml:16: 'qos_monitor.policy_store.policies[2].slos[2].metric' must be one of "
      "ttft, latency, throughput, error_rate, stream_count, not 'tokens'",
      "runtime.yaml:17: 'qos_monitor.policy_store.policies[2].slos[3].threshold': an error_rate "
      "threshold is a fraction from 0 to 1 (0.01 is 1%), not 5",
      "runtime.yaml:18: 'qos_monitor.policy_store.policies[2].slos[4].threshold' must be at "
      "least 0, not -1",
      "runtime.yaml:18: 'qos_monitor.policy_store.policies[2].slos[4].severity' must be one of "
      "critical, warning, info, not 'fatal'",
      "runtime.yaml:18: 'qos_monitor.policy_store.policies[2].slos[4].window_ms' must be at "
      "least 1000, not 10",
      "runtime.yaml:19: 'qos_monitor.policy_store.policies[2].slos[5]' needs 'name'",
      "runtime.yaml:19: 'qos_monitor.policy_store.policies[2].slos[5]' needs 'threshold'",
      "runtime.yaml:20: 'qos_monitor.policy_store.policies[3]' must be a mapping (a policy), not "
      "'just a string'",
  };
  for (const char* e : expected) EXPECT_NE(msg.find(e), std::string::npos) << e << "\n" << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n') + 1, std::size(expected)) << msg;
}

TEST(QosConfig, RemediationProblems) {
  std::string msg = parse_error(R"(qos_monitor:
  alerts:
    channels:
      slack: {url: "http://127.0.0.1:1/x"}
      ops: {url: "http://127.0.0.1:2/x"}
  policy_store:
    policies:
      - id: p
        name: P
        slos:
          - {name: s, metric: ttft, threshold: 1}
        remediations:
          - {type: scale_up, target: transport, params: {delta: 5}}
          - {type: scale_down, target: governor, params: {delta: 0}}
          - {type: reboot, target: governor, params: {}}
          - {type: alert, target: stream_registry, params: {channel: pagerduty}}
          - {type: shed_load, target: stream_registry, params: {percentage: 0}}
          - {type: circuit_break, target: transport, params: {duration_ms: 10, extra: 1}}
          - {type: scale_up, target: governor}
          - {type: scale_up, target: governor, params: {}}
          - {type: alert, target: stream_registry, params: {channel: slack}, why: x}
)");
  const char* expected[] = {
      "runtime.yaml:13: 'qos_monitor.policy_store.policies[0].remediations[0].target': scale_up "
      "acts on target 'governor', not 'transport'",
      "runtime.yaml:14: 'qos_monitor.policy_store.policies[0].remediations[1].params.delta' must "
      "be at least 1, not 0",
      "runtime.yaml:15: 'qos_monitor.policy_store.policies[0].remediations[2].type' must be one "
      "of scale_up, scale_down, alert, shed_load, circuit_break, not 'reboot'",
      "runtime.yaml:16: 'qos_monitor.policy_store.policies[0].remediations[3].params.channel': "
      "alert channel 'pagerduty' is not configured under qos_monitor.alerts.channels "
      "(configured: slack, ops)",
      "runtime.yaml:17: 'qos_monitor.policy_store.policies[0].remediations[4].params.percentage' "
      "must be above 0 and at most 100, not 0",
      "runtime.yaml:18: unknown key "
      "'qos_monitor.policy_store.policies[0].remediations[5].params.extra' (known: duration_ms)",
      "runtime.yaml:19: 'qos_monitor.policy_store.policies[0].remediations[6]' needs 'params'",
      "runtime.yaml:20: 'qos_monitor.policy_store.policies[0].remediations[7].params' needs "
      "'delta'",
      "runtime.yaml:21: unknown key 'qos_monitor.policy_store.policies[0].remediations[8].why' "
      "(known: type, target, params, reason)",
  };
  for (const char* e : expected) EXPECT_NE(msg.find(e), std::string::npos) << e << "\n" << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n') + 1, std::size(expected)) << msg;
}

TEST(QosConfig, SyntaxErrorAndWrongShapes) {
  std::string msg = parse_error("qos_monitor:\n  enabled: [true\n");
  EXPECT_NE(msg.find("runtime.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;

  msg = parse_error("qos_monitor:\n  evaluator: 5\n  policy_store:\n    policies: {a: 1}\n");
  EXPECT_NE(msg.find("runtime.yaml:2: 'qos_monitor.evaluator' must be a mapping (known keys: "
                     "enabled, evaluation_interval_ms, window_ms, tdigest_compression), not '5'"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("runtime.yaml:4: 'qos_monitor.policy_store.policies' must be a list of "
                     "policies, not a mapping"),
            std::string::npos)
      << msg;

  msg = parse_error("- a\n- b\n");
  EXPECT_NE(msg.find("the file must be a mapping"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mlxs::qos
