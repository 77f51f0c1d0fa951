// The HTTP server against real sockets on 127.0.0.1 (port 0 each time).
#include "http/http_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "http_test_client.h"

namespace mlxs::http {
namespace {

using testing::Client;
using testing::ClientResponse;
using namespace std::chrono_literals;

// Waits (generously) until pred() holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

std::string echo_text(const Request& req) {
  return req.method + " " + req.path + " q=" + req.query + " x=" + req.header("x-test") +
         " body=" + req.body;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    release_streams();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& t : threads_) t.join();
      threads_.clear();
    }
    if (server_) server_->stop();
  }

  ServerOptions options() {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.io_threads = 2;
    return o;
  }

  void start(ServerOptions o) {
    server_ = std::make_unique<Server>(o, [this](Request req, std::shared_ptr<ResponseWriter> w) {
      route(std::move(req), std::move(w));
    });
    Status st = server_->start();
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_GT(server_->port(), 0);
  }
  int port() const { return server_->port(); }

  // The test handler: echo, streams produced by another thread, and a few oddities.
  void route(Request req, std::shared_ptr<ResponseWriter> w) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_remote_ = req.remote;
    }
    if (req.path == "/id") {
      Response r;
      r.content_type = "text/plain";
      r.body = std::to_string(req.connection_id);
      w->send(std::move(r));
    } else if (req.path == "/stream") {
      spawn([this, w] { produce_stream(w, 5, /*wait_for_release=*/false); });
    } else if (req.path == "/held-stream") {
      spawn([this, w] { produce_stream(w, 3, /*wait_for_release=*/true); });
    } else if (req.path == "/endless") {
      spawn([this, w] { endless_stream(w); });
    } else if (req.path == "/drop") {
      // Drops the writer without answering.
    } else {
      Response r;
      r.content_type = "text/plain";
      r.headers["X-Echo"] = "yes";
      r.body = echo_text(req);
      w->send(std::move(r));
    }
  }

  void spawn(std::function<void()> f) {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back(std::move(f));
  }

  void produce_stream(std::shared_ptr<ResponseWriter> w, int chunks, bool wait_for_release) {
    Response head;
    head.content_type = "text/event-stream";
    head.headers["Cache-Control"] = "no-cache";
    w->start_stream(std::move(head));
    for (int i = 0; i < chunks; ++i) {
      if (i == 1 && wait_for_release) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return released_; });
      }
      w->write("data: " + std::to_string(i) + "\n\n");
      std::this_thread::sleep_for(2ms);
    }
    w->end();
  }

  void endless_stream(std::shared_ptr<ResponseWriter> w) {
    w->on_disconnect([this] { disconnects_.fetch_add(1); });
    w->start_stream(Response{});
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!w->disconnected() && std::chrono::steady_clock::now() < deadline) {
      w->write("tick\n");
      std::this_thread::sleep_for(5ms);
    }
    saw_disconnected_ = w->disconnected();
    // Writes after the client left are ignored.
    for (int i = 0; i < 10; ++i) w->write("late\n");
    w->end();
    w->on_disconnect([this] { late_callbacks_.fetch_add(1); });
  }

  void release_streams() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<std::thread> threads_;
  std::atomic<int> disconnects_{0};
  std::atomic<int> late_callbacks_{0};
  std::atomic<bool> saw_disconnected_{false};
  std::string last_remote_;
};

TEST_F(HttpServerTest, GetAndPostEcho) {
  start(options());
  ClientResponse get = testing::simple_request(port(), "GET", "/a/b?x=1&y=2");
  ASSERT_TRUE(get.ok);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "GET /a/b q=x=1&y=2 x= body=");
  EXPECT_EQ(get.header("content-type"), "text/plain");
  EXPECT_EQ(get.header("x-echo"), "yes");

  ClientResponse post = testing::simple_request(port(), "POST", "/v1/echo", "{\"a\":1}");
  ASSERT_TRUE(post.ok);
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.body, "POST /v1/echo q= x= body={\"a\":1}");
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(last_remote_.rfind("127.0.0.1:", 0), 0u) << last_remote_;
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("GET /id HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse first = c.read_response();
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(first.header("connection"), "");
  ASSERT_TRUE(c.send("GET /id HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse second = c.read_response();
  ASSERT_TRUE(second.ok);
  EXPECT_EQ(first.body, second.body);  // same connection id

  ClientResponse other = testing::simple_request(port(), "GET", "/id");
  ASSERT_TRUE(other.ok);
  EXPECT_NE(other.body, first.body);  // ids are per connection
}

TEST_F(HttpServerTest, PipelinedRequestsAnswerInOrder) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
                     "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /three HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse a = c.read_response();
  ClientResponse b = c.read_response();
  ClientResponse d = c.read_response();
  ASSERT_TRUE(a.ok && b.ok && d.ok);
  EXPECT_EQ(a.body, "GET /one q= x= body=");
  EXPECT_EQ(b.body, "POST /two q= x= body=abc");
  EXPECT_EQ(d.body, "GET /three q= x= body=");
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, Http10WithoutKeepAliveCloses) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "GET /old q= x= body=");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, HeadRequestGetsNoBody) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse r = c.read_response(/*head_request=*/true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header("content-length"), std::to_string(std::string("HEAD /h q= x= body=").size()));
  // The connection stays usable: no stray body bytes precede the next response.
  ASSERT_TRUE(c.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse next = c.read_response();
  ASSERT_TRUE(next.ok);
  EXPECT_EQ(next.body, "GET /next q= x= body=");
}

