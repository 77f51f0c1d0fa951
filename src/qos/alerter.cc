#include "qos/alerter.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/logging.h"
#include "http/http_client.h"

namespace mlxs::qos {
namespace {

const AlertChannel* find_channel(const std::vector<AlertChannel>& channels,
                                 const std::string& name) {
  for (const AlertChannel& c : channels) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string known_channels(const std::vector<AlertChannel>& channels) {
  if (channels.empty()) return "none configured";
  std::string names;
  for (const AlertChannel& c : channels) names += (names.empty() ? "" : ", ") + c.name;
  return "known: " + names;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// POSTs one alert; the error says what went wrong (transport or HTTP status). A channel
// without a URL only logs its alerts.
Status deliver(const AlertChannel& channel, const std::string& body) {
  if (channel.url.empty()) {
    log_warn("alert on channel '" + channel.name + "' (no webhook configured): " + body);
    return Status::Ok();
  }
  auto url = http::parse_url(channel.url);
  if (!url.ok()) return url.status();
  http::HttpConnection conn(std::move(url.value()), "",
                            std::chrono::milliseconds(channel.timeout_ms));
  conn.set_user_agent("mlx-serving-qos-alerter");
  auto response = conn.request("", body, /*post=*/true);
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status >= 300)
    return Status::Error("HTTP " + std::to_string(response->status));
  return Status::Ok();
}

}  // namespace

Alerter::Alerter(std::vector<AlertChannel> channels, size_t max_queue)
    : channels_(std::move(channels)), max_queue_(max_queue) {
  worker_ = std::thread([this] { run(); });
}

Alerter::~Alerter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void Alerter::set_channels(std::vector<AlertChannel> channels) {
  std::lock_guard<std::mutex> lock(mu_);
  channels_ = std::move(channels);
}

std::vector<std::string> Alerter::channel_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const AlertChannel& c : channels_) names.push_back(c.name);
  return names;
}

AlertStats Alerter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Status Alerter::send(const std::string& channel, const AlertMessage& message) {
  std::string text = body(channel, message);
  std::lock_guard<std::mutex> lock(mu_);
  const AlertChannel* c = find_channel(channels_, channel);
  if (c == nullptr) {
    return Status::Error("unknown alert channel '" + channel + "' (" + known_channels(channels_) +
                         ")");
  }
  if (queue_.size() >= max_queue_) {
    ++stats_.dropped[channel];
    const std::string why = "alert queue full (" + std::to_string(queue_.size()) +
                            " pending): alert to channel '" + channel + "' dropped";
    log_warn(why);
    return Status::Error(why);
  }
  // The channel is copied: a reload while the alert waits does not change where it goes.
  queue_.emplace_back(*c, std::move(text));
  cv_.notify_all();
  return Status::Ok();
}

void Alerter::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return stopping_ || (queue_.empty() && !busy_); });
}

void Alerter::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    auto [channel, text] = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    const Status delivered = deliver(channel, text);
    if (!delivered.ok()) {
      log_warn("alert to channel '" + channel.name + "' (" + channel.url +
               ") failed: " + delivered.message());
    }
    lock.lock();
    ++(delivered.ok() ? stats_.sent : stats_.failed)[channel.name];
    busy_ = false;
    cv_.notify_all();
  }
  // Whatever is still queued is not delivered; flush() waiters are released.
  busy_ = false;
  cv_.notify_all();
}

std::string Alerter::body(const std::string& channel, const AlertMessage& message) {
  const char* comparison = message.value > message.threshold   ? " > "
                           : message.value < message.threshold ? " < "
                                                               : " = ";
  std::string text = std::string("[") + severity_name(message.severity) + "] " +
                     message.policy_id + "/" + message.slo_name + ": " +
                     format_number(message.value) + comparison + format_number(message.threshold);
  if (!message.reason.empty()) text += " (" + message.reason + ")";
  nlohmann::json j = {
      {"policy", message.policy_id},
      {"slo", message.slo_name},
      {"value", message.value},
      {"threshold", message.threshold},
      {"severity", severity_name(message.severity)},
      {"reason", message.reason},
      {"time", message.time},
      {"channel", channel},
      {"text", text},
  };
  // Invalid UTF-8 in a name or reason is replaced rather than failing the alert.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mlxs::qos
