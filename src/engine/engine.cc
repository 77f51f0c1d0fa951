#include "engine/engine.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/logging.h"
#include "engine/scheduler.h"

namespace mlxs {

Result<std::unique_ptr<Engine>> Engine::create(const EngineOptions& options) {
  auto model = Model::load(options.model_path);
  if (!model.ok()) return model.status();
  auto tok = load_tokenizer(model.value()->source());
  if (!tok.ok()) return tok.status();
  if (tok.value()->n_vocab() > model.value()->config().n_vocab)
    return Status::Error(options.model_path + ": tokenizer has " +
                         std::to_string(tok.value()->n_vocab()) + " tokens but the model only " +
                         std::to_string(model.value()->config().n_vocab) + " embedding rows");

  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  EngineOptions& o = e->options_;
  const ModelConfig& c = model.value()->config();
  if (o.n_threads <= 0) o.n_threads = std::max(1u, std::thread::hardware_concurrency());
  if (o.n_ctx <= 0) o.n_ctx = std::min(c.n_ctx_train, 4096);
  if (o.max_sequences <= 0) return Status::Error("max_sequences must be positive");
  if (o.step_token_budget < o.max_sequences)
    return Status::Error("step_token_budget must be at least max_sequences");
  if (o.kv_cache_tokens <= 0) o.kv_cache_tokens = o.n_ctx * o.max_sequences;

  const ModelSource& src = model.value()->source();
  ChatTemplateSource tsrc;
  if (src.format == ModelSource::Format::kGguf) {
    tsrc = chat_template_source(*src.gguf);
  } else {
    auto t = load_chat_template_source(src.path);
    if (!t.ok()) return t.status();
    tsrc = std::move(t.value());
  }
  if (!o.chat_template_file.empty()) {
    std::ifstream in(o.chat_template_file, std::ios::binary);
    if (!in) return Status::Error(o.chat_template_file + ": cannot read the chat template file");
    std::stringstream text;
    text << in.rdbuf();
    tsrc = ChatTemplateSource{text.str(), o.chat_template_file, false};
  }
  e->chat_ = std::make_unique<ChatFormatter>(ChatFormatter::for_model(std::move(tsrc), *tok.value()));
  e->model_ = std::move(model.value());
  e->tokenizer_ = std::move(tok.value());
  e->pool_ = std::make_unique<ThreadPool>(o.n_threads);
  KvCacheConfig kc;
  kc.n_layers = c.n_layer;
  kc.kv_dim = c.kv_dim();
  kc.block_size = 16;
  kc.n_blocks = (std::max(o.kv_cache_tokens, o.n_ctx) + kc.block_size - 1) / kc.block_size;
  kc.type = o.kv_type;
  e->cache_ = std::make_unique<KvCache>(kc);
  e->cache_->set_prefix_caching(o.prefix_cache);
  SchedulerOptions so;
  so.max_sequences = o.max_sequences;
  so.max_active = o.max_active;
  so.step_token_budget = o.step_token_budget;
  so.n_ctx = o.n_ctx;
  e->scheduler_ = std::make_unique<Scheduler>(*e->model_, *e->tokenizer_, *e->cache_, *e->pool_, so);
  log_info("chat template: " + e->chat_->source().origin);
  log_info("loaded " + c.describe() + "; context " + std::to_string(o.n_ctx) + ", " +
           std::to_string(o.n_threads) + " threads, KV cache " +
           std::to_string(e->cache_->bytes() >> 20) + " MiB");
  return e;
}

Engine::~Engine() = default;

SchedulerStats Engine::stats() const { return scheduler_->stats(); }
size_t Engine::kv_cache_bytes() const { return cache_->bytes(); }
void Engine::set_max_active(int n) { scheduler_->set_max_active(n); }

std::shared_ptr<GenerationStream> Engine::generate(GenerateRequest req) {
  auto stream = std::make_shared<GenerationStream>();
  auto fail = [&](const std::string& message) {
    Chunk c;
    c.finish = FinishReason::kError;
    c.error = message;
    c.invalid_request = true;
    stream->push(std::move(c), req.on_chunk);
    return stream;
  };
  std::string bad = Sampler::validate(req.sampling);
  if (!bad.empty()) return fail(bad);
  if (req.max_tokens < (req.prefill_only ? 0 : 1)) return fail("max_tokens must be at least 1");
  if (req.speculated_first_token >= config().n_vocab)
    return fail("the speculated first token is outside the vocabulary");

  std::vector<TokenId> prompt;
  if (req.pending_prompt) {
    // Tokenized and checked against the context by the producer; the scheduler waits.
    scheduler_->submit(stream, std::move(req), {});
    return stream;
  }
  if (!req.prompt_tokens.empty()) {
    prompt = std::move(req.prompt_tokens);
    for (TokenId t : prompt)
      if (t < 0 || t >= config().n_vocab)
        return fail("prompt token " + std::to_string(t) + " is outside the vocabulary (0.." +
                    std::to_string(config().n_vocab - 1) + ")");
  } else {
    prompt = tokenizer_->encode(req.prompt, req.add_special, req.parse_special);
  }
  if (prompt.empty()) return fail("the prompt is empty");
  int64_t total = static_cast<int64_t>(prompt.size()) + req.max_tokens;
  if (total > options_.n_ctx)
    return fail("this model's context is " + std::to_string(options_.n_ctx) +
                " tokens, but the request needs " + std::to_string(total) + " (" +
                std::to_string(prompt.size()) + " in the prompt + " +
                std::to_string(req.max_tokens) + " to generate)");
  scheduler_->submit(stream, std::move(req), std::move(prompt));
  return stream;
}

}  // namespace mlxs