TEST_F(HttpServerTest, BodyOverLimitIs413BeforeTheBodyArrives) {
  ServerOptions o = options();
  o.max_body_bytes = 16;
  start(o);
  Client c(port());
  ASSERT_TRUE(c.send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_NE(r.body.find("\"type\":\"invalid_request_error\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"param\":null,\"code\":null"), std::string::npos) << r.body;
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  ServerOptions o = options();
  o.max_body_bytes = 16;
  start(o);
  Client c(port());
  ASSERT_TRUE(c.send("POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 413);
}

TEST_F(HttpServerTest, HeadersOverLimitAre431) {
  ServerOptions o = options();
  o.max_header_bytes = 1024;
  start(o);
  Client c(port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(4000, 'a') +
                     "\r\n\r\n"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find("invalid_request_error"), std::string::npos);
}

TEST_F(HttpServerTest, SlowHeadGets408) {
  ServerOptions o = options();
  o.header_timeout_ms = 200;
  start(o);
  Client c(port());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: h\r\n"));  // the head never ends
  ClientResponse r = c.read_response();
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 408);
  EXPECT_GE(elapsed, 150ms);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, SlowBodyGets408) {
  ServerOptions o = options();
  o.body_timeout_ms = 200;
  start(o);
  Client c(port());
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 408);
}

TEST_F(HttpServerTest, IdleKeepAliveClosesQuietly) {
  ServerOptions o = options();
  o.keep_alive_timeout_ms = 200;
  start(o);
  Client c(port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(c.read_response().ok);
  EXPECT_TRUE(c.wait_closed());  // no 408, just the close
  EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  start(options());
  for (const std::string bad : {"GET / HTTP/9.x\r\n\r\n", "G@T / HTTP/1.1\r\n\r\n",
                                "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    Client c(port());
    ASSERT_TRUE(c.send(bad));
    ClientResponse r = c.read_response();
    ASSERT_TRUE(r.ok) << bad;
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("\"error\":{\"message\":"), std::string::npos) << r.body;
  }
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponse) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  ClientResponse interim = c.read_head();
  ASSERT_TRUE(interim.ok);
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.send("hello"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "POST /e q= x= body=hello");
}

TEST_F(HttpServerTest, StreamFromAnotherThreadArrivesInOrder) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  ASSERT_EQ(r.chunks.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r.chunks[i], "data: " + std::to_string(i) + "\n\n");

  // Keep-alive resumes after the stream.
  ASSERT_TRUE(c.send("GET /after HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse after = c.read_response();
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(after.body, "GET /after q= x= body=");
  EXPECT_TRUE(eventually([&] { return server_->busy_connections() == 0; }));
}

TEST_F(HttpServerTest, StreamToHttp10ClientEndsWithClose) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("GET /stream HTTP/1.0\r\n\r\n"));
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.header("transfer-encoding"), "");
  EXPECT_EQ(r.body, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
}

TEST_F(HttpServerTest, ClientLeavingMidStreamFiresOnDisconnectOnce) {
  start(options());
  {
    Client c(port());
    ASSERT_TRUE(c.send("GET /endless HTTP/1.1\r\nHost: h\r\n\r\n"));
    ClientResponse head = c.read_head();
    ASSERT_TRUE(head.ok);
    std::string chunk;
    ASSERT_TRUE(c.read_chunk(&chunk));
    EXPECT_EQ(chunk, "tick\n");
    EXPECT_EQ(server_->busy_connections(), 1);
  }  // the client goes away
  EXPECT_TRUE(eventually([&] { return disconnects_.load() == 1; }));
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  EXPECT_TRUE(saw_disconnected_.load());
  EXPECT_EQ(disconnects_.load(), 1);
  EXPECT_TRUE(eventually([&] { return late_callbacks_.load() == 1; }));  // runs at once
  EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  EXPECT_EQ(server_->busy_connections(), 0);
}

