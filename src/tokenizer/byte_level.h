// GPT-2 byte-level alphabet: every byte maps to a printable Unicode character so that BPE
// vocabularies can store arbitrary bytes as text (space is "Ġ", newline "Ċ").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mlxs::byte_level {

// The UTF-8 text of the character standing for `b`.
const std::string& encode_byte(uint8_t b);

// Appends the byte-level spelling of every byte of `raw`.
void encode(std::string_view raw, std::string& out);

// Maps byte-level text back to bytes. Characters outside the alphabet (text of added
// tokens that was never byte-encoded) are copied through unchanged.
std::string decode(std::string_view text);

}  // namespace mlxs::byte_level
