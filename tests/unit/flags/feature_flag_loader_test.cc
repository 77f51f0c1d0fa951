// The live loader: counting and stats, decision events, logging, reloads that fail safe,
// and evaluation racing snapshot swaps.
#include "flags/feature_flag_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "flags/bucketing.h"
#include "flags/log_text.h"

namespace mlxs::flags {
namespace {

std::shared_ptr<const FlagSnapshot> snapshot_of(const FlagConfig& c) {
  auto s = std::make_shared<FlagSnapshot>();
  s->config = c;
  return s;
}

FlagConfig rollout_config(double canary_pct) {
  FlagConfig c;
  c.phase4_rollout = {true, 100, "p4"};
  c.ttft_pipeline = {true, 100, "ttft"};
  c.canary = {true, canary_pct, "canary"};
  c.warmup_queue_enabled = true;
  return c;
}

const FeatureStats& stats_of(const FlagStats& s, Feature f) {
  return s.features.at(static_cast<int>(f));
}

TEST(Loader, CountsDecisionsAndComputesShares) {
  FeatureFlagLoader loader(snapshot_of(rollout_config(10)));
  int expected_on = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string key = "req-" + std::to_string(i);
    bool on = loader.is_enabled("canary", key);
    EXPECT_EQ(on, in_rollout(key, 10, "canary"));
    expected_on += on;
  }
  loader.evaluate("ttft_pipeline.warmup_queue", "k");
  loader.evaluate("no_such_feature", "k");
  loader.evaluate("canary.speculation", "k");

  FlagStats s = loader.get_stats();
  ASSERT_EQ(s.features.size(), static_cast<size_t>(kFeatureCount));
  const FeatureStats& canary = stats_of(s, Feature::kCanary);
  EXPECT_EQ(canary.feature, "canary");
  EXPECT_EQ(canary.total, 10000u);
  EXPECT_EQ(canary.enabled, static_cast<uint64_t>(expected_on));
  EXPECT_EQ(canary.disabled, 10000u - expected_on);
  EXPECT_DOUBLE_EQ(canary.actual_percentage, expected_on / 100.0);
  EXPECT_NEAR(canary.actual_percentage, 10, 1.5);
  EXPECT_EQ(canary.target_percentage, 10);
  EXPECT_EQ(stats_of(s, Feature::kTtftWarmupQueue).total, 1u);
  EXPECT_EQ(stats_of(s, Feature::kTtftWarmupQueue).actual_percentage, 100);
  EXPECT_EQ(stats_of(s, Feature::kQosMonitor).total, 0u);
  EXPECT_EQ(stats_of(s, Feature::kQosMonitor).actual_percentage, 0);
  EXPECT_EQ(s.total_decisions, 10001u);
  EXPECT_EQ(s.enabled_count, static_cast<uint64_t>(expected_on) + 1);
  EXPECT_EQ(s.disabled_count, s.total_decisions - s.enabled_count);
  EXPECT_DOUBLE_EQ(s.actual_percentage, s.enabled_count * 100.0 / s.total_decisions);
  EXPECT_EQ(s.unknown_feature, 2u);
}

TEST(Loader, UnknownFeatureIsOff) {
  FeatureFlagLoader loader(snapshot_of(rollout_config(100)));
  Decision d = loader.evaluate("ttft_pipeline.nope", "k");
  EXPECT_FALSE(d.enabled);
  EXPECT_EQ(d.reason, Reason::kUnknownFeature);
  EXPECT_FALSE(loader.is_enabled("", "k"));
}

TEST(Loader, TargetPercentages) {
  FlagConfig c = rollout_config(10);
  c.phase4_rollout.percentage = 50;
  c.ttft_pipeline.percentage = 20;
  c.speculation_enabled = false;
  c.qos_monitor = {false, 40, "qos"};
  c.evaluator_enabled = true;
  FeatureFlagLoader loader(snapshot_of(c));
  FlagStats s = loader.get_stats();
  EXPECT_EQ(stats_of(s, Feature::kPhase4Rollout).target_percentage, 50);
  EXPECT_EQ(stats_of(s, Feature::kTtftPipeline).target_percentage, 20);  // not 20% of 50%
  EXPECT_EQ(stats_of(s, Feature::kTtftWarmupQueue).target_percentage, 20);
  EXPECT_EQ(stats_of(s, Feature::kTtftSpeculation).target_percentage, 0);
  EXPECT_EQ(stats_of(s, Feature::kQosMonitor).target_percentage, 0);
  EXPECT_EQ(stats_of(s, Feature::kQosEvaluator).target_percentage, 0);
  EXPECT_EQ(stats_of(s, Feature::kCanary).target_percentage, 10);

  c.phase4_rollout.enabled = false;
  loader.replace(snapshot_of(c));
  s = loader.get_stats();
  EXPECT_EQ(stats_of(s, Feature::kPhase4Rollout).target_percentage, 0);
  EXPECT_EQ(stats_of(s, Feature::kCanary).target_percentage, 0);

  c = rollout_config(10);
  c.kill_switch = true;
  loader.replace(snapshot_of(c));
  for (const auto& f : loader.get_stats().features) EXPECT_EQ(f.target_percentage, 0) << f.feature;
  c.kill_switch = false;
  c.rollback_to_baseline = true;
  loader.replace(snapshot_of(c));
  for (const auto& f : loader.get_stats().features) EXPECT_EQ(f.target_percentage, 0) << f.feature;
}

TEST(Loader, SubscribersReceiveDecisionsUntilUnsubscribed) {
  FeatureFlagLoader loader(snapshot_of(rollout_config(100)));
  std::vector<std::tuple<std::string, std::string, bool, Reason>> seen;
  int id = loader.subscribe([&](const DecisionEvent& e) {
    seen.emplace_back(std::string(e.feature), std::string(e.key), e.enabled, e.reason);
  });
  int other_calls = 0;
  int other = loader.subscribe([&](const DecisionEvent&) { ++other_calls; });
  EXPECT_NE(id, other);

  loader.evaluate("canary", "user-1");
  loader.evaluate("qos_monitor", "user-2");
  loader.evaluate("bogus", "user-3");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_tuple(std::string("canary"), std::string("user-1"), true,
                                     Reason::kRollout));
  EXPECT_EQ(seen[1], std::make_tuple(std::string("qos_monitor"), std::string("user-2"), false,
                                     Reason::kDisabled));
  EXPECT_EQ(seen[2], std::make_tuple(std::string("bogus"), std::string("user-3"), false,
                                     Reason::kUnknownFeature));

