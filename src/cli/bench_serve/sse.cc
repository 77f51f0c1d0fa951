#include "cli/bench_serve/sse.h"

namespace mlxs::cli::bench {

bool SseParser::feed(std::string_view bytes,
                     const std::function<bool(const std::string&)>& on_event) {
  for (char c : bytes) {
    if (c == '\r') continue;  // CRLF line ends: the LF that follows ends the line
    if (c != '\n') {
      line_ += c;
      continue;
    }
    if (!end_line(on_event)) return false;
  }
  return true;
}

bool SseParser::end_line(const std::function<bool(const std::string&)>& on_event) {
  if (line_.empty()) {  // a blank line dispatches the event
    if (!has_data_) return true;
    std::string data;
    data.swap(data_);
    has_data_ = false;
    return on_event(data);
  }
  if (line_.rfind("data:", 0) == 0) {
    std::string_view value(line_);
    value.remove_prefix(5);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  }
  line_.clear();
  return true;
}

}  // namespace mlxs::cli::bench
