// Python-compatible text helpers: UTF-8 code points, str.isspace, float repr,
// string repr and HTML escaping. Templates index and measure strings in code
// points (as Python does), while we store UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlxs::chat {

// Decodes UTF-8 leniently: an invalid byte becomes one code point of that value,
// so lengths and slices never fail on bad input.
std::vector<char32_t> utf8_decode(std::string_view s);
void utf8_append(std::string& out, char32_t cp);
std::string utf8_encode(const std::vector<char32_t>& cps, size_t begin, size_t end);
size_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);

// Python's str.isspace() for one code point.
bool py_isspace(char32_t c);
// str.strip()/lstrip()/rstrip(); `chars` null means whitespace.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);

std::string ascii_lower(std::string_view s);
std::string ascii_upper(std::string_view s);

// repr(float) and str(float) in Python 3: shortest round-trip digits.
std::string py_float_repr(double d);
// repr(str): quotes and escapes as Python does.
std::string py_str_repr(std::string_view s);
// markupsafe.escape for plain strings.
std::string html_escape(std::string_view s);

}  // namespace mlxs::chat
