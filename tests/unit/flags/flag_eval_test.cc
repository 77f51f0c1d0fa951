// The fixed evaluation order: every reason reachable, sub-features following their parent,
// and a request's decisions taken together.
#include "flags/flag_eval.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "flags/bucketing.h"

namespace mlxs::flags {
namespace {

// Everything on at 100%, each feature with its own seed.
FlagConfig all_on() {
  FlagConfig c;
  c.phase4_rollout = {true, 100, "p4"};
  c.ttft_pipeline = {true, 100, "ttft"};
  c.qos_monitor = {true, 100, "qos"};
  c.canary = {true, 100, "canary"};
  c.warmup_queue_enabled = c.speculation_enabled = c.kv_prep_enabled = true;
  c.evaluator_enabled = c.executor_enabled = c.policy_store_enabled = true;
  return c;
}

// The first "key-N" whose bucket under `seed` satisfies `pred`.
template <typename Pred>
std::string key_where(const std::string& seed, Pred pred) {
  for (int i = 0;; ++i) {
    std::string k = "key-" + std::to_string(i);
    if (pred(rollout_bucket(k, seed))) return k;
  }
}

void expect(const Decision& d, bool enabled, Reason reason, int bucket) {
  EXPECT_EQ(d.enabled, enabled);
  EXPECT_EQ(reason_name(d.reason), std::string(reason_name(reason)));
  EXPECT_EQ(d.bucket, bucket);
}

TEST(FlagEval, ReasonNames) {
  EXPECT_STREQ(reason_name(Reason::kRollout), "rollout");
  EXPECT_STREQ(reason_name(Reason::kKillSwitch), "kill_switch");
  EXPECT_STREQ(reason_name(Reason::kRollbackToBaseline), "rollback_to_baseline");
  EXPECT_STREQ(reason_name(Reason::kGlobalDisabled), "phase4_disabled");
  EXPECT_STREQ(reason_name(Reason::kGlobalNotInBucket), "phase4_not_in_bucket");
  EXPECT_STREQ(reason_name(Reason::kDisabled), "disabled");
  EXPECT_STREQ(reason_name(Reason::kNotInBucket), "not_in_bucket");
  EXPECT_STREQ(reason_name(Reason::kUnknownFeature), "unknown_feature");
}

TEST(FlagEval, AllOnEnablesEveryFeatureWithItsBucket) {
  FlagConfig c = all_on();
  for (Feature f : all_features()) {
    SCOPED_TRACE(feature_name(f));
    Feature decider = parent_of(f).value_or(f);
    expect(evaluate(c, f, "req-1"), true, Reason::kRollout,
           rollout_bucket("req-1", c.rollout(decider)->hash_seed));
  }
}

TEST(FlagEval, KillSwitchBeatsEverything) {
  FlagConfig c = all_on();
  c.kill_switch = true;
  c.rollback_to_baseline = true;
  for (Feature f : all_features()) expect(evaluate(c, f, "req-1"), false, Reason::kKillSwitch, -1);
  c.kill_switch = false;
  for (Feature f : all_features()) {
    expect(evaluate(c, f, "req-1"), false, Reason::kRollbackToBaseline, -1);
  }
}

TEST(FlagEval, GlobalGateComesFirst) {
  FlagConfig c = all_on();
  c.phase4_rollout.enabled = false;
  expect(evaluate(c, Feature::kPhase4Rollout, "k"), false, Reason::kDisabled, -1);
  for (Feature f : all_features()) {
    if (f == Feature::kPhase4Rollout) continue;
    expect(evaluate(c, f, "k"), false, Reason::kGlobalDisabled, -1);
  }

  c = all_on();
  c.phase4_rollout.percentage = 30;
  std::string out = key_where("p4", [](int b) { return b >= 30; });
  int b = rollout_bucket(out, "p4");
  expect(evaluate(c, Feature::kPhase4Rollout, out), false, Reason::kNotInBucket, b);
  expect(evaluate(c, Feature::kCanary, out), false, Reason::kGlobalNotInBucket, b);
  expect(evaluate(c, Feature::kQosExecutor, out), false, Reason::kGlobalNotInBucket, b);
  std::string in = key_where("p4", [](int b) { return b < 30; });
  expect(evaluate(c, Feature::kPhase4Rollout, in), true, Reason::kRollout,
         rollout_bucket(in, "p4"));
  EXPECT_TRUE(evaluate(c, Feature::kCanary, in).enabled);
}

TEST(FlagEval, FeatureSwitchThenItsBucket) {
  FlagConfig c = all_on();
  c.ttft_pipeline.enabled = false;
  expect(evaluate(c, Feature::kTtftPipeline, "k"), false, Reason::kDisabled, -1);
  EXPECT_TRUE(evaluate(c, Feature::kQosMonitor, "k").enabled);  // only that feature

  c = all_on();
  c.canary.percentage = 10;
  std::string out = key_where("canary", [](int b) { return b >= 10; });
  expect(evaluate(c, Feature::kCanary, out), false, Reason::kNotInBucket,
         rollout_bucket(out, "canary"));
  std::string in = key_where("canary", [](int b) { return b < 10; });
  expect(evaluate(c, Feature::kCanary, in), true, Reason::kRollout, rollout_bucket(in, "canary"));
}

TEST(FlagEval, NoSeedAtFullRolloutHasNoBucket) {
  FlagConfig c = all_on();
  c.phase4_rollout.hash_seed.clear();
  c.qos_monitor.hash_seed.clear();
  expect(evaluate(c, Feature::kQosMonitor, "k"), true, Reason::kRollout, -1);
  expect(evaluate(c, Feature::kQosEvaluator, "k"), true, Reason::kRollout, -1);
  expect(evaluate(c, Feature::kPhase4Rollout, "k"), true, Reason::kRollout, -1);
  c.qos_monitor.percentage = 0;
  expect(evaluate(c, Feature::kQosMonitor, "k"), false, Reason::kNotInBucket, -1);
}

TEST(FlagEval, SubFeatureFollowsItsParent) {
  FlagConfig c = all_on();
  c.ttft_pipeline.percentage = 50;
  c.kv_prep_enabled = false;
  int on = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "req-" + std::to_string(i);
    Decision parent = evaluate(c, Feature::kTtftPipeline, key);
    Decision spec = evaluate(c, Feature::kTtftSpeculation, key);
    Decision kv = evaluate(c, Feature::kTtftKvPrep, key);
    ASSERT_EQ(spec.enabled, parent.enabled) << key;
    ASSERT_EQ(spec.bucket, parent.bucket) << key;
    EXPECT_FALSE(kv.enabled);
    if (parent.enabled) {
      ++on;
      EXPECT_EQ(spec.reason, Reason::kRollout);
      EXPECT_EQ(kv.reason, Reason::kDisabled);  // own switch, parent's bucket
      EXPECT_EQ(kv.bucket, parent.bucket);
    } else {
      EXPECT_EQ(spec.reason, Reason::kNotInBucket);  // the parent's reason
      EXPECT_EQ(kv.reason, Reason::kNotInBucket);
    }
  }
  EXPECT_GT(on, 800);
  EXPECT_LT(on, 1200);
  c.qos_monitor.enabled = false;
  expect(evaluate(c, Feature::kQosPolicyStore, "k"), false, Reason::kDisabled, -1);
}

TEST(FlagEval, UnknownFeature) {
  expect(evaluate(all_on(), static_cast<Feature>(kFeatureCount), "k"), false,
         Reason::kUnknownFeature, -1);
  expect(evaluate(all_on(), static_cast<Feature>(-1), "k"), false, Reason::kUnknownFeature, -1);
}

TEST(FlagEval, SeparateSeedsAreIndependent) {
  FlagConfig c = all_on();
  c.phase4_rollout.percentage = 50;
  c.canary.percentage = 50;
  int p4 = 0, both = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string key = "req-" + std::to_string(i);
    p4 += evaluate(c, Feature::kPhase4Rollout, key).enabled;
    both += evaluate(c, Feature::kCanary, key).enabled;
  }
  EXPECT_NEAR(p4 / 200.0, 50, 2);
  EXPECT_NEAR(both / 200.0, 25, 2);  // 50% of 50%
}

