#include "runtime/lora_q8_cpu.h"

// GCC 12 flags the intentionally undefined lanes inside its own AVX-512 intrinsics as
// (maybe-)uninitialized once inlined into target functions; the pragmas must precede the headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ol {

namespace {

constexpr float kInt16Max = 32767.0f;
constexpr size_t kGroup = Q8Layout::kRankGroup, kChunk = Q8Layout::kInChunk, kPanel = Q8Layout::kOutPanel;
// Component pairs per int32 sum in the expand (|sum| <= 256 * 127 * 32767 < 2^31), each block's
// sum added as one term.
constexpr size_t kExpandPairs = 128;

int32_t pair_at(const int16_t* tq, size_t pair) {
  int32_t v;
  std::memcpy(&v, tq + 2 * pair, sizeof v);
  return v;
}

// ------------------------------------------------------------------------------------ portable

float to_int16_portable(const float* x, size_t n, int16_t* q, size_t n_pad) {
  float amax = 0;
  for (size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float inv = amax > 0 ? kInt16Max / amax : 0.0f;
  for (size_t i = 0; i < n; ++i) q[i] = static_cast<int16_t>(std::clamp(std::nearbyint(x[i] * inv), -kInt16Max, kInt16Max));
  std::fill(q + n, q + n_pad, int16_t{0});
  return amax / kInt16Max;
}

void shrink_portable(const LoraMatrices& m, size_t rank, const float* const* x, const float* scale, size_t n_rows, float* t, NextRead) {
  const size_t n_in = static_cast<size_t>(m.in);
  const auto* a = static_cast<const int8_t*>(m.a);
  for (size_t k = 0; k < rank; ++k)
    for (size_t i = 0; i < n_rows; ++i) {
      float dot = 0;
      for (size_t j = 0; j < n_in; ++j) dot += static_cast<float>(a[Q8Layout::a_index(n_in, k, j)]) * x[i][j];
      t[i * rank + k] = scale[i] * m.component_scale[k] * dot;
    }
}

void expand_portable(const LoraMatrices& m, size_t rank, const int16_t* tq, const float* t_scale, float* const* y, size_t n_rows, size_t o0,
                     size_t o1, NextRead) {
  const size_t pairs = Q8Layout::round_up(rank, 2) / 2;
  const auto* b = static_cast<const int8_t*>(m.b);
  for (size_t i = 0; i < n_rows; ++i) {
    const int16_t* ti = tq + i * 2 * pairs;
    for (size_t o = o0; o < o1; ++o) {
      float acc = y[i][o];
      for (size_t p0 = 0; p0 < pairs; p0 += kExpandPairs) {
        int32_t dot = 0;
        for (size_t k = 2 * p0; k < 2 * std::min(pairs, p0 + kExpandPairs); ++k) dot += int32_t{b[Q8Layout::b_index(rank, o, k)]} * ti[k];
        acc = std::fma(static_cast<float>(dot), t_scale[i], acc);
      }
      y[i][o] = acc;
    }
  }
}

// ------------------------------------------------------------------------------------ AVX-512 VNNI

#define OL_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

// Each kernel reads one stream front to back and prefetches (into L2) kReadAheadBytes ahead of
// its reads, on into the next group's matrix.
constexpr size_t kReadAheadBytes = 4096;

struct ReadAhead {
  const uint8_t* data;
  size_t size;
  NextRead next;
  // Called once per 64 bytes read, at `offset` into data.
  OL_VNNI void at(size_t offset) const {
    const size_t target = offset + kReadAheadBytes;
    if (target < size) _mm_prefetch(reinterpret_cast<const char*>(data + target), _MM_HINT_T2);
    else if (target - size < next.size) _mm_prefetch(reinterpret_cast<const char*>(next.data + (target - size)), _MM_HINT_T2);
  }
};

OL_VNNI inline __m512i widen32(const int8_t* p) { return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

OL_VNNI float to_int16_avx512(const float* x, size_t n, int16_t* q, size_t n_pad) {
  __m512 vmax = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, x + i)));
  }
  const float amax = _mm512_reduce_max_ps(vmax);
  const __m512 inv = _mm512_set1_ps(amax > 0 ? kInt16Max / amax : 0.0f);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    // cvtps rounds to nearest even (the default MXCSR mode), as nearbyint does; no value exceeds 32767.
    const __m512i wide = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + i), inv));
    _mm256_mask_storeu_epi16(q + i, mask, _mm512_cvtsepi32_epi16(wide));
  }
  std::fill(q + n, q + n_pad, int16_t{0});
  return amax / kInt16Max;
}

