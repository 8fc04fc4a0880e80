// Next-token sampling: repetition penalty, then greedy (temperature 0) or top-k, temperature,
// top-p, min-p and a draw from a seeded generator (same seed, same tokens).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "ol_engine.h"

namespace ol {

class Sampler {
 public:
  explicit Sampler(const ol_sampling_params& params);
  // logits are modified in place; recent = previously seen tokens (prompt and output).
  int32_t sample(float* logits, int32_t n_vocab, const std::vector<int32_t>& recent);

 private:
  ol_sampling_params p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
  std::vector<int32_t> penalized_;  // distinct recent tokens (repetition penalty)
};

// Index of the first largest logit (greedy decoding), in a scan the compiler vectorises.
int32_t argmax(const float* logits, int32_t n);

// Checks sampling parameters; throws ol::Error(INVALID_ARGUMENT) naming the bad one.
void validate_sampling(const ol_sampling_params& p);

}  // namespace ol
