// WarmQueue: a mutex-guarded vector scanned for the best job (the queue is bounded by
// max_size, so a scan is cheap and keeps reordering on a reload trivial). Expired jobs are
// moved out under the lock and handed to the fallback after it is released, so that a
// fallback which calls back into the queue (stats, enqueue) cannot deadlock.
#include "ttft/warm_queue.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "base/logging.h"

namespace mlxs::ttft {
namespace {

double elapsed_ms(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// A job's exception must not take down a worker thread (that would end the process).
void run_job(WarmJob& job, double waited_ms) {
  try {
    job.run(waited_ms);
  } catch (const std::exception& e) {
    log_warn("ttft warm queue: job for " + job.stream_id + " threw: " + e.what());
  } catch (...) {
    log_warn("ttft warm queue: job for " + job.stream_id + " threw a non-standard exception");
  }
}

}  // namespace

WarmQueue::WarmQueue(WarmQueueConfig config, int workers, Executor fallback, ClockFn clock)
    : config_(std::move(config)), fallback_(std::move(fallback)), clock_(std::move(clock)) {
  if (!clock_) clock_ = Clock::now;
  stats_.max_size = config_.max_size;
  const int n = std::max(0, workers);
  workers_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

WarmQueue::~WarmQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  // Workers are gone; what is still queued runs here, best first, so no request loses its
  // tokenization. Nothing else touches items_ now, but the lock keeps the rule simple.
  for (;;) {
    Item item;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const int i = best_index();
      if (i < 0) break;
      item = std::move(items_[static_cast<size_t>(i)]);
      items_.erase(items_.begin() + i);
    }
    run_job(item.job, elapsed_ms(item.enqueued, clock_()));
  }
}

void WarmQueue::set_config(const WarmQueueConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = config;
  stats_.max_size = config_.max_size;
}

WarmQueueConfig WarmQueue::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

bool WarmQueue::enqueue(WarmJob job) {
  // A job without a body cannot run; refusing it leaves the caller on its own path.
  if (!job.run) return false;
  std::vector<Item> expired;
  bool accepted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Clock::time_point now = clock_();
    expired = take_expired_locked(now);
    if (stop_ || static_cast<int64_t>(items_.size()) >= config_.max_size) {
      ++stats_.total_rejected;
    } else {
      items_.push_back(Item{std::move(job), now, next_seq_++});
      ++stats_.total_queued;
      accepted = true;
    }
  }
  if (accepted) cv_.notify_one();
  hand_to_fallback(std::move(expired));
  return accepted;
}

size_t WarmQueue::expire_due() {
  std::vector<Item> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    expired = take_expired_locked(clock_());
  }
  const size_t n = expired.size();
  hand_to_fallback(std::move(expired));
  return n;
}

void WarmQueue::record_take(bool ready) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ready) {
    ++stats_.hits;
  } else {
    ++stats_.misses;
  }
}

WarmQueueStats WarmQueue::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  WarmQueueStats s = stats_;
  s.size = items_.size();
  s.max_size = config_.max_size;
  const uint64_t takes = s.hits + s.misses;
  s.hit_rate = takes == 0 ? 0.0 : static_cast<double>(s.hits) / static_cast<double>(takes);
  return s;
}

void WarmQueue::worker_loop() {
  for (;;) {
    std::vector<Item> expired;
    Item item;
    bool have_job = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !items_.empty(); });
      // On stop the destructor runs what is left, on its own thread.
      if (stop_) return;
      // Jobs that waited too long go to the fallback rather than to this worker: the
      // request has moved on to its own path by now.
      expired = take_expired_locked(clock_());
      const int i = best_index();
      if (i >= 0) {
        item = std::move(items_[static_cast<size_t>(i)]);
        items_.erase(items_.begin() + i);
        ++stats_.total_warmed;
        have_job = true;
      }
    }
    hand_to_fallback(std::move(expired));
    if (have_job) run_job(item.job, elapsed_ms(item.enqueued, clock_()));
  }
}

int WarmQueue::best_index() const {
  int best = -1;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (best < 0 || runs_before(items_[i], items_[static_cast<size_t>(best)])) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

bool WarmQueue::runs_before(const Item& a, const Item& b) const {
  if (a.job.priority != b.job.priority) return a.job.priority > b.job.priority;
  if (config_.priority_by_tokens && a.job.estimated_tokens != b.job.estimated_tokens) {
    return a.job.estimated_tokens > b.job.estimated_tokens;
  }
  return a.seq < b.seq;
}

std::vector<WarmQueue::Item> WarmQueue::take_expired_locked(Clock::time_point now) {
  std::vector<Item> expired;
  // Compared in whole milliseconds: converting ttl_ms to the clock's nanoseconds could
  // overflow for a huge setting, the elapsed time in milliseconds cannot.
  auto is_due = [&](const Item& item) {
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - item.enqueued).count();
    return waited >= config_.ttl_ms;
  };
  auto keep = items_.begin();
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (is_due(*it)) {
      expired.push_back(std::move(*it));
    } else {
      if (keep != it) *keep = std::move(*it);
      ++keep;
    }
  }
  items_.erase(keep, items_.end());
  stats_.total_expired += expired.size();
  return expired;
}

void WarmQueue::hand_to_fallback(std::vector<Item> expired) {
  for (auto& item : expired) {
    // The job owns what it needs; the clock is copied so the task may outlive the queue.
    auto task = [job = std::move(item.job), enqueued = item.enqueued, clock = clock_]() mutable {
      run_job(job, elapsed_ms(enqueued, clock()));
    };
    if (!fallback_) {
      task();
      continue;
    }
    try {
      fallback_(std::move(task));
    } catch (const std::exception& e) {
      log_warn(std::string("ttft warm queue: fallback executor threw: ") + e.what());
    } catch (...) {
      log_warn("ttft warm queue: fallback executor threw a non-standard exception");
    }
  }
}

}  // namespace mlxs::ttft