OL_VNNI inline __m512 widen16(const int8_t* p) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))); }

// A group of 4 components against kRows rows; each 128-byte chunk holds 32 inputs of the 4.
template <size_t kRows>
OL_VNNI void shrink_avx512_rows(const LoraMatrices& m, size_t rank, const float* const* x, const float* scale, float* t, NextRead next) {
  const size_t n_in = static_cast<size_t>(m.in), in_pad = Q8Layout::round_up(n_in, kChunk);
  const auto* a = static_cast<const int8_t*>(m.a);
  const ReadAhead ahead{static_cast<const uint8_t*>(m.a), Q8Layout::a_bytes(rank, n_in), next};
  for (size_t k0 = 0; k0 < rank; k0 += kGroup) {
    const int8_t* group = a + k0 * in_pad;
    __m512 acc[kGroup][kRows];
    for (size_t q = 0; q < kGroup; ++q)
      for (size_t i = 0; i < kRows; ++i) acc[q][i] = _mm512_setzero_ps();
    for (size_t j = 0; j < n_in; j += kChunk) {
      const int8_t* chunk = group + j * kGroup;
      const size_t offset = static_cast<size_t>(chunk - a);
      ahead.at(offset);
      ahead.at(offset + 64);
      for (size_t h = 0; h < kChunk; h += 16) {  // the chunk's two halves of 16 inputs
        const size_t left = n_in - std::min(n_in, j + h);
        const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
        __m512 xv[kRows];
        for (size_t i = 0; i < kRows; ++i) xv[i] = _mm512_maskz_loadu_ps(mask, x[i] + j + h);
        for (size_t q = 0; q < kGroup; ++q) {
          const __m512 av = widen16(chunk + q * kChunk + h);  // zero-padded past n_in
          for (size_t i = 0; i < kRows; ++i) acc[q][i] = _mm512_fmadd_ps(av, xv[i], acc[q][i]);
        }
      }
    }
    for (size_t q = 0; q < kGroup && k0 + q < rank; ++q)
      for (size_t i = 0; i < kRows; ++i) t[i * rank + k0 + q] = scale[i] * m.component_scale[k0 + q] * _mm512_reduce_add_ps(acc[q][i]);
  }
}

OL_VNNI void shrink_avx512(const LoraMatrices& m, size_t rank, const float* const* x, const float* scale, size_t n_rows, float* t, NextRead next) {
  switch (n_rows) {
    case 1: return shrink_avx512_rows<1>(m, rank, x, scale, t, next);
    case 2: return shrink_avx512_rows<2>(m, rank, x, scale, t, next);
    case 3: return shrink_avx512_rows<3>(m, rank, x, scale, t, next);
    default: return shrink_avx512_rows<4>(m, rank, x, scale, t, next);
  }
}

