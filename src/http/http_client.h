// A small blocking HTTP/1.1 client (plain HTTP): a keep-alive connection, whole-body
// requests and incremental body delivery for SSE streams, so that the serving benchmark
// times every event when its bytes arrive. Each network step (connect, write, read) has a
// deadline; a server that stops answering fails the request instead of hanging it. Used
// by `mlx-serving bench-serve` and by the QoS monitor's alert webhooks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace mlxs::http {

// http://host[:port][/prefix]. Requests go to prefix + path; the request target is "/"
// when both are empty.
struct Url {
  std::string host;
  std::string port = "80";
  std::string prefix;  // "" or the URL's path as written ("/hooks/v1", "/x?token=y")
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

  // Sent as User-Agent; "mlx-serving" unless set.
  void set_user_agent(std::string user_agent);

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

}  // namespace mlxs::http
