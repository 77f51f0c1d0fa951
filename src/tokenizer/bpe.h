// Byte-level BPE ("gpt2" vocabularies): the pre-tokenizer cuts text into words, each
// word's bytes are spelled in the GPT-2 byte alphabet, and the merge list (earlier =
// stronger) joins adjacent symbols until no listed pair is left.
#pragma once

#include <memory>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab_tokenizer.h"

namespace mlxs {

class BpeTokenizer final : public VocabTokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(const GgufFile& file);

  std::string token_to_piece(TokenId id, bool render_special) const override;

 protected:
  void encode_fragment(std::string_view text, bool after_special,
                       std::vector<TokenId>& out) const override;

 private:
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;
  void emit_unmerged(std::string_view text, std::vector<TokenId>& out) const;

  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  // Merges keyed by the ids of the two parts: lookups hash one integer, not two strings.
  MergeTable merges_;
  // Llama 3 style: a word that is already a token is taken whole, without merging.
  bool ignore_merges_ = false;
};

}  // namespace mlxs
