#include "testmodel/options.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace mlxs::testmodel {
namespace {

constexpr const char* kTypes =
    "f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|q4_k_m|mlx2|mlx4|mlx8";

bool parse_int(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parse_u64(const std::string& s, uint64_t* out) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return false;
  *out = v;
  return true;
}

bool parse_double(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// Only the types the generator can encode (its own F32/F16/BF16 code or quant_ops).
bool matrix_type(const std::string& name, GgmlType* t) {
  static const std::pair<const char*, GgmlType> kAllowed[] = {
      {"f32", GgmlType::F32},   {"f16", GgmlType::F16},   {"bf16", GgmlType::BF16},
      {"q8_0", GgmlType::Q8_0}, {"q4_0", GgmlType::Q4_0}, {"q4_1", GgmlType::Q4_1},
      {"q5_0", GgmlType::Q5_0}, {"q5_1", GgmlType::Q5_1}, {"q2_k", GgmlType::Q2_K},
      {"q3_k", GgmlType::Q3_K}, {"q4_k", GgmlType::Q4_K}, {"q5_k", GgmlType::Q5_K},
      {"q6_k", GgmlType::Q6_K}, {"q4_k_m", GgmlType::Q4_K}};
  // MLX types are generated in f32 and quantized when the folder is written.
  if (name == "mlx2" || name == "mlx4" || name == "mlx8") {
    *t = GgmlType::F32;
    return true;
  }
  for (const auto& [n, ty] : kAllowed) {
    if (name == n) {
      *t = ty;
      return true;
    }
  }
  return false;
}

std::string check(const Options& o) {
  if (o.dim % o.heads != 0)
    return "--dim " + std::to_string(o.dim) + " is not a multiple of --heads " +
           std::to_string(o.heads);
  if (o.head_dim() % 2 != 0)
    return "head dimension dim/heads = " + std::to_string(o.head_dim()) +
           " must be even for RoPE";
  if (o.heads % o.kv_heads != 0)
    return "--heads " + std::to_string(o.heads) + " is not a multiple of --kv-heads " +
           std::to_string(o.kv_heads);
  if (o.rope_freqs && o.arch != "llama")
    return "--rope-freqs needs --arch llama (llama.cpp reads rope_freqs.weight only there)";
  if (o.rope_base <= 0) return "--rope-base must be positive";
  if (o.mlx_bits && !o.hf())
    return "--type " + o.type_name + " needs --format hf (MLX quantization is a safetensors layout)";
  if (o.hf() && !o.mlx_bits && o.type != GgmlType::F32 && o.type != GgmlType::F16 &&
      o.type != GgmlType::BF16)
    return "--format hf writes --type f32|f16|bf16|mlx2|mlx4|mlx8, not " + o.type_name +
           " (GGUF block quantization has no safetensors form)";
  if (o.shards_given && !o.hf()) return "--shards needs --format hf";
  if (o.group_size_given && !o.mlx_bits) return "--group-size needs --type mlx2|mlx4|mlx8";
  return {};
}

}  // namespace

std::string usage() {
  return std::string(
             "usage: mlx-testmodel [options]\n"
             "Writes a random-weight Llama-family model as a GGUF file or a Hugging Face folder\n"
             "(same seed, same bytes; a folder holds the same weights as the GGUF).\n"
             "  -o PATH              output file or folder (default testmodel.gguf / testmodel-hf)\n"
             "  --format gguf|hf     GGUF file (default) or Hugging Face folder: config.json,\n"
             "                       safetensors, tokenizer.json, tokenizer_config.json\n"
             "  --arch llama|qwen2   architecture (default llama)\n"
             "  --dim N              embedding size (default 256)\n"
             "  --layers N           transformer blocks (default 2)\n"
             "  --heads N            attention heads (default 4)\n"
             "  --kv-heads N         key/value heads (default 2)\n"
             "  --ffn N              feed-forward size (default 512)\n"
             "  --vocab N            vocabulary size (default 512)\n"
             "  --ctx N              context length (default 512)\n"
             "  --type T             matrix type: ") +
         kTypes +
         " (default f32)\n"
         "                       --format hf: f32|f16|bf16, or mlx2|mlx4|mlx8 (MLX affine)\n"
         "  --group-size N       MLX quantization group: 32|64|128 (default 64)\n"
         "  --mlx-dtype T        f16|bf16: MLX scales/biases and float matrices (default f16)\n"
         "  --shards N           --format hf: split the weights over N safetensors files\n"
         "  --seed N             random seed (default 42)\n"
         "  --tied-output        no output.weight: the head reuses token_embd.weight\n"
         "                       (--format hf: tie_word_embeddings, no lm_head.weight)\n"
         "  --rope-base F        RoPE frequency base (default 10000)\n"
         "  --rope-freqs         add a llama3-style rope_freqs.weight tensor (llama only;\n"
         "                       --format hf: config.json rope_scaling {rope_type: llama3})\n"
         "  --tokenizer T        spm | gpt2 | PATH.gguf to copy tokenizer.* keys from\n"
         "                       (default spm; a file sets --vocab to its size)\n"
         "  --threads N          worker threads (default: all cores)\n"
         "  -h, --help           this text\n";
}

ParseResult parse_options(int argc, char** argv) {
  ParseResult r;
  Options& o = r.options;
  auto fail = [&](std::string msg) {
    r.kind = ParseResult::kError;
    r.error = std::move(msg);
    return r;
  };
  static const char* kValueOptions[] = {"-o",      "--output", "--arch",      "--dim",
                                        "--layers", "--heads", "--kv-heads",  "--ffn",
                                        "--vocab", "--ctx",    "--type",      "--seed",
                                        "--rope-base", "--tokenizer", "--threads",
                                        "--format", "--group-size", "--mlx-dtype", "--shards"};
  constexpr int64_t kMaxDim = int64_t{1} << 20;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    if (a == "-h" || a == "--help") {
      r.kind = ParseResult::kHelp;
      return r;
    }
    if (a == "--tied-output") { o.tied_output = true; continue; }
    if (a == "--rope-freqs") { o.rope_freqs = true; continue; }
    bool known = false;
    for (const char* name : kValueOptions) known = known || a == name;
    if (!known) return fail("unknown option '" + a + "' (see --help)");
    if (k + 1 >= argc) return fail("option " + a + " needs a value");
    const std::string v = argv[++k];
    std::string bad;  // set when the value does not parse
    auto int_opt = [&](int64_t lo, int64_t hi, int64_t* out) {
      if (!parse_int(v, lo, hi, out))
        bad = a + " expects an integer from " + std::to_string(lo) + " to " +
              std::to_string(hi) + ", got '" + v + "'";
    };
    if (a == "-o" || a == "--output") {
      if (v.empty()) bad = "-o needs a file name";
      o.output = v;
      o.output_given = true;
    } else if (a == "--format") {
      if (v != "gguf" && v != "hf") bad = "--format must be gguf or hf, got '" + v + "'";
      o.format = v;
    } else if (a == "--group-size") {
      if (v != "32" && v != "64" && v != "128")
        bad = "--group-size must be 32, 64 or 128, got '" + v + "'";
      else
        o.group_size = std::stoll(v);
      o.group_size_given = true;
    } else if (a == "--mlx-dtype") {
      if (v != "f16" && v != "bf16") bad = "--mlx-dtype must be f16 or bf16, got '" + v + "'";
      o.mlx_dtype = v;
    } else if (a == "--shards") {
      int_opt(1, 1000, &o.shards);
      o.shards_given = true;
    } else if (a == "--arch") {
      if (v != "llama" && v != "qwen2") bad = "--arch must be llama or qwen2, got '" + v + "'";
      o.arch = v;
    } else if (a == "--dim") {
      int_opt(2, kMaxDim, &o.dim);
    } else if (a == "--layers") {
      int_opt(1, 4096, &o.layers);
    } else if (a == "--heads") {
      int_opt(1, 4096, &o.heads);
    } else if (a == "--kv-heads") {
      int_opt(1, 4096, &o.kv_heads);
    } else if (a == "--ffn") {
      int_opt(1, kMaxDim, &o.ffn);
    } else if (a == "--vocab") {
      int_opt(1, 1 << 24, &o.vocab);
      o.vocab_given = true;
    } else if (a == "--ctx") {
      int_opt(1, int64_t{1} << 30, &o.ctx);
    } else if (a == "--type") {
      if (!matrix_type(v, &o.type))
        bad = std::string("--type must be one of ") + kTypes + ", got '" + v + "'";
      o.type_name = v;
      o.q4_k_m = v == "q4_k_m";
      o.mlx_bits = v == "mlx2" ? 2 : v == "mlx4" ? 4 : v == "mlx8" ? 8 : 0;
    } else if (a == "--seed") {
      if (!parse_u64(v, &o.seed)) bad = "--seed expects a non-negative integer, got '" + v + "'";
    } else if (a == "--rope-base") {
      if (!parse_double(v, &o.rope_base) || o.rope_base <= 0)
        bad = "--rope-base expects a positive number, got '" + v + "'";
    } else if (a == "--tokenizer") {
      if (v.empty()) bad = "--tokenizer needs spm, gpt2 or a .gguf path";
      o.tokenizer = v;
    } else if (a == "--threads") {
      int64_t t = 0;
      int_opt(1, 1024, &t);
      o.threads = static_cast<int>(t);
    }
    if (!bad.empty()) return fail(bad);
  }
  if (o.hf() && !o.output_given) o.output = "testmodel-hf";
  std::string err = check(o);
  if (!err.empty()) return fail(err);
  return r;
}

}  // namespace mlxs::testmodel
