#include "engine/model.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"

namespace mlxs {

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  auto src = ModelSource::open(path);
  if (!src.ok()) return src.status();
  return load(std::move(src.value()));
}

Result<std::unique_ptr<Model>> Model::load(ModelSource source) {
  auto w = ModelWeights::load(source);
  if (!w.ok()) return w.status();
  std::unique_ptr<Model> m(new Model());
  m->config_ = source.config;
  m->source_ = std::move(source);
  m->weights_ = std::move(w.value());
  const ModelConfig& c = m->config_;
  m->inv_freq_.resize(c.rope_dim / 2);
  for (int i = 0; i < c.rope_dim / 2; ++i) {
    double f = c.rope_freq_scale * std::pow(static_cast<double>(c.rope_freq_base), -2.0 * i / c.rope_dim);
    if (!m->weights_.rope_freqs.empty()) f /= m->weights_.rope_freqs[i];
    m->inv_freq_[i] = static_cast<float>(f);
  }
  return m;
}

void Model::forward(std::span<const BatchSeq> batch, KvCache& cache, ThreadPool& pool,
                    std::vector<float>* logits) {
  const ModelConfig& c = config_;
  const int64_t d = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.n_ff;

  int64_t T = 0;
  for (const BatchSeq& b : batch) T += b.n_tokens;
  if (T == 0) return;
  s_.x.resize(T * d);
  s_.xn.resize(T * d);
  s_.q.resize(T * qd);
  s_.k.resize(T * kvd);
  s_.v.resize(T * kvd);
  s_.attn.resize(T * qd);
  s_.proj.resize(T * d);
  s_.gate.resize(T * ff);
  s_.up.resize(T * ff);
  s_.tok_seq.resize(T);
  s_.tok_pos.resize(T);

  // Token embeddings and each token's (sequence, position).
  {
    int64_t t = 0;
    for (size_t b = 0; b < batch.size(); ++b) {
      for (int j = 0; j < batch[b].n_tokens; ++j, ++t) {
        get_row(weights_.token_embd, batch[b].tokens[j], &s_.x[t * d]);
        s_.tok_seq[t] = static_cast<int>(b);
        s_.tok_pos[t] = batch[b].pos + j;
      }
    }
  }

  const bool neox = c.rope_style == RopeStyle::kNeox;
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& w = weights_.layers[l];

    // Attention block.
    for (int64_t t = 0; t < T; ++t) kern::rms_norm(&s_.x[t * d], w.attn_norm.data(), &s_.xn[t * d], d, c.rms_eps);
    matmul(w.wq, s_.xn.data(), T, s_.q.data(), pool);
    matmul(w.wk, s_.xn.data(), T, s_.k.data(), pool);
    matmul(w.wv, s_.xn.data(), T, s_.v.data(), pool);
    for (int64_t t = 0; t < T; ++t) {
      if (c.qkv_bias) {
        kern::add_inplace(&s_.q[t * qd], w.bq.data(), qd);
        kern::add_inplace(&s_.k[t * kvd], w.bk.data(), kvd);
        kern::add_inplace(&s_.v[t * kvd], w.bv.data(), kvd);
      }
      kern::rope_inplace(&s_.q[t * qd], c.n_head, c.head_dim, c.rope_dim, s_.tok_pos[t], inv_freq_.data(), neox);
      kern::rope_inplace(&s_.k[t * kvd], c.n_head_kv, c.head_dim, c.rope_dim, s_.tok_pos[t], inv_freq_.data(), neox);
      // Store this token's key and value in its sequence's cache slot.
      int seq = batch[s_.tok_seq[t]].seq;
      uint8_t* kdst = cache.k_pos(l, seq, s_.tok_pos[t]);
      uint8_t* vdst = cache.v_pos(l, seq, s_.tok_pos[t]);
      if (cache.config().type == KvType::kF16) {
        kern::f32_to_f16_row(&s_.k[t * kvd], reinterpret_cast<uint16_t*>(kdst), kvd);
        kern::f32_to_f16_row(&s_.v[t * kvd], reinterpret_cast<uint16_t*>(vdst), kvd);
      } else {
        std::copy_n(&s_.k[t * kvd], kvd, reinterpret_cast<float*>(kdst));
        std::copy_n(&s_.v[t * kvd], kvd, reinterpret_cast<float*>(vdst));
      }
    }
    attention(l, batch, cache, pool);
    matmul(w.wo, s_.attn.data(), T, s_.proj.data(), pool);
    kern::add_inplace(s_.x.data(), s_.proj.data(), T * d);

    // Feed-forward block (SwiGLU).
    for (int64_t t = 0; t < T; ++t) kern::rms_norm(&s_.x[t * d], w.ffn_norm.data(), &s_.xn[t * d], d, c.rms_eps);
    matmul(w.w_gate, s_.xn.data(), T, s_.gate.data(), pool);
    matmul(w.w_up, s_.xn.data(), T, s_.up.data(), pool);
    kern::silu_mul_inplace(s_.gate.data(), s_.up.data(), T * ff);
    matmul(w.w_down, s_.gate.data(), T, s_.proj.data(), pool);
    kern::add_inplace(s_.x.data(), s_.proj.data(), T * d);
  }

  // Output head, only for the rows someone asked for.
  int64_t n_rows = 0;
  {
    int64_t t = 0;
    for (const BatchSeq& b : batch) {
      for (int j = 0; j < b.n_tokens; ++j, ++t) {
        bool want = b.logits == BatchSeq::Logits::kAll ||
                    (b.logits == BatchSeq::Logits::kLast && j == b.n_tokens - 1);
        if (!want) continue;
        kern::rms_norm(&s_.x[t * d], weights_.output_norm.data(), &s_.xn[n_rows * d], d, c.rms_eps);
        ++n_rows;
      }
    }
  }
  if (n_rows == 0) return;
  size_t base = logits->size();
  logits->resize(base + n_rows * c.n_vocab);
  matmul(weights_.output, s_.xn.data(), n_rows, logits->data() + base, pool);
}

