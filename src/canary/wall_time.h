// The wall clock as ISO 8601 UTC, for the labels on health snapshots and rollback records.
// Only a label for operators: every decision runs on the steady clock passed in.
#pragma once

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace mlxs::canary {

// "2025-01-08T12:34:56.789Z"
inline std::string wall_time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     now.time_since_epoch()).count() % 1000;
  if (ms < 0) ms += 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the format could print
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

}  // namespace mlxs::canary
