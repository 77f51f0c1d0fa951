#include "engine/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <sstream>

namespace mlxs {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();
constexpr int kMaxTopLogprobs = 20;

uint64_t initial_seed(const std::optional<uint64_t>& seed) {
  if (seed) return *seed;
  std::random_device rd;
  // random_device yields 32 bits per call; use two so unseeded requests differ in all 64.
  return (uint64_t{rd()} << 32) ^ uint64_t{rd()};
}

// Higher logit first; equal logits by lower id, so every ordering below is total and the
// result does not depend on how std::nth_element happens to permute ties.
bool better(float la, TokenId ia, float lb, TokenId ib) {
  return la > lb || (la == lb && ia < ib);
}

// Writes into `top` the n highest raw logits in order (desc, ties by id), in one pass: a
// 20-entry insertion list beats a heap or a sort of 150k entries.
void select_top(const float* logits, int32_t n_vocab, int n, std::vector<TokenLogprob>& top) {
  top.clear();
  if (n <= 0) return;
  top.reserve(n);
  for (TokenId i = 0; i < n_vocab; ++i) {
    const float l = logits[i];
    if (std::isnan(l)) continue;
    if (static_cast<int>(top.size()) == n) {
      // Ids arrive in increasing order, so an equal logit loses to the one already held.
      if (!(l > top.back().logprob)) continue;
      top.pop_back();
    }
    auto pos = std::find_if(top.begin(), top.end(),
                            [l](const TokenLogprob& t) { return l > t.logprob; });
    top.insert(pos, TokenLogprob{i, l});
  }
}

// Selects a where mask is true, else b, via bit operations. GCC does not if-convert float
// ternaries (so loops using them stay scalar); integer masks vectorize.
inline float select(bool mask, float a, float b) {
  const int32_t m = -static_cast<int32_t>(mask);
  return std::bit_cast<float>((std::bit_cast<int32_t>(a) & m) | (std::bit_cast<int32_t>(b) & ~m));
}

// exp(x) for x <= 0 (every caller subtracts the max first). Cephes-style range reduction
// and polynomial, within ~1e-7 relative, branch-free so loops over the vocabulary
// vectorize; std::exp does not (errno) and costs several ns a call. Results below 2^-126
// and NaN inputs give 0, which keeps masked (-inf) and broken logits at zero mass.
inline float fast_exp(float x) {
  x = select(x >= -104.0f, x, -104.0f);
  constexpr float kShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = x * 1.44269504088896341f + kShift;
  const float n = t - kShift;
  const int32_t e = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kShift) + 127;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n*ln2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return select(e > 0, p * std::bit_cast<float>(e << 23), 0.0f);
}

// Independent float accumulators, one vector register wide, so sums vectorize; a single
// running sum is a serial dependency chain (~4 cycles an element).
constexpr size_t kLanes = 8;
// Sums are float within a block (short, accurate) and double across blocks; the block
// sums also let a draw skip to the right block.
constexpr size_t kBlock = 256;

// Maps a float to an int32 with the same order (flip the magnitude bits of negatives).
inline int32_t order_key(float v) {
  const int32_t b = std::bit_cast<int32_t>(v);
  return b ^ ((b >> 31) & 0x7fffffff);
}

// Max ignoring NaN; -inf when n == 0 or everything is -inf/NaN. Done as an integer max on
// order keys because GCC vectorizes integer max reductions but not float ones (without
// -ffast-math); it is ~10x faster than the scalar loop on 150k logits.
float max_of(const float* x, size_t n) {
  int32_t m = order_key(kNegInf);
  for (size_t i = 0; i < n; ++i) {
    m = std::max(m, order_key(select(x[i] == x[i], x[i], kNegInf)));  // NaN -> -inf
  }
  return std::bit_cast<float>(m ^ ((m >> 31) & 0x7fffffff));
}

// Min over finite values and +inf; +inf when there is none.
float min_finite_of(const float* x, size_t n) {
  int32_t m = order_key(kPosInf);
  for (size_t i = 0; i < n; ++i) {
    m = std::min(m, order_key(select(x[i] > kNegInf, x[i], kPosInf)));  // -inf, NaN -> +inf
  }
  return std::bit_cast<float>(m ^ ((m >> 31) & 0x7fffffff));
}

// NaN would break the strict weak ordering that sort/nth_element rely on.
inline float sanitize(float l) { return std::isnan(l) ? kNegInf : l; }

