// LoRA kernels for resident int8 components (AdapterPrecision::Q8; the layout is Q8Layout in
// lora/adapter.h). The shrink takes the activations as floats (LLM activations have outlier
// channels that a per-row integer scale would crush); the expand takes each row's shrunk values
// as int16 with one scale per row (rank values, no such outliers), so its sums are exact integer
// dot products (AVX-512 VNNI vpdpwssd).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lora/adapter.h"

namespace ol {

// The bytes the caller reads after a kernel call (the next group's matrix: another adapter's
// allocation, which the hardware prefetchers cannot foresee); the AVX-512 kernels prefetch them.
struct NextRead {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

struct LoraQ8Kernels {
  // q[0, n) = x as int16 with the largest |value| at 32767 (rounded to nearest even), q[n, n_pad)
  // = 0; returns the scale that undoes it (0 when x is all zeros).
  float (*to_int16)(const float* x, size_t n, int16_t* q, size_t n_pad);
  // t[i * rank + k] = scale[i] * component_scale[k] * (Aq[k] . x[i]) for i < n_rows <= 4.
  void (*shrink)(const LoraMatrices& m, size_t rank, const float* const* x, const float* scale, size_t n_rows, float* t, NextRead next);
  // y[i][o] += t_scale[i] * float(Bq[o] . tq_i) for o in [o0, o1) (o0 a multiple of 64) and
  // i < n_rows <= 4, one such term per block of 256 components; tq_i = tq + i * round_up(rank, 2).
  void (*expand)(const LoraMatrices& m, size_t rank, const int16_t* tq, const float* t_scale, float* const* y, size_t n_rows, size_t o0,
                 size_t o1, NextRead next);
};

const LoraQ8Kernels& lora_q8_kernels(bool avx512);

// What the kernels read of A, and of B for outputs [o0, o1).
NextRead q8_a_read(const LoraMatrices& m, size_t rank);
NextRead q8_b_read(const LoraMatrices& m, size_t rank, size_t o0, size_t o1);

}  // namespace ol
