#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace mlxs {
namespace {

std::vector<float> log_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

// Samples n times from fresh copies of the same logits (sample() edits them in place) and
// returns each token's observed frequency.
std::map<TokenId, double> frequencies(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<TokenId, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[s.sample(l.data(), {}).token];
  }
  std::map<TokenId, double> f;
  for (auto [t, c] : counts) f[t] = static_cast<double>(c) / n;
  return f;
}

// Each expected token appears with roughly its probability, and nothing else appears. With
// 20000 draws the standard error is below 0.0036, so 0.02 is more than 5 sigma; the seed is
// fixed anyway, so the test is deterministic.
void expect_distribution(const std::map<TokenId, double>& got,
                         const std::map<TokenId, double>& want) {
  for (auto [t, f] : got) {
    ASSERT_TRUE(want.count(t)) << "token " << t << " should have been filtered out";
  }
  for (auto [t, p] : want) {
    const double f = got.count(t) ? got.at(t) : 0.0;
    EXPECT_NEAR(f, p, 0.02) << "token " << t;
  }
}

SamplingParams seeded(uint64_t seed = 42) {
  SamplingParams p;
  p.seed = seed;
  return p;
}

TEST(Sampler, GreedyPicksMax) {
  SamplingParams p = seeded();
  p.temperature = 0;
  Sampler s(p, 4);
  std::vector<float> l = {1.0f, 3.0f, 2.0f, 0.5f};
  EXPECT_EQ(s.sample(l.data(), {}).token, 1);
}

TEST(Sampler, GreedyIgnoresTruncationAndTinyTemperature) {
  for (float temp : {0.0f, 1e-6f}) {
    SamplingParams p = seeded();
    p.temperature = temp;
    p.top_k = 2;
    p.top_p = 0.01f;
    p.min_p = 0.99f;
    Sampler s(p, 5);
    for (int i = 0; i < 20; ++i) {
      std::vector<float> l = {-1.0f, 0.5f, 0.2f, 4.0f, 3.9f};
      EXPECT_EQ(s.sample(l.data(), {}).token, 3);
    }
  }
}

TEST(Sampler, GreedyTieTakesLowestId) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 4);
  std::vector<float> l = {1.0f, 5.0f, 5.0f, 5.0f};
  EXPECT_EQ(s.sample(l.data(), {}).token, 1);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  const int n_vocab = 5000;
  SamplingParams pk = seeded();
  pk.top_k = 1;
  pk.temperature = 1.5f;
  SamplingParams pg;
  pg.temperature = 0;
  Sampler sk(pk, n_vocab), sg(pg, n_vocab);
  for (int iter = 0; iter < 50; ++iter) {
    std::vector<float> l(n_vocab);
    for (float& x : l) x = nd(rng);
    std::vector<float> l2 = l;
    EXPECT_EQ(sk.sample(l.data(), {}).token, sg.sample(l2.data(), {}).token);
  }
}

TEST(Sampler, TopKKeepsKBest) {
  SamplingParams p = seeded();
  p.top_k = 2;
  Sampler s(p, 4);
  // probs 0.1 0.5 0.3 0.1 -> keep {1, 2}, renormalized 0.625 / 0.375.
  const auto l = log_of({0.1, 0.5, 0.3, 0.1});
  expect_distribution(frequencies(s, l, 20000), {{1, 0.625}, {2, 0.375}});
}

