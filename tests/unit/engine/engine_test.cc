#include <gtest/gtest.h>

#include <cstring>
#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "engine/model.h"
#include "test_model.h"

namespace mlxs {
namespace {

constexpr const char* kTinyLlama =
    "--arch llama --dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 256 --vocab 512 "
    "--ctx 256 --type q8_0 --tokenizer spm --seed 7";

std::string tiny_model() {
  std::string p = testing::make_test_model("tiny-llama-q8_0", kTinyLlama);
  EXPECT_FALSE(p.empty()) << "mlx-testmodel failed";
  return p;
}

// Runs sequences through the forward pass and returns every logits row produced.
struct Runner {
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<KvCache> cache;

  explicit Runner(const std::string& path, int threads = 2, KvType kv = KvType::kF16) {
    auto m = Model::load(path);
    EXPECT_TRUE(m.ok()) << m.status().message();
    model = std::move(m.value());
    pool = std::make_unique<ThreadPool>(threads);
    KvCacheConfig kc{model->config().n_layer, model->config().kv_dim(), 16, 64, kv};
    cache = std::make_unique<KvCache>(kc);
  }
  int vocab() const { return model->config().n_vocab; }
};

std::vector<TokenId> tokens_from(int seed, int n) {
  std::vector<TokenId> t(n);
  for (int i = 0; i < n; ++i) t[i] = (seed * 131 + i * 17) % 500 + 3;
  return t;
}

TEST(Forward, BatchedSequencesMatchEachAloneBitForBit) {
  std::string path = tiny_model();
  Runner r(path);
  auto a = tokens_from(1, 7), b = tokens_from(2, 12);
  const int V = r.vocab();

  // Alone: prefill then three decode steps each.
  auto run_alone = [&](const std::vector<TokenId>& prompt) {
    std::vector<float> rows;
    int s = r.cache->create_sequence();
    r.cache->reserve(s, 64);
    BatchSeq bs{s, prompt.data(), static_cast<int>(prompt.size()), 0, BatchSeq::Logits::kLast};
    r.model->forward({&bs, 1}, *r.cache, *r.pool, &rows);
    for (int k = 0; k < 3; ++k) {
      TokenId t = 10 + k;
      BatchSeq d{s, &t, 1, static_cast<int>(prompt.size()) + k, BatchSeq::Logits::kLast};
      r.model->forward({&d, 1}, *r.cache, *r.pool, &rows);
    }
    r.cache->free_sequence(s);
    return rows;
  };
  auto ra = run_alone(a), rb = run_alone(b);

  // Together: both prefills in one call, then joint decode steps.
  std::vector<float> rows;
  int sa = r.cache->create_sequence(), sb = r.cache->create_sequence();
  r.cache->reserve(sa, 64);
  r.cache->reserve(sb, 64);
  BatchSeq both[2] = {{sa, a.data(), 7, 0, BatchSeq::Logits::kLast},
                      {sb, b.data(), 12, 0, BatchSeq::Logits::kLast}};
  r.model->forward(both, *r.cache, *r.pool, &rows);
  for (int k = 0; k < 3; ++k) {
    TokenId t = 10 + k;
    BatchSeq d[2] = {{sa, &t, 1, 7 + k, BatchSeq::Logits::kLast}, {sb, &t, 1, 12 + k, BatchSeq::Logits::kLast}};
    r.model->forward(d, *r.cache, *r.pool, &rows);
  }
  ASSERT_EQ(rows.size(), static_cast<size_t>(8 * V));
  for (int step = 0; step < 4; ++step) {
    EXPECT_EQ(0, std::memcmp(&rows[(2 * step) * V], &ra[step * V], V * sizeof(float))) << "seq a step " << step;
    EXPECT_EQ(0, std::memcmp(&rows[(2 * step + 1) * V], &rb[step * V], V * sizeof(float))) << "seq b step " << step;
  }
}

TEST(Forward, ChunkedPrefillEqualsOneShotPrefill) {
  std::string path = tiny_model();
  Runner r(path);
  auto p = tokens_from(3, 37);
  const int V = r.vocab();
  std::vector<float> whole, chunked;
  int s = r.cache->create_sequence();
  r.cache->reserve(s, 64);
  BatchSeq b{s, p.data(), 37, 0, BatchSeq::Logits::kAll};
  r.model->forward({&b, 1}, *r.cache, *r.pool, &whole);
  r.cache->free_sequence(s);
  s = r.cache->create_sequence();
  r.cache->reserve(s, 64);
  for (int pos = 0; pos < 37; pos += 10) {
    int n = std::min(10, 37 - pos);
    BatchSeq c{s, p.data() + pos, n, pos, BatchSeq::Logits::kAll};
    r.model->forward({&c, 1}, *r.cache, *r.pool, &chunked);
  }
  ASSERT_EQ(whole.size(), chunked.size());
  EXPECT_EQ(0, std::memcmp(whole.data(), chunked.data(), whole.size() * sizeof(float)));
  // The logits are a real distribution, not a constant.
  float mn = whole[0], mx = whole[0];
  for (int v = 0; v < V; ++v) mn = std::min(mn, whole[v]), mx = std::max(mx, whole[v]);
  EXPECT_GT(mx - mn, 0.1f);
}

TEST(Forward, ThreadCountDoesNotChangeResults) {
  std::string path = tiny_model();
  Runner r1(path, 1), r3(path, 3);
  auto p = tokens_from(4, 20);
  std::vector<float> o1, o3;
  for (auto* r : {&r1, &r3}) {
    int s = r->cache->create_sequence();
    r->cache->reserve(s, 32);
    BatchSeq b{s, p.data(), 20, 0, BatchSeq::Logits::kAll};
    r->model->forward({&b, 1}, *r->cache, *r->pool, r == &r1 ? &o1 : &o3);
  }
  ASSERT_EQ(o1.size(), o3.size());
  EXPECT_EQ(0, std::memcmp(o1.data(), o3.data(), o1.size() * sizeof(float)));
}

std::unique_ptr<Engine> make_engine(int max_sequences = 4) {
  EngineOptions o;
  o.model_path = tiny_model();
  o.n_threads = 2;
  o.max_sequences = max_sequences;
  o.step_token_budget = 32;  // small, so prompts are prefilled in several chunks
  auto e = Engine::create(o);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e.value());
}

struct Collected {
  std::vector<TokenId> tokens;
  std::string text;
  FinishReason finish = FinishReason::kNone;
  std::string error;
  GenerationStats stats;
};

Collected collect(GenerationStream& s) {
  Collected c;
  Chunk ch;
  while (s.next(&ch)) {
    if (ch.token >= 0) c.tokens.push_back(ch.token);
    c.text += ch.text;
    c.finish = ch.finish;
    c.error = ch.error;
    c.stats = ch.stats;
  }
  return c;
}

GenerateRequest greedy(const std::string& prompt, int n) {
  GenerateRequest r;
  r.prompt = prompt;
  r.max_tokens = n;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return r;
}

TEST(Engine, ConcurrentGreedyRequestsMatchEachAlone) {
  auto e = make_engine(4);
  std::vector<std::string> prompts = {"the cat sat on the mat", "hello",
                                      "a much longer prompt that needs several prefill chunks "
                                      "because the step budget is small and it keeps going on",
                                      "once upon a time there was"};
  std::vector<Collected> alone;
  for (const auto& p : prompts) alone.push_back(collect(*e->generate(greedy(p, 12))));
  std::vector<std::shared_ptr<GenerationStream>> streams;
  for (const auto& p : prompts) streams.push_back(e->generate(greedy(p, 12)));
  for (size_t i = 0; i < prompts.size(); ++i) {
    Collected c = collect(*streams[i]);
    EXPECT_EQ(c.finish, FinishReason::kLength);
    EXPECT_EQ(c.tokens.size(), 12u);
    EXPECT_EQ(c.tokens, alone[i].tokens) << "prompt " << i;
    EXPECT_EQ(c.text, alone[i].text);
    EXPECT_GT(c.stats.prompt_tokens, 0);
    EXPECT_EQ(c.stats.generated_tokens, 12);
  }
}

TEST(Engine, SameSeedSameSample) {
  auto e = make_engine();
  auto req = [](uint64_t seed) {
    GenerateRequest r;
    r.prompt = "the weather today";
    r.max_tokens = 16;
    r.ignore_eos = true;
    r.sampling.temperature = 1.0f;
    r.sampling.seed = seed;
    return r;
  };
  auto a = collect(*e->generate(req(5))), b = collect(*e->generate(req(5))), c = collect(*e->generate(req(6)));
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
}

TEST(Engine, CancelStopsWithinAStep) {
  auto e = make_engine();
  // Cancel from the delivery of the third token: the scheduler must notice before the
  // next forward step, so exactly three tokens come out, then the cancelled ending.
  std::shared_ptr<GenerationStream> stream;
  std::promise<void> started;
  std::shared_future<void> ready = started.get_future().share();
  std::promise<std::pair<int, FinishReason>> done;
  int tokens = 0;
  GenerateRequest r = greedy("cancel me", 200);
  r.on_chunk = [&](const Chunk& ch) {
    ready.wait();
    if (ch.token >= 0 && ++tokens == 3) stream->cancel();
    if (ch.finish != FinishReason::kNone) done.set_value({tokens, ch.finish});
  };
  stream = e->generate(r);
  started.set_value();
  auto [n, finish] = done.get_future().get();
  EXPECT_EQ(n, 3);
  EXPECT_EQ(finish, FinishReason::kCancelled);

  // A consumer that cancels from its own thread gets the cancelled ending too.
  auto s = e->generate(greedy("cancel me too", 200));
  Chunk ch;
  ASSERT_TRUE(s->next(&ch));
  s->cancel();
  FinishReason last = ch.finish;
  int more = 0;
  while (s->next(&ch)) ++more, last = ch.finish;
  EXPECT_EQ(last, FinishReason::kCancelled);
  EXPECT_LT(more, 200);
}

TEST(Engine, StopStringEndsGenerationAndIsNotEmitted) {
  auto e = make_engine();
  Collected full = collect(*e->generate(greedy("the story of", 24)));
  ASSERT_GE(full.text.size(), 8u);
  // A piece of the greedy output from its middle: generation must end just before it.
  std::string stop = full.text.substr(full.text.size() / 2, 3);
  GenerateRequest r = greedy("the story of", 24);
  r.stop = {stop};
  Collected c = collect(*e->generate(r));
  EXPECT_EQ(c.finish, FinishReason::kStop);
  EXPECT_EQ(c.text, full.text.substr(0, full.text.find(stop)));
}

TEST(Engine, BadRequestsGetClearErrors) {
  auto e = make_engine();
  GenerateRequest too_long = greedy("hello", e->n_ctx());
  Collected c = collect(*e->generate(too_long));
  EXPECT_EQ(c.finish, FinishReason::kError);
  EXPECT_NE(c.error.find(std::to_string(e->n_ctx())), std::string::npos) << c.error;
  EXPECT_NE(c.error.find("in the prompt"), std::string::npos) << c.error;

  GenerateRequest bad_temp = greedy("hello", 4);
  bad_temp.sampling.temperature = -1;
  EXPECT_EQ(collect(*e->generate(bad_temp)).finish, FinishReason::kError);

  GenerateRequest bad_token = greedy("", 4);
  bad_token.prompt_tokens = {1, 99999};
  c = collect(*e->generate(bad_token));
  EXPECT_EQ(c.finish, FinishReason::kError);
  EXPECT_NE(c.error.find("99999"), std::string::npos);

  GenerateRequest empty = greedy("", 4);
  empty.add_special = false;
  EXPECT_EQ(collect(*e->generate(empty)).finish, FinishReason::kError);
}

TEST(Engine, CallbackDeliveryAndStats) {
  auto e = make_engine();
  std::promise<Collected> done;
  auto out = std::make_shared<Collected>();
  GenerateRequest r = greedy("callbacks", 5);
  r.on_chunk = [&, out](const Chunk& ch) {
    if (ch.token >= 0) out->tokens.push_back(ch.token);
    if (ch.finish != FinishReason::kNone) {
      out->finish = ch.finish;
      out->stats = ch.stats;
      done.set_value(*out);
    }
  };
  e->generate(r);
  Collected c = done.get_future().get();
  EXPECT_EQ(c.tokens.size(), 5u);
  EXPECT_EQ(c.finish, FinishReason::kLength);
  EXPECT_GT(c.stats.ttft_ms, 0);
  EXPECT_GE(c.stats.total_ms, c.stats.ttft_ms);
}

// Holds the scheduler inside the first chunk of a request until released, so that the
// test can look at the queue while that request occupies its batch slot.
class HeldRequest {
 public:
  HeldRequest(Engine& e, const std::string& prompt, int n) : state_(std::make_shared<State>()) {
    GenerateRequest r = greedy(prompt, n);
    // The callback owns the state: the request may outlive this object.
    r.on_chunk = [st = state_](const Chunk&) {
      if (st->signalled) return;
      st->signalled = true;
      st->first_token.set_value();
      st->released.wait();
    };
    e.generate(r);
    state_->first_token.get_future().wait();
  }
  ~HeldRequest() { release(); }
  void release() {
    if (!state_->release_set) state_->release.set_value(), state_->release_set = true;
  }

