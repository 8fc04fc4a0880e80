// LoRA on the CPU, segment-wise (SGMV): rows are grouped by adapter; each group's rows are shrunk
// with A (t = scale * x A^T, rank-sized) and expanded with B (y += t B^T).
//
// With many adapters in one decode step every group is a single row, so each step streams every
// adapter's A and B once: the cost is memory traffic, not arithmetic. The kernels therefore read
// each matrix exactly once per step, in storage order, as F32 or as stored F16/BF16 (half the bytes):
//   shrink: a block of up to kRowBlock rows against each row of A (one pass over A per block);
//   expand: B stays [out, rank] as stored (no transposed copy at load, which would slow cold loads);
//           a 16 x 16 tile of B is transposed in registers so 16 outputs take rank broadcast-FMAs.
// Resident int8 components (a quarter of F32's bytes) have their own kernels (lora_q8_cpu.h); this
// file gives them their shrunk values as int16.
// GCC 12 flags the intentionally undefined lanes inside its own AVX-512 intrinsics (shuffles,
// conversions) as (maybe-)uninitialized once they are inlined into target("avx512f") functions; the
// pragmas must precede the headers, where the warning is located.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu/kernels.h"
#include "cpu/quant.h"
#include "runtime/forward_cpu.h"
#include "runtime/lora_q8_cpu.h"
#include "runtime/profile.h"

namespace ol {

struct LoraKernels {
  // t[i * rank + k] = scale[i] * (A[k] . x_i), x_i = in + rows[i] * n_in, for i < n_rows <= kRowBlock.
  void (*shrink)(const LoraMatrices& m, size_t rank, const float* in, const int32_t* rows, const float* scale, size_t n_rows, float* t);
  // out[rows[i] * n_out + o] += t[i * rank ...] . B[o] for o in [o0, o1), i < n_rows.
  void (*expand)(const LoraMatrices& m, size_t rank, const float* t, float* out, const int32_t* rows, size_t n_rows, size_t o0, size_t o1);
};

namespace {

constexpr size_t kRowBlock = 4;   // rows of one group shrunk together
constexpr size_t kOutBlock = 16;  // outputs per expand tile
// Expand tasks own whole I8 panels of outputs, at least two.
constexpr size_t kOutUnit = Q8Layout::kOutPanel, kOutUnitsPerTask = 2;

// ------------------------------------------------------------------------------------ portable

template <DType kType>
float element(const void* p, size_t i) {
  if constexpr (kType == DType::F16) return f16_to_f32(static_cast<const f16_bits*>(p)[i]);
  else if constexpr (kType == DType::BF16) return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  else return static_cast<const float*>(p)[i];
}


template <DType kType>
void shrink_portable(const LoraMatrices& m, size_t rank, const float* in, const int32_t* rows, const float* scale, size_t n_rows, float* t) {
  const size_t n_in = static_cast<size_t>(m.in);
  for (size_t k = 0; k < rank; ++k) {
    float acc[kRowBlock] = {};
    for (size_t j = 0; j < n_in; ++j) {
      const float a = element<kType>(m.a, k * n_in + j);
      for (size_t i = 0; i < n_rows; ++i) acc[i] += a * in[static_cast<size_t>(rows[i]) * n_in + j];
    }
    for (size_t i = 0; i < n_rows; ++i) t[i * rank + k] = scale[i] * acc[i];
  }
}

template <DType kType>
void expand_portable(const LoraMatrices& m, size_t rank, const float* t, float* out, const int32_t* rows, size_t n_rows, size_t o0, size_t o1) {
  const size_t n_out = static_cast<size_t>(m.out);
  for (size_t o = o0; o < o1; ++o)
    for (size_t i = 0; i < n_rows; ++i) {
      float acc = 0;
      for (size_t k = 0; k < rank; ++k) acc += t[i * rank + k] * element<kType>(m.b, o * rank + k);
      out[static_cast<size_t>(rows[i]) * n_out + o] += acc;
    }
}

// ------------------------------------------------------------------------------------ AVX-512

#define OL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

OL_AVX512 inline __mmask16 first_lanes(size_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

OL_AVX512 inline float sum16(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  __m128 x = _mm512_castps512_ps128(v);
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_shuffle_ps(x, x, 1)));
}

// 16 elements from p + i (lanes outside `mask` are zero and not read).
template <DType kType>
OL_AVX512 inline __m512 load16(const void* p, size_t i, __mmask16 mask) {
  if constexpr (kType == DType::F16) {
    return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_maskz_loadu_epi16(mask, static_cast<const f16_bits*>(p) + i));
  } else if constexpr (kType == DType::BF16) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(p) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  } else {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(p) + i);
  }
}