void Model::attention(int layer, std::span<const BatchSeq> batch, KvCache& cache, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int64_t T = static_cast<int64_t>(s_.tok_seq.size());
  const int hd = c.head_dim;
  const int group = c.n_head / c.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  // Each sequence's cache blocks for this layer, looked up once per layer.
  std::vector<std::vector<const uint8_t*>> k_blocks(batch.size()), v_blocks(batch.size());
  for (size_t b = 0; b < batch.size(); ++b) {
    for (int blk : cache.block_table(batch[b].seq)) {
      k_blocks[b].push_back(cache.k_at(layer, blk, 0));
      v_blocks[b].push_back(cache.v_at(layer, blk, 0));
    }
  }

  // One item per (token, key/value head): the query heads of a group share every key and
  // value row they read.
  pool.parallel_for(T * c.n_head_kv, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scratch;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / c.n_head_kv;
      const int kvh = static_cast<int>(item % c.n_head_kv);
      const int b = s_.tok_seq[t];
      const int n_ctx = s_.tok_pos[t] + 1;  // causal: positions 0..pos
      kern::KvHeadView kv;
      kv.k_blocks = k_blocks[b].data();
      kv.v_blocks = v_blocks[b].data();
      kv.offset = cache.elem_size() * kvh * hd;
      kv.block_size = cache.block_size();
      kv.row_stride = cache.elem_size() * c.kv_dim();
      kv.f16 = cache.config().type == KvType::kF16;
      scratch.resize(kern::attend_scratch(group, hd, n_ctx));
      const int64_t h0 = static_cast<int64_t>(kvh) * group;
      kern::attend(&s_.q[t * c.q_dim() + h0 * hd], group, hd, scale, kv, n_ctx, scratch.data(),
                   &s_.attn[t * c.q_dim() + h0 * hd]);
    }
  });
}

}  // namespace mlxs
