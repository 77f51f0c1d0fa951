// Minimal leveled logging to stderr. The server issue replaces the sink with a
// structured logger; call sites stay the same.
#pragma once

#include <string>

namespace mlxs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log(LogLevel level, const std::string& message);

inline void log_info(const std::string& m) { log(LogLevel::kInfo, m); }
inline void log_warn(const std::string& m) { log(LogLevel::kWarn, m); }
inline void log_error(const std::string& m) { log(LogLevel::kError, m); }
inline void log_debug(const std::string& m) { log(LogLevel::kDebug, m); }

}  // namespace mlxs
