// One HTTP/1.1 connection, written once as a template over the stream (plain TCP or TLS).
//
// Everything a connection does runs on its strand. Timeouts use the connection's own
// timer rather than beast::tcp_stream's, because a tcp_stream timeout closes the socket
// and the server still has to answer 408.
//
// While a response is in progress a read stays pending so that a client that goes away
// is noticed at once (on_disconnect). Bytes that arrive then are not lost: they are kept
// in the read buffer and parsed as the next (pipelined) request once the response is
// complete. A client that pipelines more than kMaxPipelinedBytes is simply not read from
// until its response completes. A client that half-closes (EOF) while its response is in
// progress counts as gone.
#include <algorithm>
#include <limits>
#include <deque>
#include <exception>
#include <optional>
#include <type_traits>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "base/logging.h"
#include "http/http_internal.h"
#include "http/http_wire.h"

namespace mlxs::http::internal {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

std::function<void()> ResponseState::set_callback(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (completed_) return nullptr;
  if (disconnected_.load()) return callback;
  callback_ = std::move(callback);
  return nullptr;
}

std::function<void()> ResponseState::mark_disconnected() {
  std::lock_guard<std::mutex> lock(mu_);
  if (completed_ || disconnected_.load()) return nullptr;
  disconnected_.store(true, std::memory_order_release);
  return std::move(callback_);
}

void ResponseState::mark_completed() {
  std::lock_guard<std::mutex> lock(mu_);
  completed_ = true;
  callback_ = nullptr;  // releases whatever the callback captured
}

std::shared_ptr<Link> ServerShared::add(uint64_t id, std::shared_ptr<SessionBase> session) {
  auto link = std::make_shared<Link>();
  link->session = std::move(session);
  std::lock_guard<std::mutex> lock(mu_);
  links_[id] = link;
  return link;
}

void ServerShared::remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  links_.erase(id);
}

void ServerShared::for_each(const std::function<void(SessionBase&)>& f) {
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, link] : links_) links.push_back(link);
  }
  for (auto& link : links) link->with_session(f);
}

void ServerShared::detach_all() {
  std::unordered_map<uint64_t, std::shared_ptr<Link>> links;
  {
    std::lock_guard<std::mutex> lock(mu_);
    links.swap(links_);
  }
  for (auto& [id, link] : links) link->clear();
}

namespace {

constexpr size_t kReadChunk = 4096;
constexpr size_t kMaxPipelinedBytes = 64 * 1024;
constexpr int kLingerMs = 1000;  // how long a closing connection waits for the peer
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

class Writer final : public ResponseWriter {
 public:
  Writer(std::shared_ptr<Link> link, std::shared_ptr<ResponseState> state, uint64_t seq)
      : link_(std::move(link)), state_(std::move(state)), seq_(seq) {}

  ~Writer() override {
    if (!done_.exchange(true)) {
      link_->with_session([&](SessionBase& s) { s.post_abandon(seq_); });
    }
  }

  void send(Response response) override {
    done_ = true;
    link_->with_session([&](SessionBase& s) { s.post_send(seq_, std::move(response)); });
  }
  void start_stream(Response head) override {
    link_->with_session([&](SessionBase& s) { s.post_start_stream(seq_, std::move(head)); });
  }
  void write(std::string data) override {
    link_->with_session([&](SessionBase& s) { s.post_write(seq_, std::move(data)); });
  }
  void end() override {
    done_ = true;
    link_->with_session([&](SessionBase& s) { s.post_end(seq_); });
  }
  void on_disconnect(std::function<void()> callback) override {
    std::function<void()> now = state_->set_callback(std::move(callback));
    if (!now) return;
    // Already gone: run it on the I/O thread when the connection still exists, else here.
    bool posted = false;
    link_->with_session([&](SessionBase& s) {
      s.post_callback(std::move(now));
      posted = true;
    });
    if (!posted) now();
  }
  bool disconnected() const override { return state_->disconnected(); }