TEST(Sampler, TopPKeepsMinimalNucleus) {
  // Sorted probs 0.5 0.3 0.15 0.05, placed out of order.
  const auto l = log_of({0.15, 0.5, 0.05, 0.3});
  {
    SamplingParams p = seeded();
    p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8: {1, 3}
    Sampler s(p, 4);
    expect_distribution(frequencies(s, l, 20000), {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
  }
  {
    SamplingParams p = seeded(3);
    p.top_p = 0.9f;  // 0.8 < 0.9 <= 0.95: {1, 3, 0}
    Sampler s(p, 4);
    expect_distribution(frequencies(s, l, 20000),
                        {{1, 0.5 / 0.95}, {3, 0.3 / 0.95}, {0, 0.15 / 0.95}});
  }
  {
    SamplingParams p = seeded(4);
    p.top_p = 0.4f;  // the top token alone already covers it
    Sampler s(p, 4);
    expect_distribution(frequencies(s, l, 2000), {{1, 1.0}});
  }
}

// A large vocabulary whose nucleus spans several of the growing selection rounds; checked
// against a plain full sort.
TEST(Sampler, TopPLargeVocabularyMatchesFullSort) {
  const int n_vocab = 20000;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> l(n_vocab);
  for (float& x : l) x = nd(rng);
  const float top_p = 0.5f;

  std::vector<TokenId> order(n_vocab);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](TokenId a, TokenId b) {
    return l[a] > l[b] || (l[a] == l[b] && a < b);
  });
  const float mx = l[order[0]];
  double total = 0;
  for (float x : l) total += std::exp(x - mx);
  std::set<TokenId> nucleus;
  double cum = 0;
  for (TokenId t : order) {
    nucleus.insert(t);
    cum += std::exp(l[t] - mx);
    if (cum >= top_p * total) break;
  }
  ASSERT_GT(nucleus.size(), 1000u);  // spans several rounds (64, 256, 1024, ...)

  SamplingParams p = seeded();
  p.top_p = top_p;
  Sampler s(p, n_vocab);
  std::set<TokenId> seen;
  for (int i = 0; i < 1000; ++i) {
    std::vector<float> c = l;
    const TokenId t = s.sample(c.data(), {}).token;
    ASSERT_TRUE(nucleus.count(t)) << "token " << t << " outside the nucleus";
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 300u);  // draws spread over the nucleus, not just its head
}

// Equal logits: every token lands in one bucket, and ties go to the lower id.
TEST(Sampler, TopPFlatTiesKeepLowestIds) {
  const int n_vocab = 1000;
  SamplingParams p = seeded();
  p.top_p = 0.25f;  // exactly 250 tokens' worth of mass
  Sampler s(p, n_vocab);
  std::set<TokenId> seen;
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> l(n_vocab, 0.5f);
    const TokenId t = s.sample(l.data(), {}).token;
    ASSERT_LT(t, 250);
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 200u);
}

