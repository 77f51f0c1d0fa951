// The bytes of HTTP/1.1 responses: status lines, header blocks, chunk framing and the
// JSON error bodies. Plain string work, kept apart from the Asio/Beast code so it stays
// cheap to compile and easy to test.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_server.h"

namespace mlxs::http::wire {

// "Not Found" for 404; "Unknown" for codes without a standard phrase.
std::string_view reason_phrase(int status);

struct HeadOptions {
  int status = 200;
  std::string_view content_type;            // omitted when empty
  const Headers* extra = nullptr;           // caller headers (framing ones are dropped)
  std::optional<size_t> content_length;     // Content-Length when set
  bool chunked = false;                     // Transfer-Encoding: chunked
  bool keep_alive = true;                   // false: Connection: close
  int request_version = 11;                 // 10: keep-alive must be announced
};

// Status line and header block including the blank line that ends it. Caller headers
// whose name or value could break the framing (CR, LF, ':' in the name) are dropped, and
// so are Content-Length, Transfer-Encoding and Connection, which this layer owns.
std::string head(const HeadOptions& options);

// One chunk of a chunked body ("<hex size>\r\n<data>\r\n"); empty data gives "".
std::string chunk(std::string_view data);
// The last chunk that ends a chunked body.
std::string_view last_chunk();

// {"error":{"message":...,"type":"invalid_request_error","param":null,"code":null}}
std::string json_error_body(std::string_view message,
                            std::string_view type = "invalid_request_error");

// A complete error response with a JSON body; the connection closes after it.
std::string error_response(int status, std::string_view message);

// Splits a request target into path and query ("/a?b=1" -> "/a", "b=1").
void split_target(std::string_view target, std::string* path, std::string* query);

}  // namespace mlxs::http::wire
