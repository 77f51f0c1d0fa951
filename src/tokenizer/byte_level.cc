#include "tokenizer/byte_level.h"

#include <array>
#include <unordered_map>

#include "tokenizer/utf8.h"

namespace mlxs::byte_level {
namespace {

// Printable Latin-1 bytes stand for themselves; the remaining 68 bytes (controls, space,
// DEL, NBSP, soft hyphen, ...) take code points 256, 257, ... in byte order.
bool maps_to_itself(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<std::string, 256> byte_to_text;
  std::unordered_map<uint32_t, uint8_t> codepoint_to_byte;

  Tables() {
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = maps_to_itself(b) ? static_cast<uint32_t>(b) : next++;
      utf8::append_codepoint(byte_to_text[b], cp);
      codepoint_to_byte[cp] = static_cast<uint8_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

uint32_t decode_codepoint(std::string_view s, size_t pos, size_t len) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (len == 1) return b0;
  uint32_t cp = b0 & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[pos + k]) & 0x3F);
  return cp;
}

}  // namespace

const std::string& encode_byte(uint8_t b) { return tables().byte_to_text[b]; }

void encode(std::string_view raw, std::string& out) {
  const Tables& t = tables();
  for (char c : raw) out += t.byte_to_text[static_cast<uint8_t>(c)];
}

std::string decode(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8::valid_char_length(text, i);
    if (n == 0) {  // not UTF-8 at all: pass the byte through
      out.push_back(text[i++]);
      continue;
    }
    auto it = t.codepoint_to_byte.find(decode_codepoint(text, i, n));
    if (it != t.codepoint_to_byte.end()) {
      out.push_back(static_cast<char>(it->second));
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace mlxs::byte_level
