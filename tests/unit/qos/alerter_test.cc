// Alert delivery against a real webhook receiver on 127.0.0.1: the JSON body, non-2xx
// answers, a receiver that never answers (timeout, without blocking send), nothing
// listening, unknown channels and the bounded queue.
#include "qos/alerter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlxs::qos {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A webhook receiver: accepts connections on 127.0.0.1 (an ephemeral port), reads one
// request per connection and answers it with `status`, or holds it unanswered until
// stopped when `status` is 0. Records each request's target and body.
class Receiver {
 public:
  explicit Receiver(int status) : status_(status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() { stop(); }

  // Closes every connection (held ones included) and the listener.
  void stop() {
    if (stopped_.exchange(true)) return;
    thread_.join();
    for (int fd : held_) ::close(fd);
    ::close(fd_);
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return requests_.load(); }
  std::vector<std::pair<std::string, std::string>> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  // Waits (bounded) until `n` requests have been read.
  bool wait_for_requests(int n) const {
    const auto deadline = Steady::now() + std::chrono::seconds(10);
    while (requests_.load() < n && Steady::now() < deadline)
      std::this_thread::sleep_for(milliseconds(5));
    return requests_.load() >= n;
  }

 private:
  void serve() {
    while (!stopped_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      handle(conn);
    }
  }

  void handle(int conn) {
    std::string data;
    char buf[4096];
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    for (;;) {
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length)
        break;
      const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(conn);
        return;
      }
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        const std::string head = data.substr(0, header_end);
        for (const char* name : {"Content-Length: ", "content-length: "}) {
          const size_t at = head.find(name);
          if (at != std::string::npos)
            content_length = std::stoul(head.substr(at + std::strlen(name)));
        }
      }
    }
    const std::string request_line = data.substr(0, data.find("\r\n"));
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_.emplace_back(request_line, data.substr(header_end + 4, content_length));
    }
    ++requests_;
    if (status_ == 0) {
      held_.push_back(conn);
      return;
    }
    const std::string response = "HTTP/1.1 " + std::to_string(status_) +
                                 " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    (void)::send(conn, response.data(), response.size(), MSG_NOSIGNAL);
    ::close(conn);
  }

  int status_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> requests_{0};
  std::vector<int> held_;  // only the serving thread touches it until stop() joins it
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> received_;
};

// A port nothing listens on: bound, then closed.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

AlertMessage message() {
  AlertMessage m;
  m.policy_id = "default_ttft_policy";
  m.slo_name = "ttft_p95";
  m.value = 812.3;
  m.threshold = 550;
  m.severity = Severity::kCritical;
  m.reason = "TTFT SLO violated - scaling up concurrency";
  m.time = "2024-05-01T12:00:00.000Z";
  return m;
}

AlertChannel channel(const std::string& name, const std::string& url, int timeout_ms = 2000) {
  AlertChannel c;
  c.name = name;
  c.url = url;
  c.timeout_ms = timeout_ms;
  return c;
}

TEST(Alerter, BodyIsTheDocumentedJson) {
  const auto j = nlohmann::json::parse(Alerter::body("slack", message()));
  EXPECT_EQ(j["policy"], "default_ttft_policy");
  EXPECT_EQ(j["slo"], "ttft_p95");
  EXPECT_EQ(j["value"], 812.3);
  EXPECT_EQ(j["threshold"], 550);
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["reason"], "TTFT SLO violated - scaling up concurrency");
  EXPECT_EQ(j["time"], "2024-05-01T12:00:00.000Z");
  EXPECT_EQ(j["channel"], "slack");
  EXPECT_EQ(j["text"],
            "[critical] default_ttft_policy/ttft_p95: 812.3 > 550 "
            "(TTFT SLO violated - scaling up concurrency)");
  // A floor (throughput) reads the other way; no reason, no parentheses.
  AlertMessage floor = message();
  floor.value = 4.5;
  floor.threshold = 10;
  floor.severity = Severity::kWarning;
  floor.reason.clear();
  EXPECT_EQ(nlohmann::json::parse(Alerter::body("ops", floor))["text"],
            "[warning] default_ttft_policy/ttft_p95: 4.5 < 10");
}

TEST(Alerter, DeliversTheBodyToTheChannelsPath) {
  Receiver receiver(200);
  Alerter alerter({channel("slack", receiver.url("/hooks/v1")),
                   channel("pagerduty", receiver.url(""))});
  EXPECT_EQ(alerter.channel_names(), (std::vector<std::string>{"slack", "pagerduty"}));
  ASSERT_TRUE(alerter.send("slack", message()).ok());
  ASSERT_TRUE(alerter.send("pagerduty", message()).ok());
  alerter.flush();
  const auto got = receiver.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, "POST /hooks/v1 HTTP/1.1");
  EXPECT_EQ(got[1].first, "POST / HTTP/1.1");
  const auto j = nlohmann::json::parse(got[0].second);
  EXPECT_EQ(j["channel"], "slack");
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["value"], 812.3);
  EXPECT_EQ(got[1].second, Alerter::body("pagerduty", message()));
  const AlertStats s = alerter.stats();
  EXPECT_EQ(s.sent.at("slack"), 1u);
  EXPECT_EQ(s.sent.at("pagerduty"), 1u);
  EXPECT_EQ(s.failed.count("slack"), 0u);
}

