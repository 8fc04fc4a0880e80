#include "model/safetensors.h"

#include <cstring>
#include <set>
#include <string_view>

#include "common/error.h"
#include "common/json.h"

namespace ol {

namespace {
constexpr uint64_t kMaxHeader = 100u << 20;
constexpr int64_t kMaxElements = int64_t{1} << 40;
}  // namespace

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size) {
  if (size < 8) fail_bad_file("safetensors truncated: no header length");
  uint64_t header_len;
  std::memcpy(&header_len, data, 8);
  if (header_len > kMaxHeader || header_len > size - 8) fail_bad_file("safetensors header length out of range (truncated?)");
  const JsonValue header = JsonValue::parse(std::string_view(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(header_len)));
  const uint8_t* body = data + 8 + header_len;
  const size_t body_size = size - 8 - static_cast<size_t>(header_len);

  SafetensorsFile f;
  std::set<std::string> names;
  for (const auto& [name, entry] : header.as_object("safetensors header")) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : entry.as_object("__metadata__"))
        if (v.is_string()) f.metadata[k] = v.as_string(k);
      continue;
    }
    if (!names.insert(name).second) fail_bad_file("safetensors duplicate tensor " + name);
    SafetensorsTensor t;
    t.name = name;
    const JsonValue* dtype = entry.find("dtype");
    const JsonValue* shape = entry.find("shape");
    const JsonValue* offsets = entry.find("data_offsets");
    if (dtype == nullptr || shape == nullptr || offsets == nullptr)
      fail_bad_file("safetensors tensor " + name + ": needs dtype, shape and data_offsets");
    const std::string& dt = dtype->as_string(name + ".dtype");
    if (dt == "F32") t.dtype = DType::F32;
    else if (dt == "F16") t.dtype = DType::F16;
    else if (dt == "BF16") t.dtype = DType::BF16;
    else fail_bad_file("safetensors tensor " + name + ": unsupported dtype " + dt);
    int64_t n = 1;
    for (const JsonValue& d : shape->as_array(name + ".shape")) {
      const int64_t dim = d.as_int(name + ".shape");
      if (dim <= 0 || dim > kMaxElements || n > kMaxElements / dim) fail_bad_file("safetensors tensor " + name + ": absurd shape");
      n *= dim;
      t.shape.push_back(dim);
    }
    if (t.shape.size() > 4) fail_bad_file("safetensors tensor " + name + ": rank above 4");
    const auto& off = offsets->as_array(name + ".data_offsets");
    if (off.size() != 2) fail_bad_file("safetensors tensor " + name + ": data_offsets needs two numbers");
    const int64_t begin = off[0].as_int(name + ".data_offsets"), end = off[1].as_int(name + ".data_offsets");
    t.n_bytes = static_cast<size_t>(n) * dtype_traits(t.dtype).block_bytes;
    if (begin < 0 || end < begin || static_cast<uint64_t>(end) > body_size)
      fail_bad_file("safetensors tensor " + name + ": data_offsets outside the file (truncated?)");
    if (static_cast<size_t>(end - begin) != t.n_bytes)
      fail_bad_file("safetensors tensor " + name + ": data size does not match dtype and shape");
    t.data = body + begin;
    f.tensors.push_back(std::move(t));
  }
  return f;
}

}  // namespace ol
