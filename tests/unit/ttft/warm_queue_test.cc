// WarmQueue: priority order, the size bound, TTL expiry to the fallback (driven by an
// injected clock, never by sleeping), reloads, and that every accepted job runs once.
#include "ttft/warm_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace mlxs::ttft {
namespace {

using std::chrono::milliseconds;

// A clock the test moves by hand; safe to read from the workers.
class FakeClock {
 public:
  Clock::time_point now() const { return start_ + Clock::duration(offset_.load()); }
  void advance(milliseconds d) { offset_ += Clock::duration(d).count(); }
  WarmQueue::ClockFn fn() {
    return [this] { return now(); };
  }

 private:
  Clock::time_point start_ = Clock::now();
  std::atomic<Clock::rep> offset_{0};
};

WarmQueueConfig config(int max_size, int64_t ttl_ms, bool by_tokens = true) {
  WarmQueueConfig c;
  c.max_size = max_size;
  c.ttl_ms = ttl_ms;
  c.priority_by_tokens = by_tokens;
  return c;
}

// Records which jobs ran, in order, and how often each ran.
class RunLog {
 public:
  void add(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    order_.push_back(id);
  }
  std::vector<std::string> order() const {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> order_;
};

WarmJob job(const std::string& id, RunLog& log, HintPriority priority = HintPriority::kNormal,
            int64_t tokens = 0, std::latch* done = nullptr) {
  WarmJob j;
  j.stream_id = id;
  j.estimated_tokens = tokens;
  j.priority = priority;
  j.run = [id, &log, done](double) {
    log.add(id);
    if (done) done->count_down();
  };
  return j;
}

// A first job that holds the only worker until released, so later jobs pile up.
class Gate {
 public:
  WarmJob job() {
    WarmJob j;
    j.stream_id = "gate";
    j.run = [this](double) {
      started_.set_value();
      release_future_.wait();
    };
    return j;
  }
  void wait_started() { started_.get_future().wait(); }
  void release() { release_.set_value(); }

