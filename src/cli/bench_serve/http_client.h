// A small blocking HTTP/1.1 client for the serving benchmark: one keep-alive connection
// per worker, whole-body requests for the set-up calls and incremental body delivery for
// SSE streams, so that every event is timed when its bytes arrive. Each call has a
// deadline; a server that stops answering fails the request instead of hanging it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mlxs::cli::bench {

// http://host[:port][/prefix]. A trailing "/v1" is dropped so that both the server root
// and the OpenAI base URL are accepted.
struct Url {
  std::string host;
  std::string port = "80";
  std::string prefix;  // "" or "/something", no trailing slash
};
Result<Url> parse_url(const std::string& text);

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpConnection {
 public:
  HttpConnection(Url url, std::string api_key, std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // GET when `body` is empty and `post` is false, else POST with a JSON body. Errors are
  // transport failures only; any HTTP status comes back as a response.
  Result<HttpResponse> request(const std::string& path, const std::string& body, bool post);

  // POSTs `body` and hands each piece of a 2xx response body to `on_data` as soon as it is
  // read. A non-2xx response is read whole into the returned body (on_data is not called).
  // `on_data` returns false to stop reading early (the connection is then closed).
  Result<HttpResponse> stream(const std::string& path, const std::string& body,
                              const std::function<bool(std::string_view)>& on_data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlxs::cli::bench
