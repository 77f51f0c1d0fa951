#include "engine/weights.h"

#include "kernels/quant.h"

namespace mlxs {
namespace {

class Binder {
 public:
  Binder(const ModelSource& src) : src_(src) {}

  // Binds a 2-D matrix with `cols` elements per row and `rows` rows: a GGUF-typed tensor or
  // an MLX affine-quantized one.
  Status matrix(const std::string& name, int64_t cols, int64_t rows, Linear* out) {
    if (const kern::AffineMatrix* a = src_.find_affine(name)) {
      if (a->n_cols != cols || a->n_rows != rows)
        return Status::Error(where(name) + " holds " + std::to_string(a->n_rows) + " rows of " +
                             std::to_string(a->n_cols) + " " + std::to_string(a->bits) +
                             "-bit codes, expected " + std::to_string(rows) + " rows of " + std::to_string(cols));
      out->m = *a;
      return Status::Ok();
    }
    const GgufTensor* t = src_.find(name);
    if (!t) return Status::Error(src_.path + ": missing tensor '" + name + "'");
    if (t->ne.size() != 2 || t->ne[0] != cols || t->ne[1] != rows)
      return Status::Error(where(name) + " has shape " + t->shape_string() + ", expected [" +
                           std::to_string(cols) + ", " + std::to_string(rows) + "] (ggml order)");
    const kern::QuantOps* ops = kern::quant_ops(t->type);
    if (!ops || !ops->vec_dot)
      return Status::Error(where(name) + " has type " + type_name(t->type) +
                           ", which cannot be used for matrix products");
    out->m = kern::WeightMatrix{t->type, cols, rows, t->data};
    return Status::Ok();
  }

  Status vector(const std::string& name, int64_t n, std::vector<float>* out) {
    const GgufTensor* t = src_.find(name);
    if (!t) return Status::Error(src_.path + ": missing tensor '" + name + "'");
    if (t->n_elements() != n || t->ne[0] != n)
      return Status::Error(where(name) + " has shape " + t->shape_string() + ", expected [" +
                           std::to_string(n) + "]");
    const kern::QuantOps* ops = kern::quant_ops(t->type);
    if (!ops || !ops->to_float)
      return Status::Error(where(name) + " has unsupported type " + type_name(t->type));
    out->resize(n);
    ops->to_float(t->data, out->data(), n);
    return Status::Ok();
  }

  bool has(const std::string& name) const { return src_.find(name) || src_.find_affine(name); }

 private:
  // Messages name the file the tensor came from and, for folders, its original name.
  std::string where(const std::string& name) const { return src_.origin(name) + ": tensor '" + name + "'"; }
  const ModelSource& src_;
};

}  // namespace

Result<ModelWeights> ModelWeights::load(const ModelSource& src) {
  const ModelConfig& c = src.config;
  ModelWeights w;
  Binder b(src);
  MLXS_RETURN_IF_ERROR(b.matrix("token_embd.weight", c.n_embd, c.n_vocab, &w.token_embd));
  MLXS_RETURN_IF_ERROR(b.vector("output_norm.weight", c.n_embd, &w.output_norm));
  if (b.has("output.weight")) {
    MLXS_RETURN_IF_ERROR(b.matrix("output.weight", c.n_embd, c.n_vocab, &w.output));
  } else {
    w.output = w.token_embd;
    w.tied_output = true;
  }
  if (!c.rope_freq_factors.empty())
    w.rope_freqs = c.rope_freq_factors;
  else if (b.has("rope_freqs.weight"))
    MLXS_RETURN_IF_ERROR(b.vector("rope_freqs.weight", c.rope_dim / 2, &w.rope_freqs));
  w.layers.resize(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[i];
    MLXS_RETURN_IF_ERROR(b.vector(p + "attn_norm.weight", c.n_embd, &l.attn_norm));
    MLXS_RETURN_IF_ERROR(b.matrix(p + "attn_q.weight", c.n_embd, c.q_dim(), &l.wq));
    MLXS_RETURN_IF_ERROR(b.matrix(p + "attn_k.weight", c.n_embd, c.kv_dim(), &l.wk));
    MLXS_RETURN_IF_ERROR(b.matrix(p + "attn_v.weight", c.n_embd, c.kv_dim(), &l.wv));
    MLXS_RETURN_IF_ERROR(b.matrix(p + "attn_output.weight", c.q_dim(), c.n_embd, &l.wo));
    if (c.qkv_bias) {
      MLXS_RETURN_IF_ERROR(b.vector(p + "attn_q.bias", c.q_dim(), &l.bq));
      MLXS_RETURN_IF_ERROR(b.vector(p + "attn_k.bias", c.kv_dim(), &l.bk));
      MLXS_RETURN_IF_ERROR(b.vector(p + "attn_v.bias", c.kv_dim(), &l.bv));
    }
    MLXS_RETURN_IF_ERROR(b.vector(p + "ffn_norm.weight", c.n_embd, &l.ffn_norm));
    MLXS_RETURN_IF_ERROR(b.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff, &l.w_gate));
    MLXS_RETURN_IF_ERROR(b.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff, &l.w_up));
    MLXS_RETURN_IF_ERROR(b.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd, &l.w_down));
  }
  return w;
}

size_t ModelWeights::matrix_bytes() const {
  size_t total = output.bytes();
  for (const auto& l : layers)
    total += l.wq.bytes() + l.wk.bytes() + l.wv.bytes() + l.wo.bytes() + l.w_gate.bytes() +
             l.w_up.bytes() + l.w_down.bytes();
  return total;
}

}  // namespace mlxs
