// SentencePiece-style BPE over scores ("llama" vocabularies): the text, with spaces
// written as U+2581, starts as single characters; the adjacent pair whose concatenation is
// the highest-scoring token merges first. Characters that no token covers fall back to
// <0xNN> byte tokens.
#pragma once

#include <array>
#include <memory>

#include "tokenizer/vocab_tokenizer.h"

namespace mlxs {

class SpmTokenizer final : public VocabTokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(const GgufFile& file);

  std::string token_to_piece(TokenId id, bool render_special) const override;

 protected:
  void encode_fragment(std::string_view text, bool after_special,
                       std::vector<TokenId>& out) const override;

 private:
  // Id of the token a merge may produce, or -1: control, byte, unknown and unused tokens
  // are never merge results (SentencePiece keeps them out of its piece table).
  TokenId merge_target(std::string_view text) const;
  void emit_symbol(std::string_view text, std::vector<TokenId>& out) const;

  std::array<TokenId, 256> byte_tokens_{};  // <0xNN> token per byte, -1 if absent
};

}  // namespace mlxs
