// A fixed pool of worker threads over a bounded queue. Submit() blocks while
// the queue is full, which backs pressure up to the caller.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gourmet {

class ThreadPool {
 public:
  ThreadPool(int threads, size_t max_queued) : max_queued_(max_queued) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~ThreadPool() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    for (auto& t : threads_) t.join();
  }

  void Submit(std::function<void()> fn) {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](ThreadPool* p)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->queue_.size() < p->max_queued_; },
        this));
    queue_.push_back(std::move(fn));
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock l(&mu_);
        mu_.Await(absl::Condition(
            +[](ThreadPool* p)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stop_ || !p->queue_.empty(); },
            this));
        if (queue_.empty()) return;  // stopping, and nothing left to run
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace gourmet
