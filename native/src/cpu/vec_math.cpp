// Portable VecMath (std::fma reproduces the vector instructions' single rounding) and the run-time
// choice of set.
#include "cpu/vec_math.h"

#include <cmath>
#include <cstdlib>

#include "cpu/kernels.h"
#include "cpu/quant.h"

namespace ol {

// llama.cpp's ggml_v_expf (AVX-512 form), one lane: a degree-5 polynomial on the reduced argument,
// scaled by 2^n; |n| > 192 saturates to 0 or infinity.
float exp_lane(float x) {
  using namespace exp_poly;
  const float z = std::fma(x, kInvLn2, kShift);
  const float n = z - kShift;
  const float b = std::fma(-n, kLn2Lo, std::fma(-n, kLn2Hi, x));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(kC5, b, kC4), u, std::fma(kC3, b, kC2)), u, std::fma(kC1, b, 1.0f));
  return std::ldexp(j, static_cast<int>(n));
}

namespace {

void silu_mul(float* a, const float* b, size_t n) {
  const size_t blocks = n - n % 16;
  for (size_t i = 0; i < blocks; ++i) a[i] = a[i] / (1.0f + exp_lane(0.0f - a[i])) * b[i];
  for (size_t i = blocks; i < n; ++i) a[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

// The 16 lanes summed as _mm512_reduce_add_ps does: halves, quarters, eighths, then the last pair.
float tree_sum16(const float* v) {
  float h[8];
  for (int i = 0; i < 8; ++i) h[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; ++i) h[i] += h[i + 4];
  for (int i = 0; i < 2; ++i) h[i] += h[i + 2];
  return h[0] + h[1];
}

double exp_sum(float* y, const float* x, float max, size_t n) {
  double sum = 0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (size_t l = 0; l < 16; ++l) y[i + l] = exp_lane(x[i + l] - max);
    sum += static_cast<double>(tree_sum16(y + i));
  }
  for (; i < n; ++i) {
    y[i] = std::exp(x[i] - max);
    sum += static_cast<double>(y[i]);
  }
  return sum;
}

float dot_f16(const uint16_t* x, const uint16_t* y, size_t n) {
  float lanes[64] = {};  // 4 accumulators of 16 lanes
  const size_t blocks = n - n % 64;
  for (size_t i = 0; i < blocks; i += 64)
    for (size_t l = 0; l < 64; ++l) lanes[l] = std::fma(f16_to_f32(x[i + l]), f16_to_f32(y[i + l]), lanes[l]);
  for (size_t l = 0; l < 16; ++l) {
    lanes[l] += lanes[32 + l];
    lanes[16 + l] += lanes[48 + l];
    lanes[l] += lanes[16 + l];
  }
  double sum = static_cast<double>(tree_sum16(lanes));
  for (size_t i = blocks; i < n; ++i) sum += static_cast<double>(f16_to_f32(x[i]) * f16_to_f32(y[i]));
  return static_cast<float>(sum);
}

void dot_keys_f16_half(const uint16_t* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out) {
  for (size_t j = 0; j < n_keys; ++j) out[j] = dot_f16(keys[j], q, n);
}

void dot_keys_f16(const float* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out) {
  for (size_t j = 0; j < n_keys; ++j) {
    float acc = 0.0f;
    for (size_t i = 0; i < n; ++i) acc = std::fma(f16_to_f32(keys[j][i]), q[i], acc);
    out[j] = acc;
  }
}

void mad_f16_f32(float* y, const uint16_t* x, float a, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = std::fma(f16_to_f32(x[i]), a, y[i]);
}

}  // namespace

const VecMath& vec_math_scalar() {
  static const VecMath set{"scalar", silu_mul, exp_sum, dot_keys_f16_half, dot_keys_f16, mad_f16_f32};
  return set;
}

const VecMath& vec_math() {
  // Follows the matmul kernels' choice, so OL_ISA forces both.
  static const VecMath* chosen = [] {
    const VecMath* avx512 = vec_math_avx512();
    const VecMath* avx2 = vec_math_avx2();
    if (isa_has_avx512(kernels().isa) && avx512 != nullptr) return avx512;
    if (kernels().isa != "scalar" && avx2 != nullptr) return avx2;
    return &vec_math_scalar();
  }();
  return *chosen;
}

}  // namespace ol
