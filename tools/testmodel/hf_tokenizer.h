// Writes the tokenizer.json + tokenizer_config.json that Hugging Face publishes for the
// model a vocabulary GGUF was converted from. mlx-testmodel uses it to give its Hugging
// Face folders a tokenizer; the tokenizer unit tests use it to check the tokenizer.json
// path against the same reference vectors as the GGUF path. One converter for both.
//
// The layouts follow the public files: Llama 2 / TinyLlama / Phi-3 (BPE with byte_fallback,
// normalizer Sequence[Prepend("▁"), Replace(" ", "▁")], decoder Replace/ByteFallback/Fuse/
// Strip, merges generated from the SentencePiece scores the way transformers'
// convert_slow_tokenizer does), the newer Metaspace variant of the same (pre_tokenizer
// Metaspace, prepend_scheme "first"), GPT-2 (ByteLevel with its regex), StarCoder
// (Digits + ByteLevel) and DeepSeek (Split regexes + Digits + ByteLevel without regex).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/gguf.h"

namespace mlxs::testmodel {

enum class SpmLayout { kLegacyNormalizer, kMetaspace };
enum class MergeForm { kString, kPair };

struct HfExport {
  std::string tokenizer_json;
  std::string config_json;
  std::string error;  // non-empty when the GGUF has no counterpart here
};

// transformers' generate_merges(vocab, vocab_scores): every split of every piece into two
// pieces, ordered by the piece's score (highest first), then by the lengths of the two
// parts (longest first), ties kept in vocabulary order (Python's sort is stable).
std::vector<std::pair<std::string, std::string>> spm_merges(
    const std::vector<std::string>& pieces, const std::vector<double>& scores);

// Both files for the tokenizer.* keys of `file`; HfExport::error says when there is no
// tokenizer.json layout for its pre-tokenizer.
HfExport export_hf(const GgufFile& file, SpmLayout layout, MergeForm form);

}  // namespace mlxs::testmodel