// r[j] lane k  ->  r[k] lane j.
OL_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// kRanks rows of A against kRows activation rows: kRanks x kRows independent accumulator chains,
// so the FMA latency overlaps and more loads of A are in flight.
// Lane j of the result = the sum of the lanes of p[j] (four levels of pairwise shuffles and adds:
// half the shuffles of a 16 x 16 transpose).
OL_AVX512 inline __m512 sum_each16(const __m512 p[16]) {
  __m512 pairs[8], quads[4];
  for (int i = 0; i < 8; ++i)  // per 128-bit lane: [p2i, p2i+1, p2i, p2i+1]
    pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(p[2 * i], p[2 * i + 1]), _mm512_unpackhi_ps(p[2 * i], p[2 * i + 1]));
  for (int i = 0; i < 4; ++i)  // per 128-bit lane: [p4i .. p4i+3], each summed over that lane
    quads[i] = _mm512_add_ps(_mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], 0x44), _mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], 0xEE));
  const __m512 lo = _mm512_add_ps(_mm512_shuffle_f32x4(quads[0], quads[1], 0x44), _mm512_shuffle_f32x4(quads[0], quads[1], 0xEE));
  const __m512 hi = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2], quads[3], 0x44), _mm512_shuffle_f32x4(quads[2], quads[3], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_f32x4(lo, hi, 0x88), _mm512_shuffle_f32x4(lo, hi, 0xDD));
}

template <DType kType, size_t kRows, size_t kRanks>
OL_AVX512 void shrink_avx512_tile(const LoraMatrices& m, size_t rank, size_t k0, const float* const* x, const float* scale, float* t) {
  const size_t n_in = static_cast<size_t>(m.in);
  __m512 acc[kRanks][kRows];
  for (size_t q = 0; q < kRanks; ++q)
    for (size_t i = 0; i < kRows; ++i) acc[q][i] = _mm512_setzero_ps();
  for (size_t j = 0; j < n_in; j += 16) {
    const __mmask16 mask = first_lanes(n_in - j);
    __m512 xv[kRows];
    for (size_t i = 0; i < kRows; ++i) xv[i] = _mm512_maskz_loadu_ps(mask, x[i] + j);
    for (size_t q = 0; q < kRanks; ++q) {
      const __m512 a = load16<kType>(m.a, (k0 + q) * n_in + j, mask);
      for (size_t i = 0; i < kRows; ++i) acc[q][i] = _mm512_fmadd_ps(a, xv[i], acc[q][i]);
    }
  }
  for (size_t q = 0; q < kRanks; ++q)
    for (size_t i = 0; i < kRows; ++i) t[i * rank + k0 + q] = scale[i] * sum16(acc[q][i]);
}

template <DType kType, size_t kRows>
OL_AVX512 void shrink_avx512_rows(const LoraMatrices& m, size_t rank, const float* in, const int32_t* rows, const float* scale, float* t) {
  const float* x[kRows];
  for (size_t i = 0; i < kRows; ++i) x[i] = in + static_cast<size_t>(rows[i]) * static_cast<size_t>(m.in);
  size_t k = 0;
  for (; k + 4 <= rank; k += 4) shrink_avx512_tile<kType, kRows, 4>(m, rank, k, x, scale, t);
  for (; k < rank; ++k) shrink_avx512_tile<kType, kRows, 1>(m, rank, k, x, scale, t);
}

template <DType kType>
OL_AVX512 void shrink_avx512(const LoraMatrices& m, size_t rank, const float* in, const int32_t* rows, const float* scale, size_t n_rows, float* t) {
  static_assert(kRowBlock == 4);
  switch (n_rows) {
    case 1: return shrink_avx512_rows<kType, 1>(m, rank, in, rows, scale, t);
    case 2: return shrink_avx512_rows<kType, 2>(m, rank, in, rows, scale, t);
    case 3: return shrink_avx512_rows<kType, 3>(m, rank, in, rows, scale, t);
    default: return shrink_avx512_rows<kType, 4>(m, rank, in, rows, scale, t);
  }
}

// One row (a decode step's group): 16 outputs are 16 dot products of B rows with t, reduced together.
template <DType kType>
OL_AVX512 void expand_avx512_one_row(const LoraMatrices& m, size_t rank, const float* t, float* y, size_t o0, size_t o1) {
  for (size_t ob = o0; ob < o1; ob += kOutBlock) {
    const size_t n_o = std::min(kOutBlock, o1 - ob);
    __m512 p[16];
    for (size_t j = 0; j < 16; ++j) p[j] = _mm512_setzero_ps();
    for (size_t kc = 0; kc < rank; kc += 16) {
      const __mmask16 k_mask = first_lanes(rank - kc);
      const __m512 tv = _mm512_maskz_loadu_ps(k_mask, t + kc);
      for (size_t j = 0; j < n_o; ++j) p[j] = _mm512_fmadd_ps(load16<kType>(m.b, (ob + j) * rank + kc, k_mask), tv, p[j]);
    }
    const __mmask16 out_mask = first_lanes(n_o);
    _mm512_mask_storeu_ps(y + ob, out_mask, _mm512_add_ps(_mm512_maskz_loadu_ps(out_mask, y + ob), sum_each16(p)));
  }
}

