// SpeculativeProvider: the confidence arithmetic, the prediction threshold, LRU eviction,
// the allowlist, and the prompt hash.
#include "ttft/speculative_provider.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mlxs::ttft {
namespace {

using Outcome = Observation::Outcome;

SpeculationConfig spec_config(int max_candidates = 1000, double min_confidence = 0.85,
                              double decay = 0.8) {
  SpeculationConfig c;
  c.enabled = true;
  c.allowlist_only = false;
  c.max_candidates = max_candidates;
  c.min_confidence = min_confidence;
  c.decay_factor = decay;
  return c;
}

TEST(SpeculativeProvider, FirstObservationLearnsAtInitialConfidence) {
  SpeculativeProvider p(spec_config());
  const Observation o = p.observe("h", 42, -1);
  EXPECT_EQ(o.outcome, Outcome::kLearned);
  EXPECT_DOUBLE_EQ(o.confidence, kInitialConfidence);
  auto pred = p.predict("h");
  ASSERT_TRUE(pred.has_value());
  EXPECT_EQ(pred->token, 42);
  EXPECT_DOUBLE_EQ(pred->confidence, 0.9);
  const auto s = p.stats();
  EXPECT_EQ(s.candidate_count, 1u);
  EXPECT_EQ(s.total_observed, 1u);
  EXPECT_EQ(s.total_hits + s.total_misses, 0u);
}

TEST(SpeculativeProvider, AgreementRaisesAndChangeDecaysAndReplaces) {
  SpeculativeProvider p(spec_config());
  p.observe("h", 42, -1);
  Observation o = p.observe("h", 42, -1);
  EXPECT_EQ(o.outcome, Outcome::kAgreed);
  EXPECT_NEAR(o.confidence, 0.92, 1e-12);  // 0.9 + (1 - 0.9) * (1 - 0.8)

  o = p.observe("h", 7, -1);
  EXPECT_EQ(o.outcome, Outcome::kChanged);
  EXPECT_NEAR(o.confidence, 0.92 * 0.8, 1e-12);
  // 0.736 is under min_confidence 0.85: no prediction, but the token was replaced.
  EXPECT_FALSE(p.predict("h").has_value());
  o = p.observe("h", 7, -1);
  EXPECT_EQ(o.outcome, Outcome::kAgreed);
  EXPECT_NEAR(o.confidence, 0.736 + 0.264 * 0.2, 1e-12);
  EXPECT_EQ(p.stats().total_observed, 4u);
  EXPECT_EQ(p.stats().total_hits + p.stats().total_misses, 0u);
}

TEST(SpeculativeProvider, HitAndMissOfASpeculatedToken) {
  SpeculativeProvider p(spec_config());
  p.observe("h", 42, -1);
  Observation o = p.observe("h", 42, 42);
  EXPECT_EQ(o.outcome, Outcome::kHit);
  EXPECT_NEAR(o.confidence, 0.92, 1e-12);

  SpeculativeProvider q(spec_config());
  q.observe("h", 42, -1);
  o = q.observe("h", 5, 42);
  EXPECT_EQ(o.outcome, Outcome::kMiss);
  EXPECT_NEAR(o.confidence, 0.72, 1e-12);  // 0.9 * 0.8
  // The computed token replaced the old one; 0.72 is under the threshold.
  EXPECT_FALSE(q.predict("h").has_value());
  q.set_config(spec_config(1000, 0.7));
  auto pred = q.predict("h");
  ASSERT_TRUE(pred.has_value());
  EXPECT_EQ(pred->token, 5);
  EXPECT_NEAR(pred->confidence, 0.72, 1e-12);

  const auto s = q.stats();
  EXPECT_EQ(s.total_hits, 0u);
  EXPECT_EQ(s.total_misses, 1u);
  EXPECT_DOUBLE_EQ(s.hit_rate, 0.0);
}

TEST(SpeculativeProvider, HitRate) {
  SpeculativeProvider p(spec_config());
  EXPECT_DOUBLE_EQ(p.stats().hit_rate, 0.0);
  p.observe("h", 1, -1);
  p.observe("h", 1, 1);
  p.observe("h", 1, 1);
  p.observe("h", 1, 1);
  p.observe("h", 2, 1);
  const auto s = p.stats();
  EXPECT_EQ(s.total_hits, 3u);
  EXPECT_EQ(s.total_misses, 1u);
  EXPECT_DOUBLE_EQ(s.hit_rate, 0.75);
  EXPECT_EQ(s.total_observed, 5u);
}

TEST(SpeculativeProvider, SpeculationWithoutCandidateIsJudgedAndLearned) {
  // The candidate can be evicted between predict and observe.
  SpeculativeProvider p(spec_config());
  Observation o = p.observe("gone", 3, 9);
  EXPECT_EQ(o.outcome, Outcome::kMiss);
  EXPECT_DOUBLE_EQ(o.confidence, kInitialConfidence);
  o = p.observe("gone-too", 4, 4);
  EXPECT_EQ(o.outcome, Outcome::kHit);
  EXPECT_EQ(p.predict("gone")->token, 3);
  EXPECT_EQ(p.stats().total_misses, 1u);
  EXPECT_EQ(p.stats().total_hits, 1u);
}

TEST(SpeculativeProvider, NegativeComputedTokenIsNeverLearned) {
  SpeculativeProvider p(spec_config());
  p.observe("h", -1, -1);
  EXPECT_EQ(p.stats().candidate_count, 0u);
  EXPECT_FALSE(p.predict("h").has_value());
}

TEST(SpeculativeProvider, PredictThreshold) {
  SpeculativeProvider p(spec_config(1000, 0.9));
  EXPECT_FALSE(p.predict("unknown").has_value());
  p.observe("h", 8, -1);
  EXPECT_TRUE(p.predict("h").has_value());  // 0.9 >= 0.9
  p.set_config(spec_config(1000, 0.91));
  EXPECT_FALSE(p.predict("h").has_value());
  p.observe("h", 8, -1);  // 0.92
  EXPECT_TRUE(p.predict("h").has_value());
}

TEST(SpeculativeProvider, LeastRecentlyUsedIsEvicted) {
  SpeculativeProvider p(spec_config(2));
  p.observe("a", 1, -1);
  p.observe("b", 2, -1);
  EXPECT_TRUE(p.predict("a").has_value());  // a is now the most recent
  p.observe("c", 3, -1);                    // evicts b
  EXPECT_TRUE(p.predict("a").has_value());
  EXPECT_FALSE(p.predict("b").has_value());
  EXPECT_TRUE(p.predict("c").has_value());
  p.observe("a", 1, -1);  // a most recent again
  p.observe("d", 4, -1);  // evicts c
  EXPECT_FALSE(p.predict("c").has_value());
  EXPECT_TRUE(p.predict("a").has_value());
  EXPECT_TRUE(p.predict("d").has_value());
  const auto s = p.stats();
  EXPECT_EQ(s.candidate_count, 2u);
  EXPECT_EQ(s.evictions, 2u);
}

TEST(SpeculativeProvider, ShrinkingMaxCandidatesEvictsOldest) {
  SpeculativeProvider p(spec_config(10));
  for (const char* h : {"a", "b", "c", "d"}) p.observe(h, 1, -1);
  p.predict("a");  // order, most recent first: a d c b
  p.set_config(spec_config(2));
  EXPECT_EQ(p.stats().candidate_count, 2u);
  EXPECT_EQ(p.stats().evictions, 2u);
  EXPECT_TRUE(p.predict("a").has_value());
  EXPECT_TRUE(p.predict("d").has_value());
  EXPECT_FALSE(p.predict("b").has_value());
  EXPECT_FALSE(p.predict("c").has_value());
}

TEST(SpeculativeProvider, EligibilityFollowsEnabledAndAllowlist) {
  SpeculationConfig c = spec_config();
  c.enabled = false;
  SpeculativeProvider p(c);
  EXPECT_FALSE(p.eligible("anything"));

  c.enabled = true;
  c.allowlist_only = false;
  p.set_config(c);
  EXPECT_TRUE(p.eligible("anything"));

  c.allowlist_only = true;
  c.allowlist = {"  What is 2+2?\n", "hello"};
  p.set_config(c);
  EXPECT_TRUE(p.eligible("What is 2+2?"));
  EXPECT_TRUE(p.eligible("\t hello  "));
  EXPECT_FALSE(p.eligible("what is 2+2?"));
  EXPECT_FALSE(p.eligible("anything"));
  EXPECT_FALSE(p.eligible(""));
  EXPECT_FALSE(p.eligible("   "));

  EXPECT_TRUE(p.add_to_allowlist("  anything "));
  EXPECT_TRUE(p.eligible("anything"));
  EXPECT_TRUE(p.add_to_allowlist("anything"));  // already present
  EXPECT_FALSE(p.add_to_allowlist(" \t\n"));

  c.enabled = false;
  p.set_config(c);
  EXPECT_FALSE(p.eligible("hello"));
}

TEST(SpeculativeProvider, AllowlistedIgnoresAllowlistOnlyAndEnabled) {
  // The server combines allowlist_only from two files; it asks the list itself.
  SpeculationConfig c = spec_config();
  c.enabled = false;
  c.allowlist = {"  From the config. "};
  SpeculativeProvider p(c);
  EXPECT_TRUE(p.allowlisted("From the config."));
  EXPECT_TRUE(p.allowlisted("\tFrom the config.\n"));
  EXPECT_FALSE(p.allowlisted("Something else."));
  EXPECT_TRUE(p.add_to_allowlist("Added later."));
  EXPECT_TRUE(p.allowlisted("Added later."));
  EXPECT_TRUE(p.remove_from_allowlist("Added later."));
  EXPECT_FALSE(p.allowlisted("Added later."));
}

TEST(SpeculativeProvider, RuntimeAllowlistSurvivesReloadConfigEntriesReplaced) {
  SpeculationConfig c = spec_config();
  c.allowlist_only = true;
  c.allowlist = {"from config", "old entry", " "};  // a blank entry is ignored
  SpeculativeProvider p(c);
  ASSERT_TRUE(p.add_to_allowlist(" added at run time "));
  EXPECT_EQ(p.allowlist(),
            (std::vector<std::string>{"added at run time", "from config", "old entry"}));
  EXPECT_EQ(p.stats().allowlist_size, 3u);

  c.allowlist = {"from config", "new entry"};
  p.set_config(c);
  EXPECT_EQ(p.allowlist(),
            (std::vector<std::string>{"added at run time", "from config", "new entry"}));
  EXPECT_FALSE(p.eligible("old entry"));
  EXPECT_TRUE(p.eligible("new entry"));
  EXPECT_TRUE(p.eligible("added at run time"));

  EXPECT_TRUE(p.remove_from_allowlist("added at run time  "));
  EXPECT_FALSE(p.remove_from_allowlist("added at run time"));
  EXPECT_FALSE(p.eligible("added at run time"));
  EXPECT_EQ(p.stats().allowlist_size, 2u);
}

TEST(SpeculativeProvider, ConfigIsReturnedAsSet) {
  SpeculationConfig c = spec_config(12, 0.5, 0.6);
  c.allowlist = {"x"};
  SpeculativeProvider p(c);
  EXPECT_EQ(p.config().max_candidates, 12);
  EXPECT_DOUBLE_EQ(p.config().min_confidence, 0.5);
  EXPECT_DOUBLE_EQ(p.config().decay_factor, 0.6);
  EXPECT_EQ(p.config().allowlist, std::vector<std::string>{"x"});
}

TEST(SpeculativeProvider, DecayFactorOneKeepsConfidence) {
  SpeculativeProvider p(spec_config(10, 0.85, 1.0));
  p.observe("h", 1, -1);
  EXPECT_DOUBLE_EQ(p.observe("h", 1, -1).confidence, 0.9);
  EXPECT_DOUBLE_EQ(p.observe("h", 2, -1).confidence, 0.9);
  EXPECT_EQ(p.predict("h")->token, 2);
}

// FNV-1a 64 written out from its definition, independently of the implementation.
std::string reference_hash(const std::vector<unsigned char>& bytes) {
  uint64_t h = 14695981039346656037ULL;  // offset basis
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 1099511628211ULL;  // FNV prime 2^40 + 2^8 + 0xb3
  }
  static const char* kHex = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<size_t>(i)] = kHex[h & 0xf];
  return out;
}

