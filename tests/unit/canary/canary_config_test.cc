#include "canary/canary_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mlxs::canary {
namespace {

namespace fs = std::filesystem;

// The spec's Configuration example, plus the variants block it leaves to the server.
const char* kSpecExample = R"(# Phase 5 Canary Configuration
canary:
  enabled: true
  rolloutPercentage: 1               # Start at 1%
  strategy: hash                     # Hash-based routing
  hashKey: user_id                   # Hash key for routing
  enableCache: true                  # LRU cache for performance
  cacheSize: 10000                   # Cache 10k routing decisions

rollback:
  enabled: true
  cooldownMs: 300000                 # 5-minute cooldown
  gradual: false                     # Immediate rollback (not gradual)

  triggers:
    - name: high_error_rate
      threshold: 2.0                 # 2x baseline error rate
      severity: critical

    - name: high_latency
      threshold: 1.5                 # 1.5x baseline latency
      severity: critical

    - name: memory_leak
      threshold: 50                  # 50 MB/hour growth
      severity: warning

    - name: crash_rate
      threshold: 0.001               # 0.1% absolute crash rate
      severity: critical

monitoring:
  enabled: true
  intervalMs: 5000                   # Check every 5 seconds
  retentionHours: 1                  # Keep 1 hour history

variants:
  canary:
    kind: upstream
    url: http://127.0.0.1:8081
)";

std::string errors_of(const std::string& text) {
  auto r = parse_canary_config(text, "c.yaml");
  EXPECT_FALSE(r.ok()) << "expected problems in:\n" << text;
  return r.ok() ? "" : r.status().message();
}