template <DType kType>
OL_AVX512 void expand_avx512(const LoraMatrices& m, size_t rank, const float* t, float* out, const int32_t* rows, size_t n_rows, size_t o0, size_t o1) {
  const size_t n_out = static_cast<size_t>(m.out);
  if (n_rows == 1) return expand_avx512_one_row<kType>(m, rank, t, out + static_cast<size_t>(rows[0]) * n_out, o0, o1);
  // Several rows: each 16 x 16 tile of B is transposed once and used by every row.
  for (size_t ob = o0; ob < o1; ob += kOutBlock) {
    const size_t n_o = std::min(kOutBlock, o1 - ob);
    const __mmask16 out_mask = first_lanes(n_o);
    for (size_t kc = 0; kc < rank; kc += 16) {
      const size_t n_k = std::min<size_t>(16, rank - kc);
      const __mmask16 k_mask = first_lanes(n_k);
      __m512 tile[16];  // rows of B[ob .. ob + 15, kc .. kc + 15], then (transposed) its columns
      for (size_t j = 0; j < 16; ++j) tile[j] = j < n_o ? load16<kType>(m.b, (ob + j) * rank + kc, k_mask) : _mm512_setzero_ps();
      transpose16(tile);
      for (size_t i = 0; i < n_rows; ++i) {
        float* y = out + static_cast<size_t>(rows[i]) * n_out + ob;
        const float* ti = t + i * rank + kc;
        __m512 acc0 = _mm512_maskz_loadu_ps(out_mask, y), acc1 = _mm512_setzero_ps();
        size_t k = 0;
        for (; k + 1 < n_k; k += 2) {
          acc0 = _mm512_fmadd_ps(_mm512_set1_ps(ti[k]), tile[k], acc0);
          acc1 = _mm512_fmadd_ps(_mm512_set1_ps(ti[k + 1]), tile[k + 1], acc1);
        }
        if (k < n_k) acc0 = _mm512_fmadd_ps(_mm512_set1_ps(ti[k]), tile[k], acc0);
        _mm512_mask_storeu_ps(y, out_mask, _mm512_add_ps(acc0, acc1));
      }
    }
  }
}

#undef OL_AVX512

template <DType kType>
const LoraKernels& kernels_for(bool avx512) {
  static const LoraKernels portable{shrink_portable<kType>, expand_portable<kType>};
  static const LoraKernels wide{shrink_avx512<kType>, expand_avx512<kType>};
  return avx512 ? wide : portable;
}

const LoraKernels& lora_kernels(DType dtype, bool avx512) {
  switch (dtype) {
    case DType::F16: return kernels_for<DType::F16>(avx512);
    case DType::BF16: return kernels_for<DType::BF16>(avx512);
    default: return kernels_for<DType::F32>(avx512);
  }
}

}  // namespace

LoraCpu::LoraCpu(std::string_view isa) : avx512_(isa_has_avx512(isa)) {}

