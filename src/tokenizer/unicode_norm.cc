#include "tokenizer/unicode_norm.h"

#include "tokenizer/utf8.h"

#ifdef MLXS_HAVE_ICU
#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#endif

namespace mlxs::unicode {
namespace {

// Applies `fn` to each maximal run of valid UTF-8 and copies invalid bytes as they are,
// so one stray byte cannot make ICU replace a whole fragment.
template <typename Fn>
std::string by_valid_runs(std::string_view text, Fn fn) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    bool ascii = true;
    while (j < text.size()) {
      const size_t n = utf8::valid_char_length(text, j);
      if (n == 0) break;
      ascii = ascii && n == 1;
      j += n;
    }
    if (j > i) fn(text.substr(i, j - i), ascii, out);
    if (j < text.size()) out.push_back(text[j++]);
    i = j;
  }
  return out;
}

}  // namespace

#ifdef MLXS_HAVE_ICU

bool available() { return true; }

std::string normalize(std::string_view text, Form form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case Form::kNfc:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case Form::kNfd:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case Form::kNfkc:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case Form::kNfkd:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || !n) return std::string(text);
  return by_valid_runs(text, [&](std::string_view run, bool ascii, std::string& out) {
    // ASCII is invariant under every normalization form.
    if (ascii) {
      out.append(run);
      return;
    }
    std::string normalized;
    icu::StringByteSink<std::string> sink(&normalized);
    UErrorCode st = U_ZERO_ERROR;
    n->normalizeUTF8(0, icu::StringPiece(run.data(), static_cast<int32_t>(run.size())), sink,
                     nullptr, st);
    out.append(U_SUCCESS(st) ? std::string_view(normalized) : run);
  });
}

std::string lowercase(std::string_view text) {
  return by_valid_runs(text, [](std::string_view run, bool ascii, std::string& out) {
    if (ascii) {
      for (char c : run) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
      return;
    }
    std::string lower;
    icu::StringByteSink<std::string> sink(&lower);
    UErrorCode st = U_ZERO_ERROR;
    // The root locale: no Turkish dotless-i rules, as Rust's to_lowercase.
    icu::CaseMap::utf8ToLower("", 0, icu::StringPiece(run.data(), static_cast<int32_t>(run.size())),
                              sink, nullptr, st);
    out.append(U_SUCCESS(st) ? std::string_view(lower) : run);
  });
}

#else

bool available() { return false; }

std::string normalize(std::string_view text, Form) { return std::string(text); }

std::string lowercase(std::string_view text) {
  return by_valid_runs(text, [](std::string_view run, bool, std::string& out) {
    for (char c : run) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  });
}

#endif

}  // namespace mlxs::unicode