size_t count_lines(const std::string& s) {
  size_t n = s.empty() ? 0 : 1;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(CanaryConfig, SpecExampleParses) {
  auto r = parse_canary_config(kSpecExample, "canary.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const CanaryConfig& c = r.value();
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.rollout_percentage, 1);
  EXPECT_EQ(c.percentage_line, 4);
  EXPECT_EQ(c.strategy, Strategy::kHash);
  EXPECT_EQ(c.hash_key, "user_id");
  EXPECT_TRUE(c.enable_cache);
  EXPECT_EQ(c.cache_size, 10000);
  EXPECT_EQ(c.rollback.cooldown_ms, 300000);
  EXPECT_FALSE(c.rollback.gradual);
  ASSERT_EQ(c.rollback.triggers.size(), 4u);
  EXPECT_EQ(c.rollback.triggers[0].kind, TriggerKind::kHighErrorRate);
  EXPECT_EQ(c.rollback.triggers[0].threshold, 2.0);
  EXPECT_EQ(c.rollback.triggers[0].line, 16);
  EXPECT_EQ(c.rollback.triggers[2].kind, TriggerKind::kMemoryLeak);
  EXPECT_EQ(c.rollback.triggers[2].severity, TriggerSeverity::kWarning);
  EXPECT_EQ(c.rollback.triggers[3].threshold, 0.001);
  EXPECT_EQ(c.monitoring.interval_ms, 5000);
  EXPECT_EQ(c.monitoring.retention_hours, 1);
  EXPECT_EQ(c.baseline.kind, VariantConfig::Kind::kServer);
  EXPECT_EQ(c.canary.kind, VariantConfig::Kind::kUpstream);
  EXPECT_EQ(c.canary.url, "http://127.0.0.1:8081");
}

TEST(CanaryConfig, DefaultsWhenSectionsAreMissing) {
  auto r = parse_canary_config("", "empty.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->enabled);
  EXPECT_EQ(r->rollout_percentage, 0);
  EXPECT_EQ(r->percentage_line, 0);
  EXPECT_EQ(r->hash_seed, "canary");
  ASSERT_EQ(r->rollback.triggers.size(), 4u);
  EXPECT_EQ(r->rollback.triggers[1].kind, TriggerKind::kHighLatency);
  EXPECT_EQ(r->rollback.triggers[1].threshold, 1.5);
  EXPECT_EQ(r->rollback.triggers[2].threshold, 50);
  EXPECT_EQ(r->rollback.triggers[2].severity, TriggerSeverity::kWarning);
  EXPECT_EQ(r->rollback.triggers[3].kind, TriggerKind::kCrashRate);
  EXPECT_EQ(r->rollback.triggers[3].severity, TriggerSeverity::kCritical);

  // A rollback section without triggers still gets the four; an explicit empty list none.
  auto no_key = parse_canary_config("rollback:\n  cooldownMs: 0\n", "x.yaml");
  ASSERT_TRUE(no_key.ok()) << no_key.status().message();
  EXPECT_EQ(no_key->rollback.triggers.size(), 4u);
  auto empty = parse_canary_config("rollback:\n  triggers: []\n", "x.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->rollback.triggers.empty());
}

TEST(CanaryConfig, EnabledAtZeroNeedsNoVariant) {
  auto r = parse_canary_config("canary:\n  enabled: true\n  rolloutPercentage: 0\n", "x.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
}

TEST(CanaryConfig, EachErrorWithItsLine) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"canary:\n  enabled: yes\n", "c.yaml:2: 'canary.enabled' must be true or false"},
      {"canary:\n  rolloutPercentage: 150\n",
       "c.yaml:2: 'canary.rolloutPercentage' must be between 0 and 100, not 150"},
      {"canary:\n  rolloutPercentage: \"5\"\n", "c.yaml:2: 'canary.rolloutPercentage' must be a number"},
      {"canary:\n  strategy: sticky\n", "c.yaml:2: 'canary.strategy' must be one of hash, random"},
      {"canary:\n  hashKey: session\n", "c.yaml:2: 'canary.hashKey' must be one of user_id, request_id"},
      {"canary:\n  cacheSize: 0\n", "c.yaml:2: 'canary.cacheSize' must be between 1 and 10000000"},
      {"canary:\n  hashSeed: \"\"\n", "c.yaml:2: 'canary.hashSeed' must be a non-empty string"},
      {"canary:\n  bogus: 1\n",
       "c.yaml:2: unknown key 'canary.bogus' (known: enabled, rolloutPercentage, strategy"},
      {"canary:\n  enabled: true\n  enabled: false\n",
       "c.yaml:3: duplicate key 'canary.enabled' (first at line 2)"},
      {"extra: 1\n", "c.yaml:1: unknown key 'extra' (known: canary, rollback, monitoring, variants)"},
      {"rollback:\n  cooldownMs: -1\n", "c.yaml:2: 'rollback.cooldownMs' must be at least 0"},
      {"rollback:\n  minSamples: 0\n", "c.yaml:2: 'rollback.minSamples' must be at least 1"},
      {"rollback:\n  warningEvaluations: 0\n",
       "c.yaml:2: 'rollback.warningEvaluations' must be at least 1"},
      {"rollback:\n  gradualSteps: [0.5, 0.6, 0]\n", "c.yaml:2: 'rollback.gradualSteps' must be strictly decreasing"},
      {"rollback:\n  gradualSteps: [0.5, 0.25]\n", "c.yaml:2: 'rollback.gradualSteps' must end with 0"},
      {"rollback:\n  gradualSteps:\n    - 1\n    - 0\n", "c.yaml:3: 'rollback.gradualSteps[0]' must be at least 0 and below 1"},
      {"rollback:\n  triggers:\n    - name: slow\n      threshold: 1\n",
       "c.yaml:3: 'rollback.triggers[0].name' must be one of high_error_rate, high_latency"},
      {"rollback:\n  triggers:\n    - name: crash_rate\n      threshold: 0\n",
       "c.yaml:4: 'rollback.triggers[0].threshold' must be above 0"},
      {"rollback:\n  triggers:\n    - name: crash_rate\n",
       "c.yaml:3: 'rollback.triggers[0]' needs 'threshold'"},
      {"rollback:\n  triggers:\n    - name: crash_rate\n      threshold: 1\n      severity: high\n",
       "c.yaml:5: 'rollback.triggers[0].severity' must be one of critical, warning, info"},
      {"rollback:\n  triggers:\n    - {name: crash_rate, threshold: 1}\n    - name: crash_rate\n"
       "      threshold: 2\n",
       "c.yaml:4: trigger 'crash_rate' is listed twice (first at line 3)"},
      {"monitoring:\n  intervalMs: 99\n", "c.yaml:2: 'monitoring.intervalMs' must be at least 100"},
      {"monitoring:\n  retentionHours: 0\n", "c.yaml:2: 'monitoring.retentionHours' must be above 0"},
      {"monitoring:\n  retentionHours: 200\n", "c.yaml:2: 'monitoring.retentionHours' must be above 0 and at most 168"},
      {"monitoring:\n  windowMs: 999\n", "c.yaml:2: 'monitoring.windowMs' must be at least 1000"},
      {"variants:\n  canary:\n    kind: server\n", "c.yaml:3: 'variants.canary.kind' cannot be server"},
      {"variants:\n  canary:\n    model: /x\n", "c.yaml:2: 'variants.canary' needs 'kind'"},
      {"variants:\n  canary:\n    kind: local\n", "c.yaml:2: 'variants.canary' (kind local) needs 'model'"},
      {"variants:\n  canary:\n    kind: local\n    model: /no/such/model.gguf\n",
       "c.yaml:4: variants.canary.model: no such file"},
      {"variants:\n  canary:\n    kind: upstream\n    url: https://example.com\n",
       "c.yaml:4: 'variants.canary.url': https is not supported"},
      {"variants:\n  canary:\n    kind: upstream\n    url: http://h:1/v1\n",
       "c.yaml:4: 'variants.canary.url' must be http://host[:port]"},
      {"variants:\n  canary:\n    kind: upstream\n    url: http://h:70000\n",
       "c.yaml:4: 'variants.canary.url' has port 70000"},
      {"variants:\n  canary:\n    kind: upstream\n    url: http://h\n    timeout_ms: 0\n",
       "c.yaml:5: 'variants.canary.timeout_ms' must be between 1 and 3600000"},
      {"variants:\n  canary:\n    kind: upstream\n    url: http://h\n    model: /x\n",
       "c.yaml:5: unknown key 'variants.canary.model' (known: kind, url, api_key, timeout_ms)"},
      {"variants:\n  baseline:\n    kind: server\n    url: http://h\n",
       "c.yaml:4: unknown key 'variants.baseline.url' (known: kind)"},
      {"variants:\n  canary:\n    kind: cloud\n", "c.yaml:3: 'variants.canary.kind' must be one of server, local, upstream"},
      {"canary:\n  enabled: true\n  rolloutPercentage: 5\n",
       "c.yaml:3: canary is enabled at 5% but 'variants.canary' is missing"},
      {"canary: [\n", "c.yaml:2: YAML syntax error"},
      {"- 1\n", "c.yaml:1: the file must be a mapping of sections"},
  };
  for (const Case& c : cases) {
    const std::string errors = errors_of(c.text);
    EXPECT_NE(errors.find(c.expected), std::string::npos)
        << "input:\n" << c.text << "\nerrors:\n" << errors << "\nexpected: " << c.expected;
  }
}

TEST(CanaryConfig, LocalVariantWithAnExistingModel) {
  const fs::path model = fs::temp_directory_path() / ("canary-model-" + std::to_string(getpid()));
  std::ofstream(model) << "GGUF";
  const std::string text = "variants:\n  canary:\n    kind: local\n    model: " + model.string() +
                           "\n    n_ctx: 2048\n    threads: 2\n    max_sequences: 8\n"
                           "    kv_type: f32\n";
  auto r = parse_canary_config(text, "x.yaml");
  fs::remove(model);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->canary.kind, VariantConfig::Kind::kLocal);
  EXPECT_EQ(r->canary.model_path, model.string());
  EXPECT_EQ(r->canary.n_ctx, 2048);
  EXPECT_EQ(r->canary.threads, 2);
  EXPECT_EQ(r->canary.max_sequences, 8);
  EXPECT_EQ(r->canary.kv_type, "f32");
}

