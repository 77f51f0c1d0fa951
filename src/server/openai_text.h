// Text helpers shared by the OpenAI protocol files. Model output and token pieces are raw
// bytes (a byte-fallback token can be half a UTF-8 character), but JSON strings must be
// valid UTF-8, so every string that goes into a response passes through one of these.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mlxs::server {

// Invalid UTF-8 sequences become U+FFFD (for generated text and decoded prompts).
std::string utf8_or_replaced(std::string_view s);

// A token piece for logprobs: invalid bytes become the literal text "\xNN" (the way OpenAI
// shows partial characters); the exact bytes travel in the separate "bytes" field.
std::string token_display(std::string_view piece);

// The UTF-8 byte values of a piece, as OpenAI's "bytes" arrays.
nlohmann::ordered_json byte_values(std::string_view piece);

// One SSE event: "data: <json>\n\n". Never throws on odd strings.
std::string sse_data(const nlohmann::ordered_json& j);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

}  // namespace mlxs::server
