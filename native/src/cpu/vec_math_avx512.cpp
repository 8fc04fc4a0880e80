// AVX-512 VecMath: the same values as vec_math.cpp's portable set, 16 lanes at a time (the width
// llama.cpp's AVX-512 build uses, so its block boundaries and tail handling match). Compiled with
// AVX-512 flags; vec_math() calls it only when cpuid says the CPU has them.
// GCC 12's AVX-512 intrinsics start some results from _mm512_undefined_ps(), which its own
// uninitialised-use warnings then flag inside the headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "cpu/quant.h"
#include "cpu/vec_math.h"

namespace ol {
namespace {

// exp(x) (vec_math.h's exp_poly); scalef applies 2^n. Beyond |n| > 192 the result saturates to 0
// (n < 0) or infinity.
inline __m512 exp16(__m512 x) {
  using namespace exp_poly;
  const __m512 shift = _mm512_set1_ps(kShift);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(kInvLn2), shift);
  const __m512 n = _mm512_sub_ps(z, shift);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 odd = _mm512_fmadd_ps(_mm512_set1_ps(kC5), b, _mm512_set1_ps(kC4));
  const __m512 even = _mm512_fmadd_ps(_mm512_set1_ps(kC3), b, _mm512_set1_ps(kC2));
  const __m512 low = _mm512_fmadd_ps(_mm512_set1_ps(kC1), b, _mm512_set1_ps(1.0f));
  const __m512 poly = _mm512_fmadd_ps(_mm512_fmadd_ps(odd, u, even), u, low);
  const __m512 result = _mm512_scalef_ps(poly, n);
  const __mmask16 saturated = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  if (saturated == 0) return result;
  const __mmask16 negative = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  const __m512 limit = _mm512_mask_blend_ps(negative, _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
  return _mm512_mask_blend_ps(saturated, result, limit);
}

inline __m512 load_half16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

void silu_mul(float* a, const float* b, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(a + i);
    const __m512 silu = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_storeu_ps(a + i, _mm512_mul_ps(silu, _mm512_loadu_ps(b + i)));
  }
  for (; i < n; ++i) a[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

double exp_sum(float* y, const float* x, float max, size_t n) {
  double sum = 0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(max)));
    _mm512_storeu_ps(y + i, e);
    sum += static_cast<double>(_mm512_reduce_add_ps(e));
  }
  for (; i < n; ++i) {
    y[i] = std::exp(x[i] - max);
    sum += static_cast<double>(y[i]);
  }
  return sum;
}

inline float dot_f16(const uint16_t* x, const uint16_t* y, size_t n) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  size_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (size_t j = 0; j < 4; ++j) acc[j] = _mm512_fmadd_ps(load_half16(x + i + 16 * j), load_half16(y + i + 16 * j), acc[j]);
  const __m512 total = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3]));
  double sum = static_cast<double>(_mm512_reduce_add_ps(total));
  for (; i < n; ++i) sum += static_cast<double>(f16_to_f32(x[i]) * f16_to_f32(y[i]));
  return static_cast<float>(sum);
}

void dot_keys_f16_half(const uint16_t* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out) {
  // Inlined here so that the keys' independent reductions overlap in the pipeline.
  for (size_t j = 0; j < n_keys; ++j) out[j] = dot_f16(keys[j], q, n);
}

void dot_keys_f16(const float* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out) {
  // 16 keys per pass, one per lane: each key's row converted to float, then lane l reads element
  // i of key l (a gather with stride n), so each lane runs its own fma chain in element order.
  thread_local float rows[16 * 256];
  const size_t width = (n + 15) / 16 * 16;
  if (width > 256) return vec_math_scalar().dot_keys_f16(q, keys, n_keys, n, out);  // wider than any head seen
  const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(static_cast<int>(width)));
  for (size_t j0 = 0; j0 < n_keys; j0 += 16) {
    const size_t count = n_keys - j0 < 16 ? n_keys - j0 : 16;
    for (size_t l = 0; l < 16; ++l) {
      float* row = rows + l * width;
      if (l >= count) {
        for (size_t i = 0; i < width; ++i) row[i] = 0.0f;
        continue;
      }
      const uint16_t* key = keys[j0 + l];
      size_t i = 0;
      for (; i + 16 <= n; i += 16) _mm512_storeu_ps(row + i, load_half16(key + i));
      for (; i < n; ++i) row[i] = f16_to_f32(key[i]);
    }
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < n; ++i) acc = _mm512_fmadd_ps(_mm512_i32gather_ps(index, rows + i, 4), _mm512_set1_ps(q[i]), acc);
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, acc);
    for (size_t l = 0; l < count; ++l) out[j0 + l] = lanes[l];
  }
}

void mad_f16_f32(float* y, const uint16_t* x, float a, size_t n) {
  const __m512 av = _mm512_set1_ps(a);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(load_half16(x + i), av, _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(f16_to_f32(x[i]), a, y[i]);
}

}  // namespace

const VecMath* vec_math_avx512() {
  static const VecMath set{"avx512", silu_mul, exp_sum, dot_keys_f16_half, dot_keys_f16, mad_f16_f32};
  return __builtin_cpu_supports("avx512f") ? &set : nullptr;
}

}  // namespace ol