TEST(Sampler, TopKThenTopP) {
  // Sorted probs 0.5 0.3 0.15 0.05; top-k 3 renormalizes to /0.95, then top-p 0.8 of that
  // (0.76 absolute) needs 0.5 + 0.3 = 0.8 >= 0.76: {1, 3}.
  const auto l = log_of({0.15, 0.5, 0.05, 0.3});
  SamplingParams p = seeded();
  p.top_k = 3;
  p.top_p = 0.8f;
  Sampler s(p, 4);
  expect_distribution(frequencies(s, l, 20000), {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
}

TEST(Sampler, TopKThenMinP) {
  // top-k 3 keeps {1, 3, 0}; min-p 0.4 keeps p >= 0.2: {1, 3}.
  const auto l = log_of({0.15, 0.5, 0.05, 0.3});
  SamplingParams p = seeded();
  p.top_k = 3;
  p.min_p = 0.4f;
  Sampler s(p, 4);
  expect_distribution(frequencies(s, l, 20000), {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
}

// Top-k on a large vocabulary, against a full sort, including ties at the cut.
TEST(Sampler, TopKLargeVocabularyMatchesFullSort) {
  const int n_vocab = 50000;
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> l(n_vocab);
  for (float& x : l) x = std::round(nd(rng) * 4.0f) / 4.0f;  // coarse values: many ties
  const int k = 100;
  std::vector<TokenId> order(n_vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](TokenId a, TokenId b) { return l[a] > l[b]; });
  const std::set<TokenId> top(order.begin(), order.begin() + k);

  SamplingParams p = seeded();
  p.top_k = k;
  p.temperature = 2.0f;  // flatten, so draws reach the cut
  Sampler s(p, n_vocab);
  std::set<TokenId> seen;
  for (int i = 0; i < 1000; ++i) {
    std::vector<float> c = l;
    const TokenId t = s.sample(c.data(), {}).token;
    ASSERT_TRUE(top.count(t)) << "token " << t << " outside the top " << k;
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 50u);
}

TEST(Sampler, MinP) {
  const auto l = log_of({0.15, 0.5, 0.05, 0.3});
  {
    SamplingParams p = seeded();
    p.min_p = 0.4f;  // p >= 0.2: {1, 3}
    Sampler s(p, 4);
    expect_distribution(frequencies(s, l, 20000), {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
  }
  {
    SamplingParams p = seeded(5);
    p.min_p = 0.25f;  // p >= 0.125: {1, 3, 0}
    Sampler s(p, 4);
    expect_distribution(frequencies(s, l, 20000),
                        {{1, 0.5 / 0.95}, {3, 0.3 / 0.95}, {0, 0.15 / 0.95}});
  }
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const auto l = log_of({0.2, 0.8});
  {
    SamplingParams p = seeded();
    p.temperature = 0.5f;  // p^2 renormalized: 0.04 / 0.68, 0.64 / 0.68
    Sampler s(p, 2);
    expect_distribution(frequencies(s, l, 20000), {{0, 0.04 / 0.68}, {1, 0.64 / 0.68}});
  }
  {
    SamplingParams p = seeded();
    p.temperature = 2.0f;  // sqrt(p) renormalized
    Sampler s(p, 2);
    const double a = std::sqrt(0.2), b = std::sqrt(0.8);
    expect_distribution(frequencies(s, l, 20000), {{0, a / (a + b)}, {1, b / (a + b)}});
  }
}

TEST(Sampler, RepetitionPenaltyExact) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;
  Sampler s(p, 4);
  std::vector<float> l = {2.0f, -1.0f, 1.5f, 0.5f};
  const std::vector<TokenId> hist = {0, 1, 1};
  EXPECT_EQ(s.sample(l.data(), hist).token, 2);  // 0 falls from 2 to 1, below 1.5
  // Applied once per distinct token, not per occurrence; negative logits are multiplied.
  EXPECT_EQ(l, (std::vector<float>{1.0f, -2.0f, 1.5f, 0.5f}));
}

TEST(Sampler, PresencePenaltyExact) {
  SamplingParams p;
  p.temperature = 0;
  p.presence_penalty = 0.75f;
  Sampler s(p, 3);
  std::vector<float> l = {2.0f, 1.5f, 0.0f};
  const std::vector<TokenId> hist = {0, 0, 0, 2};
  EXPECT_EQ(s.sample(l.data(), hist).token, 1);
  EXPECT_EQ(l, (std::vector<float>{1.25f, 1.5f, -0.75f}));
}

TEST(Sampler, FrequencyPenaltyExact) {
  SamplingParams p;
  p.temperature = 0;
  p.frequency_penalty = 0.25f;
  Sampler s(p, 3);
  std::vector<float> l = {2.0f, 1.5f, 0.0f};
  const std::vector<TokenId> hist = {0, 2, 0, 0};
  EXPECT_EQ(s.sample(l.data(), hist).token, 1);
  EXPECT_EQ(l, (std::vector<float>{1.25f, 1.5f, -0.25f}));
}

TEST(Sampler, PenaltiesCombineInLlamaCppOrder) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p, 3);
  std::vector<float> l = {3.0f, -1.0f, 0.0f};
  const std::vector<TokenId> hist = {0, 0, 1};
  s.sample(l.data(), hist);
  // 0: 3/2 - 2*0.25 - 0.5 = 0.5;  1: -1*2 - 0.25 - 0.5 = -2.75;  2 untouched.
  EXPECT_EQ(l, (std::vector<float>{0.5f, -2.75f, 0.0f}));
}

TEST(Sampler, PenaltyWindow) {
  const std::vector<TokenId> hist = {0, 0, 1, 2, 3};
  auto run = [&](int last_n) {
    SamplingParams p;
    p.temperature = 0;
    p.frequency_penalty = 1.0f;
    p.penalty_last_n = last_n;
    Sampler s(p, 5);
    std::vector<float> l(5, 0.0f);
    s.sample(l.data(), hist);
    return l;
  };
  EXPECT_EQ(run(2), (std::vector<float>{0, 0, -1, -1, 0}));
  EXPECT_EQ(run(-1), (std::vector<float>{-2, -1, -1, -1, 0}));
  EXPECT_EQ(run(100), (std::vector<float>{-2, -1, -1, -1, 0}));
  EXPECT_EQ(run(0), (std::vector<float>{0, 0, 0, 0, 0}));
}

TEST(Sampler, PenaltiesIgnoreOutOfRangeHistoryAndResetBetweenSteps) {
  SamplingParams p;
  p.temperature = 0;
  p.frequency_penalty = 1.0f;
  Sampler s(p, 3);
  std::vector<float> l(3, 0.0f);
  const std::vector<TokenId> h1 = {-1, 7, 1, 1};
  s.sample(l.data(), h1);
  EXPECT_EQ(l, (std::vector<float>{0, -2, 0}));
  // Counts from the previous step must not leak into this one.
  std::vector<float> l2(3, 0.0f);
  const std::vector<TokenId> h2 = {2};
  s.sample(l2.data(), h2);
  EXPECT_EQ(l2, (std::vector<float>{0, 0, -1}));
}

std::vector<TokenId> draw_sequence(std::optional<uint64_t> seed, int n) {
  SamplingParams p;
  p.seed = seed;
  p.top_k = 50;
  p.top_p = 0.95f;
  const int n_vocab = 1000;
  Sampler s(p, n_vocab);
  std::mt19937 rng(99);  // same logits sequence for every sampler
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<TokenId> out;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l(n_vocab);
    for (float& x : l) x = nd(rng);
    out.push_back(s.sample(l.data(), out).token);
  }
  return out;
}

TEST(Sampler, SameSeedSameSequence) {
  EXPECT_EQ(draw_sequence(1234, 200), draw_sequence(1234, 200));
  EXPECT_NE(draw_sequence(1234, 200), draw_sequence(1235, 200));
  // Unseeded samplers draw from random_device: with 200 draws a collision is negligible.
  EXPECT_NE(draw_sequence(std::nullopt, 200), draw_sequence(std::nullopt, 200));
}

std::vector<double> log_softmax(const std::vector<float>& l) {
  double mx = *std::max_element(l.begin(), l.end());
  double sum = 0;
  for (float x : l) sum += std::exp(x - mx);
  std::vector<double> out;
  for (float x : l) out.push_back(x - mx - std::log(sum));
  return out;
}

TEST(Sampler, LogprobsAreRawLogSoftmax) {
  const int n_vocab = 3000;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(10.0f, 4.0f);  // large offset: needs the max shift
  SamplingParams p = seeded();
  p.want_logprobs = true;
  p.n_top_logprobs = 5;
  // Penalties and temperature change what is drawn, not what is reported.
  p.temperature = 0.7f;
  p.repetition_penalty = 1.3f;
  p.presence_penalty = 1.0f;
  p.top_k = 40;
  Sampler s(p, n_vocab);
  std::vector<TokenId> hist;
  for (int iter = 0; iter < 30; ++iter) {
    std::vector<float> l(n_vocab);
    for (float& x : l) x = nd(rng);
    const std::vector<double> ref = log_softmax(l);
    std::vector<float> c = l;
    const SampleResult r = s.sample(c.data(), hist);
    EXPECT_NEAR(r.logprob, ref[r.token], 1e-5);
    ASSERT_EQ(r.top.size(), 5u);
    std::vector<TokenId> order(n_vocab);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](TokenId a, TokenId b) { return l[a] > l[b]; });
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(r.top[i].token, order[i]);
      EXPECT_NEAR(r.top[i].logprob, ref[order[i]], 1e-5);
    }
    hist.push_back(r.token);
    hist.push_back(order[0]);  // so the penalties hit the top tokens
  }
}

