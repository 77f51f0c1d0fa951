// UTF-8 helpers shared by the tokenizers and the detokenizer. Everything works on bytes
// and never rejects input: invalid bytes are reported so callers can choose a fallback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlxs::utf8 {

// Length of the sequence a lead byte announces (1 for ASCII and for bytes that cannot
// start a sequence, so a scan always advances).
size_t sequence_length(uint8_t lead);

// Length of the valid character starting at s[pos], or 0 when the bytes there are not a
// complete, well-formed character (overlong forms, surrogates and values above U+10FFFF
// count as invalid).
size_t valid_char_length(std::string_view s, size_t pos);

// True when s[pos..] is the beginning of a well-formed character that simply ends too
// early (more bytes could complete it).
bool is_incomplete_prefix(std::string_view s, size_t pos);

// Length of the character at s[pos] for splitting text into symbols: the valid length, or
// 1 for an invalid byte so it becomes a symbol of its own.
inline size_t char_length(std::string_view s, size_t pos) {
  size_t n = valid_char_length(s, pos);
  return n ? n : 1;
}

bool is_valid(std::string_view s);

void append_codepoint(std::string& out, uint32_t cp);

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace mlxs::utf8
