#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include <string>

#include "tokenizer/utf8.h"

namespace mlxs {

Result<Regex> Regex::compile(std::string_view pattern) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return Status::Error("regex does not compile at offset " + std::to_string(err_off) + ": " +
                         reinterpret_cast<char*>(msg));
  }
  Regex re;
  re.code_ = code;
  // JIT is an optimisation only; the interpreter gives the same matches.
  re.jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return re;
}

Regex& Regex::operator=(Regex&& other) noexcept {
  if (this != &other) {
    pcre2_code_free(static_cast<pcre2_code*>(code_));
    code_ = std::exchange(other.code_, nullptr);
    jit_ = other.jit_;
  }
  return *this;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::find_all(std::string_view subject, std::vector<Span>& out) const {
  const auto* code = static_cast<const pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t pos = 0;
  while (pos < subject.size()) {
    int rc = pcre2_match(code, s, subject.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    // A JIT failure (stack limit on huge inputs) retries in the interpreter, which uses
    // the heap.
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && jit_) {
      rc = pcre2_match(code, s, subject.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                       nullptr);
    }
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[1] == ov[0]) {  // empty match: step over one character, no cut
      pos = ov[0] + utf8::char_length(subject, ov[0]);
      continue;
    }
    out.push_back({ov[0], ov[1]});
    pos = ov[1];
  }
  pcre2_match_data_free(md);
}

}  // namespace mlxs