TEST(SpeculativeProvider, PromptHashIsFnv1aOverModelSeparatorAndTokens) {
  // "m", 0xff, then token 1 as 01 00 00 00.
  EXPECT_EQ(SpeculativeProvider::prompt_hash("m", {1}), "4a721e0506f7a304");
  EXPECT_EQ(reference_hash({'m', 0xff, 1, 0, 0, 0}), "4a721e0506f7a304");
  EXPECT_EQ(SpeculativeProvider::prompt_hash("m", {}), reference_hash({'m', 0xff}));
  // A negative id hashes as its two's-complement bytes.
  EXPECT_EQ(SpeculativeProvider::prompt_hash("llama", {42, -1}),
            reference_hash({'l', 'l', 'a', 'm', 'a', 0xff, 42, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(SpeculativeProvider::prompt_hash("", {0x01020304}),
            reference_hash({0xff, 4, 3, 2, 1}));
  // The reference itself matches the published FNV-1a 64 vector for "a".
  EXPECT_EQ(reference_hash({'a'}), "af63dc4c8601ec8c");
}

TEST(SpeculativeProvider, PromptHashIsStableAndDistinct) {
  const std::vector<int32_t> tokens = {1, 15043, 3186};
  const std::string h = SpeculativeProvider::prompt_hash("qwen", tokens);
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(SpeculativeProvider::prompt_hash("qwen", tokens), h);
  EXPECT_NE(SpeculativeProvider::prompt_hash("llama", tokens), h);
  EXPECT_NE(SpeculativeProvider::prompt_hash("qwen", {1, 15043}), h);
  EXPECT_NE(SpeculativeProvider::prompt_hash("qwen", {1, 15043, 3187}), h);
  EXPECT_NE(SpeculativeProvider::prompt_hash("qwen", {15043, 1, 3186}), h);
  // The separator keeps the model id and the tokens apart.
  EXPECT_NE(SpeculativeProvider::prompt_hash("ab", {}), SpeculativeProvider::prompt_hash("a", {}));
}

}  // namespace
}  // namespace mlxs::ttft