TEST_F(HttpServerTest, DroppedWriterAnswers500) {
  start(options());
  ClientResponse r = testing::simple_request(port(), "GET", "/drop");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 500);
}

TEST_F(HttpServerTest, ManyConcurrentConnections) {
  start(options());
  constexpr int kClients = 40;
  constexpr int kRequestsEach = 3;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Client c(port());
      for (int k = 0; k < kRequestsEach; ++k) {
        std::string body = std::to_string(i) + "-" + std::to_string(k);
        c.send("POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body);
        ClientResponse r = c.read_response();
        if (r.ok && r.body == "POST /c q= x= body=" + body) good.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients * kRequestsEach);
  EXPECT_TRUE(eventually([&] { return server_->busy_connections() == 0; }));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  ServerOptions o = options();
  o.max_connections = 2;
  start(o);
  Client a(port()), b(port());
  ASSERT_TRUE(a.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(b.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(a.read_response().ok);
  ASSERT_TRUE(b.read_response().ok);
  Client c(port());
  c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  ClientResponse r = c.read_response();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, StopAcceptingRefusesNewAndFinishesStreams) {
  start(options());
  Client idle(port());
  ASSERT_TRUE(idle.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(idle.read_response().ok);

  Client streaming(port());
  ASSERT_TRUE(streaming.send("GET /held-stream HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse head = streaming.read_head();
  ASSERT_TRUE(head.ok);
  std::string chunk;
  ASSERT_TRUE(streaming.read_chunk(&chunk));
  EXPECT_EQ(chunk, "data: 0\n\n");

  server_->stop_accepting();
  EXPECT_TRUE(testing::connect_refused(port()));
  EXPECT_TRUE(idle.wait_closed());  // idle keep-alive connections are closed

  release_streams();
  std::vector<std::string> rest;
  while (streaming.read_chunk(&chunk)) rest.push_back(chunk);
  EXPECT_EQ(rest, (std::vector<std::string>{"data: 1\n\n", "data: 2\n\n"}));
  EXPECT_TRUE(streaming.wait_closed());  // closes after the response
  EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, StopRunsDisconnectCallbacksOfOpenStreams) {
  start(options());
  Client c(port());
  ASSERT_TRUE(c.send("GET /endless HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(c.read_head().ok);
  server_->stop();
  EXPECT_EQ(disconnects_.load(), 1);
  EXPECT_EQ(server_->open_connections(), 0);
}

TEST_F(HttpServerTest, BindErrorNamesTheAddress) {
  start(options());
  ServerOptions o = options();
  o.port = port();
  Server second(o, [](Request, std::shared_ptr<ResponseWriter>) {});
  Status st = second.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(port())), std::string::npos)
      << st.message();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mlxs_http_XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(HttpServerTest, ServesHttpsWithACertificate) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  ASSERT_TRUE(testing::write_self_signed(cert, key));
  ServerOptions o = options();
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  start(o);

  ClientResponse r = testing::simple_request(port(), "POST", "/secure?a=b", "hi", /*tls=*/true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /secure q=a=b x= body=hi");

  // Keep-alive and streaming over TLS.
  Client c(port(), /*tls=*/true);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n"));
  ClientResponse s = c.read_response();
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.chunks.size(), 5u);
  ASSERT_TRUE(c.send("GET /again HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(c.read_response().body, "GET /again q= x= body=");

  // Plain HTTP on the HTTPS port gets nothing useful.
  ClientResponse plain = testing::simple_request(port(), "GET", "/");
  EXPECT_FALSE(plain.ok && plain.status == 200);
}

TEST_F(HttpServerTest, BadCertificatePathFailsStartNamingTheFile) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  ASSERT_TRUE(testing::write_self_signed(cert, key));

  ServerOptions o = options();
  o.tls_cert_file = dir.path() + "/missing-cert.pem";
  o.tls_key_file = key;
  Server missing(o, [](Request, std::shared_ptr<ResponseWriter>) {});
  Status st = missing.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("missing-cert.pem"), std::string::npos) << st.message();

  o.tls_cert_file = key;  // a key is not a certificate
  Server wrong(o, [](Request, std::shared_ptr<ResponseWriter>) {});
  st = wrong.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(key), std::string::npos) << st.message();
}

}  // namespace
}  // namespace mlxs::http