 private:
  std::promise<void> started_;
  std::promise<void> release_;
  std::shared_future<void> release_future_ = release_.get_future().share();
};

// A fallback executor that runs tasks inline and counts them.
struct InlineFallback {
  std::atomic<int> calls{0};
  WarmQueue::Executor fn() {
    return [this](std::function<void()> task) {
      ++calls;
      task();
    };
  }
};

// Queues `jobs` behind a gate on one worker, releases it and returns the run order.
std::vector<std::string> order_of(bool by_tokens,
                                  const std::vector<std::tuple<std::string, HintPriority, int>>&
                                      jobs) {
  FakeClock clock;
  InlineFallback fallback;
  RunLog log;
  std::latch done(static_cast<std::ptrdiff_t>(jobs.size()));
  Gate gate;
  WarmQueue q(config(100, 1000, by_tokens), 1, fallback.fn(), clock.fn());
  EXPECT_TRUE(q.enqueue(gate.job()));
  gate.wait_started();
  for (const auto& [id, priority, tokens] : jobs) {
    EXPECT_TRUE(q.enqueue(job(id, log, priority, tokens, &done)));
  }
  EXPECT_EQ(q.stats().size, jobs.size());
  gate.release();
  done.wait();
  EXPECT_EQ(fallback.calls.load(), 0);
  return log.order();
}

TEST(WarmQueue, PriorityThenTokensThenArrival) {
  const auto order = order_of(true, {{"low-big", HintPriority::kLow, 5000},
                                     {"normal-10", HintPriority::kNormal, 10},
                                     {"high-5", HintPriority::kHigh, 5},
                                     {"normal-300", HintPriority::kNormal, 300},
                                     {"high-50", HintPriority::kHigh, 50},
                                     {"normal-10-b", HintPriority::kNormal, 10}});
  EXPECT_EQ(order, (std::vector<std::string>{"high-50", "high-5", "normal-300", "normal-10",
                                             "normal-10-b", "low-big"}));
}

TEST(WarmQueue, WithoutTokenPriorityArrivalBreaksTies) {
  const auto order = order_of(false, {{"normal-10", HintPriority::kNormal, 10},
                                      {"low-big", HintPriority::kLow, 5000},
                                      {"normal-300", HintPriority::kNormal, 300},
                                      {"high-5", HintPriority::kHigh, 5},
                                      {"high-50", HintPriority::kHigh, 50}});
  EXPECT_EQ(order, (std::vector<std::string>{"high-5", "high-50", "normal-10", "normal-300",
                                             "low-big"}));
}

TEST(WarmQueue, WorkerPassesTheWaitedTime) {
  FakeClock clock;
  InlineFallback fallback;
  Gate gate;
  WarmQueue q(config(10, 1000), 1, fallback.fn(), clock.fn());
  ASSERT_TRUE(q.enqueue(gate.job()));
  gate.wait_started();
  std::promise<double> waited;
  WarmJob j;
  j.stream_id = "timed";
  j.run = [&](double ms) { waited.set_value(ms); };
  ASSERT_TRUE(q.enqueue(std::move(j)));
  clock.advance(milliseconds(250));
  gate.release();
  EXPECT_DOUBLE_EQ(waited.get_future().get(), 250.0);
  EXPECT_EQ(q.stats().total_warmed, 2u);
}

TEST(WarmQueue, FullQueueRefusesAndCounts) {
  FakeClock clock;
  InlineFallback fallback;
  RunLog log;
  {
    WarmQueue q(config(2, 1000), 0, fallback.fn(), clock.fn());
    EXPECT_TRUE(q.enqueue(job("a", log)));
    EXPECT_TRUE(q.enqueue(job("b", log)));
    EXPECT_FALSE(q.enqueue(job("c", log)));
    const auto s = q.stats();
    EXPECT_EQ(s.size, 2u);
    EXPECT_EQ(s.max_size, 2);
    EXPECT_EQ(s.total_queued, 2u);
    EXPECT_EQ(s.total_rejected, 1u);
  }
  // The refused job was never queued, so the destructor ran only the accepted ones.
  EXPECT_EQ(log.order(), (std::vector<std::string>{"a", "b"}));
}

TEST(WarmQueue, JobWithoutBodyIsRefused) {
  InlineFallback fallback;
  WarmQueue q(config(2, 1000), 0, fallback.fn());
  WarmJob empty;
  EXPECT_FALSE(q.enqueue(std::move(empty)));
  EXPECT_EQ(q.stats().size, 0u);
}

TEST(WarmQueue, ExpiredJobGoesToFallbackExactlyOnce) {
  FakeClock clock;
  InlineFallback fallback;
  RunLog log;
  {
    WarmQueue q(config(10, 800), 0, fallback.fn(), clock.fn());
    ASSERT_TRUE(q.enqueue(job("old", log)));
    clock.advance(milliseconds(799));
    EXPECT_EQ(q.expire_due(), 0u);
    EXPECT_TRUE(log.order().empty());
    clock.advance(milliseconds(1));
    EXPECT_EQ(q.expire_due(), 1u);
    EXPECT_EQ(log.order(), (std::vector<std::string>{"old"}));
    EXPECT_EQ(q.expire_due(), 0u);  // already handed over
    const auto s = q.stats();
    EXPECT_EQ(s.total_expired, 1u);
    EXPECT_EQ(s.size, 0u);
    EXPECT_EQ(s.total_warmed, 0u);
  }
  EXPECT_EQ(fallback.calls.load(), 1);
  EXPECT_EQ(log.order(), (std::vector<std::string>{"old"}));  // not again at destruction
}

TEST(WarmQueue, EnqueueSweepsExpiredFirst) {
  FakeClock clock;
  InlineFallback fallback;
  RunLog log;
  WarmQueue q(config(1, 100), 0, fallback.fn(), clock.fn());
  ASSERT_TRUE(q.enqueue(job("first", log)));
  EXPECT_FALSE(q.enqueue(job("refused", log)));  // full, nothing expired yet
  clock.advance(milliseconds(100));
  // The expired job leaves the queue, so the new one fits.
  EXPECT_TRUE(q.enqueue(job("second", log)));
  EXPECT_EQ(log.order(), (std::vector<std::string>{"first"}));
  EXPECT_EQ(fallback.calls.load(), 1);
  EXPECT_EQ(q.stats().total_expired, 1u);
}

TEST(WarmQueue, WaitingJobExpiresWhileTheWorkerIsBusy) {
  FakeClock clock;
  InlineFallback fallback;
  RunLog log;
  Gate gate;
  std::promise<double> waited;
  {
    WarmQueue q(config(10, 500), 1, fallback.fn(), clock.fn());
    ASSERT_TRUE(q.enqueue(gate.job()));
    gate.wait_started();
    WarmJob late;
    late.stream_id = "late";
    late.run = [&](double ms) {
      log.add("late");
      waited.set_value(ms);
    };
    ASSERT_TRUE(q.enqueue(std::move(late)));
    clock.advance(milliseconds(600));
    EXPECT_EQ(q.expire_due(), 1u);
    EXPECT_DOUBLE_EQ(waited.get_future().get(), 600.0);
    gate.release();
  }
  EXPECT_EQ(log.order(), (std::vector<std::string>{"late"}));
  EXPECT_EQ(fallback.calls.load(), 1);
}

TEST(WarmQueue, WorkerHandsExpiredJobsToFallback) {
  FakeClock clock;
  InlineFallback fallback;
  RunLog log;
  Gate gate;
  std::latch done(1);
  WarmQueue q(config(10, 500), 1, fallback.fn(), clock.fn());
  ASSERT_TRUE(q.enqueue(gate.job()));
  gate.wait_started();
  ASSERT_TRUE(q.enqueue(job("stale", log, HintPriority::kHigh, 0, &done)));
  clock.advance(milliseconds(500));
  // The worker, freed, finds the job past its TTL: the fallback runs it, not the worker.
  gate.release();
  done.wait();
  EXPECT_EQ(log.order(), (std::vector<std::string>{"stale"}));
  EXPECT_EQ(fallback.calls.load(), 1);
  EXPECT_EQ(q.stats().total_expired, 1u);
}

TEST(WarmQueue, FallbackIsCalledWithoutTheLock) {
  FakeClock clock;
  RunLog log;
  WarmQueue* queue = nullptr;
  size_t size_seen = 99;
  WarmQueue q(
      config(10, 10), 0,
      [&](std::function<void()> task) {
        size_seen = queue->stats().size;  // would deadlock if the lock were held
        task();
      },
      clock.fn());
  queue = &q;
  ASSERT_TRUE(q.enqueue(job("a", log)));
  clock.advance(milliseconds(10));
  EXPECT_EQ(q.expire_due(), 1u);
  EXPECT_EQ(size_seen, 0u);
  EXPECT_EQ(log.order(), (std::vector<std::string>{"a"}));
}

TEST(WarmQueue, DestructionRunsRemainingJobsOnTheDestroyingThread) {
  RunLog log;
  InlineFallback fallback;
  std::vector<std::thread::id> threads;
  {
    WarmQueue q(config(10, 1000000), 0, fallback.fn());
    for (const char* id : {"a", "b", "c"}) {
      WarmJob j;
      j.stream_id = id;
      j.run = [&, id = std::string(id)](double) {
        log.add(id);
        threads.push_back(std::this_thread::get_id());
      };
      ASSERT_TRUE(q.enqueue(std::move(j)));
    }
    EXPECT_TRUE(log.order().empty());
  }
  EXPECT_EQ(log.order(), (std::vector<std::string>{"a", "b", "c"}));
  for (const auto& t : threads) EXPECT_EQ(t, std::this_thread::get_id());
  EXPECT_EQ(fallback.calls.load(), 0);
}

TEST(WarmQueue, EveryAcceptedJobRunsOnceAcrossWorkersAndDestruction) {
  RunLog log;
  InlineFallback fallback;
  constexpr int kJobs = 200;
  {
    Gate gate;
    WarmQueue q(config(1000, 1000000), 3, fallback.fn());
    ASSERT_TRUE(q.enqueue(gate.job()));
    gate.wait_started();
    for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(q.enqueue(job(std::to_string(i), log)));
    gate.release();
    // Destroyed at once: some jobs ran on workers, the rest run here.
  }
  auto order = log.order();
  ASSERT_EQ(order.size(), static_cast<size_t>(kJobs));
  std::sort(order.begin(), order.end());
  EXPECT_EQ(std::adjacent_find(order.begin(), order.end()), order.end());
}

TEST(WarmQueue, SetConfigChangesSizeAndTtl) {
  FakeClock clock;
  InlineFallback fallback;
  RunLog log;
  WarmQueue q(config(1, 1000), 0, fallback.fn(), clock.fn());
  ASSERT_TRUE(q.enqueue(job("a", log)));
  EXPECT_FALSE(q.enqueue(job("b", log)));
  q.set_config(config(2, 1000));
  EXPECT_EQ(q.config().max_size, 2);
  EXPECT_EQ(q.stats().max_size, 2);
  EXPECT_TRUE(q.enqueue(job("b", log)));
  EXPECT_FALSE(q.enqueue(job("c", log)));

  clock.advance(milliseconds(500));
  EXPECT_EQ(q.expire_due(), 0u);
  // A shorter TTL applies to the jobs already waiting.
  q.set_config(config(2, 400));
  EXPECT_EQ(q.config().ttl_ms, 400);
  EXPECT_EQ(q.expire_due(), 2u);
  EXPECT_EQ(log.order(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q.stats().total_expired, 2u);
}

TEST(WarmQueue, HitRate) {
  InlineFallback fallback;
  WarmQueue q(config(10, 1000), 0, fallback.fn());
  EXPECT_DOUBLE_EQ(q.stats().hit_rate, 0.0);
  q.record_take(true);
  q.record_take(true);
  q.record_take(false);
  q.record_take(true);
  const auto s = q.stats();
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_DOUBLE_EQ(s.hit_rate, 0.75);
}

TEST(WarmQueue, ThrowingJobDoesNotStopTheWorker) {
  InlineFallback fallback;
  RunLog log;
  std::latch done(1);
  WarmQueue q(config(10, 1000000), 1, fallback.fn());
  WarmJob bad;
  bad.stream_id = "bad";
  bad.run = [](double) { throw std::runtime_error("tokenizer failed"); };
  ASSERT_TRUE(q.enqueue(std::move(bad)));
  ASSERT_TRUE(q.enqueue(job("good", log, HintPriority::kLow, 0, &done)));
  done.wait();
  EXPECT_EQ(log.order(), (std::vector<std::string>{"good"}));
}

}  // namespace
}  // namespace mlxs::ttft