 private:
  std::shared_ptr<Link> link_;
  std::shared_ptr<ResponseState> state_;
  const uint64_t seq_;
  std::atomic<bool> done_{false};
};

std::string format_endpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  enum class Mode { kHandshake, kIdle, kHead, kBody, kResponse, kClosing };

 public:
  Session(tcp::socket socket, std::shared_ptr<ServerShared> shared, net::ssl::context* tls,
          bool reject)
      : stream_(make_stream(std::move(socket), tls)),
        ex_(stream_.get_executor()),
        deadline_(ex_),
        shared_(std::move(shared)),
        opts_(shared_->options),
        reject_(reject) {}

  void start() {
    id_ = shared_->next_connection_id.fetch_add(1);
    error_code ec;
    auto ep = tcp_layer().socket().remote_endpoint(ec);
    remote_ = ec ? std::string("unknown") : format_endpoint(ep);
    shared_->open.fetch_add(1);
    link_ = shared_->add(id_, this->shared_from_this());
    net::post(ex_, [self = this->shared_from_this()] { self->begin(); });
  }

  // SessionBase: called from any thread, each hops onto the strand.
  void post_send(uint64_t seq, Response r) override {
    on_strand([seq, r = std::move(r)](Session& s) mutable { s.do_send(seq, std::move(r)); });
  }
  void post_start_stream(uint64_t seq, Response r) override {
    on_strand(
        [seq, r = std::move(r)](Session& s) mutable { s.do_start_stream(seq, std::move(r)); });
  }
  void post_write(uint64_t seq, std::string d) override {
    on_strand([seq, d = std::move(d)](Session& s) mutable { s.do_write(seq, std::move(d)); });
  }
  void post_end(uint64_t seq) override {
    on_strand([seq](Session& s) { s.do_end(seq); });
  }
  void post_abandon(uint64_t seq) override {
    on_strand([seq](Session& s) { s.do_abandon(seq); });
  }
  void post_callback(std::function<void()> cb) override {
    on_strand([cb = std::move(cb)](Session&) { cb(); });
  }
  void post_stop_accepting() override {
    on_strand([](Session& s) { s.do_stop_accepting(); });
  }
  void post_close() override {
    on_strand([](Session& s) { s.close_now(); });
  }

