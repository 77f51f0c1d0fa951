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
  // The prompt comes from the warm queue: not admitted before it is resolved.
  bool resolved = true;
  bool waited_for_tokens = false;  // a batch slot was free before the tokens were ready
  // First-token speculation: the token streamed ahead, checked once prefill ends.
  TokenId spec_token = -1;
  bool spec_checked = false;
  TokenId first_computed = -1;
  SpeculationOutcome spec_outcome = SpeculationOutcome::kNone;
  Clock::time_point submitted, admitted, first_token;
  Clock::time_point hold_until{};  // injected faults: not scheduled before this

  bool held(Clock::time_point now) const { return hold_until > now; }
  bool low_priority() const { return req.prefill_only; }
  // Tokens whose keys and values the forward pass may compute now: a speculated token
  // waits until the prompt's own logits have checked it.
  int computable() const {
    return spec_token >= 0 && !spec_checked ? n_prompt : static_cast<int>(tokens.size());
  }

  GenerationStats stats(Clock::time_point now) const {
    GenerationStats st;
    st.prompt_tokens = n_prompt;
    st.generated_tokens = n_generated;
    st.cached_tokens = cached_tokens;
    st.prompt_tokens_ready = std::min(n_cached, n_prompt);
    st.first_computed_token = first_computed;
    st.speculation = spec_outcome;
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
  if (s->req.pending_prompt) {
    s->resolved = false;
    s->req.pending_prompt->set_waker([this] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        prompt_ready_ = true;
      }
      cv_.notify_one();
    });
  }
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
  std::vector<Sequence*> arrived;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Sequences whose prompt is still being tokenized wake the loop when it is ready.
      cv_.wait(lock, [&] {
        return stop_ || !incoming_.empty() || !running_.empty() || prompt_ready_ ||
               std::any_of(waiting_.begin(), waiting_.end(), [](const auto& s) { return s->resolved; });
      });
      if (stop_) break;
      prompt_ready_ = false;
      while (!incoming_.empty()) {
        waiting_.push_back(std::move(incoming_.front()));
        incoming_.pop_front();
        arrived.push_back(waiting_.back().get());
      }
    }
    // A first token known in advance goes out before anything is computed (outside the
    // lock: the stream's callback writes to the client).
    for (Sequence* s : arrived)
      if (s->resolved && s->req.speculated_first_token >= 0) {
        speculate(*s, s->req.speculated_first_token);
        if (s->done) n_waiting_.fetch_sub(1);
      }
    arrived.clear();
    resolve_prompts();
    admit();
    for (auto& s : running_)
      if (s->stream->cancelled()) finish(*s, FinishReason::kCancelled);
    std::erase_if(running_, [](const auto& s) { return s->done; });
    publish_counts();
    if (!running_.empty()) {
      if (!step()) wait_for_held();
      std::erase_if(running_, [](const auto& s) { return s->done; });
      publish_counts();
    } else {
      // Nothing running and a resolved request still does not fit: it never will.
      auto it = std::find_if(waiting_.begin(), waiting_.end(), [](const auto& s) { return s->resolved; });
      if (it != waiting_.end()) {
        n_waiting_.fetch_sub(1);
        finish(**it, FinishReason::kError, "request does not fit in the KV cache",
               /*invalid_request=*/true);
        waiting_.erase(it);
      }
    }
  }
  // Shutting down: end every open stream. Producers of pending prompts may still call
  // back: they must find no waker pointing at this scheduler.
  std::deque<std::unique_ptr<Sequence>> incoming;
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming.swap(incoming_);
  }
  for (auto* q : {&incoming, &waiting_})
    for (auto& s : *q) {
      if (s->req.pending_prompt) s->req.pending_prompt->set_waker(nullptr);
      finish(*s, FinishReason::kError, "engine shutting down");
    }
  for (auto& s : running_) finish(*s, FinishReason::kError, "engine shutting down");
}

// Pending prompts whose tokens arrived: the sequence takes them (and a speculated first
// token goes out at once); a failed one ends with the producer's error.
void Scheduler::resolve_prompts() {
  for (auto& sp : waiting_) {
    Sequence& s = *sp;
    if (s.resolved || s.done) continue;
    PendingPrompt& p = *s.req.pending_prompt;
    PendingPrompt::State state = p.state();
    if (state == PendingPrompt::State::kPending) continue;
    p.set_waker(nullptr);
    if (state == PendingPrompt::State::kFailed) {
      p.taken(false);
      n_waiting_.fetch_sub(1);
      finish(s, FinishReason::kError, p.error(), /*invalid_request=*/true);
      continue;
    }
    PendingPrompt::Resolved r = p.take();
    s.tokens = std::move(r.tokens);
    s.n_prompt = static_cast<int>(s.tokens.size());
    s.req.max_tokens = r.max_tokens;
    s.resolved = true;
    p.taken(!s.waited_for_tokens);
    if (r.speculated >= 0 && r.speculated < model_.config().n_vocab) speculate(s, r.speculated);
    if (s.done) n_waiting_.fetch_sub(1);
  }
  std::erase_if(waiting_, [](const auto& s) { return s->done; });
}

