// Request keys come from clients; before one goes into a log line it is made safe: one
// line, unambiguous quoting, bounded length.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mlxs::flags {

// Escapes '"' and '\' with a backslash and control bytes (and DEL) as \xNN. A value longer
// than `max_bytes` is cut there (at a UTF-8 character boundary) and "..." appended.
std::string escape_log_value(std::string_view value, size_t max_bytes = 128);

}  // namespace mlxs::flags
