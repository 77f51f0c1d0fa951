// The feature-flags file: schema, every validation problem with its line, warnings, the
// shipped file and loading from disk.
#include "flags/flag_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mlxs::flags {
namespace {

std::string source_dir() {
  const char* env = std::getenv("MLXS_SOURCE_DIR");
  return env && *env ? env : MLXS_SOURCE_DIR_DEFAULT;
}

ParsedFlags parse(const std::string& text) { return parse_flag_config(text, "f.yaml"); }

// The problem on `line` whose message contains `part`, or a failure listing them all.
::testing::AssertionResult has_problem(const std::vector<FlagProblem>& problems, int line,
                                       const std::string& part) {
  std::string all;
  for (const auto& p : problems) {
    if (p.line == line && p.message.find(part) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    all += "\n  " + std::to_string(p.line) + ": " + p.message;
  }
  return ::testing::AssertionFailure() << "no problem at line " << line << " containing '"
                                       << part << "'; got:" << all;
}

TEST(FeatureNames, RoundTrip) {
  ASSERT_EQ(all_features().size(), static_cast<size_t>(kFeatureCount));
  for (Feature f : all_features()) EXPECT_EQ(parse_feature(feature_name(f)), f);
  EXPECT_EQ(parse_feature("ttft_pipeline.speculation"), Feature::kTtftSpeculation);
  EXPECT_EQ(parse_feature("speculation"), std::nullopt);
  EXPECT_EQ(parse_feature(""), std::nullopt);
  EXPECT_EQ(parent_of(Feature::kQosExecutor), Feature::kQosMonitor);
  EXPECT_EQ(parent_of(Feature::kTtftKvPrep), Feature::kTtftPipeline);
  EXPECT_EQ(parent_of(Feature::kCanary), std::nullopt);
  EXPECT_EQ(parent_of(Feature::kPhase4Rollout), std::nullopt);
}

TEST(FlagParse, FullFileSetsEveryField) {
  auto p = parse(R"(phase4_rollout:
  enabled: true
  percentage: 50
  hash_seed: "p4"
ttft_pipeline:
  enabled: true
  rollout_percentage: 12.5
  hash_seed: ttft
  warmup_queue: {enabled: true}
  speculation:
    enabled: true
    allowlist_only: false
  kv_prep:
    enabled: true
qos_monitor:
  enabled: true
  rollout_percentage: 0
  evaluator: {enabled: true}
  executor: {enabled: true, dry_run: true}
  policy_store: {enabled: true}
canary:
  enabled: true
  rolloutPercentage: 10
  hash_seed: "2025"
emergency:
  kill_switch: true
  rollback_to_baseline: true
observability:
  log_feature_decisions: true
  export_metrics: false
  metric_prefix: "my:prefix_1"
)");
  ASSERT_TRUE(p.check.ok()) << p.check.format();
  ASSERT_TRUE(p.config);
  const FlagConfig& c = *p.config;
  EXPECT_TRUE(c.phase4_rollout.enabled);
  EXPECT_EQ(c.phase4_rollout.percentage, 50);
  EXPECT_EQ(c.phase4_rollout.hash_seed, "p4");
  EXPECT_EQ(c.ttft_pipeline.percentage, 12.5);
  EXPECT_EQ(c.ttft_pipeline.hash_seed, "ttft");
  EXPECT_TRUE(c.warmup_queue_enabled);
  EXPECT_TRUE(c.speculation_enabled);
  EXPECT_FALSE(c.speculation_allowlist_only);
  EXPECT_TRUE(c.kv_prep_enabled);
  EXPECT_TRUE(c.qos_monitor.enabled);
  EXPECT_EQ(c.qos_monitor.percentage, 0);
  EXPECT_TRUE(c.evaluator_enabled && c.executor_enabled && c.executor_dry_run);
  EXPECT_TRUE(c.policy_store_enabled);
  EXPECT_TRUE(c.canary.enabled);
  EXPECT_EQ(c.canary.percentage, 10);
  EXPECT_EQ(c.canary.hash_seed, "2025");  // a quoted number is a fine seed
  EXPECT_TRUE(c.kill_switch && c.rollback_to_baseline);
  EXPECT_TRUE(c.log_feature_decisions);
  EXPECT_FALSE(c.export_metrics);
  EXPECT_EQ(c.metric_prefix, "my:prefix_1");
  EXPECT_TRUE(p.check.warnings.empty()) << p.check.format();
  EXPECT_EQ(c.rollout(Feature::kCanary), &c.canary);
  EXPECT_EQ(c.rollout(Feature::kTtftSpeculation), nullptr);
  EXPECT_TRUE(c.sub_enabled(Feature::kQosExecutor));
  EXPECT_FALSE(c.sub_enabled(Feature::kQosMonitor));
}

TEST(FlagParse, PlainNumberSeedIsItsText) {
  auto p = parse("canary:\n  enabled: true\n  rolloutPercentage: 5\n  hash_seed: 2025\n");
  ASSERT_TRUE(p.config) << p.check.format();
  EXPECT_EQ(p.config->canary.hash_seed, "2025");
}

TEST(FlagParse, EmptyAndCommentOnlyFilesAreAllOff) {
  for (const char* text : {"", "# nothing yet\n\n# still nothing\n", "{}\n"}) {
    auto p = parse(text);
    ASSERT_TRUE(p.config) << p.check.format();
    EXPECT_FALSE(p.config->phase4_rollout.enabled);
    EXPECT_FALSE(p.config->ttft_pipeline.enabled);
    EXPECT_TRUE(has_problem(p.check.warnings, 0, "no features configured"));
  }
}

TEST(FlagParse, EmptySectionKeepsDefaults) {
  auto p = parse("emergency:\nphase4_rollout:\n  enabled: true\n");
  ASSERT_TRUE(p.config) << p.check.format();
  EXPECT_FALSE(p.config->kill_switch);
  EXPECT_TRUE(p.config->phase4_rollout.enabled);
}

TEST(FlagParse, SyntaxErrorHasLineAndColumn) {
  auto p = parse("phase4_rollout:\n  enabled: true\n   bad: 1\n");
  ASSERT_EQ(p.check.errors.size(), 1u);
  EXPECT_TRUE(has_problem(p.check.errors, 3, "YAML syntax error at 3:"));
  EXPECT_FALSE(p.config);
  auto q = parse("canary: [1, 2\nemergency: {}\n");
  ASSERT_EQ(q.check.errors.size(), 1u);
  EXPECT_TRUE(has_problem(q.check.errors, 2, "YAML syntax error"));
}

TEST(FlagParse, OneDocumentOnly) {
  auto p = parse("canary:\n  enabled: true\n---\nemergency:\n  kill_switch: true\n");
  EXPECT_FALSE(p.config);
  EXPECT_TRUE(has_problem(p.check.errors, 4, "a second YAML document"));
}

TEST(FlagParse, TopLevelMustBeAMapping) {
  auto p = parse("- phase4_rollout\n- canary\n");
  EXPECT_FALSE(p.config);
  EXPECT_TRUE(has_problem(p.check.errors, 1, "must be a mapping of sections"));
}

TEST(FlagParse, UnknownKeysNameThePathAndTheKnownKeys) {
  auto p = parse(
      "canary:\n"
      "  enabled: true\n"
      "  rollout_percentage: 5\n"
      "ttft_pipeline:\n"
      "  speculation:\n"
      "    enable: true\n"
      "phase5_rollout:\n"
      "  enabled: true\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 3u) << p.check.format();
  EXPECT_EQ(p.check.errors[0].line, 3);
  EXPECT_EQ(p.check.errors[0].message,
            "unknown key 'canary.rollout_percentage' (known: enabled, rolloutPercentage, "
            "hash_seed)");
  EXPECT_TRUE(has_problem(p.check.errors, 6,
                          "unknown key 'ttft_pipeline.speculation.enable' (known: enabled, "
                          "allowlist_only)"));
  EXPECT_TRUE(has_problem(p.check.errors, 7,
                          "unknown key 'phase5_rollout' (known: phase4_rollout, ttft_pipeline, "
                          "qos_monitor, canary, emergency, observability)"));
}

TEST(FlagParse, DuplicateKeys) {
  auto p = parse(
      "emergency:\n"
      "  kill_switch: false\n"
      "  kill_switch: true\n"
      "canary:\n"
      "  enabled: true\n"
      "emergency:\n"
      "  rollback_to_baseline: true\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 2u) << p.check.format();
  EXPECT_TRUE(
      has_problem(p.check.errors, 3, "duplicate key 'emergency.kill_switch' (first at line 2)"));
  EXPECT_TRUE(has_problem(p.check.errors, 6, "duplicate key 'emergency' (first at line 1)"));
}

TEST(FlagParse, SectionsMustBeMappings) {
  auto p = parse("canary: true\nemergency:\n  - kill_switch\nqos_monitor:\n  executor: on\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 3u) << p.check.format();
  EXPECT_TRUE(has_problem(p.check.errors, 1, "'canary' must be a mapping"));
  EXPECT_TRUE(has_problem(p.check.errors, 2, "'emergency' must be a mapping"));
  EXPECT_TRUE(has_problem(p.check.errors, 5, "'qos_monitor.executor' must be a mapping"));
}

TEST(FlagParse, BooleansArePlainTrueOrFalse) {
  auto p = parse(
      "emergency:\n"
      "  kill_switch: \"true\"\n"
      "  rollback_to_baseline: yes\n"
      "observability:\n"
      "  log_feature_decisions: 1\n"
      "  export_metrics:\n"
      "phase4_rollout:\n"
      "  enabled: [true]\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 5u) << p.check.format();
  EXPECT_TRUE(has_problem(p.check.errors, 2, "'emergency.kill_switch' must be true or false"));
  EXPECT_TRUE(has_problem(p.check.errors, 2, "quoted"));
  EXPECT_TRUE(
      has_problem(p.check.errors, 3, "'emergency.rollback_to_baseline' must be true or false"));
  EXPECT_TRUE(has_problem(p.check.errors, 5, "must be true or false, not '1'"));
  EXPECT_TRUE(has_problem(p.check.errors, 6, "must be true or false, not nothing"));
  EXPECT_TRUE(has_problem(p.check.errors, 8, "must be true or false, not a list"));
}

TEST(FlagParse, PercentagesArePlainNumbers) {
  auto p = parse(
      "phase4_rollout:\n"
      "  percentage: \"50\"\n"
      "ttft_pipeline:\n"
      "  rollout_percentage: 50%\n"
      "qos_monitor:\n"
      "  rollout_percentage: true\n"
      "canary:\n"
      "  rolloutPercentage: 1e1\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 4u) << p.check.format();
  EXPECT_TRUE(has_problem(p.check.errors, 2, "'phase4_rollout.percentage' must be a number"));
  EXPECT_TRUE(has_problem(p.check.errors, 4, "not '50%'"));
  EXPECT_TRUE(has_problem(p.check.errors, 6, "'qos_monitor.rollout_percentage' must be a number"));
  EXPECT_TRUE(has_problem(p.check.errors, 8, "'canary.rolloutPercentage' must be a number"));
}

TEST(FlagParse, PercentagesAreWithin0And100) {
  auto p = parse(
      "phase4_rollout:\n"
      "  percentage: 150\n"
      "ttft_pipeline:\n"
      "  rollout_percentage: -1\n"
      "qos_monitor:\n"
      "  rollout_percentage: .nan\n"
      "canary:\n"
      "  rolloutPercentage: .inf\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 4u) << p.check.format();
  EXPECT_TRUE(has_problem(p.check.errors, 2, "must be between 0 and 100, not 150"));
  EXPECT_TRUE(has_problem(p.check.errors, 4, "must be between 0 and 100, not -1"));
  EXPECT_TRUE(has_problem(p.check.errors, 6, "not .nan"));
  EXPECT_TRUE(has_problem(p.check.errors, 8, "not .inf"));
  auto edges = parse("phase4_rollout:\n  percentage: 0\ncanary:\n  rolloutPercentage: 100.0\n");
  EXPECT_TRUE(edges.check.ok()) << edges.check.format();
}

TEST(FlagParse, StringsAreScalarsAndMetricPrefixIsAMetricName) {
  auto p = parse(
      "canary:\n"
      "  hash_seed: {a: b}\n"
      "observability:\n"
      "  metric_prefix: mlx-serving\n"
      "ttft_pipeline:\n"
      "  hash_seed: [x]\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 3u) << p.check.format();
  EXPECT_TRUE(has_problem(p.check.errors, 2, "'canary.hash_seed' must be a string, not a mapping"));
  EXPECT_TRUE(has_problem(p.check.errors, 4, "must be a Prometheus metric name"));
  EXPECT_TRUE(has_problem(p.check.errors, 6, "'ttft_pipeline.hash_seed' must be a string"));
  EXPECT_FALSE(parse("observability:\n  metric_prefix: \"\"\n").config);
  EXPECT_FALSE(parse("observability:\n  metric_prefix: 9lives\n").config);
}

TEST(FlagParse, SeedRequiredBetween0And100) {
  auto p = parse(
      "canary:\n"
      "  enabled: true\n"
      "  rolloutPercentage: 5\n"
      "ttft_pipeline:\n"
      "  enabled: false\n"
      "  rollout_percentage: 50\n"
      "  hash_seed: \"\"\n");
  EXPECT_FALSE(p.config);
  ASSERT_EQ(p.check.errors.size(), 2u) << p.check.format();
  EXPECT_TRUE(has_problem(p.check.errors, 3,
                          "canary: rolloutPercentage is 5: hash_seed is required when the "
                          "percentage is between 0 and 100: it decides which keys are in"));
  EXPECT_TRUE(has_problem(p.check.errors, 6, "ttft_pipeline: rollout_percentage is 50: hash_seed"));
  // At 0 or 100 no key is chosen by its bucket, so no seed is needed.
  auto q = parse("canary:\n  enabled: true\n  rolloutPercentage: 0\nqos_monitor:\n"
                 "  enabled: true\n  rollout_percentage: 100\n");
  EXPECT_TRUE(q.check.ok()) << q.check.format();
}

TEST(FlagParse, SharedSeedIsAWarningOnTheSecondFeature) {
  auto p = parse(
      "phase4_rollout:\n"
      "  enabled: true\n"
      "  percentage: 50\n"
      "  hash_seed: same\n"
      "canary:\n"
      "  enabled: true\n"
      "  rolloutPercentage: 10\n"
      "  hash_seed: same\n");
  ASSERT_TRUE(p.config) << p.check.format();
  ASSERT_EQ(p.check.warnings.size(), 1u) << p.check.format();
  EXPECT_TRUE(has_problem(p.check.warnings, 8,
                          "canary.hash_seed 'same' is also the seed of phase4_rollout"));
  EXPECT_TRUE(has_problem(p.check.warnings, 8, "correlated"));
}

TEST(FlagParse, CollectsEveryProblemInFileOrder) {
  auto p = parse(
      "phase4_rollout:\n"
      "  enabled: yes\n"
      "  percentage: 101\n"
      "canary:\n"
      "  rollout_percentage: 5\n"
      "emergency:\n"
      "  kill_switch: maybe\n");
  ASSERT_EQ(p.check.errors.size(), 4u) << p.check.format();
  std::string text = p.check.format();
  EXPECT_EQ(text.find("f.yaml:2: error: "), 0u) << text;
  size_t l3 = text.find("\nf.yaml:3: error: "), l5 = text.find("\nf.yaml:5: error: "),
         l7 = text.find("\nf.yaml:7: error: ");
  EXPECT_TRUE(l3 != std::string::npos && l5 != std::string::npos && l7 != std::string::npos)
      << text;
  EXPECT_TRUE(l3 < l5 && l5 < l7) << text;
  EXPECT_NE(text.back(), '\n');
}

TEST(FlagCheck, FormatPutsErrorsBeforeWarningsAndOmitsLineZero) {
  FlagCheck c{"x.yaml", {{4, "late"}, {0, "whole file"}}, {{1, "careful"}}};
  EXPECT_EQ(c.format(),
            "x.yaml: error: whole file\nx.yaml:4: error: late\nx.yaml:1: warning: careful");
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(FlagCheck{}.format(), "");
}

// Every key path of a YAML tree ("canary.hash_seed"), leaves with their scalar text.
void collect_keys(const YAML::Node& n, const std::string& prefix,
                  std::map<std::string, std::string>* out) {
  for (const auto& kv : n) {
    std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (kv.second.IsMap()) {
      collect_keys(kv.second, path, out);
    } else {
      (*out)[path] = kv.second.Scalar();
    }
  }
}
void collect_keys(const nlohmann::ordered_json& j, const std::string& prefix,
                  std::map<std::string, nlohmann::ordered_json>* out) {
  for (const auto& [k, v] : j.items()) {
    std::string path = prefix.empty() ? k : prefix + "." + k;
    if (v.is_object()) {
      collect_keys(v, path, out);
    } else {
      (*out)[path] = v;
    }
  }
}

TEST(ShippedFile, IsValidAndRoundTrips) {
  const std::string path = source_dir() + "/config/feature-flags.yaml";
  FlagCheck check;
  auto snap = load_flag_file(path, &check);
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  EXPECT_TRUE(check.errors.empty());
  EXPECT_TRUE(check.warnings.empty()) << check.format();
  const FlagConfig& c = snap.value()->config;
  EXPECT_TRUE(c.phase4_rollout.enabled);
  EXPECT_EQ(c.canary.percentage, 100);  // the share itself lives in config/canary.yaml

  // Every key of the file is in to_json with the same value; to_json has every key of
  // the schema (its 25 leaves).
  std::map<std::string, std::string> file_keys;
  collect_keys(YAML::LoadFile(path), "", &file_keys);
  std::map<std::string, nlohmann::ordered_json> json_keys;
  collect_keys(c.to_json(), "", &json_keys);
  EXPECT_EQ(json_keys.size(), 25u);
  for (const auto& [k, text] : file_keys) {
    ASSERT_TRUE(json_keys.count(k)) << k;
    const auto& v = json_keys[k];
    if (v.is_string()) {
      EXPECT_EQ(v.get<std::string>(), text) << k;
    } else if (v.is_boolean()) {
      EXPECT_EQ(v.get<bool>() ? "true" : "false", text) << k;
    } else {
      EXPECT_EQ(v.get<double>(), std::stod(text)) << k;
    }
  }
  // JSON is YAML: the dump parses back to the same configuration.
  auto again = parse_flag_config(c.to_json().dump(2), "roundtrip.json");
  ASSERT_TRUE(again.config) << again.check.format();
  EXPECT_EQ(again.config->to_json(), c.to_json());
}

TEST(ShippedFile, SpecTypicalProductionSetupWithoutSeedsParses) {
  auto p = parse(R"(# Production configuration
phase4_rollout:
  enabled: true
  percentage: 100

ttft_pipeline:
  enabled: true
  rollout_percentage: 100
  warmup_queue:
    enabled: true
  speculation:
    enabled: true
    allowlist_only: true

qos_monitor:
  enabled: true
  rollout_percentage: 100
  evaluator:
    enabled: true
  executor:
    enabled: true
    dry_run: false

canary:
  enabled: true
  rolloutPercentage: 0

emergency:
  kill_switch: false
)");
  ASSERT_TRUE(p.config) << p.check.format();
  EXPECT_TRUE(p.check.warnings.empty()) << p.check.format();
  EXPECT_TRUE(p.config->speculation_enabled);
  EXPECT_FALSE(p.config->kv_prep_enabled);
}

class FlagFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mlxs-flags-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(FlagFileTest, LoadsWithDigestAndSource) {
  auto path = write("ok.yaml", "phase4_rollout:\n  enabled: true\n");
  auto before = std::chrono::system_clock::now();
  auto snap = load_flag_file(path);
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  EXPECT_EQ(snap.value()->source_path, path);
  // hashlib.sha256(b'phase4_rollout:\n  enabled: true\n').hexdigest()
  EXPECT_EQ(snap.value()->sha256,
            "658d22e2c07f5cedd9aa18f2731035b6d64726a380c17abf345b909e11b3ee02");
  EXPECT_GE(snap.value()->loaded_at, before);
  EXPECT_TRUE(snap.value()->config.phase4_rollout.enabled);
}

TEST_F(FlagFileTest, MissingFileAndDirectory) {
  std::string missing = (dir_ / "nope.yaml").string();
  FlagCheck check;
  auto snap = load_flag_file(missing, &check);
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.status().message(), missing + ": cannot open: No such file or directory");
  ASSERT_EQ(check.errors.size(), 1u);
  EXPECT_EQ(check.path, missing);
  auto dir = load_flag_file(dir_.string());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("Is a directory"), std::string::npos)
      << dir.status().message();
}

TEST_F(FlagFileTest, InvalidFileListsEveryProblem) {
  auto path = write("bad.yaml", "canary:\n  enabled: 1\nemergency:\n  kill: true\n");
  FlagCheck check;
  auto snap = load_flag_file(path, &check);
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.status().message(), check.format());
  EXPECT_NE(check.format().find(path + ":2: error: 'canary.enabled'"), std::string::npos);
  EXPECT_NE(check.format().find(path + ":4: error: unknown key 'emergency.kill'"),
            std::string::npos);
}

TEST(BuiltinSnapshot, EverythingOff) {
  auto s = builtin_flag_snapshot();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->source_path, "");
  EXPECT_EQ(s->sha256, "");
  EXPECT_FALSE(s->config.phase4_rollout.enabled);
  EXPECT_FALSE(s->config.canary.enabled);
  EXPECT_TRUE(s->config.export_metrics);
}

}  // namespace
}  // namespace mlxs::flags
