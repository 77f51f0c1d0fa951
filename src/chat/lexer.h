// Splits a template into tokens exactly as jinja2's lexer does under Hugging
// Face's settings: trim_blocks, lstrip_blocks, keep_trailing_newline=False and
// `-`/`+` whitespace control. Comments vanish; raw blocks become data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mlxs::chat {

enum class TokType { kData, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
  TokType type;
  std::string text;  // data, name, operator, or the unescaped string literal
  int64_t ival = 0;
  double fval = 0;
  size_t offset = 0;  // into the normalized source
};

// Maps offsets of the normalized source to "line:column".
class SourceMap {
 public:
  explicit SourceMap(std::string_view normalized);
  std::string where(size_t offset) const;

 private:
  std::vector<size_t> line_starts_;
};

// Newlines become "\n" and one trailing newline is dropped, as jinja2 does.
std::string normalize_source(std::string_view source);

// `source` must already be normalized. Errors carry "line:col: what".
Result<std::vector<Token>> tokenize(const std::string& source);

}  // namespace mlxs::chat
