// GGUF (v2/v3) parser over a byte buffer (a memory-mapped file, or fuzzer input). Validates every
// length, count, dimension and offset against the buffer; tensor data stays where it is (pointers
// into the buffer). Bad input throws ol::Error(OL_ERR_BAD_FILE) with a message saying what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace ol {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

struct GgufValue {
  GgufType type = GgufType::U8;
  double number = 0;       // every numeric and bool scalar
  std::string string;      // String
  GgufType elem_type = GgufType::U8;  // Array: element type
  std::vector<std::string> strings;   // Array of String
  std::vector<double> numbers;        // Array of numbers/bools (nested arrays are skipped)
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order: dims[0] is the contiguous (row) dimension
  DType dtype = DType::F32;
  const uint8_t* data = nullptr;
  size_t n_bytes = 0;
  int64_t n_elements() const { return element_count(dims); }
};

struct GgufFile {
  uint32_t version = 0;
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensorInfo> tensors;

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // Typed metadata lookups: nullopt when absent; throw BAD_FILE when present with the wrong type.
  std::optional<double> number(const std::string& key) const;
  std::optional<std::string> string(const std::string& key) const;
};

GgufFile parse_gguf(const uint8_t* data, size_t size);

}  // namespace ol
