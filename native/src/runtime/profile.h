// OL_PROFILE=1: time spent per phase of the scheduler's steps, printed to stderr (and reset) each time
// the scheduler goes idle. Off (the default), a timer is one predictable branch and no clock read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace ol::profile {

enum Phase { kStep, kForward, kLora, kSample, kPhases };

inline bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("OL_PROFILE");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return on;
}

inline std::atomic<int64_t> g_ns[kPhases];
inline std::atomic<int64_t> g_steps{0};

// Adds the lifetime of the scope to a phase.
class Timer {
 public:
  explicit Timer(Phase phase) : phase_(phase), on_(enabled()) {
    if (on_) start_ = std::chrono::steady_clock::now();
  }
  ~Timer() {
    if (on_) g_ns[phase_] += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

 private:
  Phase phase_;
  bool on_;
  std::chrono::steady_clock::time_point start_;
};

inline void count_step() {
  if (enabled()) ++g_steps;
}

// Prints the per-step means since the last report and starts again from zero.
inline void report() {
  if (!enabled()) return;
  const int64_t steps = g_steps.exchange(0);
  if (steps == 0) return;
  static const char* const names[kPhases] = {"step", "forward", "lora", "sample+emit"};
  std::fprintf(stderr, "OL_PROFILE %lld steps, mean ms per step:", static_cast<long long>(steps));
  for (int p = 0; p < kPhases; ++p) std::fprintf(stderr, " %s %.3f", names[p], static_cast<double>(g_ns[p].exchange(0)) / 1e6 / static_cast<double>(steps));
  std::fprintf(stderr, "\n");
}

}  // namespace ol::profile
