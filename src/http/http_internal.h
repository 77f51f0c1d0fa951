// What the Server and its connections share. Internal to src/http.
//
// Lifetime: a connection (Session) is owned by its pending Asio operations and by its
// Link while its socket is open. A ResponseWriter reaches the connection only through the
// Link, which is emptied when the socket closes and when the server stops, so a writer
// kept by another thread never touches a connection (or an io_context) that is gone.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>

#include "http/http_server.h"

namespace boost::asio::ssl {
class context;
}

namespace mlxs::http::internal {

// The operations a ResponseWriter (any thread) and the Server (control thread) may ask
// of a connection. Each one is posted onto the connection's strand.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void post_send(uint64_t seq, Response response) = 0;
  virtual void post_start_stream(uint64_t seq, Response head) = 0;
  virtual void post_write(uint64_t seq, std::string data) = 0;
  virtual void post_end(uint64_t seq) = 0;
  // The writer of response `seq` went away without completing it.
  virtual void post_abandon(uint64_t seq) = 0;
  virtual void post_callback(std::function<void()> callback) = 0;
  virtual void post_stop_accepting() = 0;
  virtual void post_close() = 0;
};

struct Link {
  std::mutex mu;
  std::shared_ptr<SessionBase> session;  // null once the connection closed

  template <class F>
  void with_session(F&& f) {
    std::lock_guard<std::mutex> lock(mu);
    if (session) f(*session);
  }
  void clear() {
    std::shared_ptr<SessionBase> old;
    {
      std::lock_guard<std::mutex> lock(mu);
      old.swap(session);
    }
  }
};

// Per-response disconnect state, shared by the connection and the writer.
class ResponseState {
 public:
  bool disconnected() const { return disconnected_.load(std::memory_order_acquire); }
  // Stores `callback`, or hands it back when the client is already gone.
  std::function<void()> set_callback(std::function<void()> callback);
  // Marks the client gone (unless the response completed) and returns the callback to
  // run, at most once.
  std::function<void()> mark_disconnected();
  // The response was fully written: a later disconnect is not this response's concern.
  void mark_completed();

 private:
  std::mutex mu_;
  std::atomic<bool> disconnected_{false};
  bool completed_ = false;
  std::function<void()> callback_;
};

struct ServerShared {
  ServerShared(ServerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  const ServerOptions options;
  const Handler handler;
  std::atomic<int> busy{0};
  std::atomic<int> open{0};
  std::atomic<bool> accepting_stopped{false};
  std::atomic<uint64_t> next_connection_id{1};

  std::shared_ptr<Link> add(uint64_t id, std::shared_ptr<SessionBase> session);
  void remove(uint64_t id);
  // Calls f(SessionBase&) for every open connection.
  void for_each(const std::function<void(SessionBase&)>& f);
  // Detaches every connection from its writers (after the I/O threads stopped).
  void detach_all();

 private:
  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Link>> links_;
};

// Takes over an accepted socket (whose executor is a strand). With `tls` non-null the
// connection speaks HTTPS. With `reject` it answers 503 and closes.
void start_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerShared> shared,
                   boost::asio::ssl::context* tls, bool reject);

}  // namespace mlxs::http::internal
