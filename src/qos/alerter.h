// Delivers `alert` remediations: a JSON message POSTed to the webhook URL of the alert's
// channel (qos_monitor.alerts.channels), with the channel's timeout, from a worker thread
// so that a slow or failing webhook never blocks serving. Failures are logged and
// counted. The queue is bounded; alerts beyond it are dropped and counted.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "qos/executor.h"
#include "qos/qos_config.h"

namespace mlxs::qos {

struct AlertStats {
  // Per channel: delivered (2xx), failed (transport error, timeout, non-2xx), dropped.
  std::map<std::string, uint64_t> sent, failed, dropped;
};

class Alerter {
 public:
  explicit Alerter(std::vector<AlertChannel> channels, size_t max_queue = 256);
  ~Alerter();  // delivers nothing more; joins the worker
  void set_channels(std::vector<AlertChannel> channels);  // on reload

  // Queues the alert; an unknown channel is an error (nothing queued). Never blocks on
  // the network.
  Status send(const std::string& channel, const AlertMessage& message);
  std::vector<std::string> channel_names() const;
  AlertStats stats() const;
  // Blocks until the queue is empty and nothing is in flight (tests, shutdown).
  void flush();

  // The JSON body: {"policy", "slo", "value", "threshold", "severity", "reason", "time",
  // "channel", "text"} where text is a one-line summary for chat webhooks.
  static std::string body(const std::string& channel, const AlertMessage& message);

 private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AlertChannel> channels_;
  size_t max_queue_;
  std::deque<std::pair<AlertChannel, std::string>> queue_;  // (channel, body)
  bool busy_ = false;
  bool stopping_ = false;
  AlertStats stats_;
  std::thread worker_;
};

}  // namespace mlxs::qos