 private:
  struct State {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> first_token;
    bool signalled = false, release_set = false;
  };
  std::shared_ptr<State> state_;
};

TEST(Engine, LiveConcurrencyLimitHoldsTheRestInTheQueue) {
  auto e = make_engine(4);
  e->set_max_active(1);
  EXPECT_EQ(e->stats().max_active, 1);
  // The first request blocks its own delivery until released, so while it runs the
  // second must wait in the queue: one running, one waiting, blocks held by the first.
  HeldRequest first(*e, "first", 3);
  auto sb = e->generate(greedy("second", 3));
  SchedulerStats st = e->stats();
  EXPECT_EQ(st.running, 1);
  EXPECT_EQ(st.waiting, 1);
  EXPECT_GT(st.kv_blocks_used, 0);
  EXPECT_GT(st.kv_blocks_total, st.kv_blocks_used);
  first.release();
  EXPECT_EQ(collect(*sb).finish, FinishReason::kLength);
  st = e->stats();
  EXPECT_EQ(st.waiting, 0);
  EXPECT_GT(st.steps, 0u);
  // Clamped to the batch slots.
  e->set_max_active(100);
  EXPECT_EQ(e->stats().max_active, 4);
  e->set_max_active(0);
  EXPECT_EQ(e->stats().max_active, 1);
}

TEST(Engine, LongPromptIsChunkedWhileOthersKeepDecoding) {
  auto e = make_engine(4);  // 32 tokens per step
  // A decodes; B's 200-token prompt needs at least seven steps of prefill, and every one
  // of those steps must also carry A's next token.
  std::mutex mu;
  std::vector<char> order;  // 'a' per token of A, 'b' per token of B
  std::promise<void> a_started;
  bool a_signalled = false;
  GenerateRequest a = greedy("keep going", 60);
  a.on_chunk = [&](const Chunk& ch) {
    std::lock_guard<std::mutex> lock(mu);
    if (ch.token >= 0) order.push_back('a');
    if (!a_signalled) {
      a_signalled = true;
      a_started.set_value();
    }
  };
  auto sa = e->generate(a);
  a_started.get_future().wait();
  GenerateRequest b = greedy("", 2);
  b.prompt_tokens = tokens_from(9, 200);
  std::promise<void> b_done;
  b.on_chunk = [&](const Chunk& ch) {
    std::lock_guard<std::mutex> lock(mu);
    if (ch.token >= 0) order.push_back('b');
    if (ch.finish != FinishReason::kNone) b_done.set_value();
  };
  auto sb = e->generate(b);
  b_done.get_future().wait();
  std::lock_guard<std::mutex> lock(mu);
  auto first_b = std::find(order.begin(), order.end(), 'b');
  ASSERT_NE(first_b, order.end());
  int a_before_b = static_cast<int>(std::count(order.begin(), first_b, 'a'));
  EXPECT_GE(a_before_b, 1 + 200 / 31) << "A stalled while B's prompt was prefilled";
}

TEST(Engine, InjectedFaultsDelayAndFailRequestsWithoutChangingTheirTokens) {
  auto e = make_engine(2);
  Collected plain = collect(*e->generate(greedy("fault drill", 6)));

  // Held before the first token and between tokens: the same tokens, later.
  GenerateRequest slow = greedy("fault drill", 6);
  slow.fault.first_token_delay_ms = 150;
  slow.fault.per_token_delay_ms = 20;
  Collected c = collect(*e->generate(slow));
  EXPECT_EQ(c.tokens, plain.tokens);
  EXPECT_EQ(c.finish, FinishReason::kLength);
  EXPECT_GE(c.stats.ttft_ms, 150);
  EXPECT_GE(c.stats.total_ms, 150 + 5 * 20);

  // A held request does not stall the others sharing the batch.
  GenerateRequest held = greedy("fault drill", 2);
  held.fault.first_token_delay_ms = 1500;
  auto held_stream = e->generate(held);
  Collected quick = collect(*e->generate(greedy("fault drill", 6)));
  EXPECT_EQ(quick.tokens, plain.tokens);
  EXPECT_FALSE(held_stream->finished());  // the quick one did not wait for it
  EXPECT_EQ(collect(*held_stream).finish, FinishReason::kLength);

  // Failing after some tokens: those tokens, then an error naming the fault.
  GenerateRequest failing = greedy("fault drill", 6);
  failing.fault.fail_after_tokens = 3;
  c = collect(*e->generate(failing));
  EXPECT_EQ(c.tokens, std::vector<TokenId>(plain.tokens.begin(), plain.tokens.begin() + 3));
  EXPECT_EQ(c.finish, FinishReason::kError);
  EXPECT_NE(c.error.find("injected fault"), std::string::npos) << c.error;
  failing.fault.fail_after_tokens = 0;
  c = collect(*e->generate(failing));
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_EQ(c.finish, FinishReason::kError);
}

TEST(Engine, CancelledWhileQueuedLeavesTheQueue) {
  auto e = make_engine(4);
  e->set_max_active(1);
  HeldRequest first(*e, "first", 2);
  auto sb = e->generate(greedy("queued", 50));
  sb->cancel();
  first.release();
  Collected c = collect(*sb);
  EXPECT_EQ(c.finish, FinishReason::kCancelled);
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_EQ(e->stats().waiting, 0);
}

TEST(Engine, LoadErrorsNameTheFile) {
  EngineOptions o;
  o.model_path = "/nonexistent/model.gguf";
  auto e = Engine::create(o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("/nonexistent/model.gguf"), std::string::npos);
}


// ---- prefix cache ----

std::unique_ptr<Engine> make_prefix_engine(bool prefix_cache, int max_sequences = 4) {
  EngineOptions o;
  o.model_path = tiny_model();
  o.n_threads = 2;
  o.max_sequences = max_sequences;
  o.step_token_budget = 32;
  o.prefix_cache = prefix_cache;
  auto e = Engine::create(o);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e.value());
}

