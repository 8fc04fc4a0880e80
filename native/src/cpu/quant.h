// Block layouts of the GGUF quantized types (bit-compatible with ggml), reference (scalar)
// dequantization and quantization, and the activation format the quantized dot products use.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace ol {

using f16_bits = uint16_t;

float f16_to_f32(f16_bits h);
f16_bits f32_to_f16(float f);
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float f);

#pragma pack(push, 1)
struct BlockQ4_0 { f16_bits d; uint8_t qs[16]; };
struct BlockQ4_1 { f16_bits d, m; uint8_t qs[16]; };
struct BlockQ8_0 { f16_bits d; int8_t qs[32]; };
struct BlockQ4_K { f16_bits d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct BlockQ6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; f16_bits d; };
#pragma pack(pop)
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ6_K) == 210);

// Activations quantized for the integer dot products: 32 int8 per block with a scale and the scaled
// sum (needed by types with an offset: Q4_1, Q4_K), both rounded to half precision (llama.cpp's
// Q8_0/Q8_1 activations) but kept as float for speed, and the exact integer sum (the packed kernels
// feed weights as unsigned bytes and subtract offset * sum).
struct BlockQ8Act {
  float d;
  float s;      // d * sum(qs)
  int32_t sum;  // sum(qs)
  int8_t qs[32];
};

// Reference dequantization of n elements (n a multiple of the type's block size).
void dequantize_row(DType t, const void* src, float* dst, size_t n);
// Reference quantization (used by the tiny-model generator and the tests).
void quantize_row(DType t, const float* src, void* dst, size_t n);
// n a multiple of 32.
void quantize_activations_ref(const float* x, BlockQ8Act* out, size_t n);

}  // namespace ol
