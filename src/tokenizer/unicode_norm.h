// Unicode normalization forms and lowercasing for the tokenizer.json normalizers, done by
// ICU when the build found it. Without ICU the functions report that they are unavailable
// (the loader turns that into an error) rather than silently tokenizing differently.
// Bytes that are not valid UTF-8 are copied through unchanged.
#pragma once

#include <string>
#include <string_view>

namespace mlxs::unicode {

enum class Form { kNfc, kNfd, kNfkc, kNfkd };

// False when the build has no Unicode library; the functions below then copy the text.
bool available();

std::string normalize(std::string_view text, Form form);

// Full Unicode lowercase mapping (as Rust's str::to_lowercase, which Hugging Face uses).
std::string lowercase(std::string_view text);

}  // namespace mlxs::unicode
