#include "http_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace mlxs::http::testing {
namespace {

int connect_fd(int port, int timeout_ms, int* err) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (err) *err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

Client::Client(int port, bool tls, int timeout_ms) {
  fd_ = connect_fd(port, timeout_ms, nullptr);
  if (fd_ < 0 || !tls) return;
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (SSL_connect(ssl_) != 1) failed_ = true;
}

Client::~Client() { close(); }

void Client::close() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  ssl_ = nullptr;
  ctx_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Client::send(const std::string& bytes) {
  if (!connected()) return false;
  size_t sent = 0;
  while (sent < bytes.size()) {
    long n = ssl_ ? SSL_write(ssl_, bytes.data() + sent, static_cast<int>(bytes.size() - sent))
                  : ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool Client::fill() {
  if (!connected() || eof_) return false;
  char tmp[4096];
  long n = ssl_ ? SSL_read(ssl_, tmp, sizeof(tmp)) : ::recv(fd_, tmp, sizeof(tmp), 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

bool Client::read_line(std::string* line) {
  for (;;) {
    size_t pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      *line = buf_.substr(0, pos);
      buf_.erase(0, pos + 2);
      return true;
    }
    if (!fill()) return false;
  }
}

bool Client::read_exact(size_t n, std::string* out) {
  while (buf_.size() < n) {
    if (!fill()) return false;
  }
  out->append(buf_, 0, n);
  buf_.erase(0, n);
  return true;
}

ClientResponse Client::read_head() {
  ClientResponse r;
  std::string line;
  do {
    if (!read_line(&line)) return r;
  } while (line.empty());
  // "HTTP/1.1 200 OK"
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) return r;
  r.status = std::atoi(line.c_str() + 9);
  for (;;) {
    if (!read_line(&line)) return r;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) return r;
    r.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
  }
  r.ok = true;
  return r;
}

bool Client::read_chunk(std::string* chunk) {
  std::string line;
  if (!read_line(&line)) return false;
  size_t size = std::strtoul(line.c_str(), nullptr, 16);
  if (size == 0) {
    // Trailers (none expected) up to the blank line.
    while (read_line(&line) && !line.empty()) {
    }
    return false;
  }
  chunk->clear();
  std::string crlf;
  return read_exact(size, chunk) && read_exact(2, &crlf) && crlf == "\r\n";
}

ClientResponse Client::read_response(bool head_request) {
  ClientResponse r = read_head();
  if (!r.ok) return r;
  r.ok = false;
  if (head_request || r.status == 100) {
    r.ok = true;
    return r;
  }
  if (lower(r.header("transfer-encoding")) == "chunked") {
    // A well-formed body ends with the last chunk; anything else is a failure.
    std::string line;
    for (;;) {
      if (!read_line(&line)) return r;
      size_t size = std::strtoul(line.c_str(), nullptr, 16);
      if (size == 0) {
        while (read_line(&line) && !line.empty()) {
        }
        r.ok = true;
        return r;
      }
      std::string chunk, crlf;
      if (!read_exact(size, &chunk) || !read_exact(2, &crlf) || crlf != "\r\n") return r;
      r.body += chunk;
      r.chunks.push_back(std::move(chunk));
    }
  }
  if (!r.header("content-length").empty()) {
    size_t n = std::strtoul(r.header("content-length").c_str(), nullptr, 10);
    r.ok = read_exact(n, &r.body);
    return r;
  }
  while (fill()) {
  }
  r.body = std::move(buf_);
  buf_.clear();
  r.ok = true;
  return r;
}

bool Client::wait_closed() {
  if (!buf_.empty()) return false;
  if (!connected()) return true;
  char tmp[256];
  long n = ssl_ ? SSL_read(ssl_, tmp, sizeof(tmp)) : ::recv(fd_, tmp, sizeof(tmp), 0);
  if (n > 0) return false;
  if (n == 0) return true;
  if (ssl_) return SSL_get_error(ssl_, static_cast<int>(n)) != SSL_ERROR_WANT_READ;
  return errno == ECONNRESET;  // EAGAIN: the read timed out with the connection open
}

ClientResponse simple_request(int port, const std::string& method, const std::string& target,
                              const std::string& body, bool tls) {
  Client c(port, tls);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!body.empty() || method == "POST") {
    req += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (!c.send(req)) return {};
  return c.read_response(method == "HEAD");
}

bool connect_refused(int port) {
  int err = 0;
  int fd = connect_fd(port, 2000, &err);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  return err == ECONNREFUSED;
}

bool write_self_signed(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return false;
  X509* cert = X509_new();
  bool ok = cert != nullptr;
  if (ok) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    ok = X509_sign(cert, key, EVP_sha256()) > 0;
  }
  if (ok) {
    FILE* f = std::fopen(cert_path.c_str(), "w");
    ok = f != nullptr && PEM_write_X509(f, cert) == 1;
    if (f) std::fclose(f);
  }
  if (ok) {
    FILE* f = std::fopen(key_path.c_str(), "w");
    ok = f != nullptr &&
         PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (f) std::fclose(f);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace mlxs::http::testing