  loader.unsubscribe(id);
  loader.evaluate("canary", "user-4");
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(other_calls, 4);
  loader.unsubscribe(other);
  loader.unsubscribe(12345);  // unknown id: nothing happens
  loader.evaluate("canary", "user-5");
  EXPECT_EQ(other_calls, 4);
}

TEST(Loader, ThrowingListenerDoesNotFailTheDecision) {
  FeatureFlagLoader loader(snapshot_of(rollout_config(100)));
  loader.subscribe([](const DecisionEvent&) { throw std::runtime_error("listener bug"); });
  int after = 0;
  loader.subscribe([&](const DecisionEvent&) { ++after; });
  EXPECT_TRUE(loader.is_enabled("canary", "k"));
  EXPECT_EQ(after, 1);
}

TEST(Loader, EvaluateRequestCountsAndPublishesEveryFeatureOnce) {
  FeatureFlagLoader loader(snapshot_of(rollout_config(100)));
  std::vector<std::string> features;
  loader.subscribe([&](const DecisionEvent& e) { features.emplace_back(e.feature); });
  RequestFlags r = loader.evaluate_request("req-9");
  EXPECT_EQ(r.key, "req-9");
  EXPECT_EQ(r.snapshot, loader.snapshot());
  ASSERT_EQ(features.size(), static_cast<size_t>(kFeatureCount));
  for (Feature f : all_features()) {
    EXPECT_EQ(features[static_cast<int>(f)], feature_name(f));
    EXPECT_EQ(loader.get_stats().features[static_cast<int>(f)].total, 1u);
  }
  EXPECT_TRUE(r.on(Feature::kCanary));
  EXPECT_FALSE(r.on(Feature::kQosMonitor));
}

TEST(LogText, EscapesAndCaps) {
  EXPECT_EQ(escape_log_value("plain-key"), "plain-key");
  EXPECT_EQ(escape_log_value("a\"b\\c\nd\x7f"), "a\\\"b\\\\c\\x0ad\\x7f");
  EXPECT_EQ(escape_log_value(std::string(200, 'k')), std::string(128, 'k') + "...");
  // "é" is two bytes; a cut inside it backs up to the character's start.
  EXPECT_EQ(escape_log_value(std::string(127, 'k') + "é"), std::string(127, 'k') + "...");
  EXPECT_EQ(escape_log_value(std::string(126, 'k') + "é"), std::string(126, 'k') + "é");
}