// Index of the max, lowest id on ties, never a NaN. One pass computing per-block maxima
// (vectorized), then a scan of the single block that holds the winner.
size_t argmax_of(const float* x, size_t n) {
  float best = kNegInf;
  size_t best_block = 0;
  for (size_t b = 0; b < n; b += kBlock) {
    const float m = max_of(x + b, std::min(kBlock, n - b));
    if (m > best) {
      best = m;
      best_block = b;
    }
  }
  const size_t end = std::min(n, best_block + kBlock);
  for (size_t i = best_block; i < end; ++i) {
    if (x[i] == best) return i;
  }
  return 0;  // all -inf or NaN
}

// out[i] = exp((x[i] - mx) * scale); out must not overlap x.
void exp_map(const float* x, size_t n, float mx, float scale, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = fast_exp((x[i] - mx) * scale);
}

// Sum of p[0, n), with each block's sum appended to block_sums when given.
double block_sum(const float* p, size_t n, std::vector<double>* block_sums) {
  if (block_sums) block_sums->clear();
  double total = 0;
  for (size_t b = 0; b < n; b += kBlock) {
    const size_t len = std::min(kBlock, n - b);
    float acc[kLanes] = {};
    size_t i = 0;
    for (; i + kLanes <= len; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) acc[j] += p[b + i + j];
    }
    for (; i < len; ++i) acc[0] += p[b + i];
    double block = 0;
    for (float a : acc) block += a;
    if (block_sums) block_sums->push_back(block);
    total += block;
  }
  return total;
}

}  // namespace

Sampler::Sampler(const SamplingParams& p, int32_t n_vocab)
    : p_(p), n_vocab_(n_vocab), rng_(initial_seed(p.seed)) {
  p_.n_top_logprobs = std::clamp(p_.n_top_logprobs, 0, std::min(kMaxTopLogprobs, n_vocab_));
}

double Sampler::uniform01() {
  // Built by hand rather than with std::uniform_real_distribution, whose algorithm differs
  // between standard libraries; this keeps seeded runs identical everywhere.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

SampleResult Sampler::sample(float* logits, std::span<const TokenId> history) {
  SampleResult r;
  original_.clear();

  // Logprobs describe the raw model distribution, so take them before anything below
  // edits the logits. log Z = max + log(sum exp(l - max)) keeps exp from overflowing.
  double log_z = 0;
  if (p_.want_logprobs) {
    const float mx = max_of(logits, n_vocab_);
    double sum = 0;
    if (mx != kNegInf) {
      probs_scratch_.resize(n_vocab_);
      exp_map(logits, n_vocab_, mx, 1.0f, probs_scratch_.data());
      sum = block_sum(probs_scratch_.data(), n_vocab_, nullptr);
    }
    log_z = static_cast<double>(mx) + std::log(sum);
    select_top(logits, n_vocab_, p_.n_top_logprobs, r.top);
    for (TokenLogprob& t : r.top) t.logprob = static_cast<float>(t.logprob - log_z);
  }

  apply_penalties(logits, history);

  if (greedy()) {
    r.token = static_cast<TokenId>(argmax_of(logits, n_vocab_));
  } else {
    r.token = draw(logits);
  }

  if (p_.want_logprobs) {
    float raw = logits[r.token];
    for (const Candidate& c : original_) {
      if (c.id == r.token) raw = c.logit;
    }
    r.logprob = static_cast<float>(raw - log_z);
  }
  return r;
}

void Sampler::apply_penalties(float* logits, std::span<const TokenId> history) {
  const bool any = p_.repetition_penalty != 1.0f || p_.presence_penalty != 0.0f ||
                   p_.frequency_penalty != 0.0f;
  if (!any || p_.penalty_last_n == 0 || history.empty()) return;

  const size_t window = p_.penalty_last_n < 0
                            ? history.size()
                            : std::min(history.size(), static_cast<size_t>(p_.penalty_last_n));
  // A dense count table plus a list of touched entries: counting is O(window) and the
  // reset only touches what was set, so the vocabulary-sized table is allocated once.
  if (counts_.empty()) counts_.assign(n_vocab_, 0);
  for (TokenId t : history.last(window)) {
    if (t < 0 || t >= n_vocab_) continue;
    if (counts_[t]++ == 0) seen_.push_back(t);
  }

  for (TokenId t : seen_) {
    float l = logits[t];
    original_.push_back(Candidate{l, t});
    // Dividing a negative logit would raise it, so CTRL multiplies those instead.
    if (p_.repetition_penalty != 1.0f) {
      l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
    }
    l -= static_cast<float>(counts_[t]) * p_.frequency_penalty + p_.presence_penalty;
    logits[t] = l;
    counts_[t] = 0;
  }
  seen_.clear();
}

TokenId Sampler::draw(const float* logits) {
  const size_t vocab = static_cast<size_t>(n_vocab_);
  const bool use_top_k = p_.top_k > 0 && static_cast<size_t>(p_.top_k) < vocab;
  const bool use_top_p = p_.top_p < 1.0f;
  const bool use_min_p = p_.min_p > 0.0f;
  if (!use_top_k && !use_top_p && !use_min_p) {
    // Plain temperature sampling, the common case: work on the logits directly.
    return static_cast<TokenId>(draw_from(logits, vocab));
  }
  const float mx = max_of(logits, vocab);
  if (mx == kNegInf || mx == kPosInf) {
    // No mass anywhere, or one token (the first +inf) takes all of it.
    return static_cast<TokenId>(argmax_of(logits, vocab));
  }

  // Each filter keeps tokens by logit, so the candidate list is built from the survivors of
  // the first filter only; nothing here sorts or copies the whole vocabulary.
  cand_.clear();
  if (use_top_k) {
    select_top_k(logits, mx, static_cast<size_t>(p_.top_k));
  } else if (use_top_p) {
    select_top_p(logits, mx);
  } else {
    // p_i >= min_p * p_max  <=>  l_i >= l_max + log(min_p).
    const float threshold = mx + std::log(p_.min_p);
    for (size_t i = 0; i < vocab; ++i) {
      if (logits[i] >= threshold) cand_.push_back(Candidate{logits[i], static_cast<TokenId>(i)});
    }
  }

  if (use_top_k && use_top_p && cand_.size() > 1) {
    // cand_ is in order after top-k: the nucleus is a prefix.
    double total = 0;
    for (const Candidate& c : cand_) total += fast_exp(c.logit - mx);
    const double target = static_cast<double>(p_.top_p) * total;
    double cum = 0;
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += fast_exp(cand_[i].logit - mx);
      if (cum >= target) {
        cand_.resize(i + 1);
        break;
      }
    }
  }

  if (use_min_p && (use_top_k || use_top_p) && cand_.size() > 1) {
    // The max survives every filter and renormalization cancels out of the ratio, so the
    // threshold is the same as on the full vocabulary.
    const float threshold = mx + std::log(p_.min_p);
    size_t kept = 0;
    for (const Candidate& c : cand_) {
      if (c.logit >= threshold) cand_[kept++] = c;
    }
    cand_.resize(kept);
  }

  // Candidate logits copied out contiguously so the softmax loops vectorize.
  const size_t n = cand_.size();
  probs_.resize(n);
  for (size_t i = 0; i < n; ++i) probs_[i] = cand_[i].logit;
  return cand_[draw_from(probs_.data(), n)].id;
}