TEST(Sampler, TopLogprobsTiesByTokenId) {
  SamplingParams p;
  p.temperature = 0;
  p.want_logprobs = true;
  p.n_top_logprobs = 4;
  Sampler s(p, 6);
  std::vector<float> l = {1.0f, 2.0f, 0.5f, 2.0f, 1.0f, 1.0f};
  const std::vector<double> ref = log_softmax(l);
  const SampleResult r = s.sample(l.data(), {});
  EXPECT_EQ(r.token, 1);
  EXPECT_NEAR(r.logprob, ref[1], 1e-5);
  ASSERT_EQ(r.top.size(), 4u);
  const std::vector<TokenId> want = {1, 3, 0, 4};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r.top[i].token, want[i]);
    EXPECT_NEAR(r.top[i].logprob, ref[want[i]], 1e-5);
  }
}

TEST(Sampler, NoLogprobsUnlessAsked) {
  SamplingParams p;
  p.temperature = 0;
  p.n_top_logprobs = 3;
  Sampler s(p, 3);
  std::vector<float> l = {0.0f, 1.0f, 2.0f};
  const SampleResult r = s.sample(l.data(), {});
  EXPECT_EQ(r.logprob, 0.0f);
  EXPECT_TRUE(r.top.empty());
}

TEST(Sampler, TopLogprobsClampedToVocabulary) {
  SamplingParams p;
  p.temperature = 0;
  p.want_logprobs = true;
  p.n_top_logprobs = 20;
  Sampler s(p, 3);
  std::vector<float> l = {0.0f, 1.0f, 2.0f};
  EXPECT_EQ(s.sample(l.data(), {}).top.size(), 3u);
}

