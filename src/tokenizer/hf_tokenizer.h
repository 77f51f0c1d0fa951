// Tokenizer of a Hugging Face model folder (tokenizer.json, tokenizer_config.json): the
// BPE model (vocab, merges, byte_fallback, ignore_merges, unk) behind the file's own
// normalizer and pre-tokenizer, with added tokens cut out of the text first and the
// post-processor's special tokens around it. The vocabulary, added-token matching and
// merge loop are the ones the GGUF tokenizers use, so a tokenizer.json and its GGUF
// conversion tokenize alike.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/hf_json.h"
#include "tokenizer/hf_normalizer.h"
#include "tokenizer/hf_pretokenizer.h"
#include "tokenizer/vocab_tokenizer.h"

namespace mlxs {

class HfTokenizer final : public VocabTokenizer {
 public:
  // See Tokenizer::from_hf_files. `config_path` may be "".
  static Result<std::unique_ptr<Tokenizer>> create(const std::string& tokenizer_json_path,
                                                   const std::string& config_path);

  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              bool parse_special) const override;
  std::string token_to_piece(TokenId id, bool render_special) const override;

 protected:
  void encode_fragment(std::string_view text, bool after_special,
                       std::vector<TokenId>& out) const override;

 private:
  // Loading, one part of tokenizer.json each (hf_tokenizer_load.cc).
  Status load_model(const hf::JsonFile& f, const hf::Json& added);
  Status load_merges(const hf::JsonFile& f, const hf::Json& merges);
  Status load_added_tokens(const hf::JsonFile& f, const hf::Json& added);
  Status load_post_processor(const hf::JsonFile& f, const hf::Json& spec, const std::string& where);
  Status load_decoder(const hf::JsonFile& f, const hf::Json& spec, const std::string& where);
  Status load_special_ids(const hf::JsonFile& f, const hf::JsonFile* config);

  // Normalizes, pre-tokenizes and runs the model over one piece of text between added
  // tokens. `at_start`: the piece begins the input.
  void encode_text(std::string_view text, bool at_start, std::vector<TokenId>& out) const;
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

  std::unique_ptr<HfNormalizer> normalizer_;
  std::unique_ptr<HfPreTokenizer> pre_tokenizer_;
  MergeTable merges_;
  bool ignore_merges_ = false;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  std::array<TokenId, 256> byte_tokens_{};  // <0xNN> token per byte, -1 if absent

  // Added tokens that swallow whitespace beside them (lstrip: before, rstrip: after).
  struct Strip {
    bool left = false;
    bool right = false;
  };
  std::unordered_map<TokenId, Strip> strip_;

  // What add_special puts around the text (post-processor or tokenizer_config.json).
  std::vector<TokenId> prefix_ids_;
  std::vector<TokenId> suffix_ids_;

  // Decoding: byte-level alphabet back to bytes, and text the decoder maps to a space.
  bool decode_byte_level_ = false;
  std::vector<std::pair<std::string, std::string>> decode_replacements_;
};

}  // namespace mlxs
