#include "tensor/dtype.h"

#include "cpu/quant.h"

namespace ol {

std::optional<DType> dtype_from_ggml(uint32_t id) {
  switch (id) {
    case 0: return DType::F32;
    case 1: return DType::F16;
    case 2: return DType::Q4_0;
    case 3: return DType::Q4_1;
    case 8: return DType::Q8_0;
    case 12: return DType::Q4_K;
    case 14: return DType::Q6_K;
    case 30: return DType::BF16;
    default: return std::nullopt;
  }
}

const DTypeTraits& dtype_traits(DType t) {
  static const DTypeTraits f32{"F32", 1, 4}, f16{"F16", 1, 2}, bf16{"BF16", 1, 2},
      q4_0{"Q4_0", 32, sizeof(BlockQ4_0)}, q4_1{"Q4_1", 32, sizeof(BlockQ4_1)},
      q8_0{"Q8_0", 32, sizeof(BlockQ8_0)}, q4_k{"Q4_K", 256, sizeof(BlockQ4_K)},
      q6_k{"Q6_K", 256, sizeof(BlockQ6_K)}, i8{"I8", 1, 1};
  switch (t) {
    case DType::F32: return f32;
    case DType::F16: return f16;
    case DType::BF16: return bf16;
    case DType::Q4_0: return q4_0;
    case DType::Q4_1: return q4_1;
    case DType::Q8_0: return q8_0;
    case DType::Q4_K: return q4_k;
    case DType::Q6_K: return q6_k;
    case DType::I8: return i8;
  }
  return f32;
}

}  // namespace ol
