#include "testmodel/tensors.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "testmodel/encode.h"
#include "testmodel/rng.h"

namespace mlxs::testmodel {
namespace {

// llama.cpp's choice of extra precision for some layers in the *_M mixes.
bool use_more_bits(int64_t i_layer, int64_t n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
         (i_layer - n_layers / 8) % 3 == 2;
}

uint32_t file_type_of(const Options& o) {
  if (o.q4_k_m) return 15;  // MOSTLY_Q4_K_M
  switch (o.type) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q5_0: return 8;
    case GgmlType::Q5_1: return 9;
    case GgmlType::Q2_K: return 10;
    case GgmlType::Q3_K: return 11;  // Q3_K_S: every matrix Q3_K
    case GgmlType::Q4_K: return 14;  // Q4_K_S
    case GgmlType::Q5_K: return 16;  // Q5_K_S
    case GgmlType::Q6_K: return 18;
    case GgmlType::BF16: return 32;
    default: return 0;
  }
}

// A type whose block fits rows of length ne0, as llama.cpp's quantizer falls back.
GgmlType fit_row(GgmlType t, int64_t ne0) {
  if (ne0 % type_info(t).block_size == 0) return t;
  GgmlType f = t;
  switch (t) {
    case GgmlType::Q2_K: case GgmlType::Q3_K: f = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: f = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: f = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: f = GgmlType::Q8_0; break;
    default: f = GgmlType::F16; break;
  }
  return ne0 % type_info(f).block_size == 0 ? f : GgmlType::F16;
}

float matrix_std(int64_t fan_in) {
  // 1/sqrt(fan_in) keeps each projection's output near unit scale; the clamp keeps tiny and
  // huge models inside the usual 0.02..0.1 range.
  return std::clamp(1.0f / std::sqrt(static_cast<float>(fan_in)), 0.02f, 0.1f);
}

}  // namespace

ModelPlan plan_model(const Options& o) {
  ModelPlan p;
  p.file_type = file_type_of(o);
  const int64_t hd = o.head_dim();
  const int64_t q_dim = o.heads * hd, kv_dim = o.kv_heads * hd;
  std::map<std::string, int> fallbacks;  // "from -> to for row length N" -> count

  auto matrix = [&](const std::string& name, int64_t ne0, int64_t ne1, GgmlType want) {
    GgmlType t = fit_row(want, ne0);
    if (t != want)
      ++fallbacks[std::string(type_name(want)) + " -> " + type_name(t) + " (row length " +
                  std::to_string(ne0) + " is not a multiple of " +
                  std::to_string(type_info(want).block_size) + ")"];
    p.tensors.push_back({name, t, {ne0, ne1}, Init::kMatrix, matrix_std(ne0)});
  };
  auto vec = [&](const std::string& name, int64_t n, Init init, float sd) {
    p.tensors.push_back({name, GgmlType::F32, {n}, init, sd});
  };

  const GgmlType base = o.type;
  const GgmlType high = o.q4_k_m ? GgmlType::Q6_K : base;
  // With a tied head the embedding doubles as output.weight and gets its type.
  matrix("token_embd.weight", o.dim, o.vocab, o.tied_output ? high : base);
  if (o.rope_freqs) vec("rope_freqs.weight", hd / 2, Init::kRopeFreqs, 0);
  for (int64_t i = 0; i < o.layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const bool more = o.q4_k_m && use_more_bits(i, o.layers);
    vec(b + "attn_norm.weight", o.dim, Init::kNorm, 0);
    matrix(b + "attn_q.weight", o.dim, q_dim, base);
    matrix(b + "attn_k.weight", o.dim, kv_dim, base);
    matrix(b + "attn_v.weight", o.dim, kv_dim, more ? GgmlType::Q6_K : base);
    if (o.arch == "qwen2") {
      vec(b + "attn_q.bias", q_dim, Init::kBias, 0.3f);
      vec(b + "attn_k.bias", kv_dim, Init::kBias, 0.3f);
      vec(b + "attn_v.bias", kv_dim, Init::kBias, 0.3f);
    }
    matrix(b + "attn_output.weight", q_dim, o.dim, base);
    vec(b + "ffn_norm.weight", o.dim, Init::kNorm, 0);
    matrix(b + "ffn_gate.weight", o.dim, o.ffn, base);
    matrix(b + "ffn_up.weight", o.dim, o.ffn, base);
    matrix(b + "ffn_down.weight", o.ffn, o.dim, more ? GgmlType::Q6_K : base);
  }
  vec("output_norm.weight", o.dim, Init::kNorm, 0);
  if (!o.tied_output) matrix("output.weight", o.dim, o.vocab, high);

  for (const auto& [what, n] : fallbacks)
    p.notes.push_back("type fallback for " + std::to_string(n) + " tensor(s): " + what);
  return p;
}

