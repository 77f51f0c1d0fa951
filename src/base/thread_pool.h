// A fixed pool of compute workers for the forward pass. The calling thread takes part in
// every parallel_for, so a pool of N threads has N-1 workers. Workers spin briefly before
// sleeping because a forward pass issues thousands of short parallel regions.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mlxs {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end) over [0, n) split into chunks of `grain` items (the last may be
  // shorter). Returns when every chunk is done. Not reentrant.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Calls fn(thread_index, n_threads) once on each thread.
  void run_on_all(const std::function<void(int, int)>& fn);

 private:
  void worker_loop(int index);
  void run_chunks();

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int64_t> next_chunk_{0};
  bool stop_ = false;

  // The current job.
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  const std::function<void(int, int)>* all_fn_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  int64_t n_chunks_ = 0;
};

}  // namespace mlxs
