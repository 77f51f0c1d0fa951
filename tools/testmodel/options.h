// Command-line options of mlx-testmodel: parsing and validation only.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "model/ggml_type.h"

namespace mlxs::testmodel {

struct Options {
  std::string format = "gguf";  // gguf | hf (a Hugging Face folder)
  std::string output = "testmodel.gguf";  // a folder for --format hf
  bool output_given = false;
  std::string arch = "llama";  // llama | qwen2
  int64_t dim = 256;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t ffn = 512;
  int64_t vocab = 512;
  int64_t ctx = 512;
  std::string type_name = "f32";  // as given; "q4_k_m" is a mix, not a GgmlType
  GgmlType type = GgmlType::F32;  // the base matrix type (Q4_K for q4_k_m)
  bool q4_k_m = false;
  // --type mlx2|mlx4|mlx8 (--format hf only): MLX affine quantization with this many bits
  // per weight; `type` is then F32, the precision the weights are generated in.
  int mlx_bits = 0;
  int64_t group_size = 64;          // MLX quantization group (elements per scale/bias)
  bool group_size_given = false;
  std::string mlx_dtype = "f16";    // f16 | bf16: MLX scales, biases and unquantized matrices
  int64_t shards = 1;               // --format hf: safetensors files (>1 adds an index)
  bool shards_given = false;
  uint64_t seed = 42;
  bool tied_output = false;
  double rope_base = 10000.0;
  bool rope_freqs = false;
  std::string tokenizer = "spm";  // spm | gpt2 | path to a .gguf
  bool vocab_given = false;       // --vocab was on the command line
  int threads = 0;                // 0: all hardware threads

  int64_t head_dim() const { return dim / heads; }
  bool hf() const { return format == "hf"; }
  bool tokenizer_from_file() const { return tokenizer != "spm" && tokenizer != "gpt2"; }
};

// What parse_options decided: run, print help, or fail (the message names the problem).
struct ParseResult {
  enum Kind { kRun, kHelp, kError } kind = kRun;
  Options options;
  std::string error;
};

ParseResult parse_options(int argc, char** argv);
std::string usage();

}  // namespace mlxs::testmodel