GenerateRequest greedy_tokens(std::vector<TokenId> prompt, int n) {
  GenerateRequest r;
  r.prompt_tokens = std::move(prompt);
  r.max_tokens = n;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return r;
}

// The loop updates its block count just after the final chunk goes out: wait (generously)
// for it to settle.
int settled_kv_blocks_used(const Engine& e) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e.stats().kv_blocks_used != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return e.stats().kv_blocks_used;
}

std::vector<TokenId> concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(EnginePrefixCache, SamePromptTwiceReusesBlocksAndGivesTheSameTokens) {
  auto e = make_prefix_engine(true);
  auto prompt = tokens_from(5, 50);  // 3 full blocks of 16 + 2
  Collected first = collect(*e->generate(greedy_tokens(prompt, 10)));
  Collected second = collect(*e->generate(greedy_tokens(prompt, 10)));
  ASSERT_EQ(first.finish, FinishReason::kLength) << first.error;
  ASSERT_EQ(second.finish, FinishReason::kLength) << second.error;
  EXPECT_EQ(first.stats.cached_tokens, 0);
  EXPECT_GT(second.stats.cached_tokens, 0);
  EXPECT_EQ(second.stats.cached_tokens % 16, 0);
  EXPECT_LT(second.stats.cached_tokens, second.stats.prompt_tokens);
  // The first run's generated tokens were published too, so the whole prompt but its
  // last partial block is shared.
  EXPECT_EQ(second.stats.cached_tokens, 48);
  EXPECT_EQ(second.tokens, first.tokens);
  EXPECT_EQ(second.text, first.text);
  auto st = e->stats().prefix;
  EXPECT_EQ(st.queries, 2u);
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.hit_tokens, 48u);
  EXPECT_GT(st.cached_blocks, 0u);
}