TEST(Sampler, MaskedLogitsNeverDrawn) {
  const float ninf = -std::numeric_limits<float>::infinity();
  SamplingParams p = seeded();
  p.temperature = 1.5f;
  Sampler s(p, 4);
  for (int i = 0; i < 1000; ++i) {
    std::vector<float> l = {ninf, 0.0f, ninf, 0.0f};
    const TokenId t = s.sample(l.data(), {}).token;
    ASSERT_TRUE(t == 1 || t == 3);
  }
}

TEST(Sampler, ValidateAcceptsDefaultsAndEdges) {
  EXPECT_EQ(Sampler::validate(SamplingParams{}), "");
  SamplingParams p;
  p.temperature = 0;
  p.top_k = -1;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.repetition_penalty = 0.5f;
  p.n_top_logprobs = 20;
  p.penalty_last_n = -1;
  EXPECT_EQ(Sampler::validate(p), "");
  p.temperature = 2.0f;
  EXPECT_EQ(Sampler::validate(p), "");
}

TEST(Sampler, ValidateRejectsEachBadField) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    const char* field;
    void (*set)(SamplingParams&, float);
    std::vector<float> bad;
  };
  const std::vector<Case> cases = {
      {"temperature", [](SamplingParams& p, float v) { p.temperature = v; }, {-0.1f, 2.01f, nan}},
      {"top_p", [](SamplingParams& p, float v) { p.top_p = v; }, {0.0f, -0.5f, 1.01f, nan}},
      {"top_k", [](SamplingParams& p, float v) { p.top_k = static_cast<int>(v); }, {-2.0f}},
      {"min_p", [](SamplingParams& p, float v) { p.min_p = v; }, {-0.01f, 1.01f, nan}},
      {"presence_penalty", [](SamplingParams& p, float v) { p.presence_penalty = v; },
       {-2.01f, 2.01f, nan}},
      {"frequency_penalty", [](SamplingParams& p, float v) { p.frequency_penalty = v; },
       {-2.01f, 2.01f, nan}},
      {"repetition_penalty", [](SamplingParams& p, float v) { p.repetition_penalty = v; },
       {0.0f, -1.0f, nan, std::numeric_limits<float>::infinity()}},
      {"n_top_logprobs", [](SamplingParams& p, float v) { p.n_top_logprobs = static_cast<int>(v); },
       {-1.0f, 21.0f}},
      {"penalty_last_n", [](SamplingParams& p, float v) { p.penalty_last_n = static_cast<int>(v); },
       {-2.0f}},
  };
  for (const Case& c : cases) {
    for (float v : c.bad) {
      SamplingParams p;
      c.set(p, v);
      const std::string err = Sampler::validate(p);
      EXPECT_NE(err.find(c.field), std::string::npos) << c.field << "=" << v << ": " << err;
    }
  }
}

}  // namespace
}  // namespace mlxs
