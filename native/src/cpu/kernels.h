// Dot products of one stored weight row with one activation row, per weight type, with the
// instruction set chosen once at run time (cpuid). Float weights (F32/F16/BF16) take float
// activations; quantized weights take activations quantized to BlockQ8Act (integer dot products).
#pragma once

#include <cstddef>
#include <string_view>

#include "cpu/quant.h"

namespace ol {

using RowDotFn = float (*)(const void* weight_row, const void* activation, size_t n);
using QuantizeActFn = void (*)(const float* x, BlockQ8Act* out, size_t n);
// One quantized weight row against 4 activation rows: out[r] = w . act[r].
using Rows4DotFn = void (*)(const void* weight_row, const BlockQ8Act* const* act, size_t n, float* out);
// Four consecutive weight rows (row_stride bytes apart) against one activation row.
using Cols4DotFn = void (*)(const void* weight_rows, size_t row_stride, const BlockQ8Act* act, size_t n, float* out);

// One group of kPackRows packed weight rows (cpu/packed.h) against `rows` activation rows of n/32
// consecutive blocks each: out[r * out_stride + c] = w[c] . act[r], equal to row_dot's results.
using PackedDotFn = void (*)(const uint8_t* group, const BlockQ8Act* act, size_t rows, size_t n, float* out, size_t out_stride);

struct KernelSet {
  std::string_view isa;  // "scalar", "avx2", "avx512", "amx"
  RowDotFn row_dot[31];     // indexed by DType value; nullptr for unused ids
  Rows4DotFn rows4_dot[31]; // quantized types only; nullptr where absent (callers use row_dot)
  Cols4DotFn cols4_dot[31]; // same results as row_dot; nullptr where absent
  PackedDotFn packed_dot[31];  // types with a packed layout this set has kernels for; nullptr elsewhere
  QuantizeActFn quantize_act;
  void (*f32_to_f16_row)(const float* x, uint16_t* out, size_t n);       // round to nearest even
  // Half-precision accumulators (llama.cpp's CPU flash attention keeps V sums in half precision):
  // y = half(y + x * a) with a fused multiply-add, and y = half(y * a).
  void (*mad_f16)(uint16_t* y, const uint16_t* x, float a, size_t n);
  void (*scale_f16)(uint16_t* y, float a, size_t n);
};

inline bool takes_quantized_activations(DType t) { return dtype_is_quantized(t); }
// The "amx" set is the AVX-512 set plus AMX tiles: code with its own AVX-512 paths takes them for both.
inline bool isa_has_avx512(std::string_view isa) { return isa == "avx512" || isa == "amx"; }

// The best kernel set this CPU supports (OL_ISA=scalar|avx2|avx512|amx env var may force a lower one).
const KernelSet& kernels();
// All sets usable on this CPU, best last (tests compare them against the scalar reference).
const KernelSet* const* available_kernel_sets(size_t* count);

// Provided by the per-ISA translation units.
const KernelSet& kernels_scalar();
const KernelSet* kernels_avx2();
const KernelSet* kernels_avx512();
const KernelSet* kernels_amx();  // the AVX-512 kernels plus AMX tiles for packed matmuls of >= 48 rows

}  // namespace ol