TEST(EnginePrefixCache, PromptAlignedToBlocksStillComputesItsLastToken) {
  auto e = make_prefix_engine(true);
  auto prompt = tokens_from(9, 32);  // exactly 2 blocks
  Collected first = collect(*e->generate(greedy_tokens(prompt, 6)));
  Collected second = collect(*e->generate(greedy_tokens(prompt, 6)));
  // Block 1 shared, 15 slots of block 2 copied: the last prompt token is computed.
  EXPECT_EQ(second.stats.cached_tokens, 31);
  EXPECT_EQ(second.tokens, first.tokens);
}

TEST(EnginePrefixCache, SharedPrefixWithDifferentEndingsMatchesTheUncachedEngine) {
  auto cached = make_prefix_engine(true);
  auto plain = make_prefix_engine(false);
  auto prefix = tokens_from(6, 70);  // 4 full blocks + 6
  auto a = concat(prefix, tokens_from(7, 9));
  auto b = concat(prefix, tokens_from(8, 13));
  Collected a_cached = collect(*cached->generate(greedy_tokens(a, 12)));
  Collected b_cached = collect(*cached->generate(greedy_tokens(b, 12)));
  Collected a_plain = collect(*plain->generate(greedy_tokens(a, 12)));
  Collected b_plain = collect(*plain->generate(greedy_tokens(b, 12)));
  ASSERT_EQ(b_cached.finish, FinishReason::kLength) << b_cached.error;
  EXPECT_EQ(a_cached.stats.cached_tokens, 0);
  // 4 blocks shared, and the 6 prefix tokens of the fifth copied (copy-on-write).
  EXPECT_EQ(b_cached.stats.cached_tokens, 70);
  EXPECT_EQ(cached->stats().prefix.copies, 1u);
  EXPECT_EQ(b_plain.stats.cached_tokens, 0);
  EXPECT_EQ(a_cached.tokens, a_plain.tokens);
  EXPECT_EQ(b_cached.tokens, b_plain.tokens);
  EXPECT_EQ(b_cached.text, b_plain.text);
  EXPECT_EQ(plain->stats().prefix.queries, 0u);
  EXPECT_EQ(plain->stats().prefix.cached_blocks, 0u);
}

