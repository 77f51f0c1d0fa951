#include "chat/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "chat/text.h"

namespace mlxs::chat {

SourceMap::SourceMap(std::string_view s) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n') line_starts_.push_back(i + 1);
}

std::string SourceMap::where(size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());
  size_t col = offset - line_starts_[line - 1] + 1;
  return std::to_string(line) + ":" + std::to_string(col);
}

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

// Python's `\s` (Unicode) at byte offset i; returns the byte length or 0.
size_t space_len(const std::string& s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return py_isspace(c) ? 1 : 0;
  size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + len > s.size()) return 0;
  auto cps = utf8_decode(std::string_view(s).substr(i, len));
  return cps.size() == 1 && py_isspace(cps[0]) ? len : 0;
}

size_t skip_spaces(const std::string& s, size_t i) {
  while (i < s.size()) {
    size_t n = space_len(s, i);
    if (!n) break;
    i += n;
  }
  return i;
}

bool all_space(const std::string& s, size_t b, size_t e) {
  while (b < e) {
    size_t n = space_len(s, b);
    if (!n) return false;
    b += n;
  }
  return true;
}

std::string rstrip_spaces(const std::string& s) { return py_strip(s, nullptr, false, true); }

bool starts(const std::string& s, size_t i, std::string_view p) { return s.compare(i, p.size(), p) == 0; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Python's unicode-escape decoding of a string literal body.
Result<std::string> unescape(const std::string& body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    char n = body[++i];
    auto hex = [&](int count) -> Result<char32_t> {
      char32_t v = 0;
      for (int k = 1; k <= count; ++k) {
        if (i + k >= body.size()) return Status::Error("truncated escape sequence");
        char h = body[i + k];
        int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (d < 0) return Status::Error("truncated escape sequence");
        v = v * 16 + static_cast<char32_t>(d);
      }
      i += count;
      return v;
    };
    switch (n) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x':
      case 'u':
      case 'U': {
        auto v = hex(n == 'x' ? 2 : n == 'u' ? 4 : 8);
        if (!v.ok()) return v.status();
        if (*v > 0x10FFFF) return Status::Error("illegal Unicode character");
        utf8_append(out, *v);
        break;
      }
      default:
        if (n >= '0' && n <= '7') {
          char32_t v = static_cast<char32_t>(n - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<char32_t>(body[++i] - '0');
          utf8_append(out, v);
        } else {
          // Python keeps unknown escapes verbatim.
          out += '\\';
          out += n;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : s_(src), map_(src) {}

  Result<std::vector<Token>> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < s_.size()) {
      size_t p = find_tag(pos);
      if (p == std::string::npos) {
        emit(TokType::kData, s_.substr(pos), pos);
        break;
      }
      char kind = s_[p + 1];
      size_t after = p + 2;
      char sign = 0;
      if (after < s_.size() && (s_[after] == '-' || s_[after] == '+')) sign = s_[after++];
      size_t raw_end = kind == '%' ? match_raw_begin(after) : 0;
      std::string text = s_.substr(pos, p - pos);
      text = strip_before(text, sign, kind != '{', line_starting);
      if (!text.empty()) emit(TokType::kData, text, pos);

      if (raw_end) {
        auto r = lex_raw(raw_end, s_[raw_end - 1] == '\n');
        if (!r.ok()) return error(p, r.status().message());
        pos = *r;
      } else if (kind == '#') {
        size_t end = find_comment_end(after);
        if (end == std::string::npos) return error(p, "missing end of comment tag");
        pos = end;
      } else {
        auto r = lex_tag(p, after, kind == '%');
        if (!r.ok()) return r.status();
        pos = *r;
      }
      line_starting = pos > 0 && s_[pos - 1] == '\n';
    }
    toks_.push_back(Token{TokType::kEof, "", 0, 0, s_.size()});
    return std::move(toks_);
  }

 private:
  Status error(size_t offset, const std::string& msg) { return Status::Error(map_.where(offset) + ": " + msg); }

  void emit(TokType t, std::string text, size_t offset) {
    Token tok{t, std::move(text), 0, 0, offset};
    toks_.push_back(std::move(tok));
  }

  size_t find_tag(size_t pos) const {
    for (size_t i = pos; i + 1 < s_.size(); ++i)
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  // OptionalLStrip: `-` strips all whitespace before the tag; otherwise
  // lstrip_blocks removes spaces between a line start and a block/comment tag.
  std::string strip_before(const std::string& text, char sign, bool lstrip_kind, bool line_starting) const {
    if (sign == '-') return rstrip_spaces(text);
    if (sign != '+' && lstrip_kind) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && l_pos < text.size() && all_space(text, l_pos, text.size()))
        return text.substr(0, l_pos);
    }
    return text;
  }

  // `{%(-|+|)\s*raw\s*(-%}\s*|%})` after the `{%` and sign; returns the end or 0.
  size_t match_raw_begin(size_t i) const {
    i = skip_spaces(s_, i);
    if (!starts(s_, i, "raw")) return 0;
    i = skip_spaces(s_, i + 3);
    if (starts(s_, i, "-%}")) return skip_spaces(s_, i + 3);
    if (starts(s_, i, "%}")) return i + 2;
    return 0;
  }

  // Block end per trim_blocks: `+%}`, `-%}\s*` or `%}\n?`; returns end or npos.
  size_t match_block_end(size_t i, char closer) const {
    std::string tail = std::string(1, closer) + "}";
    if (s_[i] == '+' && starts(s_, i + 1, tail)) return i + 3;
    if (s_[i] == '-' && starts(s_, i + 1, tail)) return skip_spaces(s_, i + 3);
    if (starts(s_, i, tail)) return (i + 2 < s_.size() && s_[i + 2] == '\n') ? i + 3 : i + 2;
    return std::string::npos;
  }

  Result<size_t> lex_raw(size_t start, bool line_starting) {
    for (size_t q = start; q + 1 < s_.size(); ++q) {
      if (s_[q] != '{' || s_[q + 1] != '%') continue;
      size_t i = q + 2;
      char sign = 0;
      if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) sign = s_[i++];
      i = skip_spaces(s_, i);
      if (!starts(s_, i, "endraw")) continue;
      i = skip_spaces(s_, i + 6);
      if (i >= s_.size()) continue;
      size_t end = match_block_end(i, '%');
      if (end == std::string::npos) continue;
      std::string text = strip_before(s_.substr(start, q - start), sign, true, line_starting);
      if (!text.empty()) emit(TokType::kData, text, start);
      return end;
    }
    return Status::Error("missing end of raw directive");
  }

  size_t find_comment_end(size_t i) const {
    for (; i + 1 < s_.size(); ++i) {
      if ((s_[i] == '+' || s_[i] == '-') && starts(s_, i + 1, "#}")) return match_block_end(i, '#');
      if (starts(s_, i, "#}")) return match_block_end(i, '#');
    }
    return std::string::npos;
  }

  Result<size_t> lex_tag(size_t tag_start, size_t i, bool block) {
    emit(block ? TokType::kBlockBegin : TokType::kVarBegin, "", tag_start);
    std::vector<char> balance;
    while (true) {
      if (i >= s_.size())
        return error(tag_start, std::string("unclosed tag: expected '") + (block ? "%}" : "}}") + "'");
      if (balance.empty()) {
        size_t end = std::string::npos;
        if (block) {
          end = match_block_end(i, '%');
        } else if (s_[i] == '-' && starts(s_, i + 1, "}}")) {
          end = skip_spaces(s_, i + 3);
        } else if (starts(s_, i, "}}")) {
          end = i + 2;
        }
        if (end != std::string::npos) {
          emit(block ? TokType::kBlockEnd : TokType::kVarEnd, "", i);
          return end;
        }
      }
      if (size_t n = space_len(s_, i)) {
        i += n;
        continue;
      }
      char c = s_[i];
      if (is_digit(c)) {
        auto r = lex_number(i);
        if (!r.ok()) return r.status();
        i = *r;
        continue;
      }
      if (is_name_start(c)) {
        size_t b = i;
        while (i < s_.size() && is_name_char(s_[i])) ++i;
        emit(TokType::kName, s_.substr(b, i - b), b);
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t b = i++;
        while (i < s_.size() && s_[i] != c) i += (s_[i] == '\\') ? 2 : 1;
        if (i >= s_.size()) return error(b, "unterminated string literal");
        auto body = unescape(s_.substr(b + 1, i - b - 1));
        if (!body.ok()) return error(b, body.status().message());
        emit(TokType::kString, std::move(*body), b);
        ++i;
        continue;
      }
      static const char* kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                                   "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};
      const char* op = nullptr;
      for (const char* o : kOps)
        if (starts(s_, i, o)) {
          op = o;
          break;
        }
      if (!op) return error(i, std::string("unexpected char '") + c + "'");
      std::string ops(op);
      if (ops == "{" || ops == "(" || ops == "[") {
        balance.push_back(ops == "{" ? '}' : ops == "(" ? ')' : ']');
      } else if (ops == "}" || ops == ")" || ops == "]") {
        if (balance.empty()) return error(i, "unexpected '" + ops + "'");
        char want = balance.back();
        balance.pop_back();
        if (want != ops[0]) return error(i, "unexpected '" + ops + "', expected '" + std::string(1, want) + "'");
      }
      emit(TokType::kOp, ops, i);
      i += ops.size();
    }
  }

  // Integers (decimal, 0x, 0o, 0b, with `_`) and floats (fraction and/or exponent).
  Result<size_t> lex_number(size_t b) {
    size_t i = b;
    auto digits = [&](auto pred) {
      size_t start = i;
      while (i < s_.size() && (pred(s_[i]) || (s_[i] == '_' && i > start && i + 1 < s_.size() && pred(s_[i + 1]))))
        ++i;
      return i > start;
    };
    auto dec = [](char c) { return c >= '0' && c <= '9'; };
    if (s_[i] == '0' && i + 1 < s_.size() && std::string("xXoObB").find(s_[i + 1]) != std::string::npos) {
      char k = static_cast<char>(s_[i + 1] | 0x20);
      i += 2;
      size_t ds = i;
      auto pred = [k](char c) {
        if (k == 'x') return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
        if (k == 'o') return c >= '0' && c <= '7';
        return c == '0' || c == '1';
      };
      if (!digits(pred)) return error(b, "invalid number literal");
      std::string d;
      for (size_t j = ds; j < i; ++j)
        if (s_[j] != '_') d += s_[j];
      Token t{TokType::kInt, s_.substr(b, i - b), std::strtoll(d.c_str(), nullptr, k == 'x' ? 16 : k == 'o' ? 8 : 2), 0, b};
      toks_.push_back(std::move(t));
      return i;
    }
    digits(dec);
    bool is_float = false;
    if (i + 1 < s_.size() && s_[i] == '.' && dec(s_[i + 1])) {
      ++i;
      digits(dec);
      is_float = true;
    }
    if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E')) {
      size_t save = i++;
      if (i < s_.size() && (s_[i] == '+' || s_[i] == '-')) ++i;
      if (i < s_.size() && dec(s_[i])) {
        digits(dec);
        is_float = true;
      } else {
        i = save;
      }
    }
    std::string d;
    for (size_t j = b; j < i; ++j)
      if (s_[j] != '_') d += s_[j];
    Token t{is_float ? TokType::kFloat : TokType::kInt, s_.substr(b, i - b), 0, 0, b};
    if (is_float) {
      t.fval = std::strtod(d.c_str(), nullptr);
    } else {
      errno = 0;
      t.ival = std::strtoll(d.c_str(), nullptr, 10);
      if (errno == ERANGE) return error(b, "integer literal too large");
    }
    toks_.push_back(std::move(t));
    return i;
  }

  const std::string& s_;
  SourceMap map_;
  std::vector<Token> toks_;
};

}  // namespace

Result<std::vector<Token>> tokenize(const std::string& source) { return Lexer(source).run(); }

}  // namespace mlxs::chat