TEST(RequestFlags, EvaluateAllAndItsText) {
  auto snap = std::make_shared<FlagSnapshot>();
  snap->config = all_on();
  snap->config.qos_monitor.enabled = false;
  snap->config.speculation_enabled = false;
  snap->config.canary.percentage = 10;
  std::string key = key_where("canary", [](int b) { return b >= 10; });
  RequestFlags r = evaluate_all(snap, key);
  EXPECT_EQ(r.key, key);
  EXPECT_EQ(r.snapshot, snap);
  for (Feature f : all_features()) {
    Decision d = evaluate(snap->config, f, key);
    EXPECT_EQ(r.on(f), d.enabled);
    EXPECT_EQ(r.decision(f).reason, d.reason);
    EXPECT_EQ(r.decision(f).bucket, d.bucket);
  }
  EXPECT_EQ(r.enabled_list(),
            "phase4_rollout,ttft_pipeline,ttft_pipeline.warmup_queue,ttft_pipeline.kv_prep");
  EXPECT_EQ(r.summary(),
            "phase4_rollout=on ttft_pipeline=on ttft_pipeline.warmup_queue=on "
            "ttft_pipeline.speculation=off(disabled) ttft_pipeline.kv_prep=on "
            "qos_monitor=off(disabled) qos_monitor.evaluator=off(disabled) "
            "qos_monitor.executor=off(disabled) qos_monitor.policy_store=off(disabled) "
            "canary=off(not_in_bucket)");

  RequestFlags none = evaluate_all(nullptr, "k");
  ASSERT_TRUE(none.snapshot);
  EXPECT_EQ(none.enabled_list(), "none");
  EXPECT_EQ(none.summary().find("phase4_rollout=off(disabled) ttft_pipeline=off(phase4_disabled)"),
            0u);
}

