// Tokenizers read from GGUF metadata (tokenizer.ggml.*): SentencePiece-style ("llama") with
// byte fallback, and byte-level BPE ("gpt2") with the pre-tokenizer named by
// tokenizer.ggml.pre; or from a Hugging Face tokenizer.json (BPE model).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/gguf.h"

namespace mlxs {

using TokenId = int32_t;

enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer described by the file's tokenizer.ggml.* metadata. Errors name
  // the file and the missing or malformed key.
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);

  // Builds the tokenizer of a Hugging Face model folder from tokenizer.json and, when
  // present, tokenizer_config.json (add_bos_token / add_eos_token, bos_token / eos_token;
  // chat_template is read elsewhere). `tokenizer_config_path` is "" when the folder has
  // none. Errors name the file and what is wrong (e.g. an unsupported model type).
  static Result<std::unique_ptr<Tokenizer>> from_hf_files(const std::string& tokenizer_json_path,
                                                          const std::string& tokenizer_config_path);

  // Tokenizes text. add_special: prepend BOS / append EOS as the metadata says
  // (tokenizer.ggml.add_bos_token / add_eos_token, with the model kind's default).
  // parse_special: text such as "<|im_start|>" that spells a control or user-defined
  // token becomes that token instead of being tokenized as plain text. User-defined
  // tokens (added tokens that are not special, e.g. DeepSeek's "ü") are matched even
  // without parse_special, as Hugging Face tokenizers do; only control tokens need it.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special,
                                      bool parse_special) const = 0;

  // The bytes a token stands for in output text: SPM's "▁" becomes a space, <0xNN> byte
  // tokens become that byte, GPT-2 byte-level characters are mapped back to bytes. Control
  // tokens give "" unless `render_special` is true (then their text, e.g. "</s>").
  virtual std::string token_to_piece(TokenId id, bool render_special = false) const = 0;

  // Concatenates pieces; removes the leading space that SPM's prefix space added.
  std::string decode(const std::vector<TokenId>& ids, bool render_special = false) const;

  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  const std::string& token_text(TokenId id) const { return tokens_[id]; }
  TokenType token_type(TokenId id) const { return types_[id]; }
  TokenId bos_id() const { return bos_id_; }  // -1 when the model has none
  TokenId eos_id() const { return eos_id_; }
  TokenId unk_id() const { return unk_id_; }  // -1 when none
  TokenId eot_id() const { return eot_id_; }  // -1 when none
  TokenId eom_id() const { return eom_id_; }  // -1 when none
  TokenId pad_id() const { return pad_id_; }  // -1 when none
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // True when the SPM tokenizer inserts a space before the text (decode removes it again).
  bool adds_space_prefix() const { return add_space_prefix_; }
  // End-of-generation tokens: EOS, EOT, and other end markers named in the metadata.
  bool is_eog(TokenId id) const;
  bool is_control(TokenId id) const;
  // "llama" or "gpt2" (tokenizer.json: "gpt2" when byte-level, else "llama").
  const std::string& model_kind() const { return model_kind_; }
  const std::string& pre_tokenizer() const { return pre_; }

 protected:
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::vector<TokenId> eog_ids_;
  TokenId bos_id_ = -1;
  TokenId eos_id_ = -1;
  TokenId unk_id_ = -1;
  TokenId eot_id_ = -1;
  TokenId eom_id_ = -1;
  TokenId pad_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;
  std::string model_kind_;
  std::string pre_;
};

// Turns a stream of token ids into text without ever emitting half a UTF-8 character:
// bytes of an incomplete character are held until the rest arrives. The first piece
// loses the SPM prefix space when the tokenizer adds one (so a streamed answer matches
// decode()).
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tok, bool skip_leading_space = true);
  // Returns the text that is complete after this token (possibly empty).
  std::string push(TokenId id);
  // Returns whatever is still held (an invalid trailing sequence comes out as U+FFFD).
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool first_ = true;
  bool skip_leading_space_;
  std::string pending_;
};

}  // namespace mlxs
