#include "tokenizer/spm.h"

#include <cstdio>
#include <queue>

#include "tokenizer/metadata.h"
#include "tokenizer/utf8.h"

namespace mlxs {

using metadata::read_flag;

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

std::string escape_spaces(std::string_view text, bool prefix) {
  std::string out;
  out.reserve(text.size() + 8);
  if (prefix) out += kSpace;
  for (char c : text) {
    if (c == ' ') {
      out += kSpace;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "<0x0A>" -> 0x0A; -1 when the text is not a byte token's spelling.
int parse_byte_token(const std::string& text) {
  unsigned v = 0;
  char tail = 0;
  if (text.size() != 6 || std::sscanf(text.c_str(), "<0x%2X%c", &v, &tail) != 2 || tail != '>')
    return -1;
  return static_cast<int>(v);
}

struct Symbol {
  int prev;
  int next;
  size_t pos;  // byte offset in the escaped text
  size_t len;  // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t len;  // combined length when queued; a mismatch later means it is stale
};

// Highest score first; on ties the leftmost pair, which keeps results deterministic and
// matches SentencePiece.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> SpmTokenizer::create(const GgufFile& file) {
  std::unique_ptr<SpmTokenizer> tok(new SpmTokenizer);
  MLXS_RETURN_IF_ERROR(tok->load_common(file, "llama"));
  MLXS_RETURN_IF_ERROR(
      read_flag(file, "tokenizer.ggml.add_space_prefix", true, &tok->add_space_prefix_));
  tok->pre_ = "default";
  tok->byte_tokens_.fill(-1);
  for (int32_t i = 0; i < tok->n_vocab(); ++i) {
    if (tok->types_[i] != TokenType::kByte) continue;
    const int b = parse_byte_token(tok->tokens_[i]);
    if (b >= 0 && tok->byte_tokens_[b] < 0) tok->byte_tokens_[b] = i;
  }
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

TokenId SpmTokenizer::merge_target(std::string_view text) const {
  const TokenId id = find_token(text);
  if (id < 0) return -1;
  const TokenType t = types_[id];
  const bool mergeable =
      t == TokenType::kNormal || t == TokenType::kUserDefined || t == TokenType::kUndefined;
  return mergeable ? id : -1;
}

void SpmTokenizer::emit_symbol(std::string_view text, std::vector<TokenId>& out) const {
  const TokenId id = merge_target(text);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  // Only single characters get here (merges always produce tokens): spell them in bytes.
  for (char c : text) {
    const TokenId b = byte_tokens_[static_cast<uint8_t>(c)];
    if (b >= 0) {
      out.push_back(b);
    } else if (unk_id_ >= 0) {
      out.push_back(unk_id_);
    }
  }
}

void SpmTokenizer::encode_fragment(std::string_view raw, bool after_special,
                                   std::vector<TokenId>& out) const {
  const std::string text = escape_spaces(raw, add_space_prefix_ && after_special);
  if (text.empty()) return;
  const std::string_view tv = text;

  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = utf8::char_length(tv, pos);
    const int idx = static_cast<int>(symbols.size());
    symbols.push_back({idx - 1, pos + n < text.size() ? idx + 1 : -1, pos, n});
    pos += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t len = symbols[left].len + symbols[right].len;
    const TokenId id = merge_target(tv.substr(symbols[left].pos, len));
    if (id < 0) return;
    queue.push({left, right, scores_[id], len});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    // Stale entry: one side already merged elsewhere since it was queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len || l.next != b.right) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int i = 0; i >= 0 && i < static_cast<int>(symbols.size()); i = symbols[i].next) {
    emit_symbol(tv.substr(symbols[i].pos, symbols[i].len), out);
  }
}

std::string SpmTokenizer::token_to_piece(TokenId id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return std::string();
  const std::string& text = tokens_[id];
  switch (types_[id]) {
    case TokenType::kByte: {
      const int b = parse_byte_token(text);
      return b >= 0 ? std::string(1, static_cast<char>(b)) : std::string();
    }
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUnused:
      return special_piece(id, render_special);
    default: {
      std::string out;
      out.reserve(text.size());
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpace.size(), kSpace) == 0) {
          out.push_back(' ');
          i += kSpace.size();
        } else {
          out.push_back(text[i++]);
        }
      }
      return out;
    }
  }
}

}  // namespace mlxs
