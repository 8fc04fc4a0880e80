#include "cpu/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ol {

float f16_to_f32(f16_bits h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { mant <<= 1; ++e; } while ((mant & 0x400) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

f16_bits f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = x & 0x7FFFFF;
  if (((x >> 23) & 0xFF) == 0xFF) return static_cast<f16_bits>(sign | 0x7C00 | (mant ? 0x200 : 0));
  if (exp >= 31) return static_cast<f16_bits>(sign | 0x7C00);
  if (exp <= 0) {
    if (exp < -10) return static_cast<f16_bits>(sign);
    mant |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<f16_bits>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into the exponent: fine
  return static_cast<f16_bits>(half);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7FFF + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

namespace {

// Q4_K packs eight 6-bit scales and mins into 12 bytes.
inline void q4k_scale_min(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void dequant_q4_k(const BlockQ4_K* b, float* y, size_t nb) {
  for (size_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    int is = 0;
    for (int j = 0; j < 256; j += 64) {
      uint8_t sc, m;
      q4k_scale_min(is, b[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      q4k_scale_min(is + 1, b[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

void dequant_q6_k(const BlockQ6_K* b, float* y, size_t nb) {
  for (size_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

int nearest(float x) { return static_cast<int>(std::lround(x)); }

void quant_q4_k(const float* x, BlockQ4_K* b, size_t nb) {
  for (size_t i = 0; i < nb; ++i, x += 256) {
    float scale[8], minv[8];
    for (int j = 0; j < 8; ++j) {
      float lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) { lo = std::min(lo, x[32 * j + l]); hi = std::max(hi, x[32 * j + l]); }
      scale[j] = (hi - lo) / 15.0f;
      minv[j] = -lo;
    }
    const float max_scale = *std::max_element(scale, scale + 8), max_min = *std::max_element(minv, minv + 8);
    const float d = max_scale / 63.0f, dmin = max_min / 63.0f;
    b[i].d = f32_to_f16(d);
    b[i].dmin = f32_to_f16(dmin);
    const float dq = f16_to_f32(b[i].d), dminq = f16_to_f32(b[i].dmin);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      ls[j] = static_cast<uint8_t>(std::clamp(dq > 0 ? nearest(scale[j] / dq) : 0, 0, 63));
      lm[j] = static_cast<uint8_t>(std::clamp(dminq > 0 ? nearest(minv[j] / dminq) : 0, 0, 63));
    }
    std::memset(b[i].scales, 0, 12);
    for (int j = 0; j < 8; ++j) {
      if (j < 4) {
        b[i].scales[j] = ls[j];
        b[i].scales[j + 4] = lm[j];
      } else {
        b[i].scales[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
        b[i].scales[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
        b[i].scales[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
      }
    }
    uint8_t L[256];
    for (int j = 0; j < 8; ++j) {
      const float d1 = dq * ls[j], m1 = dminq * lm[j];
      for (int l = 0; l < 32; ++l)
        L[32 * j + l] = static_cast<uint8_t>(std::clamp(d1 > 0 ? nearest((x[32 * j + l] + m1) / d1) : 0, 0, 15));
    }
    uint8_t* q = b[i].qs;
    for (int j = 0; j < 256; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
  }
}

void quant_q6_k(const float* x, BlockQ6_K* b, size_t nb) {
  for (size_t i = 0; i < nb; ++i, x += 256) {
    float scale[16];
    for (int j = 0; j < 16; ++j) {
      float amax = 0;
      for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
      scale[j] = amax / 31.0f;
    }
    const float max_scale = *std::max_element(scale, scale + 16);
    const float d = max_scale / 127.0f;
    b[i].d = f32_to_f16(d);
    const float dq = f16_to_f32(b[i].d);
    uint8_t L[256];
    for (int j = 0; j < 16; ++j) {
      const int s = std::clamp(dq > 0 ? nearest(scale[j] / dq) : 0, 0, 127);
      b[i].scales[j] = static_cast<int8_t>(s);
      const float step = dq * s;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<uint8_t>(std::clamp(step > 0 ? nearest(x[16 * j + l] / step) : 0, -32, 31) + 32);
    }
    uint8_t* ql = b[i].ql;
    uint8_t* qh = b[i].qh;
    for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t a = L[j + l], c = L[j + l + 32], e = L[j + l + 64], g = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((a & 0xF) | ((e & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((c & 0xF) | ((g & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((a >> 4) | ((c >> 4) << 2) | ((e >> 4) << 4) | ((g >> 4) << 6));
      }
    }
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* y, size_t n) {
  switch (t) {
    case DType::F32: std::memcpy(y, src, n * 4); return;
    case DType::F16: {
      const auto* h = static_cast<const f16_bits*>(src);
      for (size_t i = 0; i < n; ++i) y[i] = f16_to_f32(h[i]);
      return;
    }
    case DType::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) y[i] = bf16_to_f32(h[i]);
      return;
    }
    case DType::Q4_0: {
      const auto* b = static_cast<const BlockQ4_0*>(src);
      for (size_t i = 0; i < n / 32; ++i, y += 32) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < 16; ++j) {
          y[j] = d * ((b[i].qs[j] & 0xF) - 8);
          y[j + 16] = d * ((b[i].qs[j] >> 4) - 8);
        }
      }
      return;
    }
    case DType::Q4_1: {
      const auto* b = static_cast<const BlockQ4_1*>(src);
      for (size_t i = 0; i < n / 32; ++i, y += 32) {
        const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
        for (int j = 0; j < 16; ++j) {
          y[j] = d * (b[i].qs[j] & 0xF) + m;
          y[j + 16] = d * (b[i].qs[j] >> 4) + m;
        }
      }
      return;
    }
    case DType::Q8_0: {
      const auto* b = static_cast<const BlockQ8_0*>(src);
      for (size_t i = 0; i < n / 32; ++i, y += 32) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < 32; ++j) y[j] = d * b[i].qs[j];
      }
      return;
    }
    case DType::Q4_K: dequant_q4_k(static_cast<const BlockQ4_K*>(src), y, n / 256); return;
    case DType::Q6_K: dequant_q6_k(static_cast<const BlockQ6_K*>(src), y, n / 256); return;
    case DType::I8: {
      const auto* q = static_cast<const int8_t*>(src);
      for (size_t i = 0; i < n; ++i) y[i] = q[i];
      return;
    }
  }
}

void quantize_row(DType t, const float* x, void* dst, size_t n) {
  switch (t) {
    case DType::F32: std::memcpy(dst, x, n * 4); return;
    case DType::F16: {
      auto* h = static_cast<f16_bits*>(dst);
      for (size_t i = 0; i < n; ++i) h[i] = f32_to_f16(x[i]);
      return;
    }
    case DType::BF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) h[i] = f32_to_bf16(x[i]);
      return;
    }
    case DType::Q4_0: {
      auto* b = static_cast<BlockQ4_0*>(dst);
      for (size_t i = 0; i < n / 32; ++i, x += 32) {
        float amax = 0, vmax = 0;
        for (int j = 0; j < 32; ++j)
          if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); vmax = x[j]; }
        const float d = vmax / -8.0f;
        b[i].d = f32_to_f16(d);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; ++j) {
          const int a = std::clamp(nearest(x[j] * id) + 8, 0, 15), c = std::clamp(nearest(x[j + 16] * id) + 8, 0, 15);
          b[i].qs[j] = static_cast<uint8_t>(a | (c << 4));
        }
      }
      return;
    }
    case DType::Q4_1: {
      auto* b = static_cast<BlockQ4_1*>(dst);
      for (size_t i = 0; i < n / 32; ++i, x += 32) {
        const float lo = *std::min_element(x, x + 32), hi = *std::max_element(x, x + 32);
        const float d = (hi - lo) / 15.0f;
        b[i].d = f32_to_f16(d);
        b[i].m = f32_to_f16(lo);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < 16; ++j) {
          const int a = std::clamp(nearest((x[j] - lo) * id), 0, 15), c = std::clamp(nearest((x[j + 16] - lo) * id), 0, 15);
          b[i].qs[j] = static_cast<uint8_t>(a | (c << 4));
        }
      }
      return;
    }
    case DType::Q8_0: {
      auto* b = static_cast<BlockQ8_0*>(dst);
      for (size_t i = 0; i < n / 32; ++i, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        b[i].d = f32_to_f16(d);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; ++j) b[i].qs[j] = static_cast<int8_t>(nearest(x[j] * id));
      }
      return;
    }
    case DType::Q4_K: quant_q4_k(x, static_cast<BlockQ4_K*>(dst), n / 256); return;
    case DType::Q6_K: quant_q6_k(x, static_cast<BlockQ6_K*>(dst), n / 256); return;
    case DType::I8: {
      auto* q = static_cast<int8_t*>(dst);
      for (size_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::clamp(nearest(x[i]), -127, 127));
      return;
    }
  }
}

void quantize_activations_ref(const float* x, BlockQ8Act* out, size_t n) {
  for (size_t i = 0; i < n / 32; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      out[i].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));  // ties to even, like the SIMD sets
      sum += out[i].qs[j];
    }
    // Scale and sum rounded to half precision as llama.cpp's Q8_0/Q8_1 store them, so integer dot
    // products give the reference's results (conformance), not merely close ones.
    out[i].d = f16_to_f32(f32_to_f16(d));
    out[i].s = f16_to_f32(f32_to_f16(d * static_cast<float>(sum)));
    out[i].sum = sum;
  }
}

}  // namespace ol
