#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>

#include "base/logging.h"

namespace mlxs {
namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

struct Scheduler::Sequence {
  std::shared_ptr<GenerationStream> stream;
  GenerateRequest req;
  std::vector<TokenId> tokens;  // prompt, then every sampled token
  int n_prompt = 0;
  int n_cached = 0;  // leading tokens whose keys and values are in the cache
  int cached_tokens = 0;  // of the prompt, tokens taken from the prefix cache
  int kv_seq = -1;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamingDetokenizer> detok;
  std::unique_ptr<StopMatcher> stops;
  int n_generated = 0;
  bool done = false;
  Clock::time_point submitted, admitted, first_token;
  Clock::time_point hold_until{};  // injected faults: not scheduled before this

  bool held(Clock::time_point now) const { return hold_until > now; }

  GenerationStats stats(Clock::time_point now) const {
    GenerationStats st;
    st.prompt_tokens = n_prompt;
    st.generated_tokens = n_generated;
    st.cached_tokens = cached_tokens;
    if (admitted != Clock::time_point{}) st.queue_ms = ms_between(submitted, admitted);
    if (n_generated > 0) {
      st.ttft_ms = ms_between(submitted, first_token);
      double after_first = ms_between(first_token, now);
      if (n_generated > 1 && after_first > 0) st.decode_tokens_per_s = (n_generated - 1) * 1000.0 / after_first;
    }
    st.total_ms = ms_between(submitted, now);
    return st;
  }
};

Scheduler::Scheduler(Model& model, const Tokenizer& tok, KvCache& cache, ThreadPool& pool,
                     const SchedulerOptions& opts)
    : model_(model), tok_(tok), cache_(cache), pool_(pool), opts_(opts),
      max_active_(opts.max_active > 0 ? std::min(opts.max_active, opts.max_sequences)
                                      : opts.max_sequences) {
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Scheduler::submit(std::shared_ptr<GenerationStream> stream, GenerateRequest req,
                       std::vector<TokenId> prompt) {
  auto s = std::make_unique<Sequence>();
  s->stream = std::move(stream);
  s->n_prompt = static_cast<int>(prompt.size());
  s->tokens = std::move(prompt);
  s->sampler = std::make_unique<Sampler>(req.sampling, model_.config().n_vocab);
  s->detok = std::make_unique<StreamingDetokenizer>(tok_);
  s->stops = std::make_unique<StopMatcher>(req.stop);
  s->req = std::move(req);
  s->submitted = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming_.push_back(std::move(s));
    n_waiting_.fetch_add(1);
  }
  cv_.notify_one();
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats st;
  st.running = n_running_.load();
  st.waiting = n_waiting_.load();
  st.max_active = max_active_.load();
  st.kv_blocks_used = kv_used_.load();
  st.kv_blocks_total = cache_.n_blocks();
  st.steps = steps_.load();
  st.batched_tokens = batched_tokens_.load();
  st.prefix = cache_.prefix_stats();
  return st;
}

void Scheduler::set_max_active(int n) {
  max_active_.store(std::clamp(n, 1, opts_.max_sequences));
  cv_.notify_one();
}

void Scheduler::publish_counts() {
  n_running_.store(static_cast<int>(running_.size()));
  kv_used_.store(cache_.n_blocks() - cache_.n_free_blocks());
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stop_ || !incoming_.empty() || !running_.empty() || !waiting_.empty();
      });
      if (stop_) break;
      while (!incoming_.empty()) {
        waiting_.push_back(std::move(incoming_.front()));
        incoming_.pop_front();
      }
    }
    admit();
    for (auto& s : running_)
      if (s->stream->cancelled()) finish(*s, FinishReason::kCancelled);
    std::erase_if(running_, [](const auto& s) { return s->done; });
    publish_counts();
    if (!running_.empty()) {
      if (!step()) wait_for_held();
      std::erase_if(running_, [](const auto& s) { return s->done; });
      publish_counts();
    } else if (!waiting_.empty()) {
      // Nothing running and the head of the queue still does not fit: it never will.
      n_waiting_.fetch_sub(1);
      finish(*waiting_.front(), FinishReason::kError, "request does not fit in the KV cache",
             /*invalid_request=*/true);
      waiting_.pop_front();
    }
  }
  // Shutting down: end every open stream.
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* q : {&incoming_, &waiting_})
    for (auto& s : *q) finish(*s, FinishReason::kError, "engine shutting down");
  for (auto& s : running_) finish(*s, FinishReason::kError, "engine shutting down");
}

// Every running sequence is held by an injected delay: sleep until the first one is due
// or a new request arrives, instead of spinning.
void Scheduler::wait_for_held() {
  Clock::time_point due = Clock::time_point::max();
  for (const auto& s : running_) due = std::min(due, s->hold_until);
  if (due == Clock::time_point::max() || due <= Clock::now()) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, due, [&] { return stop_ || !incoming_.empty(); });
}

