// Python's json.dumps over template values, as Hugging Face's `tojson` filter
// calls it (ensure_ascii=False by default).
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "chat/value.h"

namespace mlxs::chat {

struct JsonDumpOptions {
  std::optional<std::string> indent;  // nullopt: single line
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::optional<std::string> item_sep, key_sep;  // json.dumps(separators=...)
};

Result<std::string> json_dumps(const Value& v, const JsonDumpOptions& opts);

}  // namespace mlxs::chat
