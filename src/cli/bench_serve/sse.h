// Server-sent events framing: bytes in, the data of each complete event out. Events end
// at a blank line; "data:" lines of one event are joined with "\n"; comments and other
// fields are skipped. CRLF and LF line ends are both accepted.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mlxs::cli::bench {

class SseParser {
 public:
  // Calls on_event for every event completed by `bytes`; stops early (and returns false)
  // when on_event returns false.
  bool feed(std::string_view bytes, const std::function<bool(const std::string&)>& on_event);

 private:
  bool end_line(const std::function<bool(const std::string&)>& on_event);
  std::string line_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace mlxs::cli::bench
