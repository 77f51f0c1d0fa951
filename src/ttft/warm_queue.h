// The tokenizer warm queue: prompts are tokenized on worker threads as soon as a request
// is parsed, while it waits for admission and a batch slot, so that tokenization is off
// the request's critical path. Jobs wait in a bounded priority queue (a ttft_hint
// priority first, then, with priority_by_tokens, longer prompts first, then arrival).
// A full queue refuses a job (the caller runs it on its own path); a job that waited
// ttl_ms without a worker starting it is taken out and handed to the fallback executor
// (the request's own path). Every accepted job runs exactly once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ttft/ttft_config.h"

namespace mlxs::ttft {

using Clock = std::chrono::steady_clock;

// ttft_hint.priority of a request.
enum class HintPriority { kLow = 0, kNormal = 1, kHigh = 2 };

struct WarmJob {
  std::string stream_id;         // the request id, for logs and events
  int64_t estimated_tokens = 0;  // priority_by_tokens orders by this (larger first)
  HintPriority priority = HintPriority::kNormal;
  // The tokenization and what follows it. `waited_ms`: time from enqueue to start.
  std::function<void(double waited_ms)> run;
};

// The spec's getQueueStats(), and what an operator needs besides.
struct WarmQueueStats {
  size_t size = 0;          // jobs waiting for a worker
  int max_size = 0;
  uint64_t total_queued = 0;    // jobs accepted
  uint64_t total_warmed = 0;    // jobs a worker ran
  uint64_t total_expired = 0;   // jobs that waited past ttl_ms (run by the fallback)
  uint64_t total_rejected = 0;  // jobs refused because the queue was full
  uint64_t hits = 0;    // requests whose tokens were ready when the scheduler took them
  uint64_t misses = 0;  // requests the scheduler had to wait for
  double hit_rate = 0;  // hits / (hits + misses); 0 before any
};

class WarmQueue {
 public:
  using Executor = std::function<void(std::function<void()>)>;
  using ClockFn = std::function<Clock::time_point()>;

  // `workers` threads run jobs (0 is allowed: every job then expires to the fallback, for
  // tests). `fallback` runs expired jobs; it must not block for long (it is called with no
  // lock held, from whichever thread noticed the expiry).
  WarmQueue(WarmQueueConfig config, int workers, Executor fallback, ClockFn clock = Clock::now);
  // Stops the workers; jobs still queued run on the destroying thread (never lost).
  ~WarmQueue();
  WarmQueue(const WarmQueue&) = delete;
  WarmQueue& operator=(const WarmQueue&) = delete;

  // A reload: the new max_size applies to later enqueues, the new ttl_ms to every job.
  void set_config(const WarmQueueConfig& config);
  WarmQueueConfig config() const;

  // Queues the job. False when max_size jobs already wait: nothing is queued and the
  // caller runs the job itself. Expired jobs are swept first.
  bool enqueue(WarmJob job);

  // Hands every job that has waited ttl_ms or longer to the fallback. Called by enqueue,
  // by the workers, and by a timer of the owner; returns how many expired.
  size_t expire_due();

  // The consumer's verdict on one request: were its tokens ready when wanted?
  void record_take(bool ready);

  WarmQueueStats stats() const;

 private:
  struct Item {
    WarmJob job;
    Clock::time_point enqueued;
    uint64_t seq = 0;  // arrival order, the last tie-breaker
  };
  void worker_loop();
  // Index of the job to run next (the caller holds mu_); -1 when empty.
  int best_index() const;
  // Whether `a` runs before `b` (the caller holds mu_).
  bool runs_before(const Item& a, const Item& b) const;
  std::vector<Item> take_expired_locked(Clock::time_point now);
  // Passes expired jobs to the fallback; called with mu_ released.
  void hand_to_fallback(std::vector<Item> expired);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  WarmQueueConfig config_;
  Executor fallback_;
  ClockFn clock_;
  std::vector<Item> items_;  // small (max_size); a linear scan picks the best
  uint64_t next_seq_ = 0;
  bool stop_ = false;
  WarmQueueStats stats_;
  std::vector<std::thread> workers_;
};

}  // namespace mlxs::ttft