TEST(Loader, LogsDecisionsWhenAsked) {
  FlagConfig c = rollout_config(100);
  c.log_feature_decisions = true;
  FeatureFlagLoader loader(snapshot_of(c));
  ::testing::internal::CaptureStderr();
  loader.evaluate("canary", "a\"b\nc");
  loader.evaluate_request("req-1", "request_id=r1");
  std::string log = ::testing::internal::GetCapturedStderr();
  int bucket = rollout_bucket("a\"b\nc", "canary");
  EXPECT_NE(log.find("feature flag decision feature=canary key=\"a\\\"b\\x0ac\" enabled=true "
                     "reason=rollout bucket=" + std::to_string(bucket) + "\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("feature flags request_id=r1 key=\"req-1\" phase4_rollout=on "),
            std::string::npos)
      << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;

  c.log_feature_decisions = false;
  loader.replace(snapshot_of(c));
  ::testing::internal::CaptureStderr();
  loader.evaluate("canary", "k");
  loader.evaluate_request("k");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

class LoaderFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mlxs-loader-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "flags.yaml").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(path_, std::ios::binary) << text; }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(LoaderFileTest, ReloadSwapsOnlyValidFiles) {
  write("phase4_rollout:\n  enabled: true\n  percentage: 100\ncanary:\n  enabled: true\n"
        "  rolloutPercentage: 100\n");
  auto opened = FeatureFlagLoader::open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  FeatureFlagLoader& loader = *opened.value();
  EXPECT_EQ(loader.reload_stats().successes, 0u);  // opening is not a reload
  auto first = loader.snapshot();
  EXPECT_EQ(first->source_path, path_);
  EXPECT_TRUE(loader.is_enabled("canary", "k"));

  write("canary:\n  enabled: maybe\n  rollout: 5\n");
  Status st = loader.reload();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path_ + ":2: error:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(path_ + ":3: error:"), std::string::npos) << st.message();
  EXPECT_EQ(loader.snapshot(), first);
  EXPECT_TRUE(loader.is_enabled("canary", "k"));
  ReloadStats rs = loader.reload_stats();
  EXPECT_EQ(rs.failures, 1u);
  EXPECT_EQ(rs.successes, 0u);
  EXPECT_EQ(rs.last_error, st.message());
  EXPECT_NE(rs.last_attempt, std::chrono::system_clock::time_point{});

  write("phase4_rollout:\n  enabled: true\n  percentage: 100\ncanary:\n  enabled: false\n");
  ASSERT_TRUE(loader.reload().ok());
  EXPECT_NE(loader.snapshot(), first);
  EXPECT_NE(loader.snapshot()->sha256, first->sha256);
  EXPECT_FALSE(loader.is_enabled("canary", "k"));
  rs = loader.reload_stats();
  EXPECT_EQ(rs.successes, 1u);
  EXPECT_EQ(rs.failures, 1u);
  EXPECT_EQ(rs.last_error, "");

  Status missing = loader.reload((dir_ / "missing.yaml").string());
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("cannot open"), std::string::npos);
  EXPECT_EQ(loader.reload_stats().failures, 2u);
  EXPECT_EQ(loader.snapshot()->source_path, path_);
}

TEST_F(LoaderFileTest, OpenReportsProblemsAndBuiltinCannotReload) {
  write("emergency:\n  kill_switch: 1\n");
  auto opened = FeatureFlagLoader::open(path_);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find(path_ + ":2: error:"), std::string::npos);

  FeatureFlagLoader builtin(nullptr);
  EXPECT_EQ(builtin.snapshot(), builtin_flag_snapshot());
  Status st = builtin.reload();
  EXPECT_EQ(st.message(), "no feature flags file to reload");
  EXPECT_EQ(builtin.reload_stats().failures, 1u);
  EXPECT_FALSE(builtin.is_enabled("phase4_rollout", "k"));
}

TEST(Loader, EvaluationRacesSnapshotSwaps) {
  FeatureFlagLoader loader(snapshot_of(rollout_config(50)));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> events{0};
  loader.subscribe([&](const DecisionEvent&) { events.fetch_add(1, std::memory_order_relaxed); });
  std::vector<std::thread> readers;
  std::atomic<uint64_t> evaluations{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; !stop.load() || i < 1000; ++i) {
        std::string key = std::to_string(t);
        key.append("-").append(std::to_string(i));
        Decision d = loader.evaluate(i % 2 ? "canary" : "ttft_pipeline.warmup_queue", key);
        EXPECT_NE(d.reason, Reason::kUnknownFeature);
        RequestFlags r = loader.evaluate_request(key);
        // One request sees one snapshot: a sub-feature never outruns its parent.
        EXPECT_TRUE(!r.on(Feature::kTtftWarmupQueue) || r.on(Feature::kTtftPipeline));
        evaluations.fetch_add(1 + kFeatureCount, std::memory_order_relaxed);
      }
    });
  }
  std::thread writer([&] {
    for (int i = 0; i < 1000; ++i) {
      FlagConfig c = rollout_config(i % 101);
      c.ttft_pipeline.enabled = i % 3 != 0;
      loader.replace(snapshot_of(c));
      if (i % 100 == 0) {
        loader.get_stats();
        loader.record_failure("simulated bad file " + std::to_string(i));
      }
    }
    stop = true;
  });
  writer.join();
  for (auto& r : readers) r.join();
  FlagStats s = loader.get_stats();
  EXPECT_EQ(s.total_decisions, evaluations.load());
  EXPECT_EQ(events.load(), evaluations.load());
  EXPECT_EQ(loader.reload_stats().successes, 1000u);
  EXPECT_EQ(loader.reload_stats().failures, 10u);
}

}  // namespace
}  // namespace mlxs::flags
