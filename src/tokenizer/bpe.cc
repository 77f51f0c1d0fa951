#include "tokenizer/bpe.h"

#include <optional>

#include "tokenizer/bpe_merge.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/metadata.h"
#include "tokenizer/utf8.h"

namespace mlxs {

using metadata::key_error;

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::create(const GgufFile& file) {
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer);
  MLXS_RETURN_IF_ERROR(tok->load_common(file, "gpt2"));

  const std::string pre_key = "tokenizer.ggml.pre";
  if (const GgufValue* v = file.find(pre_key)) {
    std::optional<std::string> pre = file.get_string(pre_key);
    if (!pre) return key_error(file, pre_key, "expected a string, got " + v->to_string());
    tok->pre_ = *pre;
  } else {
    tok->pre_ = "default";
  }
  auto pre = PreTokenizer::create(tok->pre_);
  if (!pre.ok()) return key_error(file, pre_key, pre.status().message());
  tok->pre_tokenizer_ = std::move(pre.value());
  tok->ignore_merges_ = tok->pre_ == "llama3" || tok->pre_ == "llama-v3" ||
                        tok->pre_ == "llama-bpe" || tok->pre_ == "falcon3";

  const std::string merges_key = "tokenizer.ggml.merges";
  const GgufArray* merges = file.get_array(merges_key);
  if (!merges) return key_error(file, merges_key, "missing");
  if (merges->elem_type != GgufType::STRING)
    return key_error(file, merges_key, "expected an array of strings");
  tok->merges_.reserve(merges->strings.size());
  std::string joined;
  for (size_t i = 0; i < merges->strings.size(); ++i) {
    const std::string_view m = merges->strings[i];
    // Search from 1: the left part is never empty, so a leading space cannot be the cut.
    const size_t cut = m.find(' ', 1);
    if (cut == std::string_view::npos) {
      return key_error(file, merges_key,
                       "entry " + std::to_string(i) + " ('" + std::string(m) +
                           "') is not two parts separated by a space");
    }
    const TokenId a = tok->find_token(m.substr(0, cut));
    const TokenId b = tok->find_token(m.substr(cut + 1));
    joined.assign(m.substr(0, cut));
    joined += m.substr(cut + 1);
    const TokenId result = tok->find_token(joined);
    // A merge whose parts or result are not tokens can never fire on token symbols.
    if (a < 0 || b < 0 || result < 0) continue;
    tok->merges_.insert(a, b, {static_cast<int32_t>(i), result});  // first rank wins
  }
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

void BpeTokenizer::encode_fragment(std::string_view text, bool /*after_special*/,
                                   std::vector<TokenId>& out) const {
  std::string word;
  for (std::string_view raw : pre_tokenizer_->split(text)) {
    word.clear();
    byte_level::encode(raw, word);
    encode_word(word, out);
  }
}

void BpeTokenizer::emit_unmerged(std::string_view text, std::vector<TokenId>& out) const {
  // A symbol that is not a token is a single byte-level character missing from the
  // vocabulary; the unknown token (if any) stands in for it.
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = utf8::char_length(text, pos);
    const TokenId id = find_token(text.substr(pos, n));
    if (id >= 0) {
      out.push_back(id);
    } else if (unk_id_ >= 0) {
      out.push_back(unk_id_);
    }
    pos += n;
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const TokenId whole = find_token(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }

  std::vector<BpeSymbol> symbols;
  symbols.reserve(word.size() / 2 + 1);
  for (size_t pos = 0; pos < word.size();) {
    const size_t n = utf8::char_length(word, pos);
    bpe_push_symbol(symbols, pos, n, find_token(word.substr(pos, n)));
    pos += n;
  }
  bpe_merge(symbols, merges_);

  for (int i = 0; i >= 0 && i < static_cast<int>(symbols.size()); i = symbols[i].next) {
    if (symbols[i].id >= 0) {
      out.push_back(symbols[i].id);
    } else {
      emit_unmerged(word.substr(symbols[i].pos, symbols[i].len), out);
    }
  }
}

std::string BpeTokenizer::token_to_piece(TokenId id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return std::string();
  switch (types_[id]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUnused:
      return special_piece(id, render_special);
    case TokenType::kUserDefined:
      return tokens_[id];  // added tokens are stored as the raw text they match
    default:
      return byte_level::decode(tokens_[id]);
  }
}

}  // namespace mlxs
