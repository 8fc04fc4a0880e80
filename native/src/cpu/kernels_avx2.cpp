// AVX2 + FMA + F16C kernels. This translation unit alone is compiled with -mavx2 -mfma -mf16c;
// it is only called after cpuid says the CPU has them (see kernels.cpp).
#include <immintrin.h>

#include <cmath>

#include "cpu/kernels.h"

namespace ol {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 unsigned bytes (0..127) times 32 signed bytes, summed in pairs then quads -> 8 int32 as float.
inline __m256 dot_u8_s8(__m256i u, __m256i s) {
  const __m256i p16 = _mm256_maddubs_epi16(u, s);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}
// Signed x signed through the sign trick.
inline __m256 dot_s8_s8(__m256i a, __m256i b) {
  return dot_u8_s8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}
// 16 bytes of packed nibbles -> 32 bytes: low nibbles first, then high nibbles.
inline __m256i unpack_nibbles(const uint8_t* p) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
  return _mm256_and_si256(both, _mm256_set1_epi8(0xF));
}
inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

float dot_f32(const float* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}
float row_f32(const void* w, const void* x, size_t n) { return dot_f32(static_cast<const float*>(w), static_cast<const float*>(x), n); }
float row_f16(const void* w, const void* x, size_t n) {
  const auto* h = static_cast<const f16_bits*>(w);
  const auto* xf = static_cast<const float*>(x);
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i)));
    acc = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xf + i), acc);
  }
  float s = hsum(acc);
  for (; i < n; ++i) s += f16_to_f32(h[i]) * xf[i];
  return s;
}
float row_bf16(const void* w, const void* x, size_t n) {
  const auto* h = static_cast<const uint16_t*>(w);
  const auto* xf = static_cast<const float*>(x);
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i wi = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))), 16);
    acc = _mm256_fmadd_ps(_mm256_castsi256_ps(wi), _mm256_loadu_ps(xf + i), acc);
  }
  float s = hsum(acc);
  for (; i < n; ++i) s += bf16_to_f32(h[i]) * xf[i];
  return s;
}

float row_q4_0(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (size_t i = 0; i < n / 32; ++i) {
    const __m256i q = _mm256_sub_epi8(unpack_nibbles(b[i].qs), _mm256_set1_epi8(8));
    const __m256 scale = _mm256_set1_ps(_cvtsh_ss(b[i].d) * a[i].d);
    acc = _mm256_fmadd_ps(scale, dot_s8_s8(q, load32(a[i].qs)), acc);
  }
  return hsum(acc);
}
float row_q4_1(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  for (size_t i = 0; i < n / 32; ++i) {
    const __m256 scale = _mm256_set1_ps(_cvtsh_ss(b[i].d) * a[i].d);
    acc = _mm256_fmadd_ps(scale, dot_u8_s8(unpack_nibbles(b[i].qs), load32(a[i].qs)), acc);
    offset += _cvtsh_ss(b[i].m) * a[i].s;
  }
  return hsum(acc) + offset;
}
float row_q8_0(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (size_t i = 0; i < n / 32; ++i) {
    const __m256 scale = _mm256_set1_ps(_cvtsh_ss(b[i].d) * a[i].d);
    acc = _mm256_fmadd_ps(scale, dot_s8_s8(load32(b[i].qs), load32(a[i].qs)), acc);
  }
  return hsum(acc);
}
float row_q4_k(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  const __m256i low_mask = _mm256_set1_epi8(0xF);
  for (size_t i = 0; i < n / 256; ++i) {
    const float d = _cvtsh_ss(b[i].d), dmin = _cvtsh_ss(b[i].dmin);
    const uint8_t* s = b[i].scales;
    uint8_t sc[8], m[8];
    for (int j = 0; j < 4; ++j) {
      sc[j] = s[j] & 63;
      m[j] = s[j + 4] & 63;
      sc[j + 4] = static_cast<uint8_t>((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
      m[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
    const BlockQ8Act* act = a + i * 8;
    for (int j = 0; j < 4; ++j) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 32 * j));
      const __m256i lo = _mm256_and_si256(q, low_mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      const BlockQ8Act& a0 = act[2 * j];
      const BlockQ8Act& a1 = act[2 * j + 1];
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc[2 * j] * a0.d), dot_u8_s8(lo, load32(a0.qs)), acc);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc[2 * j + 1] * a1.d), dot_u8_s8(hi, load32(a1.qs)), acc);
      mins += dmin * (m[2 * j] * a0.s + m[2 * j + 1] * a1.s);
    }
  }
  return hsum(acc) - mins;
}
float row_q6_k(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  __m256 acc = _mm256_setzero_ps();
  const __m256i low_mask = _mm256_set1_epi8(0xF), two_bits = _mm256_set1_epi8(3), bias = _mm256_set1_epi8(32);
  for (size_t i = 0; i < n / 256; ++i) {
    const float d = _cvtsh_ss(b[i].d);
    for (int c = 0; c < 2; ++c) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qh + 32 * c));
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].ql + 64 * c));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].ql + 64 * c + 32));
      for (int p = 0; p < 4; ++p) {
        const __m256i ql = (p & 1) ? ql1 : ql0;
        const __m256i nib = p >= 2 ? _mm256_and_si256(_mm256_srli_epi16(ql, 4), low_mask) : _mm256_and_si256(ql, low_mask);
        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), two_bits);
        const __m256i q = _mm256_or_si256(nib, _mm256_slli_epi16(high, 4));  // 0..63
        const int blk = c * 4 + p;
        const BlockQ8Act& act = a[i * 8 + static_cast<size_t>(blk)];
        const __m256i av = load32(act.qs);
        const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q, av), _mm256_maddubs_epi16(bias, av));
        const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(b[i].scales[2 * blk + 1]), _mm_set1_epi16(b[i].scales[2 * blk]));
        const __m256 sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, scales));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * act.d), sum, acc);
      }
    }
  }
  return hsum(acc);
}

void quantize_act(const float* x, BlockQ8Act* out, size_t n) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (size_t i = 0; i < n / 32; ++i, x += 32) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
      q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i sum32 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    // Pack 32 int32 -> 32 int8 in order (packs interleave lanes; the permute restores the order).
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[i].qs), p);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum32), _mm256_extracti128_si256(sum32, 1));
    s = _mm_hadd_epi32(s, s);
    s = _mm_hadd_epi32(s, s);
    out[i].d = d;
    out[i].s = d * static_cast<float>(_mm_cvtsi128_si32(s));
  }
}

KernelSet make_set() {
  KernelSet k{};
  k.isa = "avx2";
  k.row_dot[static_cast<int>(DType::F32)] = row_f32;
  k.row_dot[static_cast<int>(DType::F16)] = row_f16;
  k.row_dot[static_cast<int>(DType::BF16)] = row_bf16;
  k.row_dot[static_cast<int>(DType::Q4_0)] = row_q4_0;
  k.row_dot[static_cast<int>(DType::Q4_1)] = row_q4_1;
  k.row_dot[static_cast<int>(DType::Q8_0)] = row_q8_0;
  k.row_dot[static_cast<int>(DType::Q4_K)] = row_q4_k;
  k.row_dot[static_cast<int>(DType::Q6_K)] = row_q6_k;
  k.quantize_act = quantize_act;
  k.dot_f32 = dot_f32;
  return k;
}

}  // namespace

const KernelSet* kernels_avx2() {
  static const KernelSet set = make_set();
  return &set;
}

}  // namespace ol
