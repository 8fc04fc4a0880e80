#include "model/gguf.h"

#include <cstring>
#include <set>

#include "common/error.h"

namespace ol {

namespace {

constexpr uint64_t kMaxElements = uint64_t{1} << 40;
constexpr uint32_t kMaxDims = 4;

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  T read(const char* what) {
    if (remaining() < sizeof(T)) fail_bad_file(std::string("GGUF truncated while reading ") + what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining()) fail_bad_file(std::string("GGUF truncated or corrupt: string length out of range in ") + what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

double read_number(Reader& r, GgufType t) {
  switch (t) {
    case GgufType::U8: return r.read<uint8_t>("u8");
    case GgufType::I8: return r.read<int8_t>("i8");
    case GgufType::Bool: return r.read<uint8_t>("bool") != 0 ? 1 : 0;
    case GgufType::U16: return r.read<uint16_t>("u16");
    case GgufType::I16: return r.read<int16_t>("i16");
    case GgufType::U32: return r.read<uint32_t>("u32");
    case GgufType::I32: return r.read<int32_t>("i32");
    case GgufType::F32: return r.read<float>("f32");
    case GgufType::U64: return static_cast<double>(r.read<uint64_t>("u64"));
    case GgufType::I64: return static_cast<double>(r.read<int64_t>("i64"));
    case GgufType::F64: return r.read<double>("f64");
    default: fail_bad_file("GGUF: not a numeric type");
  }
}

GgufType read_type(Reader& r, const std::string& key) {
  const uint32_t t = r.read<uint32_t>("value type");
  if (t > static_cast<uint32_t>(GgufType::F64)) fail_bad_file("GGUF metadata " + key + ": unknown value type " + std::to_string(t));
  return static_cast<GgufType>(t);
}

void read_value(Reader& r, GgufType type, GgufValue& out, const std::string& key, int depth) {
  out.type = type;
  if (type == GgufType::String) {
    out.string = r.read_string(key.c_str());
    return;
  }
  if (type != GgufType::Array) {
    out.number = read_number(r, type);
    return;
  }
  if (depth > 2) fail_bad_file("GGUF metadata " + key + ": arrays nested too deeply");
  out.elem_type = read_type(r, key);
  const uint64_t n = r.read<uint64_t>("array length");
  // Every element takes at least one byte (strings take eight for their length).
  const size_t min_elem = out.elem_type == GgufType::String ? 8 : (out.elem_type == GgufType::Array ? 12 : scalar_size(out.elem_type));
  if (n > r.remaining() / min_elem) fail_bad_file("GGUF metadata " + key + ": array length " + std::to_string(n) + " exceeds the file (truncated or corrupt)");
  if (out.elem_type == GgufType::String) {
    out.strings.reserve(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) out.strings.push_back(r.read_string(key.c_str()));
  } else if (out.elem_type == GgufType::Array) {
    GgufValue skipped;
    for (uint64_t i = 0; i < n; ++i) read_value(r, GgufType::Array, skipped, key, depth + 1);
  } else {
    out.numbers.reserve(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) out.numbers.push_back(read_number(r, out.elem_type));
  }
}

}  // namespace

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::optional<double> GgufFile::number(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type == GgufType::String || v->type == GgufType::Array) fail_bad_file("GGUF metadata " + key + " is not a number");
  return v->number;
}

std::optional<std::string> GgufFile::string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != GgufType::String) fail_bad_file("GGUF metadata " + key + " is not a string");
  return v->string;
}

GgufFile parse_gguf(const uint8_t* data, size_t size) {
  Reader r(data, size);
  GgufFile f;
  const uint32_t magic = r.read<uint32_t>("magic");
  if (magic != 0x46554747u) fail_bad_file("not a GGUF file (bad magic)");
  f.version = r.read<uint32_t>("version");
  if (f.version != 2 && f.version != 3) fail_bad_file("unsupported GGUF version " + std::to_string(f.version));
  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("metadata count");
  if (n_kv > r.remaining() / 12) fail_bad_file("GGUF metadata count " + std::to_string(n_kv) + " exceeds the file (truncated or corrupt)");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.read_string("metadata key");
    GgufValue v;
    read_value(r, read_type(r, key), v, key, 0);
    if (!f.metadata.emplace(key, std::move(v)).second) fail_bad_file("GGUF duplicate metadata key " + key);
  }
  if (n_tensors > r.remaining() / 24) fail_bad_file("GGUF tensor count " + std::to_string(n_tensors) + " exceeds the file (truncated or corrupt)");

  uint64_t alignment = 32;
  if (auto a = f.number("general.alignment")) {
    if (*a < 1 || *a > 65536 || (static_cast<uint64_t>(*a) & (static_cast<uint64_t>(*a) - 1)) != 0)
      fail_bad_file("GGUF general.alignment must be a power of two");
    alignment = static_cast<uint64_t>(*a);
  }

  std::vector<uint64_t> offsets;
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = r.read_string("tensor name");
    if (!names.insert(t.name).second) fail_bad_file("GGUF duplicate tensor " + t.name);
    const uint32_t n_dims = r.read<uint32_t>("tensor rank");
    if (n_dims == 0 || n_dims > kMaxDims) fail_bad_file("tensor " + t.name + ": rank " + std::to_string(n_dims) + " not in 1..4");
    uint64_t n_elems = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = r.read<uint64_t>("tensor dimension");
      if (dim == 0 || dim > kMaxElements || n_elems > kMaxElements / dim)
        fail_bad_file("tensor " + t.name + ": absurd dimension " + std::to_string(dim));
      n_elems *= dim;
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t type_id = r.read<uint32_t>("tensor type");
    auto dt = dtype_from_ggml(type_id);
    if (!dt) fail_bad_file("tensor " + t.name + ": unknown or unsupported quantization type " + std::to_string(type_id));
    t.dtype = *dt;
    const auto& tr = dtype_traits(t.dtype);
    if (static_cast<uint64_t>(t.dims[0]) % tr.block_elems != 0)
      fail_bad_file("tensor " + t.name + ": row length " + std::to_string(t.dims[0]) + " is not a multiple of the " +
                    std::string(tr.name) + " block size");
    t.n_bytes = static_cast<size_t>(n_elems / tr.block_elems * tr.block_bytes);
    const uint64_t offset = r.read<uint64_t>("tensor offset");
    if (offset % alignment != 0) fail_bad_file("tensor " + t.name + ": offset not aligned");
    offsets.push_back(offset);
    f.tensors.push_back(std::move(t));
  }
  const uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
  if (data_start > size && n_tensors > 0) fail_bad_file("GGUF truncated before the tensor data");
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    GgufTensorInfo& t = f.tensors[i];
    if (offsets[i] > data_size || t.n_bytes > data_size - offsets[i])
      fail_bad_file("tensor " + t.name + ": data (offset " + std::to_string(offsets[i]) + ", " + std::to_string(t.n_bytes) +
                    " bytes) lies outside the file (truncated?)");
    t.data = data + data_start + offsets[i];
  }
  return f;
}

}  // namespace ol
