#include "runtime/sampling.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace ol {

void validate_sampling(const ol_sampling_params& p) {
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature)) fail_argument("temperature must be >= 0");
  if (p.top_k < 0) fail_argument("top_k must be >= 0");
  if (!(p.top_p > 0 && p.top_p <= 1)) fail_argument("top_p must be in (0, 1]");
  if (!(p.min_p >= 0 && p.min_p < 1)) fail_argument("min_p must be in [0, 1)");
  if (!(p.repetition_penalty > 0) || !std::isfinite(p.repetition_penalty)) fail_argument("repetition_penalty must be > 0");
  if (p.repetition_last_n < 0) fail_argument("repetition_last_n must be >= 0");
}

int32_t argmax(const float* logits, int32_t n) {
  // Lane-wise maxima over blocks (a select per lane, no data-dependent branch), then the first
  // index holding the maximum. std::max_element compares one element at a time.
  constexpr int32_t kLanes = 16;
  float best = logits[0];
  int32_t i = 1;
  if (n >= kLanes) {
    float lane[kLanes];
    std::copy(logits, logits + kLanes, lane);
    for (i = kLanes; i + kLanes <= n; i += kLanes)
      for (int32_t l = 0; l < kLanes; ++l) lane[l] = lane[l] < logits[i + l] ? logits[i + l] : lane[l];
    best = *std::max_element(lane, lane + kLanes);
  }
  for (; i < n; ++i) best = best < logits[i] ? logits[i] : best;
  const float* first = std::find(logits, logits + n, best);
  // Not found only when the maximum is NaN: keep max_element's answer for that case.
  return first != logits + n ? static_cast<int32_t>(first - logits) : static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

Sampler::Sampler(const ol_sampling_params& params) : p_(params), rng_(params.seed) {}

int32_t Sampler::sample(float* logits, int32_t n_vocab, const std::vector<int32_t>& recent) {
  if (p_.repetition_penalty != 1.0f) {
    const size_t last_n = p_.repetition_last_n > 0 ? static_cast<size_t>(p_.repetition_last_n) : 64;
    // Each distinct recent token is penalised once; the buffer is a member so no step allocates.
    penalized_.assign(recent.end() - static_cast<long>(std::min(last_n, recent.size())), recent.end());
    std::sort(penalized_.begin(), penalized_.end());
    penalized_.erase(std::unique(penalized_.begin(), penalized_.end()), penalized_.end());
    for (int32_t t : penalized_) {
      if (t < 0 || t >= n_vocab) continue;
      float& l = logits[t];
      l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
    }
  }
  if (p_.temperature <= 0) return argmax(logits, n_vocab);

  candidates_.clear();
  for (int32_t i = 0; i < n_vocab; ++i) candidates_.emplace_back(logits[i], i);
  auto descending = [](const auto& a, const auto& b) { return a.first > b.first; };
  // Only as much of the order as top-k / top-p need is established: sorting the whole vocabulary
  // for every token of every request is the dominant cost of sampling a large batch.
  size_t sorted = 0;  // candidates_[0, sorted) are the largest, in descending order
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < candidates_.size()) {
    sorted = static_cast<size_t>(p_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<long>(sorted), candidates_.end(), descending);
    candidates_.resize(sorted);
  }
  // Softmax over the survivors at this temperature.
  float mx = candidates_.front().first;
  for (const auto& c : candidates_) mx = std::max(mx, c.first);
  double sum = 0;
  for (auto& c : candidates_) {
    c.first = std::exp((c.first - mx) / p_.temperature);
    sum += c.first;
  }
  for (auto& c : candidates_) c.first = static_cast<float>(c.first / sum);
  if (p_.top_p < 1.0f) {
    double cum = 0;
    size_t n = 0;
    while (n < candidates_.size()) {
      if (n == sorted) {  // extend the sorted prefix fourfold
        const size_t next = std::min(candidates_.size(), std::max<size_t>(64, sorted * 4));
        const auto first = candidates_.begin() + static_cast<long>(sorted), last = candidates_.begin() + static_cast<long>(next);
        std::nth_element(first, last - 1, candidates_.end(), descending);
        std::sort(first, last, descending);
        sorted = next;
      }
      cum += candidates_[n++].first;
      if (cum >= p_.top_p) break;
    }
    candidates_.resize(n);
  }
  if (p_.min_p > 0) {
    // Relative to the most probable token (probability 1 / sum), which always stays.
    const float floor = static_cast<float>(1.0 / sum) * p_.min_p;
    candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(), [&](const auto& c) { return c.first < floor; }),
                      candidates_.end());
  }
  double total = 0;
  for (const auto& c : candidates_) total += c.first;
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_);
  for (const auto& c : candidates_) {
    r -= c.first;
    if (r <= 0) return c.second;
  }
  return candidates_.back().second;
}

}  // namespace ol