TEST(CanaryConfig, EveryProblemAtOnceSortedByLine) {
  const std::string errors = errors_of(
      "canary:\n"
      "  enabled: maybe\n"           // 2
      "  rolloutPercentage: -1\n"    // 3
      "rollback:\n"
      "  cooldownMs: soon\n"         // 5
      "monitoring:\n"
      "  intervalMs: 10\n"           // 7
      "variants:\n"
      "  canary:\n"
      "    kind: upstream\n"
      "    url: ftp://x\n");         // 11
  EXPECT_EQ(count_lines(errors), 5u) << errors;
  size_t pos = 0;
  for (const char* line : {"c.yaml:2:", "c.yaml:3:", "c.yaml:5:", "c.yaml:7:", "c.yaml:11:"}) {
    const size_t at = errors.find(line, pos);
    ASSERT_NE(at, std::string::npos) << line << " in\n" << errors;
    pos = at;
  }
}

TEST(CanaryConfig, GradualStepsAndUpstreamDetails) {
  auto r = parse_canary_config(
      "rollback:\n  gradual: true\n  gradualSteps: [0.5, 0.1, 0]\n"
      "variants:\n  baseline:\n    kind: upstream\n    url: http://127.0.0.1:9000/\n"
      "    api_key: secret\n    timeout_ms: 5000\n",
      "x.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->rollback.gradual);
  EXPECT_EQ(r->rollback.gradual_steps, (std::vector<double>{0.5, 0.1, 0}));
  EXPECT_EQ(r->baseline.url, "http://127.0.0.1:9000");  // the trailing '/' dropped
  EXPECT_EQ(r->baseline.api_key, "secret");
  EXPECT_EQ(r->baseline.timeout_ms, 5000);
}

TEST(CanaryConfig, LoadReportsAMissingFile) {
  auto r = load_canary_config("/no/such/canary.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/no/such/canary.yaml"), std::string::npos);
}

// ---- with_rollout_percentage