Sampler::Buckets Sampler::make_buckets(const float* logits, float mx) const {
  // Logits more than 88 below the max have exp() == 0 in float, so the buckets need not
  // span further; those (and -inf/NaN) share the last bucket.
  const float lo = min_finite_of(logits, n_vocab_);
  const float span = std::min(mx - lo, 88.0f);
  Buckets b;
  b.mx = mx;
  b.scale = span > 0 ? static_cast<float>(kBuckets) / span : 0.0f;
  return b;
}

void Sampler::select_top_k(const float* logits, float mx, size_t k) {
  // Count tokens per logit bucket; buckets are ordered, so the top k lie in the first
  // buckets holding >= k tokens. Gather only those, then select exactly among them.
  const Buckets b = make_buckets(logits, mx);
  bucket_count_.assign(kBuckets, 0);
  for (int32_t i = 0; i < n_vocab_; ++i) ++bucket_count_[b.index(logits[i])];
  size_t cum = 0;
  size_t last = 0;
  while (last + 1 < kBuckets && cum + bucket_count_[last] < k) cum += bucket_count_[last++];
  for (int32_t i = 0; i < n_vocab_; ++i) {
    if (b.index(logits[i]) <= last) cand_.push_back(Candidate{sanitize(logits[i]), i});
  }
  auto cmp = [](const Candidate& x, const Candidate& y) {
    return better(x.logit, x.id, y.logit, y.id);
  };
  if (cand_.size() > k) {
    std::nth_element(cand_.begin(), cand_.begin() + k, cand_.end(), cmp);
    cand_.resize(k);
  }
  std::sort(cand_.begin(), cand_.end(), cmp);
}

