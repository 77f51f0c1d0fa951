// An asynchronous HTTP/1.1 server (Boost.Beast over Asio) that knows nothing about models.
// A few I/O threads run every connection; handlers are called on an I/O thread and must
// not block: work that takes time (a generation) answers later through the
// ResponseWriter, from any thread. Keep-alive, request size limits, header and body read
// timeouts, idle keep-alive timeout, and TLS (OpenSSL) when a certificate is configured.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mlxs::http {

// Header names compare case-insensitively.
struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

struct Request {
  std::string method;   // "GET", "POST", "OPTIONS", ...
  std::string target;   // as sent: "/v1/models?x=1"
  std::string path;     // target without the query: "/v1/models"
  std::string query;    // after '?', undecoded; "" when none
  Headers headers;
  std::string body;
  std::string remote;   // peer address "127.0.0.1:54321"
  uint64_t connection_id = 0;
  // The header value, or "" when absent.
  std::string header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;  // extra headers (Retry-After, CORS, ...)
  std::string body;
};

// The answer to one request, written once (send) or as a stream (start_stream, write...,
// end). Thread-safe: every call may come from any thread; the operations are queued in
// order on the connection's I/O strand. Calls after the connection closed are ignored.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // A complete response. Content-Length is set; keep-alive follows the request.
  virtual void send(Response response) = 0;
  // Streaming with chunked transfer encoding: status and headers now, then each write()
  // as one chunk flushed to the client, then end() writes the last chunk. The body of
  // `head` is ignored.
  virtual void start_stream(Response head) = 0;
  virtual void write(std::string data) = 0;
  virtual void end() = 0;
  // `callback` runs once (on an I/O thread) when the client disconnects or a write fails
  // before the response was completed; it runs at once if that already happened. This is
  // how a generation learns that nobody is listening any more.
  virtual void on_disconnect(std::function<void()> callback) = 0;
  // True once the client has gone away (or the response could not be written).
  virtual bool disconnected() const = 0;
};

// Called once per request, on an I/O thread. Must not block.
using Handler = std::function<void(Request request, std::shared_ptr<ResponseWriter> writer)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 3000;                      // 0: any free port (see Server::port())
  int io_threads = 2;
  size_t max_header_bytes = 16 * 1024;  // over it: 431
  size_t max_body_bytes = 4 << 20;      // over it: 413
  int header_timeout_ms = 10000;        // whole request head must arrive within this (408)
  int body_timeout_ms = 30000;          // body after the head (408)
  int keep_alive_timeout_ms = 30000;    // idle connection between requests: closed quietly
  int max_connections = 1024;           // accepted beyond this: 503 and close
  std::string tls_cert_file;            // both set: HTTPS only
  std::string tls_key_file;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the I/O threads. Errors name the address (port in use,
  // unreadable certificate, ...).
  Status start();
  int port() const;  // the bound port (useful with port 0)
  // Stops accepting new connections; requests in flight and open streams continue.
  // Idle keep-alive connections are closed; a connection finishing a response closes
  // instead of waiting for another request.
  void stop_accepting();
  // Connections with a request or response in progress.
  int busy_connections() const;
  int open_connections() const;
  // Closes everything and joins the I/O threads.
  void stop();

  // The Asio io_context the I/O threads run, for timers and signals that belong with them
  // (a boost::asio::io_context*, typed void* to keep Asio out of this header).
  void* io_context();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlxs::http
