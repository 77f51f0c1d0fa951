#include "http/http_client.h"

#include <cstdint>
#include <limits>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mlxs::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

bool is_digits(const std::string& s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return std::stoi(s) <= 65535;
}

}  // namespace

Result<Url> parse_url(const std::string& text) {
  const std::string scheme = "http://";
  if (text.rfind("https://", 0) == 0) return Status::Error("https URLs are not supported: " + text);
  if (text.rfind(scheme, 0) != 0) return Status::Error("the URL must start with http://: " + text);
  std::string rest = text.substr(scheme.size());
  Url url;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) url.prefix = rest.substr(slash);
  // A fragment is never sent to the server.
  if (const size_t hash = url.prefix.find('#'); hash != std::string::npos)
    url.prefix.resize(hash);
  // [v6addr]:port, host:port or host.
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Status::Error("bad IPv6 host in URL: " + text);
    url.host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority[0] != ':') return Status::Error("bad URL: " + text);
    if (!authority.empty()) url.port = authority.substr(1);
  } else {
    const size_t colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) url.port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return Status::Error("the URL has no host: " + text);
  if (!is_digits(url.port)) return Status::Error("bad port in URL: " + text);
  return url;
}

struct HttpConnection::Impl {
  Url url;
  std::string api_key;
  std::string user_agent = "mlx-serving";
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  bool reused = false;  // true once a request completed on this connection

  // Runs one asynchronous operation to completion under the deadline: the blocking
  // interface with a timeout that plain synchronous socket calls cannot give.
  template <class Start>
  beast::error_code run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    stream->expires_after(timeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  std::string describe(const beast::error_code& ec, const std::string& what) const {
    std::string msg = what + " " + url.host + ":" + url.port + ": ";
    if (ec == beast::error::timeout)
      return msg + "timed out after " + std::to_string(timeout.count()) + " ms";
    return msg + ec.message();
  }

  void close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->close();
    }
    stream.reset();
    buffer.clear();
    reused = false;
  }

  Status connect() {
    close();
    stream.emplace(ioc);
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(url.host, url.port, ec);
    if (ec) return Status::Error(describe(ec, "cannot resolve"));
    ec = run([&](auto handler) { stream->async_connect(endpoints, handler); });
    if (ec) {
      close();
      return Status::Error(describe(ec, "cannot connect to"));
    }
    return Status::Ok();
  }

  using Request = bhttp::request<bhttp::string_body>;

  Request make_request(const std::string& path, const std::string& body, bool post,
                       bool sse) const {
    std::string target = url.prefix + path;
    if (target.empty()) target = "/";
    Request req{post ? bhttp::verb::post : bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, url.host + ":" + url.port);
    req.set(bhttp::field::user_agent, user_agent);
    req.set(bhttp::field::accept, sse ? "text/event-stream" : "application/json");
    if (!api_key.empty()) req.set(bhttp::field::authorization, "Bearer " + api_key);
    if (post) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  // Sends the request and reads the response header. A kept-alive connection the server
  // has meanwhile closed fails before any response byte: reconnect and send once more.
  using Parser = bhttp::response_parser<bhttp::buffer_body>;
  Status send_and_read_header(Request& req, std::optional<Parser>& parser) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool was_reused = stream && reused;
      if (!stream) MLXS_RETURN_IF_ERROR(connect());
      parser.emplace();
      // No practical limit; Boost 1.74 mis-compares a disabled limit (boost::none) with a
      // Content-Length, so the largest value stands in for "none".
      parser->body_limit(std::numeric_limits<std::uint64_t>::max());
      beast::error_code ec = run([&](auto handler) { bhttp::async_write(*stream, req, handler); });
      if (!ec) {
        ec = run(
            [&](auto handler) { bhttp::async_read_header(*stream, buffer, *parser, handler); });
      }
      if (!ec) return Status::Ok();
      const bool stale = was_reused && ec != beast::error::timeout && buffer.size() == 0;
      close();
      if (!stale) return Status::Error(describe(ec, "request to"));
    }
    return Status::Error("request to " + url.host + ":" + url.port + " failed");
  }

  Result<HttpResponse> exchange(const std::string& path, const std::string& body, bool post,
                                const std::function<bool(std::string_view)>* on_data) {
    auto req = make_request(path, body, post, on_data != nullptr);
    std::optional<Parser> p;
    MLXS_RETURN_IF_ERROR(send_and_read_header(req, p));
    Parser& parser = *p;
    HttpResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    const bool deliver = on_data && out.status >= 200 && out.status < 300;
    bool stopped = false;
    char chunk[16384];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      beast::error_code ec =
          run([&](auto handler) { bhttp::async_read_some(*stream, buffer, parser, handler); });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        close();
        return Status::Error(describe(ec, "reading the response from"));
      }
      const size_t n = sizeof chunk - parser.get().body().size;
      if (n == 0) continue;
      if (!deliver) {
        out.body.append(chunk, n);
      } else if (!(*on_data)(std::string_view(chunk, n))) {
        stopped = true;
        break;
      }
    }
    if (stopped || !parser.keep_alive()) {
      close();
    } else {
      reused = true;
    }
    return out;
  }
};

HttpConnection::HttpConnection(Url url, std::string api_key, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
  impl_->api_key = std::move(api_key);
  impl_->timeout = timeout;
}

HttpConnection::~HttpConnection() { impl_->close(); }

void HttpConnection::set_user_agent(std::string user_agent) {
  impl_->user_agent = std::move(user_agent);
}

Result<HttpResponse> HttpConnection::request(const std::string& path, const std::string& body,
                                             bool post) {
  return impl_->exchange(path, body, post, nullptr);
}

Result<HttpResponse> HttpConnection::stream(const std::string& path, const std::string& body,
                                            const std::function<bool(std::string_view)>& on_data) {
  return impl_->exchange(path, body, true, &on_data);
}

}  // namespace mlxs::http