TEST(RolloutRewrite, KeepsCommentsAndRoundTrips) {
  auto zero = with_rollout_percentage(kSpecExample, 0);
  ASSERT_TRUE(zero.ok()) << zero.status().message();
  // Only the value changed; the comment stays in its column.
  std::string expected = kSpecExample;
  const std::string from = "  rolloutPercentage: 1               # Start at 1%";
  expected.replace(expected.find(from), from.size(), "  rolloutPercentage: 0               # Start at 1%");
  EXPECT_EQ(zero.value(), expected);
  auto parsed = parse_canary_config(zero.value(), "x.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->rollout_percentage, 0);

  auto half = with_rollout_percentage(zero.value(), 0.5);
  ASSERT_TRUE(half.ok()) << half.status().message();
  EXPECT_NE(half->find("  rolloutPercentage: 0.5             # Start at 1%\n"), std::string::npos)
      << half.value();
  auto ten = with_rollout_percentage(half.value(), 10);
  ASSERT_TRUE(ten.ok());
  EXPECT_NE(ten->find("  rolloutPercentage: 10              # Start at 1%\n"), std::string::npos);
  auto back = with_rollout_percentage(ten.value(), 1);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), kSpecExample);
}

TEST(RolloutRewrite, NumbersWithoutTrailingZeros) {
  for (auto [p, text] : std::vector<std::pair<double, std::string>>{
           {10, "10"}, {0.5, "0.5"}, {100, "100"}, {12.25, "12.25"}, {0.01, "0.01"}}) {
    auto r = with_rollout_percentage("canary:\n  rolloutPercentage: 3\n", p);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r.value(), "canary:\n  rolloutPercentage: " + text + "\n");
  }
}

TEST(RolloutRewrite, InsertsTheKeyOrTheBlock) {
  auto inserted = with_rollout_percentage("# top\ncanary:   # the split\n    enabled: false\n"
                                          "rollback:\n    enabled: true\n", 5);
  ASSERT_TRUE(inserted.ok()) << inserted.status().message();
  EXPECT_EQ(inserted.value(), "# top\ncanary:   # the split\n    rolloutPercentage: 5\n"
                              "    enabled: false\nrollback:\n    enabled: true\n");

  auto added = with_rollout_percentage("monitoring:\n  enabled: true", 2.5);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added.value(), "monitoring:\n  enabled: true\ncanary:\n  rolloutPercentage: 2.5\n");

  auto empty_block = with_rollout_percentage("canary:\nrollback:\n  enabled: true\n", 1);
  ASSERT_TRUE(empty_block.ok()) << empty_block.status().message();
  EXPECT_EQ(empty_block.value(), "canary:\n  rolloutPercentage: 1\nrollback:\n  enabled: true\n");
}

TEST(RolloutRewrite, OnlyTheTopLevelCanaryBlock) {
  // variants.canary is another block named canary; a nested key of the same name too.
  const std::string text =
      "variants:\n  canary:\n    kind: upstream\n    url: http://h:1\n"
      "canary:\n  enabled: true\n  rolloutPercentage: 20\n";
  auto r = with_rollout_percentage(text, 0);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value(), "variants:\n  canary:\n    kind: upstream\n    url: http://h:1\n"
                       "canary:\n  enabled: true\n  rolloutPercentage: 0\n");
}

TEST(RolloutRewrite, KeepsCrlfLineEndings) {
  auto r = with_rollout_percentage("canary:\r\n  rolloutPercentage: 7\r\n", 3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value(), "canary:\r\n  rolloutPercentage: 3\r\n");
}

TEST(RolloutRewrite, RefusesBadValuesAndBrokenFiles) {
  EXPECT_FALSE(with_rollout_percentage("canary:\n  rolloutPercentage: 1\n", 150).ok());
  EXPECT_FALSE(with_rollout_percentage("canary:\n  rolloutPercentage: 1\n", -1).ok());
  EXPECT_FALSE(with_rollout_percentage("canary:\n  rolloutPercentage: 1\n", NAN).ok());
  auto broken = with_rollout_percentage("canary:\n  rolloutPercentage: 1\n  strategy: x\n", 0);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("does not validate"), std::string::npos);
  EXPECT_NE(broken.status().message().find("\nline 3: 'canary.strategy'"), std::string::npos)
      << broken.status().message();
  auto inline_block = with_rollout_percentage("canary: {enabled: true}\n", 0);
  ASSERT_FALSE(inline_block.ok());
  EXPECT_NE(inline_block.status().message().find("inline"), std::string::npos);
}

TEST(RolloutRewrite, WriteFileAtomically) {
  const fs::path dir = fs::temp_directory_path() / ("canary-write-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "canary.yaml";
  std::ofstream(file) << "old\n";
  ::chmod(file.c_str(), 0600);
  ASSERT_TRUE(write_file_atomically(file.string(), "canary:\n  rolloutPercentage: 0\n").ok());
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "canary:\n  rolloutPercentage: 0\n");
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // permissions kept
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1u);  // no temporary left behind
  const Status bad = write_file_atomically((dir / "no" / "such" / "dir.yaml").string(), "x");
  EXPECT_FALSE(bad.ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mlxs::canary