TEST(Alerter, ServerErrorCountsAsFailed) {
  Receiver receiver(500);
  Alerter alerter({channel("slack", receiver.url("/hook"))});
  ASSERT_TRUE(alerter.send("slack", message()).ok());
  alerter.flush();
  EXPECT_EQ(receiver.requests(), 1);
  const AlertStats s = alerter.stats();
  EXPECT_EQ(s.failed.at("slack"), 1u);
  EXPECT_EQ(s.sent.count("slack"), 0u);
}

TEST(Alerter, SilentReceiverFailsAfterTheTimeout) {
  Receiver receiver(0);
  Alerter alerter({channel("slack", receiver.url("/hook"), 200)});
  const auto start = Steady::now();
  ASSERT_TRUE(alerter.send("slack", message()).ok());
  alerter.flush();
  const auto took = Steady::now() - start;
  EXPECT_GE(took, milliseconds(150));
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(receiver.requests(), 1);
  EXPECT_EQ(alerter.stats().failed.at("slack"), 1u);
}

TEST(Alerter, SendNeverWaitsForTheNetwork) {
  Receiver receiver(0);
  Alerter alerter({channel("slack", receiver.url("/hook"), 20000)});
  const auto start = Steady::now();
  ASSERT_TRUE(alerter.send("slack", message()).ok());
  // The request is held unanswered for up to 20 s; send() returned long before.
  EXPECT_LT(Steady::now() - start, std::chrono::seconds(10));
  ASSERT_TRUE(receiver.wait_for_requests(1));
  EXPECT_TRUE(alerter.stats().failed.empty());
  EXPECT_TRUE(alerter.stats().sent.empty());
  receiver.stop();  // the held connection closes: the delivery fails now
  alerter.flush();
  EXPECT_EQ(alerter.stats().failed.at("slack"), 1u);
}

TEST(Alerter, NothingListeningCountsAsFailed) {
  Alerter alerter({channel("slack", "http://127.0.0.1:" + std::to_string(closed_port()) + "/x")});
  ASSERT_TRUE(alerter.send("slack", message()).ok());
  alerter.flush();
  EXPECT_EQ(alerter.stats().failed.at("slack"), 1u);
}

TEST(Alerter, ChannelWithoutUrlOnlyLogs) {
  Alerter alerter({channel("slack", "")});
  ASSERT_TRUE(alerter.send("slack", message()).ok());
  alerter.flush();
  EXPECT_EQ(alerter.stats().sent.at("slack"), 1u);
  EXPECT_EQ(alerter.stats().failed.count("slack"), 0u);
}

TEST(Alerter, BadUrlCountsAsFailed) {
  Alerter alerter({channel("slack", "https://127.0.0.1/x"), channel("ops", "127.0.0.1:1/x")});
  ASSERT_TRUE(alerter.send("slack", message()).ok());
  ASSERT_TRUE(alerter.send("ops", message()).ok());
  alerter.flush();
  EXPECT_EQ(alerter.stats().failed.at("slack"), 1u);
  EXPECT_EQ(alerter.stats().failed.at("ops"), 1u);
}

TEST(Alerter, UnknownChannelIsAnError) {
  Alerter alerter(
      {channel("slack", "http://127.0.0.1:1/"), channel("pagerduty", "http://127.0.0.1:1/")});
  const Status st = alerter.send("teams", message());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'teams'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("slack, pagerduty"), std::string::npos) << st.message();
  Alerter none({});
  EXPECT_NE(none.send("slack", message()).message().find("none configured"), std::string::npos);
  alerter.flush();
  EXPECT_TRUE(alerter.stats().failed.empty());  // nothing was queued
}

TEST(Alerter, ReloadedChannelsApplyToNewAlerts) {
  Receiver receiver(200);
  Alerter alerter({});
  EXPECT_FALSE(alerter.send("ops", message()).ok());
  alerter.set_channels({channel("ops", receiver.url("/ops"))});
  ASSERT_TRUE(alerter.send("ops", message()).ok());
  alerter.flush();
  ASSERT_EQ(receiver.received().size(), 1u);
  EXPECT_EQ(receiver.received()[0].first, "POST /ops HTTP/1.1");
}

TEST(Alerter, FullQueueDropsAlerts) {
  Receiver receiver(0);
  {
    Alerter alerter({channel("slack", receiver.url("/hook"), 20000)}, /*max_queue=*/2);
    ASSERT_TRUE(alerter.send("slack", message()).ok());
    ASSERT_TRUE(receiver.wait_for_requests(1));  // the worker is busy with the first
    EXPECT_TRUE(alerter.send("slack", message()).ok());
    EXPECT_TRUE(alerter.send("slack", message()).ok());
    const Status full = alerter.send("slack", message());
    EXPECT_FALSE(full.ok());
    EXPECT_NE(full.message().find("queue full"), std::string::npos) << full.message();
    EXPECT_EQ(alerter.stats().dropped.at("slack"), 1u);
    receiver.stop();  // releases the held request; the alerter then shuts down
  }
  // The two queued alerts were never delivered to the stopped receiver.
  EXPECT_EQ(receiver.requests(), 1);
}

}  // namespace
}  // namespace mlxs::qos
