// What the SPM and BPE tokenizers share: reading the vocabulary and special-token
// metadata from GGUF, the token-text lookup, and the encode driver that cuts out added
// tokens and adds BOS/EOS around the model-specific tokenization of the plain text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/special_splitter.h"
#include "tokenizer/token_index.h"
#include "tokenizer/tokenizer.h"

namespace mlxs {

class VocabTokenizer : public Tokenizer {
 public:
  VocabTokenizer() = default;
  // The token index points into tokens_, so the object must stay where it was built.
  VocabTokenizer(const VocabTokenizer&) = delete;
  VocabTokenizer& operator=(const VocabTokenizer&) = delete;

  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              bool parse_special) const override;

  // Id of the token spelled exactly `text`, or -1.
  TokenId find_token(std::string_view text) const;

 protected:
  // Reads tokens, scores, types, special ids and flags. `kind` is "llama" or "gpt2" and
  // picks the defaults (llama: BOS 1 / EOS 2 / UNK 0 and add_bos; gpt2: none).
  Status load_common(const GgufFile& file, const std::string& kind);

  // Fills eog_ids_ from the EOS / EOT / EOM ids and the control tokens that spell a
  // common end-of-turn marker. Needs tokens_, types_ and the special ids.
  void collect_eog_ids();

  // Tokenizes one piece of plain text (no added tokens inside). `after_special` is true
  // at the start of the input and right after an added token (SPM adds its prefix
  // space there).
  virtual void encode_fragment(std::string_view text, bool after_special,
                               std::vector<TokenId>& out) const = 0;

  // The token text for a control / unknown / unused token: "" unless rendering.
  std::string special_piece(TokenId id, bool render_special) const;

  TokenIndex token_index_;
  SpecialSplitter specials_;
};

}  // namespace mlxs
