#include "tokenizer/utf8.h"

namespace mlxs::utf8 {

size_t sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

namespace {

// Allowed range of the second byte for each lead byte (RFC 3629 table), which rules out
// overlong forms, surrogates and code points above U+10FFFF in one check.
bool second_byte_ok(uint8_t lead, uint8_t b) {
  if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
  if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
  if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
  if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
  return (b & 0xC0) == 0x80;
}

bool lead_ok(uint8_t lead) { return lead < 0x80 || (lead >= 0xC2 && lead <= 0xF4); }

// Number of bytes from pos that agree with a well-formed sequence (stops at the first
// wrong byte or at the end of the text).
size_t matching_prefix(std::string_view s, size_t pos, size_t need) {
  const auto lead = static_cast<uint8_t>(s[pos]);
  size_t k = 1;
  for (; k < need && pos + k < s.size(); ++k) {
    const auto b = static_cast<uint8_t>(s[pos + k]);
    const bool ok = k == 1 ? second_byte_ok(lead, b) : (b & 0xC0) == 0x80;
    if (!ok) break;
  }
  return k;
}

}  // namespace

size_t valid_char_length(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  const auto lead = static_cast<uint8_t>(s[pos]);
  if (lead < 0x80) return 1;
  if (!lead_ok(lead)) return 0;
  const size_t need = sequence_length(lead);
  return matching_prefix(s, pos, need) == need ? need : 0;
}

bool is_incomplete_prefix(std::string_view s, size_t pos) {
  if (pos >= s.size()) return false;
  const auto lead = static_cast<uint8_t>(s[pos]);
  if (lead < 0x80 || !lead_ok(lead)) return false;
  const size_t need = sequence_length(lead);
  const size_t have = s.size() - pos;
  return have < need && matching_prefix(s, pos, need) == have;
}

bool is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = valid_char_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_codepoint(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace mlxs::utf8