// evaluate_all decides the global gate once and derives sub-features from their parents:
// it must agree with evaluate() feature by feature, whatever the configuration.
TEST(EvaluateAll, AgreesWithEvaluateForEveryFeatureAndConfig) {
  std::mt19937 rng(7);
  auto pct = [&] {
    static const double kChoices[] = {0, 0.5, 10, 37.5, 50, 99.9, 100};
    return kChoices[rng() % 7];
  };
  auto coin = [&] { return rng() % 3 != 0; };
  auto seed = [&](const char* s) { return rng() % 4 == 0 ? std::string() : std::string(s); };
  for (int round = 0; round < 300; ++round) {
    auto snap = std::make_shared<FlagSnapshot>();
    FlagConfig& c = snap->config;
    c.phase4_rollout = {coin(), pct(), seed("p4")};
    c.ttft_pipeline = {coin(), pct(), seed("tt")};
    c.qos_monitor = {coin(), pct(), seed("qm")};
    c.canary = {coin(), pct(), seed("ca")};
    c.warmup_queue_enabled = coin();
    c.speculation_enabled = coin();
    c.kv_prep_enabled = coin();
    c.evaluator_enabled = coin();
    c.executor_enabled = coin();
    c.policy_store_enabled = coin();
    c.kill_switch = rng() % 10 == 0;
    c.rollback_to_baseline = rng() % 10 == 0;
    for (int k = 0; k < 20; ++k) {
      std::string key = "key-" + std::to_string(rng());
      RequestFlags all = evaluate_all(snap, key);
      for (Feature f : all_features()) {
        Decision one = evaluate(c, f, key);
        ASSERT_EQ(all.decision(f).enabled, one.enabled) << feature_name(f) << " " << key;
        ASSERT_EQ(all.decision(f).reason, one.reason) << feature_name(f) << " " << key;
        ASSERT_EQ(all.decision(f).bucket, one.bucket) << feature_name(f) << " " << key;
      }
    }
  }
}

}  // namespace
}  // namespace mlxs::flags