void Scheduler::admit() {
  // A cancelled request leaves the queue at once, wherever it stands.
  // Counts drop before the final chunk goes out, so a consumer never sees stale ones.
  for (auto& s : waiting_) {
    if (!s->stream->cancelled()) continue;
    n_waiting_.fetch_sub(1);
    finish(*s, FinishReason::kCancelled);
  }
  std::erase_if(waiting_, [](const auto& s) { return s->done; });
  while (!waiting_.empty()) {
    Sequence& s = *waiting_.front();
    if (static_cast<int>(running_.size()) >= max_active_.load()) break;
    // Reserve the whole context this request may use, so a running sequence never has to
    // be preempted for lack of blocks.
    int need = s.n_prompt + s.req.max_tokens;
    int seq = cache_.create_sequence();
    // Leading blocks another sequence already computed are shared, not recomputed; at
    // least one prompt token stays to produce the first logits.
    int hit = 0;
    if (cache_.prefix_caching() && s.req.use_prefix_cache)
      hit = cache_.attach_prefix(seq, s.tokens, s.n_prompt - 1);
    if (!cache_.reserve(seq, need)) {
      cache_.free_sequence(seq);  // drops the attached blocks again
      break;
    }
    s.n_cached = hit;
    s.cached_tokens = hit;
    s.kv_seq = seq;
    s.admitted = Clock::now();
    if (s.req.fault.first_token_delay_ms > 0)
      s.hold_until = s.admitted + std::chrono::milliseconds(s.req.fault.first_token_delay_ms);
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    n_waiting_.fetch_sub(1);
    if (s.req.fault.fail_after_tokens == 0)
      finish(s, FinishReason::kError, "injected fault: the request failed before its first token");
  }
}

bool Scheduler::step() {
  // Sequences with a pending token decode first (one token each); the rest of the budget
  // goes to prefill chunks in arrival order.
  std::vector<BatchSeq> batch;
  std::vector<Sequence*> owners;
  int budget = opts_.step_token_budget;
  const auto now = Clock::now();
  for (auto& s : running_) {
    if (s->held(now)) continue;
    int pending = static_cast<int>(s->tokens.size()) - s->n_cached;
    if (pending == 1) {
      batch.push_back({s->kv_seq, &s->tokens[s->n_cached], 1, s->n_cached, BatchSeq::Logits::kLast});
      owners.push_back(s.get());
      --budget;
    }
  }
  for (auto& s : running_) {
    if (s->held(now)) continue;
    int pending = static_cast<int>(s->tokens.size()) - s->n_cached;
    if (pending <= 1 || budget <= 0) continue;
    int n = std::min(pending, budget);
    auto logits = n == pending ? BatchSeq::Logits::kLast : BatchSeq::Logits::kNone;
    batch.push_back({s->kv_seq, &s->tokens[s->n_cached], n, s->n_cached, logits});
    owners.push_back(s.get());
    budget -= n;
  }
  if (batch.empty()) return false;

  logits_.clear();
  model_.forward(batch, cache_, pool_, &logits_);
  steps_.fetch_add(1);
  batched_tokens_.fetch_add(static_cast<uint64_t>(opts_.step_token_budget - budget));

  const int n_vocab = model_.config().n_vocab;
  size_t row = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    Sequence& s = *owners[i];
    s.n_cached += batch[i].n_tokens;
    // Full blocks now computed become shareable (before emit_token may free the sequence).
    cache_.publish_blocks(s.kv_seq, s.tokens, s.n_cached);
    if (batch[i].logits == BatchSeq::Logits::kNone) continue;
    float* lg = logits_.data() + row * n_vocab;
    ++row;
    SampleResult r = s.sampler->sample(lg, s.tokens);
    emit_token(s, r);
  }
  return true;
}

void Scheduler::emit_token(Sequence& s, const SampleResult& r) {
  auto now = Clock::now();
  if (s.n_generated == 0) s.first_token = now;
  ++s.n_generated;
  s.tokens.push_back(r.token);

  Chunk c;
  c.token = r.token;
  c.logprob = r.logprob;
  c.top_logprobs = r.top;
  if (tok_.is_eog(r.token) && !s.req.ignore_eos) {
    c.text = s.stops->push(s.detok->flush()).text + s.stops->flush();
    c.finish = FinishReason::kStop;
  } else {
    auto out = s.stops->push(s.detok->push(r.token));
    c.text = std::move(out.text);
    if (out.stopped) {
      c.finish = FinishReason::kStop;
    } else if (s.n_generated >= s.req.max_tokens) {
      c.text += s.stops->push(s.detok->flush()).text;
      c.text += s.stops->flush();
      // The final flush can still complete a stop string that was waiting for more text.
      c.finish = s.stops->stopped() ? FinishReason::kStop : FinishReason::kLength;
    }
  }
  c.stats = s.stats(now);
  if (c.finish != FinishReason::kNone) {
    s.done = true;
    cache_.free_sequence(s.kv_seq);
    s.kv_seq = -1;
  }
  s.stream->push(std::move(c), s.req.on_chunk);
  if (s.done) return;
  const FaultInjection& f = s.req.fault;
  if (f.fail_after_tokens >= 0 && s.n_generated >= f.fail_after_tokens) {
    finish(s, FinishReason::kError, "injected fault: the request failed after " +
                                        std::to_string(s.n_generated) + " token(s)");
  } else if (f.per_token_delay_ms > 0) {
    s.hold_until = now + std::chrono::milliseconds(f.per_token_delay_ms);
  }
}

void Scheduler::finish(Sequence& s, FinishReason reason, const std::string& error,
                       bool invalid_request) {
  if (s.done) return;
  s.done = true;
  if (s.kv_seq >= 0) {
    cache_.free_sequence(s.kv_seq);
    s.kv_seq = -1;
  }
  Chunk c;
  c.finish = reason;
  c.error = error;
  c.invalid_request = invalid_request;
  c.stats = s.stats(Clock::now());
  s.stream->push(std::move(c), s.req.on_chunk);
}

}  // namespace mlxs