std::vector<float> llama3_rope_factors(int64_t n_rot, double base, int64_t original_ctx) {
  constexpr double kFactor = 8, kLowFreqFactor = 1, kHighFreqFactor = 4;
  const double pi = 3.14159265358979323846;
  const double low_wavelen = static_cast<double>(original_ctx) / kLowFreqFactor;
  const double high_wavelen = static_cast<double>(original_ctx) / kHighFreqFactor;
  std::vector<float> f;
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    double freq = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
    double wavelen = 2 * pi / freq;
    double factor;
    if (wavelen < high_wavelen) {
      factor = 1;
    } else if (wavelen > low_wavelen) {
      factor = kFactor;
    } else {
      double smooth = (static_cast<double>(original_ctx) / wavelen - kLowFreqFactor) /
                      (kHighFreqFactor - kLowFreqFactor);
      factor = 1.0 / ((1 - smooth) / kFactor + smooth);
    }
    f.push_back(static_cast<float>(factor));
  }
  return f;
}

void generate_row(const TensorSpec& t, const Options& o, int64_t r, float* row) {
  const int64_t ne0 = t.ne[0];
  if (t.init == Init::kRopeFreqs) {
    std::vector<float> f = llama3_rope_factors(2 * ne0, o.rope_base, o.ctx);
    std::copy(f.begin(), f.end(), row);
    return;
  }
  Rng rng(mix_seed(mix_seed(o.seed, hash_name(t.name)), static_cast<uint64_t>(r)));
  if (t.init == Init::kNorm) {
    for (int64_t k = 0; k < ne0; ++k) row[k] = 0.9f + 0.2f * rng.uniform();
  } else {
    rng.normal(row, ne0, t.stddev);
  }
}

Status fill_tensor(const TensorSpec& t, const Options& o, int n_threads,
                   std::vector<uint8_t>* out) {
  MLXS_RETURN_IF_ERROR(check_encodable(t.type));
  const int64_t ne0 = t.ne[0];
  int64_t n = 1;
  for (int64_t d : t.ne) n *= d;
  const int64_t rows = n / ne0;
  const size_t rbytes = row_size(t.type, ne0);
  out->assign(rbytes * static_cast<size_t>(rows), 0);

  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(ne0));
    for (int64_t r = r0; r < r1; ++r) {
      generate_row(t, o, r, row.data());
      encode_row(t.type, row.data(), ne0, out->data() + rbytes * static_cast<size_t>(r));
    }
  };
  parallel_rows(rows, n, n_threads, work);
  return Status::Ok();
}

void parallel_rows(int64_t rows, int64_t n_elements, int n_threads,
                   const std::function<void(int64_t, int64_t)>& work) {
  const int64_t threads = std::clamp<int64_t>(n_elements / (int64_t{1} << 16), 1, n_threads);
  if (threads <= 1 || rows < 2) {
    work(0, rows);
    return;
  }
  std::vector<std::thread> pool;
  const int64_t per = (rows + threads - 1) / threads;
  for (int64_t k = 0; k < threads; ++k) {
    int64_t r0 = k * per, r1 = std::min(rows, r0 + per);
    if (r0 < r1) pool.emplace_back(work, r0, r1);
  }
  for (auto& th : pool) th.join();
}

}  // namespace mlxs::testmodel
