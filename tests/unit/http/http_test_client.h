// A small blocking HTTP/1.1 client over POSIX sockets (and OpenSSL for HTTPS), enough to
// drive the server from tests: raw bytes out, one parsed response (Content-Length,
// chunked, or until EOF) in. Every read gives up after a few seconds so a broken server
// fails a test instead of hanging it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <openssl/ssl.h>

namespace mlxs::http::testing {

struct ClientResponse {
  bool ok = false;  // a complete response was read
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::vector<std::string> chunks;  // each chunk of a chunked body, in order
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  // Connects to 127.0.0.1:port; with `tls` does a TLS handshake (no verification).
  explicit Client(int port, bool tls = false, int timeout_ms = 5000);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0 && !failed_; }
  bool send(const std::string& bytes);
  // Reads the status line and headers only (for watching a stream as it arrives).
  ClientResponse read_head();
  // Reads the next chunk of a chunked body; false at the last chunk or on error.
  bool read_chunk(std::string* chunk);
  ClientResponse read_response(bool head_request = false);
  // True when the server closed the connection (EOF or reset) and sent nothing more.
  bool wait_closed();
  void close();

 private:
  bool fill();
  bool read_line(std::string* line);
  bool read_exact(size_t n, std::string* out);

  int fd_ = -1;
  bool failed_ = false;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
  bool eof_ = false;
};

// One GET or POST on a fresh connection.
ClientResponse simple_request(int port, const std::string& method, const std::string& target,
                              const std::string& body = "", bool tls = false);

// True if connecting to 127.0.0.1:port is refused.
bool connect_refused(int port);

// Writes a self-signed certificate and its private key as PEM files.
bool write_self_signed(const std::string& cert_path, const std::string& key_path);

}  // namespace mlxs::http::testing