TEST(EnginePrefixCache, ConcurrentRequestsSharingAPrefixMatchAloneRuns) {
  auto cached = make_prefix_engine(true, 4);
  auto plain = make_prefix_engine(false, 4);
  auto prefix = tokens_from(11, 40);
  std::vector<std::vector<TokenId>> prompts;
  for (int i = 0; i < 4; ++i) prompts.push_back(concat(prefix, tokens_from(20 + i, 5 + 7 * i)));
  std::vector<Collected> alone;
  for (const auto& p : prompts) alone.push_back(collect(*plain->generate(greedy_tokens(p, 10))));
  // Warm the cache with the bare prefix, then run all four together.
  collect(*cached->generate(greedy_tokens(prefix, 2)));
  std::vector<std::shared_ptr<GenerationStream>> streams;
  for (const auto& p : prompts) streams.push_back(cached->generate(greedy_tokens(p, 10)));
  for (size_t i = 0; i < prompts.size(); ++i) {
    Collected c = collect(*streams[i]);
    ASSERT_EQ(c.finish, FinishReason::kLength) << c.error;
    // The warm-up's two full blocks at least; up to the whole 40-token prefix when
    // another of the four published its third block first (copied at the divergence).
    EXPECT_GE(c.stats.cached_tokens, 32) << "prompt " << i;
    EXPECT_LE(c.stats.cached_tokens, 40) << "prompt " << i;
    EXPECT_EQ(c.tokens, alone[i].tokens) << "prompt " << i;
  }
  // Every block was released: the whole pool is available again.
  EXPECT_EQ(settled_kv_blocks_used(*cached), 0);
  EXPECT_GT(cached->stats().prefix.cached_blocks, 0u);
}