// Streams the speculated first token as if it had been sampled; the prompt's own logits
// check it when prefill ends (step()).
void Scheduler::speculate(Sequence& s, TokenId token) {
  s.spec_token = token;
  SampleResult r;
  r.token = token;
  emit_token(s, r);
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
    if (s->done) continue;  // ended by its speculated token (a stop, max_tokens 1)
    if (!s->stream->cancelled()) continue;
    n_waiting_.fetch_sub(1);
    if (s->req.pending_prompt) s->req.pending_prompt->set_waker(nullptr);
    finish(*s, FinishReason::kCancelled);
  }
  std::erase_if(waiting_, [](const auto& s) { return s->done; });
  // Arrival order, except that prefetches (low priority) come after every request, and a
  // request whose prompt is still being tokenized lets later ones by. A request that does
  // not fit stops admission (later ones would take the blocks it waits for).
  std::vector<Sequence*> order;
  for (auto& s : waiting_)
    if (!s->low_priority()) order.push_back(s.get());
  for (auto& s : waiting_)
    if (s->low_priority()) order.push_back(s.get());
  for (Sequence* sp : order) {
    Sequence& s = *sp;
    if (static_cast<int>(running_.size()) >= max_active_.load()) break;
    if (!s.resolved) {
      s.waited_for_tokens = true;
      continue;
    }
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
    auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& w) { return w.get() == sp; });
    running_.push_back(std::move(*it));
    waiting_.erase(it);
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
  // A prefetch wants keys and values only, never logits.
  auto last_logits = [](const Sequence& s) {
    return s.req.prefill_only ? BatchSeq::Logits::kNone : BatchSeq::Logits::kLast;
  };
  for (auto& s : running_) {
    if (s->held(now)) continue;
    int pending = s->computable() - s->n_cached;
    if (pending == 1) {
      batch.push_back({s->kv_seq, &s->tokens[s->n_cached], 1, s->n_cached, last_logits(*s)});
      owners.push_back(s.get());
      --budget;
    }
  }
  // Prefill chunks: requests first, prefetches with what is left.
  for (bool low : {false, true}) {
    for (auto& s : running_) {
      if (s->held(now) || s->low_priority() != low) continue;
      int pending = s->computable() - s->n_cached;
      if (pending <= 1 || budget <= 0) continue;
      int n = std::min(pending, budget);
      auto logits = n == pending ? last_logits(*s) : BatchSeq::Logits::kNone;
      batch.push_back({s->kv_seq, &s->tokens[s->n_cached], n, s->n_cached, logits});
      owners.push_back(s.get());
      budget -= n;
    }
  }
  if (batch.empty()) return false;

  logits_.clear();
  model_.forward(batch, cache_, pool_, &logits_);
  const auto after = Clock::now();
  steps_.fetch_add(1);
  batched_tokens_.fetch_add(static_cast<uint64_t>(opts_.step_token_budget - budget));

  const int n_vocab = model_.config().n_vocab;
  size_t row = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    Sequence& s = *owners[i];
    s.n_cached += batch[i].n_tokens;
    // Full blocks now computed become shareable (before emit_token may free the sequence).
    cache_.publish_blocks(s.kv_seq, s.tokens, s.n_cached);
    if (s.req.prefill_only) {
      finish_prefetch_step(s, after);
      continue;
    }
    if (batch[i].logits == BatchSeq::Logits::kNone) continue;
    float* lg = logits_.data() + row * n_vocab;
    ++row;
    SampleResult r = s.sampler->sample(lg, s.tokens);
    if (s.first_computed < 0) s.first_computed = r.token;
    if (s.spec_token >= 0 && !s.spec_checked) {
      // The prompt's own first token against the one streamed ahead. Either way the
      // generation continues from the streamed token: the client already has it.
      s.spec_checked = true;
      s.spec_outcome = r.token == s.spec_token ? SpeculationOutcome::kHit : SpeculationOutcome::kMiss;
      continue;
    }
    emit_token(s, r);
  }
  return true;
}

// A prefetch ends once its whole prompt is computed, or after the step in which its time
// budget ran out.
void Scheduler::finish_prefetch_step(Sequence& s, Clock::time_point now) {
  bool complete = s.n_cached >= s.n_prompt;
  bool out_of_time = s.req.prefill_budget_ms > 0 &&
                     now - s.admitted >= std::chrono::milliseconds(s.req.prefill_budget_ms);
  if (complete || out_of_time) finish(s, complete ? FinishReason::kStop : FinishReason::kLength);
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
    if (s.kv_seq >= 0) cache_.free_sequence(s.kv_seq);  // a speculated token may end a queued one
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
