#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <optional>

#include "tokenizer/bpe.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/metadata.h"
#include "tokenizer/spm.h"

namespace mlxs {

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& file) {
  const std::string key = "tokenizer.ggml.model";
  const GgufValue* v = file.find(key);
  if (!v) return metadata::key_error(file, key, "missing");
  std::optional<std::string> kind = file.get_string(key);
  if (!kind) return metadata::key_error(file, key, "expected a string, got " + v->to_string());
  if (*kind == "llama") return SpmTokenizer::create(file);
  if (*kind == "gpt2") return BpeTokenizer::create(file);
  return metadata::key_error(
      file, key, "unsupported tokenizer model '" + *kind + "' (supported: llama, gpt2)");
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_hf_files(
    const std::string& tokenizer_json_path, const std::string& tokenizer_config_path) {
  return HfTokenizer::create(tokenizer_json_path, tokenizer_config_path);
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool render_special) const {
  std::string out;
  bool first = true;
  for (TokenId id : ids) {
    std::string piece = token_to_piece(id, render_special);
    if (piece.empty()) continue;
    // The SPM prefix space belongs to the first piece of text, not to the user's text.
    if (first && add_space_prefix_ && piece[0] == ' ') piece.erase(0, 1);
    first = false;
    out += piece;
  }
  return out;
}

bool Tokenizer::is_eog(TokenId id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

bool Tokenizer::is_control(TokenId id) const {
  return id >= 0 && id < n_vocab() && types_[id] == TokenType::kControl;
}

}  // namespace mlxs