void LoraCpu::apply(const BatchPlan& plan, int layer, LinearKind kind, const float* in, int64_t n_in, float* out, int64_t n_out,
                    ThreadPool& pool) {
  profile::Timer timer(profile::kLora);
  segments_.clear();
  shrink_items_.clear();
  size_t t_size = 0, tq_size = 0, q8_rows = 0;
  bool any_q8 = false;
  for (const LoraGroup& g : plan.lora_groups) {
    const LoraMatrices& m = g.weights->layers[static_cast<size_t>(layer)][static_cast<size_t>(kind)];
    if (m.empty()) continue;
    const bool q8 = m.dtype == DType::I8;
    segments_.push_back({&m, &g, t_size, tq_size, q8_rows, q8 ? nullptr : &lora_kernels(m.dtype, avx512_)});
    for (size_t row = 0; row < g.rows.size(); row += kRowBlock) shrink_items_.emplace_back(segments_.size() - 1, row);
    const size_t rank = static_cast<size_t>(g.weights->rank);
    t_size += g.rows.size() * rank;
    if (q8) {
      tq_size += g.rows.size() * Q8Layout::round_up(rank, 2);
      q8_rows += g.rows.size();
    }
    any_q8 |= q8;
  }
  if (segments_.empty()) return;
  t_.resize(t_size);
  const LoraQ8Kernels& q8 = lora_q8_kernels(avx512_);
  // Shrink: one task per block of a group's rows (each reads its A once).
  pool.parallel_for(shrink_items_.size(), 1, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const Segment& sg = segments_[shrink_items_[i].first];
      const size_t row = shrink_items_[i].second, rank = static_cast<size_t>(sg.group->weights->rank);
      const size_t n_rows = std::min(kRowBlock, sg.group->rows.size() - row);
      const int32_t* rows = sg.group->rows.data() + row;
      float* t = t_.data() + sg.t_offset + row * rank;
      if (sg.kernels != nullptr) {
        sg.kernels->shrink(*sg.m, rank, in, rows, sg.group->row_scale.data() + row, n_rows, t);
        continue;
      }
      const float* x[kRowBlock];
      for (size_t r = 0; r < n_rows; ++r) x[r] = in + static_cast<size_t>(rows[r]) * static_cast<size_t>(n_in);
      NextRead next;  // the next item's A when it is another q8 group's (this one's stays cached)
      if (i + 1 < i1 && shrink_items_[i + 1].first != shrink_items_[i].first) {
        const Segment& after = segments_[shrink_items_[i + 1].first];
        if (after.kernels == nullptr) next = q8_a_read(*after.m, static_cast<size_t>(after.group->weights->rank));
      }
      q8.shrink(*sg.m, rank, x, sg.group->row_scale.data() + row, n_rows, t, next);
    }
  });
  // The q8 groups' shrunk values as int16, a scale per row.
  if (any_q8) {
    tq_.resize(tq_size);
    tq_scale_.resize(q8_rows);
    for (const Segment& sg : segments_) {
      if (sg.kernels != nullptr) continue;
      const size_t rank = static_cast<size_t>(sg.group->weights->rank), width = Q8Layout::round_up(rank, 2);
      for (size_t r = 0; r < sg.group->rows.size(); ++r) {
        tq_scale_[sg.q8_row + r] = q8.to_int16(t_.data() + sg.t_offset + r * rank, rank, tq_.data() + sg.tq_offset + r * width, width);
      }
    }
  }
  // Expand one group's rows into outputs [o0, o1); `then` is the group expanded next by the same
  // task (its B is prefetched), or none.
  const auto expand_segment = [&](size_t s, const Segment* then, size_t o0, size_t o1) {
    const Segment& sg = segments_[s];
    const size_t rank = static_cast<size_t>(sg.group->weights->rank), n_rows = sg.group->rows.size();
    if (sg.kernels != nullptr) {
      sg.kernels->expand(*sg.m, rank, t_.data() + sg.t_offset, out, sg.group->rows.data(), n_rows, o0, o1);
      return;
    }
    NextRead next;
    if (then != nullptr && then->kernels == nullptr) next = q8_b_read(*then->m, static_cast<size_t>(then->group->weights->rank), o0, o1);
    const size_t width = Q8Layout::round_up(rank, 2);
    for (size_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
      const size_t n = std::min(kRowBlock, n_rows - r0);
      float* y[kRowBlock];
      float t_scale[kRowBlock];
      for (size_t r = 0; r < n; ++r) {
        y[r] = out + static_cast<size_t>(sg.group->rows[r0 + r]) * static_cast<size_t>(n_out);
        t_scale[r] = tq_scale_[sg.q8_row + r0 + r];
      }
      q8.expand(*sg.m, rank, tq_.data() + sg.tq_offset + r0 * width, t_scale, y, n, o0, o1, next);
    }
  };
  // Expand. When no row is in two groups (only a weighted mix of adapters puts it in several), tasks
  // take whole groups, so each reads whole B matrices front to back; otherwise tasks own disjoint
  // output columns (whole 64-output panels of the q8 layout) and no element is written by two tasks.
  row_seen_.assign(static_cast<size_t>(plan.rows), 0);
  bool rows_disjoint = true;
  for (const Segment& sg : segments_)
    for (int32_t row : sg.group->rows) {
      rows_disjoint &= row_seen_[static_cast<size_t>(row)] == 0;
      row_seen_[static_cast<size_t>(row)] = 1;
    }
  if (rows_disjoint) {
    pool.parallel_for(segments_.size(), 1, [&](size_t s0, size_t s1) {
      for (size_t s = s0; s < s1; ++s) expand_segment(s, s + 1 < s1 ? &segments_[s + 1] : nullptr, 0, static_cast<size_t>(n_out));
    });
    return;
  }
  const size_t n_units = (static_cast<size_t>(n_out) + kOutUnit - 1) / kOutUnit;
  pool.parallel_for(n_units, kOutUnitsPerTask, [&](size_t b0, size_t b1) {
    const size_t o0 = b0 * kOutUnit, o1 = std::min(b1 * kOutUnit, static_cast<size_t>(n_out));
    for (size_t s = 0; s < segments_.size(); ++s) expand_segment(s, s + 1 < segments_.size() ? &segments_[s + 1] : nullptr, o0, o1);
  });
}

}  // namespace ol
