// Elementwise and attention helpers that reproduce llama.cpp's CPU arithmetic bit for bit (its
// AVX-512 build, the one node-llama-cpp loads on this class of CPU): the vectorised exp used by its
// SwiGLU and softmax, and the summation orders of its half-precision and tiled attention dot
// products. Agreement with llama.cpp on near-tied tokens depends on these last bits
// (native/tests/conformance.test.ts). AVX-512, AVX2 and portable sets with identical results,
// chosen at run time with cpu/kernels.h's set (OL_ISA=scalar|avx2 forces a lower one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ol {

struct VecMath {
  std::string_view isa;  // "scalar", "avx2", "avx512"
  // a[i] = a[i] / (1 + exp(-a[i])) * b[i]: exp is llama.cpp's polynomial over blocks of 16 values,
  // the C library's exp for the n % 16 tail.
  void (*silu_mul)(float* a, const float* b, size_t n);
  // y[i] = exp(x[i] - max) (same exp); returns their sum: per block of 16 a float tree sum, the
  // blocks added in double.
  double (*exp_sum)(float* y, const float* x, float max, size_t n);
  // out[j] = q . keys[j], all in half precision, each in ggml_vec_dot_f16's order (4 x 16 float
  // lanes, a fixed tree, a double tail): llama.cpp's one-row flash attention.
  void (*dot_keys_f16_half)(const uint16_t* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out);
  // out[j] = q . keys[j] (keys in half precision), each a chain of fused multiply-adds in element
  // order starting from zero: llama.cpp's tiled flash attention. n_keys <= 64.
  void (*dot_keys_f16)(const float* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out);
  // y[i] = fma(x[i], a, y[i]) with x in half precision.
  void (*mad_f16_f32)(float* y, const uint16_t* x, float a, size_t n);
};

const VecMath& vec_math();
// Each set, or nullptr where the CPU lacks it (tests compare them with the portable one).
const VecMath& vec_math_scalar();
const VecMath* vec_math_avx2();
const VecMath* vec_math_avx512();
// The constants of llama.cpp's vectorised exp (ggml_v_expf), shared by every set: x = n ln2 + b with
// n = round(x / ln2) (via the shift) and ln2 split in two parts; exp(b) by a degree-5 polynomial,
// c5 b^5 + ... + c1 b + 1 in Estrin form; then 2^n.
namespace exp_poly {
inline constexpr float kShift = 0x1.8p23f, kInvLn2 = 0x1.715476p+0f, kLn2Hi = 0x1.62e4p-1f, kLn2Lo = 0x1.7f7d1cp-20f;
inline constexpr float kC5 = 0x1.0e4020p-7f, kC4 = 0x1.573e2ep-5f, kC3 = 0x1.555e66p-3f, kC2 = 0x1.fffdb6p-2f, kC1 = 0x1.ffffecp-1f;
}  // namespace exp_poly

// llama.cpp's vectorised exp (its AVX-512 form) for one value: the portable set's building block.
float exp_lane(float x);

}  // namespace ol
