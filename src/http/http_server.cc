// The listening side of the HTTP server: binding, the accept loop, TLS setup, the I/O
// threads and shutdown. Connections live in http_session.cc.
#include "http/http_server.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "base/logging.h"
#include "http/http_internal.h"

namespace mlxs::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr auto kStopGrace = std::chrono::seconds(2);

Status check_readable(const std::string& what, const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error(what + " '" + path + "' cannot be read: " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions options, Handler handler)
      : shared(std::make_shared<internal::ServerShared>(std::move(options), std::move(handler))),
        ioc(std::max(1, shared->options.io_threads)),
        acceptor(net::make_strand(ioc)),
        retry_timer(acceptor.get_executor()) {}

  const ServerOptions& options() const { return shared->options; }
  bool on_io_thread() { return ioc.get_executor().running_in_this_thread(); }

  Status load_tls();
  Status bind();
  void accept();
  void on_accept(error_code ec, tcp::socket socket);
  void stop_accepting();

  std::shared_ptr<internal::ServerShared> shared;
  // Declared before the io_context so that it outlives every connection using it.
  std::unique_ptr<net::ssl::context> tls;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::mutex control_mu;  // start/stop_accepting/stop may come from different threads
  int port = 0;
  bool started = false;
  bool accepting = false;
  bool stopped = false;
};

Status Server::Impl::load_tls() {
  const std::string& cert = options().tls_cert_file;
  const std::string& key = options().tls_key_file;
  if (cert.empty() != key.empty()) {
    return Status::Error("TLS needs both tls_cert_file and tls_key_file (only " +
                         std::string(cert.empty() ? "tls_key_file" : "tls_cert_file") +
                         " is set)");
  }
  if (cert.empty()) return Status::Ok();
  MLXS_RETURN_IF_ERROR(check_readable("TLS certificate file", cert));
  MLXS_RETURN_IF_ERROR(check_readable("TLS key file", key));

  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  error_code ec;
  ctx->use_certificate_chain_file(cert, ec);
  if (ec) return Status::Error("TLS certificate file '" + cert + "': " + ec.message());
  ctx->use_private_key_file(key, net::ssl::context::pem, ec);
  if (ec) return Status::Error("TLS key file '" + key + "': " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::Error("TLS key file '" + key + "' does not match certificate '" + cert + "'");
  }
  tls = std::move(ctx);
  return Status::Ok();
}

Status Server::Impl::bind() {
  const std::string where = options().host + ":" + std::to_string(options().port);
  error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(options().host, std::to_string(options().port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return Status::Error(where + ": " + ec.message());
  if (results.empty()) return Status::Error(where + ": no address to listen on");
  const tcp::endpoint endpoint = results.begin()->endpoint();

  auto fail = [&](const error_code& e) {
    error_code ignored;
    acceptor.close(ignored);
    return Status::Error(where + ": " + e.message());
  };
  if (acceptor.open(endpoint.protocol(), ec)) return fail(ec);
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec)) return fail(ec);
  if (acceptor.bind(endpoint, ec)) return fail(ec);
  if (acceptor.listen(net::socket_base::max_listen_connections, ec)) return fail(ec);
  port = acceptor.local_endpoint(ec).port();
  if (ec) return fail(ec);
  return Status::Ok();
}

void Server::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void Server::Impl::on_accept(error_code ec, tcp::socket socket) {
  if (!acceptor.is_open() || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and the like: wait a little instead of spinning.
    log_warn("http: accept failed: " + ec.message());
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([this](error_code wait_ec) {
      if (!wait_ec && acceptor.is_open()) accept();
    });
    return;
  }
  if (shared->accepting_stopped.load()) {
    error_code ignored;
    socket.close(ignored);
    return;
  }
  // Streamed events are small writes: without TCP_NODELAY, Nagle's algorithm holds each
  // one back until the client's delayed ACK arrives (tens of milliseconds per token on a
  // reused connection).
  error_code nodelay_ec;
  socket.set_option(tcp::no_delay(true), nodelay_ec);
  const bool reject = shared->open.load() >= shared->options.max_connections;
  internal::start_session(std::move(socket), shared, tls.get(), reject);
  accept();
}

void Server::Impl::stop_accepting() {
  shared->accepting_stopped.store(true);
  if (accepting) {
    accepting = false;
    // The acceptor belongs to its strand; wait for the close so that new connections are
    // refused when this returns (unless called from an I/O thread, which must not wait).
    auto closed = std::make_shared<std::promise<void>>();
    std::future<void> done = closed->get_future();
    net::post(acceptor.get_executor(), [this, closed] {
      error_code ignored;
      acceptor.close(ignored);
      retry_timer.cancel();
      closed->set_value();
    });
    if (!on_io_thread()) done.wait();
  }
  shared->for_each([](internal::SessionBase& s) { s.post_stop_accepting(); });
}

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() { stop(); }

Status Server::start() {
  std::lock_guard<std::mutex> lock(impl_->control_mu);
  if (impl_->started) return Status::Error("the HTTP server was already started");
  if (!impl_->shared->handler) return Status::Error("the HTTP server has no request handler");
  MLXS_RETURN_IF_ERROR(impl_->load_tls());
  MLXS_RETURN_IF_ERROR(impl_->bind());
  impl_->started = true;
  impl_->accepting = true;
  impl_->work.emplace(impl_->ioc.get_executor());
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] { impl->accept(); });
  const int n = std::max(1, impl_->options().io_threads);
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  }
  log_info(std::string(impl_->tls ? "https" : "http") + " server listening on " +
           impl_->options().host + ":" + std::to_string(impl_->port));
  return Status::Ok();
}

int Server::port() const { return impl_->port; }

void Server::stop_accepting() {
  std::lock_guard<std::mutex> lock(impl_->control_mu);
  if (!impl_->started || impl_->stopped) return;
  impl_->stop_accepting();
}

int Server::busy_connections() const { return impl_->shared->busy.load(); }

int Server::open_connections() const { return impl_->shared->open.load(); }

void Server::stop() {
  std::lock_guard<std::mutex> lock(impl_->control_mu);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stop_accepting();
  // Closing on the strands runs the disconnect callbacks of responses in progress.
  impl_->shared->for_each([](internal::SessionBase& s) { s.post_close(); });
  const bool on_io_thread = impl_->on_io_thread();
  if (!on_io_thread) {
    const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
    while (impl_->shared->open.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // stop() called from a handler: this thread unwinds by itself
    } else if (t.joinable()) {
      t.join();
    }
  }
  impl_->threads.clear();
  // Writers still held elsewhere must not reach connections of a stopped io_context.
  impl_->shared->detach_all();
}

void* Server::io_context() { return &impl_->ioc; }

}  // namespace mlxs::http
