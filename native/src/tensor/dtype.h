// Element types of stored tensors. Values are GGUF's ggml_type ids so the loader maps them 1:1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ol {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, Q4_K = 12, Q6_K = 14, BF16 = 30,
  I8 = 24,  // plain int8, scaled by its user (resident q8 adapters); never read from a model file
};

struct DTypeTraits {
  std::string_view name;
  size_t block_elems;  // elements per block (1 for float types)
  size_t block_bytes;  // bytes per block
};

// nullopt for ids the engine does not support.
std::optional<DType> dtype_from_ggml(uint32_t id);
const DTypeTraits& dtype_traits(DType t);
inline std::string_view dtype_name(DType t) { return dtype_traits(t).name; }
inline bool dtype_is_quantized(DType t) { return dtype_traits(t).block_elems > 1; }
// Bytes of a row of n elements; n must be a multiple of block_elems (checked by callers).
inline size_t row_bytes(DType t, size_t n) {
  const auto& tr = dtype_traits(t);
  return n / tr.block_elems * tr.block_bytes;
}

// Elements of a tensor with these dimensions (1 for a scalar); callers bound the dimensions.
inline int64_t element_count(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

}  // namespace ol
