#include "runtime/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#define OL_CPU_RELAX() _mm_pause()
#else
#define OL_CPU_RELAX() ((void)0)
#endif

namespace ol {

namespace {
// Short spins: long enough to catch the next loop of a forward pass, short enough not to steal the
// core from a descheduled peer when the machine is oversubscribed.
constexpr int kSpinIterations = 2000;
}

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  for (;;) {
    const size_t begin = next_.fetch_add(chunk_);
    if (begin >= n_) break;
    (*job_)(begin, std::min(n_, begin + chunk_));
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
      OL_CPU_RELAX();
      ++spins;
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_) return;
    run_chunks();
    busy_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(size_t n, size_t min_chunk, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const size_t threads = workers_.size() + 1;
  // Several chunks per thread balance uneven work; never below min_chunk.
  size_t chunk = std::max<size_t>(std::max<size_t>(min_chunk, 1), (n + threads * 4 - 1) / (threads * 4));
  if (workers_.empty() || n <= chunk) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  n_ = n;
  chunk_ = chunk;
  next_.store(0);
  busy_.store(static_cast<int>(workers_.size()));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_chunks();
  for (int spins = 0; busy_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpinIterations) OL_CPU_RELAX();
    else std::this_thread::yield();
  }
  job_ = nullptr;
}

}  // namespace ol
