// Tokenizer metadata for test models: synthetic SentencePiece ("llama") and byte-level BPE
// ("gpt2") vocabularies of any size, or the tokenizer.* keys of an existing GGUF file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/gguf_writer.h"

namespace mlxs::testmodel {

// llama.cpp's token types.
enum TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct Vocab {
  std::string model;  // tokenizer.ggml.model
  std::string pre;    // tokenizer.ggml.pre; empty: not written
  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty: not written
  std::vector<int32_t> types;
  std::vector<std::string> merges;  // BPE only
  int64_t bos = -1, eos = -1, unk = -1;
  bool add_bos = false;
};

// Smallest sizes: specials and byte tokens must fit.
constexpr int64_t kMinSpmVocab = 260;
constexpr int64_t kMinGpt2Vocab = 257;

// <unk> <s> </s>, the 256 byte tokens, then pieces from English text, shortest first with
// descending scores, so llama.cpp's SPM merge loop builds whole words.
Result<Vocab> make_spm_vocab(int64_t n_vocab);
// The 256 GPT-2 byte characters, tokens from BPE merges learnt on English text (then
// synthetic merges when the text runs out), and <|endoftext|> last as bos/eos.
Result<Vocab> make_gpt2_vocab(int64_t n_vocab);

void add_vocab_metadata(const Vocab& v, GgufWriter* w);

// Copies every tokenizer.* key of the GGUF file at `path`; returns its vocabulary size.
Result<int64_t> copy_tokenizer(const std::string& path, GgufWriter* w);

}  // namespace mlxs::testmodel
