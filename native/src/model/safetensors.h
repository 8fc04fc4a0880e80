// Hugging Face safetensors parser over a byte buffer: 8-byte header length, JSON header, data.
// Validates dtypes, shapes and offsets; tensor data stays in the buffer. Bad input throws
// ol::Error(OL_ERR_BAD_FILE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace ol {

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;     // F32, F16 or BF16
  std::vector<int64_t> shape;   // row-major, outermost first (PyTorch order)
  const uint8_t* data = nullptr;
  size_t n_bytes = 0;
  int64_t n_elements() const { return element_count(shape); }
};

struct SafetensorsFile {
  std::vector<SafetensorsTensor> tensors;
  std::map<std::string, std::string> metadata;
  const SafetensorsTensor* find(const std::string& name) const;
};

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size);

}  // namespace ol