 private:
  static Stream make_stream(tcp::socket socket, net::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  template <class F>
  void on_strand(F&& f) {
    net::post(ex_, [self = this->shared_from_this(), f = std::forward<F>(f)]() mutable {
      f(*self);
    });
  }

  // ---- Connection setup ----

  void begin() {
    if (closed_) return;
    if constexpr (kTls) {
      mode_ = Mode::kHandshake;
      arm(opts_.header_timeout_ms);
      io_pending_ = true;
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](error_code ec) {
                                self->on_handshake(ec);
                              });
    } else {
      after_handshake();
    }
  }

  void on_handshake(error_code ec) {
    io_pending_ = false;
    if (closed_) return;
    disarm();
    if (ec) {
      log_debug("http: TLS handshake with " + remote_ + " failed: " + ec.message());
      close_now();
      return;
    }
    after_handshake();
  }

  void after_handshake() {
    if (reject_) {
      reply_error(503, "The server has too many open connections; retry later");
      return;
    }
    read_head();
  }

  // ---- Reading a request ----

  void next_request() {
    if (closed_) return;
    if (!keep_alive_ || stopping_) {
      graceful_close();
    } else if (buffer_.size() > 0) {
      read_head();  // a pipelined request is already (partly) here
    } else {
      wait_idle();
    }
  }

  void wait_idle() {
    mode_ = Mode::kIdle;
    arm(opts_.keep_alive_timeout_ms);
    io_pending_ = true;
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](error_code ec, size_t n) {
                              self->on_idle_read(ec, n);
                            });
  }

  void on_idle_read(error_code ec, size_t n) {
    io_pending_ = false;
    if (closed_) return;
    disarm();
    if (ec) {
      close_now();  // idle timeout, stop_accepting or the client left: close quietly
      return;
    }
    buffer_.commit(n);
    read_head();
  }

  void read_head() {
    mode_ = Mode::kHead;
    timed_out_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(opts_.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    parser_->body_limit(opts_.max_body_bytes);
    arm(opts_.header_timeout_ms);
    io_pending_ = true;
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](error_code ec, size_t) {
                               self->on_head(ec);
                             });
  }

  void on_head(error_code ec) {
    io_pending_ = false;
    if (closed_) return;
    disarm();
    if (ec) {
      on_read_error(ec);
      return;
    }
    set_busy(true);
    if (parser_->is_done()) {
      dispatch();
      return;
    }
    mode_ = Mode::kBody;
    timed_out_ = false;
    arm(opts_.body_timeout_ms);
    const auto& msg = parser_->get();
    if (msg.version() >= 11 && beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      // The client waits for this before sending the body.
      io_pending_ = true;
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = this->shared_from_this()](error_code ec, size_t) {
                         self->io_pending_ = false;
                         if (self->closed_) return;
                         if (ec) {
                           self->on_read_error(ec);
                         } else {
                           self->read_body();
                         }
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    io_pending_ = true;
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](error_code ec, size_t) {
                        self->on_body(ec);
                      });
  }

  void on_body(error_code ec) {
    io_pending_ = false;
    if (closed_) return;
    disarm();
    if (ec) {
      on_read_error(ec);
      return;
    }
    dispatch();
  }

  void on_read_error(error_code ec) {
    const bool aborted = ec == net::error::operation_aborted;
    if (timed_out_ && aborted) {
      reply_error(408, mode_ == Mode::kHead ? "Timed out waiting for the request headers"
                                            : "Timed out waiting for the request body");
    } else if (ec == bhttp::error::header_limit) {
      reply_error(431, "Request headers exceed the limit of " +
                           std::to_string(opts_.max_header_bytes) + " bytes");
    } else if (ec == bhttp::error::body_limit) {
      reply_error(413, "Request body exceeds the limit of " +
                           std::to_string(opts_.max_body_bytes) + " bytes");
    } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
               ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
      close_now();  // the client left, or the socket failed: nobody to answer
    } else {
      reply_error(400, "Malformed HTTP request: " + ec.message());
    }
  }

  // ---- Handing the request over ----

  void dispatch() {
    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    wire::split_target(req.target, &req.path, &req.query);
    for (const auto& field : msg) {
      auto [it, inserted] =
          req.headers.emplace(std::string(field.name_string()), std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());  // RFC 9110 5.3
    }
    req.body = std::move(msg.body());
    req.remote = remote_;
    req.connection_id = id_;
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    head_only_ = msg.method() == bhttp::verb::head;
    parser_.reset();

    mode_ = Mode::kResponse;
    ++seq_;
    responding_ = true;
    started_ = false;
    finished_ = false;
    state_ = std::make_shared<ResponseState>();
    auto writer = std::make_shared<Writer>(link_, state_, seq_);
    watch();
    try {
      shared_->handler(std::move(req), std::move(writer));
    } catch (const std::exception& e) {
      log_error(std::string("http: request handler threw: ") + e.what());
      send_internal_error(seq_);
    } catch (...) {
      log_error("http: request handler threw");
      send_internal_error(seq_);
    }
  }

  // Keeps a read pending during the response so a departing client is noticed.
  void watch() {
    if (closed_ || io_pending_ || buffer_.size() >= kMaxPipelinedBytes) return;
    io_pending_ = true;
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](error_code ec, size_t n) {
                              self->on_watch(ec, n);
                            });
  }

  void on_watch(error_code ec, size_t n) {
    io_pending_ = false;
    if (closed_) return;
    if (!ec) {
      buffer_.commit(n);  // the start of the next request: parsed after this response
      if (responding_) {
        watch();
      } else {
        next_request();
      }
      return;
    }
    if (ec == net::error::operation_aborted && !responding_) {
      next_request();  // cancelled because the response completed
      return;
    }
    close_now();  // EOF or reset: the client is gone
  }

  // ---- Writing the response ----

  bool accepts(uint64_t seq) const {
    return !closed_ && responding_ && seq == seq_ && !finished_;
  }

  wire::HeadOptions head_options(const Response& r) {
    keep_alive_ = keep_alive_ && !stopping_;
    wire::HeadOptions o;
    o.status = r.status;
    o.content_type = r.content_type;
    o.extra = &r.headers;
    o.keep_alive = keep_alive_;
    o.request_version = version_;
    return o;
  }

  void do_send(uint64_t seq, Response r) {
    if (!accepts(seq) || started_) return;
    finished_ = true;
    wire::HeadOptions o = head_options(r);
    o.content_length = r.body.size();
    std::string bytes = wire::head(o);
    if (!head_only_) bytes += r.body;
    enqueue(std::move(bytes), /*final=*/true);
  }

  void do_start_stream(uint64_t seq, Response r) {
    if (!accepts(seq) || started_) return;
    started_ = true;
    // HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
    chunked_ = version_ >= 11;
    if (!chunked_) keep_alive_ = false;
    wire::HeadOptions o = head_options(r);
    o.chunked = chunked_;
    if (head_only_) {
      finished_ = true;
      enqueue(wire::head(o), /*final=*/true);
      return;
    }
    enqueue(wire::head(o), /*final=*/false);
  }

  void do_write(uint64_t seq, std::string data) {
    if (!accepts(seq) || !started_ || data.empty()) return;
    enqueue(chunked_ ? wire::chunk(data) : std::move(data), /*final=*/false);
  }

  void do_end(uint64_t seq) {
    if (!accepts(seq) || !started_) return;
    finished_ = true;
    enqueue(chunked_ ? std::string(wire::last_chunk()) : std::string(), /*final=*/true);
  }

  void do_abandon(uint64_t seq) {
    if (!accepts(seq)) return;
    if (!started_) {
      log_warn("http: a request on connection " + std::to_string(id_) + " got no response");
      send_internal_error(seq);
      return;
    }
    // A stream cut short: closing tells the client the body is incomplete.
    if (state_) state_->mark_completed();
    close_now();
  }

  void send_internal_error(uint64_t seq) {
    Response r;
    r.status = 500;
    r.body = wire::json_error_body("The server failed to produce a response", "server_error");
    do_send(seq, std::move(r));
  }

  // An error answered by this layer itself; the connection closes after it.
  void reply_error(int status, const std::string& message) {
    keep_alive_ = false;
    enqueue(wire::error_response(status, message), /*final=*/true);
  }

  void enqueue(std::string bytes, bool final) {
    if (closed_) return;
    if (!bytes.empty()) queue_.push_back(std::move(bytes));
    if (final) final_queued_ = true;
    if (!writing_) flush();
  }

  void flush() {
    if (queue_.empty()) {
      if (final_queued_) {
        final_queued_ = false;
        on_response_written();
      }
      return;
    }
    // Everything queued goes out in one gathered write.
    in_flight_.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.end()));
    queue_.clear();
    buffers_.clear();
    for (const auto& s : in_flight_) buffers_.push_back(net::buffer(s));
    writing_ = true;
    net::async_write(stream_, buffers_, [self = this->shared_from_this()](error_code ec, size_t) {
      self->on_write(ec);
    });
  }

  void on_write(error_code ec) {
    writing_ = false;
    in_flight_.clear();
    if (closed_) return;
    if (ec) {
      close_now();  // counts as a disconnect
      return;
    }
    flush();
  }

  void on_response_written() {
    if (responding_) {
      responding_ = false;
      state_->mark_completed();
      state_.reset();
    }
    set_busy(false);
    if (io_pending_) {
      cancel_io();  // the watch read; its handler moves on to the next request
      return;
    }
    next_request();
  }

  // ---- Closing ----

  void do_stop_accepting() {
    stopping_ = true;
    if (mode_ == Mode::kIdle && io_pending_) close_now();
  }

  // Closes after giving the peer a moment to read what was sent: closing a socket with
  // unread input resets the connection, which can destroy the response in flight.
  void graceful_close() {
    mode_ = Mode::kClosing;
    arm(kLingerMs);
    io_pending_ = true;
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](error_code) {
        self->io_pending_ = false;
        self->close_now();
      });
    } else {
      error_code ec;
      tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
      drain();
    }
  }

  void drain() {
    io_pending_ = true;
    stream_.async_read_some(net::buffer(drain_buf_),
                            [self = this->shared_from_this()](error_code ec, size_t) {
                              self->io_pending_ = false;
                              if (self->closed_) return;
                              if (ec) {
                                self->close_now();
                              } else {
                                self->drain();
                              }
                            });
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    disarm();
    if (responding_) {
      responding_ = false;
      if (auto callback = state_->mark_disconnected()) run_callback(callback);
      state_.reset();
    }
    set_busy(false);
    error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer().close();
    queue_.clear();
    shared_->open.fetch_sub(1);
    shared_->remove(id_);
    link_->clear();
  }

  void run_callback(const std::function<void()>& callback) {
    try {
      callback();
    } catch (const std::exception& e) {
      log_error(std::string("http: disconnect callback threw: ") + e.what());
    } catch (...) {
      log_error("http: disconnect callback threw");
    }
  }

  // ---- Timers ----

  void arm(int ms) {
    const uint64_t gen = ++timer_gen_;
    deadline_.expires_after(std::chrono::milliseconds(std::max(ms, 1)));
    deadline_.async_wait([self = this->shared_from_this(), gen](error_code ec) {
      if (!ec && gen == self->timer_gen_ && !self->closed_) self->on_deadline();
    });
  }

  void disarm() {
    ++timer_gen_;
    deadline_.cancel();
  }

  void on_deadline() {
    if (mode_ == Mode::kHead || mode_ == Mode::kBody) {
      timed_out_ = true;
      cancel_io();  // the read handler answers 408
    } else {
      close_now();  // handshake, idle keep-alive or lingering close
    }
  }

  void cancel_io() {
    error_code ec;
    tcp_layer().socket().cancel(ec);
  }

  void set_busy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    shared_->busy.fetch_add(busy ? 1 : -1);
  }

  Stream stream_;
  net::any_io_executor ex_;
  net::steady_timer deadline_;
  std::shared_ptr<ServerShared> shared_;
  const ServerOptions& opts_;
  const bool reject_;
  std::shared_ptr<Link> link_;
  uint64_t id_ = 0;
  std::string remote_;

  // Reading.
  Mode mode_ = Mode::kHandshake;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool io_pending_ = false;  // a read (or handshake/shutdown) is outstanding
  bool timed_out_ = false;
  uint64_t timer_gen_ = 0;
  char drain_buf_[1024];

  // The response in progress.
  bool responding_ = false;
  uint64_t seq_ = 0;
  bool started_ = false;   // start_stream was called
  bool finished_ = false;  // the last bytes are queued
  bool chunked_ = true;
  bool head_only_ = false;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  std::shared_ptr<ResponseState> state_;

  // Writing.
  std::deque<std::string> queue_;
  std::vector<std::string> in_flight_;
  std::vector<net::const_buffer> buffers_;
  bool writing_ = false;
  bool final_queued_ = false;

  bool busy_ = false;
  bool stopping_ = false;
  bool closed_ = false;
};

}  // namespace

void start_session(tcp::socket socket, std::shared_ptr<ServerShared> shared,
                   net::ssl::context* tls, bool reject) {
  if (tls != nullptr) {
    std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket),
                                                                      std::move(shared), tls,
                                                                      reject)
        ->start();
  } else {
    std::make_shared<Session<beast::tcp_stream>>(std::move(socket), std::move(shared), nullptr,
                                                 reject)
        ->start();
  }
}

}  // namespace mlxs::http::internal
