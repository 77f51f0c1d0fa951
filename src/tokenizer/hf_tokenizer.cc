#include "tokenizer/hf_tokenizer.h"

#include "tokenizer/bpe_merge.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace mlxs {
namespace {

// Whitespace an lstrip / rstrip added token absorbs.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::vector<TokenId> HfTokenizer::encode(std::string_view text, bool add_special,
                                         bool parse_special) const {
  std::vector<TokenId> out;
  if (add_special) out.insert(out.end(), prefix_ids_.begin(), prefix_ids_.end());
  std::vector<SpecialSplitter::Fragment> frags = specials_.split(text, parse_special);
  if (!strip_.empty()) {
    for (size_t i = 0; i < frags.size(); ++i) {
      if (frags[i].token < 0) continue;
      auto it = strip_.find(frags[i].token);
      if (it == strip_.end()) continue;
      if (it->second.left && i > 0 && frags[i - 1].token < 0) {
        std::string_view& t = frags[i - 1].text;
        while (!t.empty() && is_space(t.back())) t.remove_suffix(1);
      }
      if (it->second.right && i + 1 < frags.size() && frags[i + 1].token < 0) {
        std::string_view& t = frags[i + 1].text;
        while (!t.empty() && is_space(t.front())) t.remove_prefix(1);
      }
    }
  }
  for (const SpecialSplitter::Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else if (!f.text.empty()) {
      encode_text(f.text, f.text.data() == text.data(), out);
    }
  }
  if (add_special) out.insert(out.end(), suffix_ids_.begin(), suffix_ids_.end());
  return out;
}

void HfTokenizer::encode_fragment(std::string_view text, bool after_special,
                                  std::vector<TokenId>& out) const {
  encode_text(text, after_special, out);
}

void HfTokenizer::encode_text(std::string_view text, bool at_start,
                              std::vector<TokenId>& out) const {
  const std::string normalized = normalizer_->apply(text);
  if (normalized.empty()) return;
  std::vector<std::string> words;
  pre_tokenizer_->split(normalized, at_start, words);
  for (const std::string& w : words) encode_word(w, out);
}

void HfTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const TokenId whole = find_token(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  // One symbol per character; a character missing from the vocabulary becomes its
  // <0xNN> byte tokens (byte_fallback) or the unknown token, runs of which fuse into one
  // when fuse_unk is set, as in Hugging Face's BPE.
  std::vector<BpeSymbol> symbols;
  symbols.reserve(word.size());
  bool prev_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    const size_t n = utf8::char_length(word, pos);
    const TokenId id = find_token(word.substr(pos, n));
    if (id >= 0) {
      bpe_push_symbol(symbols, pos, n, id);
      prev_unk = false;
    } else {
      bool bytes_ok = byte_fallback_;
      for (size_t k = 0; bytes_ok && k < n; ++k)
        bytes_ok = byte_tokens_[static_cast<uint8_t>(word[pos + k])] >= 0;
      if (bytes_ok) {
        for (size_t k = 0; k < n; ++k)
          bpe_push_symbol(symbols, pos + k, 1, byte_tokens_[static_cast<uint8_t>(word[pos + k])]);
        prev_unk = false;
      } else if (unk_id_ >= 0) {
        if (fuse_unk_ && prev_unk) {
          symbols.back().len += n;
        } else {
          bpe_push_symbol(symbols, pos, n, unk_id_);
        }
        prev_unk = true;
      }
    }
    pos += n;
  }
  bpe_merge(symbols, merges_);
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

std::string HfTokenizer::token_to_piece(TokenId id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return std::string();
  switch (types_[id]) {
    case TokenType::kByte:
      for (int b = 0; b < 256; ++b) {
        if (byte_tokens_[b] == id) return std::string(1, static_cast<char>(b));
      }
      return std::string();
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUnused:
      return special_piece(id, render_special);
    case TokenType::kUserDefined:
      return tokens_[id];  // added tokens are stored as the raw text they match
    default:
      break;
  }
  std::string text = tokens_[id];
  for (const auto& [from, to] : decode_replacements_) {
    std::string replaced;
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, from.size(), from) == 0) {
        replaced += to;
        i += from.size();
      } else {
        replaced.push_back(text[i++]);
      }
    }
    text = std::move(replaced);
  }
  return decode_byte_level_ ? byte_level::decode(text) : text;
}

}  // namespace mlxs
