// Portable reference kernels: the ground truth the SIMD sets are tested against. Q4_0, Q4_1 and
// Q8_0 accumulate blocks in order with fused multiply-adds (see kernels_x86.inc).
#include <cmath>
#include <cstring>

#include "cpu/kernels.h"

namespace ol {
namespace {

float dot_f32(const float* a, const float* b, size_t n) {
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
float row_f32(const void* w, const void* x, size_t n) { return dot_f32(static_cast<const float*>(w), static_cast<const float*>(x), n); }
float row_f16(const void* w, const void* x, size_t n) {
  const auto* h = static_cast<const f16_bits*>(w);
  const auto* xf = static_cast<const float*>(x);
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += f16_to_f32(h[i]) * xf[i];
  return s;
}
float row_bf16(const void* w, const void* x, size_t n) {
  const auto* h = static_cast<const uint16_t*>(w);
  const auto* xf = static_cast<const float*>(x);
  float s = 0;
  for (size_t i = 0; i < n; ++i) s += bf16_to_f32(h[i]) * xf[i];
  return s;
}

float row_q4_0(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  float s = 0;
  for (size_t i = 0; i < n / 32; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j)
      sumi += ((b[i].qs[j] & 0xF) - 8) * a[i].qs[j] + ((b[i].qs[j] >> 4) - 8) * a[i].qs[j + 16];
    s = std::fma(static_cast<float>(sumi), f16_to_f32(b[i].d) * a[i].d, s);
  }
  return s;
}
float row_q4_1(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  float s = 0;
  for (size_t i = 0; i < n / 32; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) sumi += (b[i].qs[j] & 0xF) * a[i].qs[j] + (b[i].qs[j] >> 4) * a[i].qs[j + 16];
    s = std::fma(static_cast<float>(sumi), f16_to_f32(b[i].d) * a[i].d, s);
    s = std::fma(f16_to_f32(b[i].m), a[i].s, s);
  }
  return s;
}
float row_q8_0(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  float s = 0;
  for (size_t i = 0; i < n / 32; ++i) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += b[i].qs[j] * a[i].qs[j];
    s = std::fma(static_cast<float>(sumi), f16_to_f32(b[i].d) * a[i].d, s);
  }
  return s;
}
float row_q4_k(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  float s = 0;
  for (size_t i = 0; i < n / 256; ++i) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      if (j < 4) {
        sc = b[i].scales[j] & 63;
        m = b[i].scales[j + 4] & 63;
      } else {
        sc = static_cast<uint8_t>((b[i].scales[j + 4] & 0xF) | ((b[i].scales[j - 4] >> 6) << 4));
        m = static_cast<uint8_t>((b[i].scales[j + 4] >> 4) | ((b[i].scales[j] >> 6) << 4));
      }
      const uint8_t* q = b[i].qs + 32 * (j / 2);
      const BlockQ8Act& act = a[i * 8 + static_cast<size_t>(j)];
      int sumi = 0;
      for (int l = 0; l < 32; ++l) sumi += ((j & 1) ? (q[l] >> 4) : (q[l] & 0xF)) * act.qs[l];
      s += d * sc * act.d * static_cast<float>(sumi) - dmin * m * act.s;
    }
  }
  return s;
}
float row_q6_k(const void* w, const void* x, size_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(w);
  const auto* a = static_cast<const BlockQ8Act*>(x);
  float s = 0;
  for (size_t i = 0; i < n / 256; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int blk = 0; blk < 8; ++blk) {  // 32 elements: chunk c, part p
      const int c = blk / 4, p = blk % 4;
      const uint8_t* ql = b[i].ql + c * 64 + (p & 1) * 32;
      const uint8_t* qh = b[i].qh + c * 32;
      const BlockQ8Act& act = a[i * 8 + static_cast<size_t>(blk)];
      int sum_lo = 0, sum_hi = 0;
      for (int l = 0; l < 32; ++l) {
        const int nib = p >= 2 ? (ql[l] >> 4) : (ql[l] & 0xF);
        const int q = (nib | (((qh[l] >> (2 * p)) & 3) << 4)) - 32;
        (l < 16 ? sum_lo : sum_hi) += q * act.qs[l];
      }
      s += d * act.d * static_cast<float>(b[i].scales[2 * blk] * sum_lo + b[i].scales[2 * blk + 1] * sum_hi);
    }
  }
  return s;
}

void f32_to_f16_row(const float* x, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
}
void mad_f16(uint16_t* y, const uint16_t* x, float a, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = f32_to_f16(std::fma(f16_to_f32(x[i]), a, f16_to_f32(y[i])));
}
void scale_f16(uint16_t* y, float a, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = f32_to_f16(f16_to_f32(y[i]) * a);
}

KernelSet make_set() {
  KernelSet k{};
  k.isa = "scalar";
  k.row_dot[static_cast<int>(DType::F32)] = row_f32;
  k.row_dot[static_cast<int>(DType::F16)] = row_f16;
  k.row_dot[static_cast<int>(DType::BF16)] = row_bf16;
  k.row_dot[static_cast<int>(DType::Q4_0)] = row_q4_0;
  k.row_dot[static_cast<int>(DType::Q4_1)] = row_q4_1;
  k.row_dot[static_cast<int>(DType::Q8_0)] = row_q8_0;
  k.row_dot[static_cast<int>(DType::Q4_K)] = row_q4_k;
  k.row_dot[static_cast<int>(DType::Q6_K)] = row_q6_k;
  k.quantize_act = quantize_activations_ref;
  k.f32_to_f16_row = f32_to_f16_row;
  k.mad_f16 = mad_f16;
  k.scale_f16 = scale_f16;
  return k;
}

}  // namespace

const KernelSet& kernels_scalar() {
  static const KernelSet set = make_set();
  return set;
}

}  // namespace ol
