// Token sampling: turns one step's logits into a token, following llama.cpp's common
// sampler chain (penalties -> top-k -> top-p -> min-p -> temperature -> softmax -> draw).
// Reported logprobs are those of the model's raw distribution (before penalties and
// temperature), which is what vLLM reports by default.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace mlxs {

// Same alias as tokenizer/tokenizer.h; redeclaring an alias to the same type is legal, so
// the engine can use this header without pulling in the tokenizer.
using TokenId = int32_t;

struct SamplingParams {
  float temperature = 1.0f;          // 0 (or below 1e-5) = greedy argmax
  int top_k = 0;                     // 0 or <0 = off
  float top_p = 1.0f;                // 1 = off
  float min_p = 0.0f;                // 0 = off; keep tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;   // CTRL style: logit>0 ? logit/pen : logit*pen
  float presence_penalty = 0.0f;     // OpenAI: logit -= presence if the token appeared
  float frequency_penalty = 0.0f;    // OpenAI: logit -= frequency * count
  int penalty_last_n = 64;           // penalty window over the history; -1 = all of it
  std::optional<uint64_t> seed;      // same seed + same logits -> same tokens
  int n_top_logprobs = 0;            // top alternatives to report (0..20)
  bool want_logprobs = false;
};

// Greedy argmax with nothing that depends on the history or reports probabilities: the
// first token is then a pure function of the prompt (what first-token speculation needs).
inline bool plain_greedy(const SamplingParams& p) {
  return p.temperature < 1e-5f && p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f &&
         p.frequency_penalty == 0.0f && !p.want_logprobs;
}

struct TokenLogprob {
  TokenId token;
  float logprob;
};

struct SampleResult {
  TokenId token = 0;
  float logprob = 0;               // filled when want_logprobs
  std::vector<TokenLogprob> top;   // filled when want_logprobs; logprob desc, then id asc
};

class Sampler {
 public:
  Sampler(const SamplingParams& p, int32_t n_vocab);

  // logits: n_vocab floats, modified in place (penalties). history: prompt + generated
  // tokens so far; ids outside [0, n_vocab) are ignored.
  SampleResult sample(float* logits, std::span<const TokenId> history);

  // Validation for API input: an error message naming the bad field, or "" if OK.
  static std::string validate(const SamplingParams& p);

  const SamplingParams& params() const { return p_; }

 private:
  struct Candidate {
    float logit;
    TokenId id;
  };

  bool greedy() const { return p_.temperature < 1e-5f; }
  void apply_penalties(float* logits, std::span<const TokenId> history);
  TokenId draw(const float* logits);
  // Logit buckets, ordered: a higher logit never lands in a later bucket. Used to find the
  // top-k / top-p boundary in linear time instead of sorting the vocabulary.
  static constexpr size_t kBuckets = 2048;
  struct Buckets {
    float mx = 0;
    float scale = 0;
    size_t index(float l) const {
      const float d = (mx - l) * scale;  // >= 0; +inf for -inf, NaN for NaN
      return d < static_cast<float>(kBuckets - 1) ? static_cast<size_t>(d) : kBuckets - 1;
    }
  };
  Buckets make_buckets(const float* logits, float mx) const;
  // Fills cand_ with the k best tokens, sorted (logit desc, id asc).
  void select_top_k(const float* logits, float mx, size_t k);
  // Fills cand_ with the top-p nucleus: the fewest best tokens whose mass reaches top_p.
  void select_top_p(const float* logits, float mx);
  // Softmax of logits[0, n) at the temperature, then one draw; returns the index.
  size_t draw_from(const float* logits, size_t n);
  double uniform01();  // [0, 1) with 53 random bits

  SamplingParams p_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;

  // Scratch reused across steps so a step does not allocate vocabulary-sized buffers.
  std::vector<Candidate> cand_;
  std::vector<float> probs_;          // candidate logits, gathered contiguously
  std::vector<float> probs_scratch_;  // exp terms for the draw
  std::vector<double> block_sums_;
  std::vector<double> bucket_mass_;
  std::vector<uint32_t> bucket_count_;
  std::vector<Candidate> boundary_;  // top-p: candidates in the boundary bucket
  std::vector<int32_t> counts_;      // per-token count in the penalty window
  std::vector<TokenId> seen_;        // tokens with counts_ != 0, to reset cheaply
  std::vector<Candidate> original_;  // raw logits of penalized tokens, for logprobs
};

}  // namespace mlxs
