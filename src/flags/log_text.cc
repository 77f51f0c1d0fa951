#include "flags/log_text.h"

#include <cstdio>

namespace mlxs::flags {

std::string escape_log_value(std::string_view value, size_t max_bytes) {
  bool cut = value.size() > max_bytes;
  if (cut) {
    size_t end = max_bytes;
    // Back up over UTF-8 continuation bytes so a character is never split.
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
    value = value.substr(0, end);
  }
  std::string out;
  out.reserve(value.size() + 8);
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace mlxs::flags
