// Pieces of the OpenAI wire format shared by requests and responses: the error object,
// finish reasons, the models list and the UTF-8 helpers of openai_text.h.
#include "server/openai_protocol.h"

#include <cstdio>

#include "server/openai_text.h"

namespace mlxs::server {
namespace {

using json = nlohmann::ordered_json;

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid too).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

template <typename OnInvalid>
std::string map_invalid(std::string_view s, OnInvalid on_invalid) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      on_invalid(static_cast<unsigned char>(s[i]), &out);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace

std::string utf8_or_replaced(std::string_view s) {
  return map_invalid(s, [](unsigned char, std::string* out) { out->append("\xEF\xBF\xBD"); });
}

std::string token_display(std::string_view piece) {
  return map_invalid(piece, [](unsigned char c, std::string* out) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\x%02x", c);
    out->append(buf);
  });
}

json byte_values(std::string_view piece) {
  json a = json::array();
  for (char c : piece) a.push_back(static_cast<int>(static_cast<unsigned char>(c)));
  return a;
}

std::string sse_data(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

json ApiError::to_json() const {
  json err = json::object();
  err["message"] = utf8_or_replaced(message);
  err["type"] = type;
  err["param"] = param.empty() ? json(nullptr) : json(param);
  err["code"] = code.empty() ? json(nullptr) : json(code);
  json out = json::object();
  out["error"] = std::move(err);
  return out;
}

ApiError bad_request(std::string message, std::string param, std::string code) {
  ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = std::move(code);
  return e;
}

json finish_reason_json(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    default:
      return nullptr;
  }
}

json models_response(const ModelInfo& info) {
  json model = json::object();
  model["id"] = info.id;
  model["object"] = "model";
  model["created"] = info.created;
  model["owned_by"] = "mlx-serving";
  model["max_model_len"] = info.n_ctx;  // as vLLM reports it; clients size prompts by it
  json out = json::object();
  out["object"] = "list";
  out["data"] = json::array({model});
  return out;
}

}  // namespace mlxs::server
