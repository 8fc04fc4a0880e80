// AVX2 + FMA VecMath: the AVX-512 build's values (vec_math.h), 8 lanes at a time — each 16-lane
// block of llama.cpp's AVX-512 code is two 8-lane halves, reduced in the same tree. Compiled with
// AVX2 flags; vec_math() calls it only when cpuid says the CPU has them.
#include <immintrin.h>

#include <cmath>

#include "cpu/quant.h"
#include "cpu/vec_math.h"

namespace ol {
namespace {

// vec_math_avx512.cpp's exp, without scalef: 2^n is built from its exponent bits when it is a
// normal float (|n| <= 126; the product then rounds once, as scalef does); the rare other lanes
// take exp_lane.
inline __m256 exp8(__m256 x) {
  using namespace exp_poly;
  const __m256 shift = _mm256_set1_ps(kShift);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(kInvLn2), shift);
  const __m256 n = _mm256_sub_ps(z, shift);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 odd = _mm256_fmadd_ps(_mm256_set1_ps(kC5), b, _mm256_set1_ps(kC4));
  const __m256 even = _mm256_fmadd_ps(_mm256_set1_ps(kC3), b, _mm256_set1_ps(kC2));
  const __m256 low = _mm256_fmadd_ps(_mm256_set1_ps(kC1), b, _mm256_set1_ps(1.0f));
  const __m256 poly = _mm256_fmadd_ps(_mm256_fmadd_ps(odd, u, even), u, low);
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 result = _mm256_mul_ps(poly, _mm256_castsi256_ps(exponent));
  if (_mm256_movemask_ps(_mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0f), _CMP_GT_OQ)) == 0) return result;
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, x);
  for (float& lane : lanes) lane = exp_lane(lane);
  return _mm256_load_ps(lanes);
}

inline __m256 load_half8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// lo + hi are the 16 lanes of an AVX-512 vector: _mm512_reduce_add_ps's tree.
inline float tree_sum16(__m256 lo, __m256 hi) {
  const __m256 h = _mm256_add_ps(lo, hi);
  const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  const __m128 p = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(p, _mm_movehdup_ps(p)));
}

inline __m256 silu8(__m256 x) {
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

void silu_mul(float* a, const float* b, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (size_t h = i; h < i + 16; h += 8) _mm256_storeu_ps(a + h, _mm256_mul_ps(silu8(_mm256_loadu_ps(a + h)), _mm256_loadu_ps(b + h)));
  if (i < n) vec_math_scalar().silu_mul(a + i, b + i, n - i);  // under 16 left: the libm tail
}

double exp_sum(float* y, const float* x, float max, size_t n) {
  double sum = 0;
  size_t i = 0;
  const __m256 m = _mm256_set1_ps(max);
  for (; i + 16 <= n; i += 16) {
    const __m256 lo = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m)), hi = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m));
    _mm256_storeu_ps(y + i, lo);
    _mm256_storeu_ps(y + i + 8, hi);
    sum += static_cast<double>(tree_sum16(lo, hi));
  }
  if (i < n) sum += vec_math_scalar().exp_sum(y + i, x + i, max, n - i);
  return sum;
}

float dot_f16(const uint16_t* x, const uint16_t* y, size_t n) {
  __m256 acc[8];  // the AVX-512 build's 4 accumulators, as low and high halves
  for (__m256& a : acc) a = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (size_t j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(load_half8(x + i + 8 * j), load_half8(y + i + 8 * j), acc[j]);
  // (0 + 2) + (1 + 3), per half: accumulator k's halves are acc[2k] and acc[2k + 1].
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
  double sum = static_cast<double>(tree_sum16(lo, hi));
  for (; i < n; ++i) sum += static_cast<double>(f16_to_f32(x[i]) * f16_to_f32(y[i]));
  return static_cast<float>(sum);
}

void dot_keys_f16_half(const uint16_t* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out) {
  for (size_t j = 0; j < n_keys; ++j) out[j] = dot_f16(keys[j], q, n);
}

void dot_keys_f16(const float* q, const uint16_t* const* keys, size_t n_keys, size_t n, float* out) {
  // 8 keys per pass, one per lane (see vec_math_avx512.cpp).
  thread_local float rows[8 * 256];
  const size_t width = (n + 7) / 8 * 8;
  if (width > 256) return vec_math_scalar().dot_keys_f16(q, keys, n_keys, n, out);
  const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(width)));
  for (size_t j0 = 0; j0 < n_keys; j0 += 8) {
    const size_t count = n_keys - j0 < 8 ? n_keys - j0 : 8;
    for (size_t l = 0; l < 8; ++l) {
      float* row = rows + l * width;
      if (l >= count) {
        for (size_t i = 0; i < width; ++i) row[i] = 0.0f;
        continue;
      }
      const uint16_t* key = keys[j0 + l];
      size_t i = 0;
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(row + i, load_half8(key + i));
      for (; i < n; ++i) row[i] = f16_to_f32(key[i]);
    }
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < n; ++i) acc = _mm256_fmadd_ps(_mm256_i32gather_ps(rows + i, index, 4), _mm256_set1_ps(q[i]), acc);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    for (size_t l = 0; l < count; ++l) out[j0 + l] = lanes[l];
  }
}

void mad_f16_f32(float* y, const uint16_t* x, float a, size_t n) {
  const __m256 av = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(load_half8(x + i), av, _mm256_loadu_ps(y + i)));
  if (i < n) vec_math_scalar().mad_f16_f32(y + i, x + i, a, n - i);
}

}  // namespace

const VecMath* vec_math_avx2() {
  static const VecMath set{"avx2", silu_mul, exp_sum, dot_keys_f16_half, dot_keys_f16, mad_f16_f32};
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") ? &set : nullptr;
}

}  // namespace ol