TEST(EnginePrefixCache, RequestCanOptOut) {
  auto e = make_prefix_engine(true);
  auto prompt = tokens_from(12, 50);
  Collected first = collect(*e->generate(greedy_tokens(prompt, 6)));
  auto req = greedy_tokens(prompt, 6);
  req.use_prefix_cache = false;
  Collected opted_out = collect(*e->generate(std::move(req)));
  EXPECT_EQ(opted_out.stats.cached_tokens, 0);
  EXPECT_EQ(opted_out.tokens, first.tokens);
  Collected again = collect(*e->generate(greedy_tokens(prompt, 6)));
  EXPECT_EQ(again.stats.cached_tokens, 48);
  EXPECT_EQ(again.tokens, first.tokens);
}

TEST(EnginePrefixCache, EvictionUnderPressureKeepsResultsExact) {
  // A pool of a few contexts: many distinct prompts force cached blocks out.
  EngineOptions o;
  o.model_path = tiny_model();
  o.n_threads = 2;
  o.max_sequences = 2;
  o.step_token_budget = 32;
  o.n_ctx = 128;
  o.kv_cache_tokens = 128;
  o.prefix_cache = true;
  auto r = Engine::create(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto e = std::move(r.value());
  auto plain = make_prefix_engine(false);
  for (int i = 0; i < 6; ++i) {
    auto p = tokens_from(30 + i, 60);
    Collected c = collect(*e->generate(greedy_tokens(p, 8)));
    Collected ref = collect(*plain->generate(greedy_tokens(p, 8)));
    ASSERT_EQ(c.finish, FinishReason::kLength) << c.error;
    EXPECT_EQ(c.tokens, ref.tokens) << "prompt " << i;
  }
  EXPECT_GT(e->stats().prefix.evictions, 0u);
  EXPECT_EQ(settled_kv_blocks_used(*e), 0);
}

// ---- TTFT pipeline: pending prompts, first-token speculation, prefetch ----

TEST(EnginePendingPrompt, WaitsForTheTokensAndMatchesAGivenPrompt) {
  auto e = make_prefix_engine(false);
  auto prompt = tokens_from(31, 20);
  Collected direct = collect(*e->generate(greedy_tokens(prompt, 8)));

  auto pending = std::make_shared<PendingPrompt>();
  std::promise<bool> verdict;
  pending->set_on_taken([&](bool ready) { verdict.set_value(ready); });
  GenerateRequest req = greedy_tokens({}, 1);
  req.pending_prompt = pending;
  auto stream = e->generate(std::move(req));
  // Nothing runs before the tokens come: the stream stays open, the request waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(stream->finished());
  EXPECT_EQ(e->stats().waiting, 1);
  pending->fulfil({prompt, 8, -1});
  Collected c = collect(*stream);
  ASSERT_EQ(c.finish, FinishReason::kLength) << c.error;
  EXPECT_EQ(c.tokens, direct.tokens);
  EXPECT_EQ(c.stats.prompt_tokens, 20);
  // A batch slot was free before the tokens were: the scheduler had to wait.
  EXPECT_FALSE(verdict.get_future().get());
}

TEST(EnginePendingPrompt, ReadyBeforeSubmissionCountsAsReady) {
  auto e = make_prefix_engine(false);
  auto pending = std::make_shared<PendingPrompt>();
  pending->fulfil({tokens_from(32, 10), 4, -1});
  std::promise<bool> verdict;
  pending->set_on_taken([&](bool ready) { verdict.set_value(ready); });
  GenerateRequest req = greedy_tokens({}, 1);
  req.pending_prompt = pending;
  Collected c = collect(*e->generate(std::move(req)));
  EXPECT_EQ(c.finish, FinishReason::kLength) << c.error;
  EXPECT_EQ(c.tokens.size(), 4u);
  EXPECT_TRUE(verdict.get_future().get());
}

TEST(EnginePendingPrompt, FailureEndsTheRequestWithTheProducersError) {
  auto e = make_prefix_engine(false);
  auto pending = std::make_shared<PendingPrompt>();
  GenerateRequest req = greedy_tokens({}, 1);
  req.pending_prompt = pending;
  auto stream = e->generate(std::move(req));
  pending->fail("the prompt is too long");
  Collected c = collect(*stream);
  EXPECT_EQ(c.finish, FinishReason::kError);
  EXPECT_EQ(c.error, "the prompt is too long");
  EXPECT_EQ(settled_kv_blocks_used(*e), 0);
  EXPECT_EQ(e->stats().waiting, 0);
}

TEST(EnginePendingPrompt, AWaitingPromptDoesNotHoldUpLaterRequests) {
  auto e = make_prefix_engine(false, 1);
  auto pending = std::make_shared<PendingPrompt>();
  GenerateRequest slow = greedy_tokens({}, 1);
  slow.pending_prompt = pending;
  auto slow_stream = e->generate(std::move(slow));
  Collected later = collect(*e->generate(greedy_tokens(tokens_from(33, 12), 5)));
  EXPECT_EQ(later.finish, FinishReason::kLength) << later.error;
  pending->fulfil({tokens_from(34, 12), 5, -1});
  EXPECT_EQ(collect(*slow_stream).finish, FinishReason::kLength);
}

TEST(EnginePendingPrompt, CancelledWhileWaitingForTokens) {
  auto e = make_prefix_engine(false);
  auto pending = std::make_shared<PendingPrompt>();
  GenerateRequest req = greedy_tokens({}, 1);
  req.pending_prompt = pending;
  auto stream = e->generate(std::move(req));
  stream->cancel();
  // The loop notices the cancellation when it next wakes.
  pending->fulfil({tokens_from(35, 10), 4, -1});
  Collected c = collect(*stream);
  EXPECT_TRUE(c.finish == FinishReason::kCancelled || c.finish == FinishReason::kLength);
}

TEST(EngineSpeculation, HitStreamsTheTokenFirstAndChangesNothing) {
  auto e = make_prefix_engine(false);
  auto prompt = tokens_from(40, 37);
  Collected plain = collect(*e->generate(greedy_tokens(prompt, 10)));
  ASSERT_EQ(plain.tokens.size(), 10u);
  EXPECT_EQ(plain.stats.first_computed_token, plain.tokens[0]);
  EXPECT_EQ(plain.stats.speculation, SpeculationOutcome::kNone);

  auto req = greedy_tokens(prompt, 10);
  req.speculated_first_token = plain.tokens[0];
  auto stream = e->generate(std::move(req));
  Chunk first;
  ASSERT_TRUE(stream->next(&first));
  EXPECT_EQ(first.token, plain.tokens[0]);
  Collected rest = collect(*stream);
  rest.tokens.insert(rest.tokens.begin(), first.token);
  EXPECT_EQ(rest.tokens, plain.tokens);
  EXPECT_EQ(first.text + rest.text, plain.text);
  EXPECT_EQ(rest.stats.speculation, SpeculationOutcome::kHit);
  EXPECT_EQ(rest.stats.first_computed_token, plain.tokens[0]);
  EXPECT_EQ(rest.stats.generated_tokens, 10);
}

TEST(EngineSpeculation, MissContinuesFromTheStreamedTokenAndReportsTheComputedOne) {
  auto e = make_prefix_engine(false);
  auto prompt = tokens_from(41, 25);
  Collected plain = collect(*e->generate(greedy_tokens(prompt, 6)));
  TokenId wrong = plain.tokens[0] == 100 ? 101 : 100;
  // What the model says after prompt + the wrong token.
  Collected conditioned = collect(*e->generate(greedy_tokens(concat(prompt, {wrong}), 5)));

  auto req = greedy_tokens(prompt, 6);
  req.speculated_first_token = wrong;
  Collected c = collect(*e->generate(std::move(req)));
  ASSERT_EQ(c.tokens.size(), 6u);
  EXPECT_EQ(c.tokens[0], wrong);
  EXPECT_EQ(std::vector<TokenId>(c.tokens.begin() + 1, c.tokens.end()), conditioned.tokens);
  EXPECT_EQ(c.stats.speculation, SpeculationOutcome::kMiss);
  EXPECT_EQ(c.stats.first_computed_token, plain.tokens[0]);
}

TEST(EngineSpeculation, WorksWithAPendingPrompt) {
  auto e = make_prefix_engine(false);
  auto prompt = tokens_from(42, 18);
  Collected plain = collect(*e->generate(greedy_tokens(prompt, 5)));
  auto pending = std::make_shared<PendingPrompt>();
  GenerateRequest req = greedy_tokens({}, 1);
  req.pending_prompt = pending;
  auto stream = e->generate(std::move(req));
  pending->fulfil({prompt, 5, plain.tokens[0]});
  Collected c = collect(*stream);
  EXPECT_EQ(c.tokens, plain.tokens);
  EXPECT_EQ(c.stats.speculation, SpeculationOutcome::kHit);
}

TEST(EngineSpeculation, OneTokenRequestEndsWithTheSpeculatedToken) {
  auto e = make_prefix_engine(false);
  auto req = greedy_tokens(tokens_from(43, 10), 1);
  req.speculated_first_token = 77;
  Collected c = collect(*e->generate(std::move(req)));
  EXPECT_EQ(c.finish, FinishReason::kLength);
  EXPECT_EQ(c.tokens, std::vector<TokenId>{77});
  // The count drops just after the final chunk goes out.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e->stats().waiting != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(e->stats().waiting, 0);
  EXPECT_EQ(settled_kv_blocks_used(*e), 0);
}

TEST(EnginePrefetch, PrefillOnlyFillsTheCacheForTheNextRequest) {
  auto e = make_prefix_engine(true);
  auto prompt = tokens_from(50, 70);
  GenerateRequest pre = greedy_tokens(prompt, 0);
  pre.prefill_only = true;
  Collected p = collect(*e->generate(std::move(pre)));
  EXPECT_EQ(p.finish, FinishReason::kStop) << p.error;
  EXPECT_TRUE(p.tokens.empty());
  EXPECT_EQ(p.stats.prompt_tokens_ready, 70);
  EXPECT_EQ(p.stats.generated_tokens, 0);
  Collected c = collect(*e->generate(greedy_tokens(prompt, 4)));
  EXPECT_EQ(c.stats.cached_tokens, 64);
  auto plain = make_prefix_engine(false);
  EXPECT_EQ(c.tokens, collect(*plain->generate(greedy_tokens(prompt, 4))).tokens);
  EXPECT_EQ(settled_kv_blocks_used(*e), 0);
}

TEST(EnginePrefetch, BudgetStopsAfterTheStepInWhichItRanOut) {
  auto e = make_prefix_engine(true);
  GenerateRequest pre = greedy_tokens(tokens_from(51, 200), 0);
  pre.prefill_only = true;
  pre.prefill_budget_ms = 5;
  // Held 20 ms after admission (an injected delay), so the budget has run out by the end
  // of its first step: exactly one chunk (the step budget, 32 tokens) is computed.
  pre.fault.first_token_delay_ms = 20;
  Collected p = collect(*e->generate(std::move(pre)));
  EXPECT_EQ(p.finish, FinishReason::kLength);
  EXPECT_EQ(p.stats.prompt_tokens_ready, 32);
  Collected c = collect(*e->generate(greedy_tokens(tokens_from(51, 200), 2)));
  EXPECT_EQ(c.stats.cached_tokens, 32);
}

TEST(EnginePrefetch, RequestsGoAheadOfAQueuedPrefetch) {
  auto e = make_prefix_engine(true, 1);
  // One slot: a running request holds it (an injected delay keeps it there while the
  // other two are submitted); a prefetch and then a request wait for it.
  GenerateRequest hold = greedy_tokens(tokens_from(52, 40), 4);
  hold.fault.first_token_delay_ms = 300;
  auto busy = e->generate(std::move(hold));
  GenerateRequest pre = greedy_tokens(tokens_from(53, 100), 0);
  pre.prefill_only = true;
  std::vector<int> order;
  std::mutex mu;
  pre.on_chunk = [&](const Chunk& c) {
    if (c.finish != FinishReason::kNone) { std::lock_guard<std::mutex> l(mu); order.push_back(1); }
  };
  auto pre_stream = e->generate(std::move(pre));
  GenerateRequest req = greedy_tokens(tokens_from(54, 10), 2);
  req.on_chunk = [&](const Chunk& c) {
    if (c.finish != FinishReason::kNone) { std::lock_guard<std::mutex> l(mu); order.push_back(2); }
  };
  auto req_stream = e->generate(std::move(req));
  collect(*busy);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    { std::lock_guard<std::mutex> l(mu); if (order.size() == 2) break; }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

}  // namespace
}  // namespace mlxs