// kRows rows x one 64-output panel of int32 accumulators; each pair of components' 128 bytes is
// read once and meets every row's (t[k], t[k+1]).
template <size_t kRows>
OL_VNNI void expand_avx512_rows(const LoraMatrices& m, size_t rank, const int16_t* tq, const float* t_scale, float* const* y, size_t o0,
                                size_t o1, NextRead next) {
  const size_t pairs = Q8Layout::round_up(rank, 2) / 2;
  const auto* b = static_cast<const int8_t*>(m.b);
  const ReadAhead ahead{static_cast<const uint8_t*>(m.b) + o0 * 2 * pairs, Q8Layout::round_up(o1 - o0, kPanel) * 2 * pairs, next};
  for (size_t ob = o0; ob < o1; ob += kPanel) {
    const int8_t* panel = b + ob * 2 * pairs;
    __mmask16 mask[4];
    for (size_t c = 0; c < 4; ++c) {
      const size_t left = ob + 16 * c < o1 ? o1 - ob - 16 * c : 0;
      mask[c] = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    }
    __m512 yv[kRows][4];
    for (size_t i = 0; i < kRows; ++i)
      for (size_t c = 0; c < 4; ++c) yv[i][c] = _mm512_maskz_loadu_ps(mask[c], y[i] + ob + 16 * c);
    for (size_t p0 = 0; p0 < pairs; p0 += kExpandPairs) {
      __m512i acc[kRows][4];
      for (size_t i = 0; i < kRows; ++i)
        for (size_t c = 0; c < 4; ++c) acc[i][c] = _mm512_setzero_si512();
      for (size_t p = p0; p < std::min(pairs, p0 + kExpandPairs); ++p) {
        const int8_t* row = panel + p * 2 * kPanel;  // 64 outputs x (t[2p], t[2p+1]) weights
        const size_t offset = static_cast<size_t>(row - (b + o0 * 2 * pairs));
        ahead.at(offset);
        ahead.at(offset + 64);
        __m512i bv[4];
        for (size_t c = 0; c < 4; ++c) bv[c] = widen32(row + 32 * c);
        for (size_t i = 0; i < kRows; ++i) {
          const __m512i tp = _mm512_set1_epi32(pair_at(tq + i * 2 * pairs, p));
          for (size_t c = 0; c < 4; ++c) acc[i][c] = _mm512_dpwssd_epi32(acc[i][c], bv[c], tp);
        }
      }
      for (size_t i = 0; i < kRows; ++i) {
        const __m512 ts = _mm512_set1_ps(t_scale[i]);
        for (size_t c = 0; c < 4; ++c) yv[i][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][c]), ts, yv[i][c]);
      }
    }
    for (size_t i = 0; i < kRows; ++i)
      for (size_t c = 0; c < 4; ++c) _mm512_mask_storeu_ps(y[i] + ob + 16 * c, mask[c], yv[i][c]);
  }
}

OL_VNNI void expand_avx512(const LoraMatrices& m, size_t rank, const int16_t* tq, const float* t_scale, float* const* y, size_t n_rows, size_t o0,
                           size_t o1, NextRead next) {
  switch (n_rows) {
    case 1: return expand_avx512_rows<1>(m, rank, tq, t_scale, y, o0, o1, next);
    case 2: return expand_avx512_rows<2>(m, rank, tq, t_scale, y, o0, o1, next);
    case 3: return expand_avx512_rows<3>(m, rank, tq, t_scale, y, o0, o1, next);
    default: return expand_avx512_rows<4>(m, rank, tq, t_scale, y, o0, o1, next);
  }
}

#undef OL_VNNI

}  // namespace

const LoraQ8Kernels& lora_q8_kernels(bool avx512) {
  static const LoraQ8Kernels portable{to_int16_portable, shrink_portable, expand_portable};
  static const LoraQ8Kernels wide{to_int16_avx512, shrink_avx512, expand_avx512};
  return avx512 ? wide : portable;
}

NextRead q8_a_read(const LoraMatrices& m, size_t rank) { return {static_cast<const uint8_t*>(m.a), Q8Layout::a_bytes(rank, static_cast<size_t>(m.in))}; }

NextRead q8_b_read(const LoraMatrices& m, size_t rank, size_t o0, size_t o1) {
  const size_t width = Q8Layout::round_up(rank, 2);
  return {static_cast<const uint8_t*>(m.b) + o0 * width, Q8Layout::round_up(o1 - o0, kPanel) * width};
}

}  // namespace ol
