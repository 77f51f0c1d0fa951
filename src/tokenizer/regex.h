// A compiled PCRE2 pattern (UTF-8, Unicode properties) for the pre-tokenizers. Hugging Face
// tokenizers use Oniguruma; the patterns real tokenizer.json files use (\p{L}, (?i:...),
// lookahead) mean the same in PCRE2.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mlxs {

class Regex {
 public:
  struct Span {
    size_t begin;
    size_t end;
  };

  // Errors give the PCRE2 message and the offset in the pattern.
  static Result<Regex> compile(std::string_view pattern);

  Regex(Regex&& other) noexcept
      : code_(std::exchange(other.code_, nullptr)), jit_(other.jit_) {}
  Regex& operator=(Regex&& other) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex();

  // Appends the non-empty matches in `subject`, left to right, non-overlapping. The
  // subject must be valid UTF-8 (it is not checked again). An empty match advances one
  // character without cutting, as the Hugging Face splitters do.
  void find_all(std::string_view subject, std::vector<Span>& out) const;

 private:
  Regex() = default;
  void* code_ = nullptr;  // pcre2_code_8*; kept opaque so pcre2.h stays out of headers
  bool jit_ = false;
};

}  // namespace mlxs