void Sampler::select_top_p(const float* logits, float mx) {
  // Sorting by probability costs O(V log V), and with a flat distribution the nucleus is
  // most of the vocabulary. Instead, histogram the mass by logit bucket: whole buckets
  // before the one where the cumulative mass crosses top_p are in, and only that boundary
  // bucket is sorted. Linear time whatever the distribution.
  const size_t vocab = static_cast<size_t>(n_vocab_);
  probs_scratch_.resize(vocab);
  exp_map(logits, vocab, mx, 1.0f, probs_scratch_.data());
  const double total = block_sum(probs_scratch_.data(), vocab, nullptr);
  const double target = static_cast<double>(p_.top_p) * total;

  const Buckets b = make_buckets(logits, mx);
  bucket_mass_.assign(kBuckets, 0.0);
  for (size_t i = 0; i < vocab; ++i) bucket_mass_[b.index(logits[i])] += probs_scratch_[i];
  double cum = 0;
  size_t edge = 0;
  while (edge + 1 < kBuckets && cum + bucket_mass_[edge] < target) {
    cum += bucket_mass_[edge++];
  }

  boundary_.clear();
  for (size_t i = 0; i < vocab; ++i) {
    const size_t bi = b.index(logits[i]);
    if (bi > edge) continue;
    const Candidate c{sanitize(logits[i]), static_cast<TokenId>(i)};
    (bi < edge ? cand_ : boundary_).push_back(c);
  }
  std::sort(boundary_.begin(), boundary_.end(), [](const Candidate& x, const Candidate& y) {
    return better(x.logit, x.id, y.logit, y.id);
  });
  for (const Candidate& c : boundary_) {
    cand_.push_back(c);
    cum += fast_exp(c.logit - mx);
    if (cum >= target) break;
  }
  // If rounding (bucket sums vs. the running sum) left cum a hair short, the whole
  // boundary bucket is kept, which is right up to that rounding.
}

size_t Sampler::draw_from(const float* logits, size_t n) {
  const float mx = max_of(logits, n);
  if (mx == kNegInf) {
    // Nothing has any probability mass: take the best-ranked entry.
    return argmax_of(logits, n);
  }
  // Blocks keep the draw cheap: find the block by its sum, then scan only that block,
  // instead of a serial cumulative sum over the whole vocabulary.
  probs_scratch_.resize(n);
  exp_map(logits, n, mx, 1.0f / p_.temperature, probs_scratch_.data());
  const double total = block_sum(probs_scratch_.data(), n, &block_sums_);
  const double r = uniform01() * total;
  double cum = 0;
  size_t last_nonzero = std::string::npos;
  for (size_t b = 0; b < block_sums_.size(); ++b) {
    if (block_sums_[b] == 0) continue;
    if (r >= cum + block_sums_[b] && b + 1 < block_sums_.size()) {
      cum += block_sums_[b];
      continue;
    }
    const size_t end = std::min(n, (b + 1) * kBlock);
    for (size_t i = b * kBlock; i < end; ++i) {
      if (probs_scratch_[i] == 0) continue;
      last_nonzero = i;
      cum += probs_scratch_[i];
      if (r < cum) return i;
    }
    // Rounding (block sum vs. running sum) left r just past this block: keep going.
  }
  // Only reachable when rounding leaves cum a hair below r.
  return last_nonzero != std::string::npos ? last_nonzero : argmax_of(logits, n);
}

std::string Sampler::validate(const SamplingParams& p) {
  // Written as !(in range) so that NaN is rejected too.
  auto fmt = [](const char* field, const char* range, double v) {
    std::ostringstream os;
    os << field << " must be " << range << ", got " << v;
    return os.str();
  };
  if (!(p.temperature >= 0.0f && p.temperature <= 2.0f)) {
    return fmt("temperature", "in [0, 2]", p.temperature);
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return fmt("top_p", "in (0, 1]", p.top_p);
  if (p.top_k < -1) return fmt("top_k", ">= 0 or -1", p.top_k);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return fmt("min_p", "in [0, 1]", p.min_p);
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
    return fmt("presence_penalty", "in [-2, 2]", p.presence_penalty);
  }
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
    return fmt("frequency_penalty", "in [-2, 2]", p.frequency_penalty);
  }
  if (!(p.repetition_penalty > 0.0f) || std::isinf(p.repetition_penalty)) {
    return fmt("repetition_penalty", "> 0", p.repetition_penalty);
  }
  if (p.penalty_last_n < -1) return fmt("penalty_last_n", ">= 0 or -1", p.penalty_last_n);
  if (p.n_top_logprobs < 0 || p.n_top_logprobs > kMaxTopLogprobs) {
    return fmt("n_top_logprobs", "in [0, 20]", p.n_top_logprobs);
  }
  return "";
}

}  // namespace mlxs
