#include "lora/adapter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "cpu/quant.h"
#include "model/safetensors.h"

namespace ol {

namespace {

struct TargetKey {
  int layer;
  LinearKind kind;
  bool is_a;
};

// "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight" -> {3, Q, true}
TargetKey parse_key(const std::string& key, int n_layer) {
  const size_t lp = key.find("layers.");
  if (lp == std::string::npos) fail_bad_file("adapter tensor " + key + ": not a per-layer LoRA weight (unsupported target)");
  size_t p = lp + 7;
  int layer = 0;
  size_t digits = 0;
  while (p < key.size() && key[p] >= '0' && key[p] <= '9' && digits < 6) layer = layer * 10 + (key[p++] - '0'), ++digits;
  if (digits == 0 || layer >= n_layer) fail_bad_file("adapter tensor " + key + ": layer index out of range");
  TargetKey t{layer, LinearKind::Q, true};
  bool found = false;
  for (int k = 0; k < kLinearKinds; ++k)
    if (key.find(std::string(".") + linear_peft_name(static_cast<LinearKind>(k)) + ".", p) != std::string::npos) {
      t.kind = static_cast<LinearKind>(k);
      found = true;
    }
  if (!found) fail_bad_file("adapter tensor " + key + ": unsupported target module");
  if (key.find(".lora_A.") != std::string::npos) t.is_a = true;
  else if (key.find(".lora_B.") != std::string::npos) t.is_a = false;
  else fail_bad_file("adapter tensor " + key + ": neither lora_A nor lora_B");
  return t;
}

void expected_dims(const HParams& hp, LinearKind k, int64_t& in, int64_t& out) {
  const int64_t E = hp.n_embd, F = hp.n_ff, Q = hp.q_dim(), KV = hp.kv_dim();
  switch (k) {
    case LinearKind::Q: in = E; out = Q; break;
    case LinearKind::K: case LinearKind::V: in = E; out = KV; break;
    case LinearKind::O: in = Q; out = E; break;
    case LinearKind::Gate: case LinearKind::Up: in = E; out = F; break;
    case LinearKind::Down: in = F; out = E; break;
  }
}

// NaN/Inf have an all-ones exponent; an integer test over the whole tensor vectorises.
template <typename Bits, Bits kExponent>
bool all_finite(const void* v, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, static_cast<const uint8_t*>(v) + i * sizeof(Bits), sizeof(Bits));
    bad |= static_cast<uint32_t>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

// A and B stay as stored when both are F16 or both BF16 (and 2-byte aligned); otherwise F32.
DType resident_dtype(const SafetensorsTensor& a, const SafetensorsTensor& b) {
  const bool same_half = a.dtype == b.dtype && (a.dtype == DType::F16 || a.dtype == DType::BF16);
  const bool aligned = reinterpret_cast<uintptr_t>(a.data) % 2 == 0 && reinterpret_cast<uintptr_t>(b.data) % 2 == 0;
  return same_half && aligned ? a.dtype : DType::F32;
}

struct Parsed {
  AdapterInfo info;
  std::unique_ptr<MappedFile> file;
  SafetensorsFile tensors;
  std::map<std::pair<int, LinearKind>, std::array<const SafetensorsTensor*, 2>> pairs;  // (layer, kind) -> {A, B}
};

Parsed parse_adapter(const Model& model, const std::string& dir, AdapterPrecision precision, bool populate) {
  Parsed p;
  p.info.dir = dir;
  p.info.precision = precision;
  const JsonValue cfg = JsonValue::parse(read_text_file(dir + "/adapter_config.json", 1 << 20));
  if (const JsonValue* t = cfg.find("peft_type"); t != nullptr && t->as_string("peft_type") != "LORA")
    fail_bad_file(dir + ": peft_type " + t->as_string("peft_type") + " is not LORA");
  const JsonValue* r = cfg.find("r");
  const JsonValue* alpha = cfg.find("lora_alpha");
  if (r == nullptr) fail_bad_file(dir + "/adapter_config.json: missing r");
  const int64_t rank = r->as_int("adapter_config.json r");
  if (rank <= 0 || rank > 4096) fail_bad_file(dir + "/adapter_config.json: r out of range");
  const double a = alpha != nullptr ? alpha->as_number("adapter_config.json lora_alpha") : static_cast<double>(rank);
  if (!std::isfinite(a)) fail_bad_file(dir + "/adapter_config.json: lora_alpha is not finite");
  const JsonValue* rs = cfg.find("use_rslora");
  const bool rslora = rs != nullptr && !rs->is_null() && rs->as_bool("adapter_config.json use_rslora");
  p.info.rank = static_cast<int>(rank);
  p.info.scale = static_cast<float>(rslora ? a / std::sqrt(static_cast<double>(rank)) : a / static_cast<double>(rank));

  p.file = std::make_unique<MappedFile>(dir + "/adapter_model.safetensors", populate);
  p.tensors = parse_safetensors(p.file->data(), p.file->size());
  if (p.tensors.tensors.empty()) fail_bad_file(dir + ": adapter has no tensors");
  for (const auto& t : p.tensors.tensors) {
    const TargetKey k = parse_key(t.name, model.hp.n_layer);
    int64_t in = 0, out = 0;
    expected_dims(model.hp, k.kind, in, out);
    const std::vector<int64_t> want = k.is_a ? std::vector<int64_t>{rank, in} : std::vector<int64_t>{out, rank};
    if (t.shape != want) {
      std::string got;
      for (int64_t d : t.shape) got += (got.empty() ? "" : "x") + std::to_string(d);
      fail_bad_file("adapter tensor " + t.name + ": shape " + got + " does not match the model (expected " +
                    std::to_string(want[0]) + "x" + std::to_string(want[1]) + ")");
    }
    const SafetensorsTensor*& slot = p.pairs[{k.layer, k.kind}][k.is_a ? 0 : 1];
    if (slot != nullptr) fail_bad_file("adapter tensor " + t.name + " appears twice");
    slot = &t;
  }
  for (const auto& [key, pair] : p.pairs) {
    if (pair[0] == nullptr || pair[1] == nullptr)
      fail_bad_file(dir + ": layer " + std::to_string(key.first) + " " + linear_peft_name(key.second) + " lacks lora_A or lora_B");
    if (precision == AdapterPrecision::Q8)
      p.info.bytes += Q8Layout::a_bytes(static_cast<size_t>(rank), static_cast<size_t>(pair[0]->shape[1])) +
                      Q8Layout::b_bytes(static_cast<size_t>(rank), static_cast<size_t>(pair[1]->shape[0])) + static_cast<size_t>(rank) * sizeof(float);
    else p.info.bytes += static_cast<size_t>(pair[0]->n_elements() + pair[1]->n_elements()) * (resident_dtype(*pair[0], *pair[1]) == DType::F32 ? sizeof(float) : 2);
  }
  return p;
}

// The largest |x[i]|, over 16 running maxima so that the loop vectorises.
float abs_max(const float* x, size_t n) {
  float m[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (size_t l = 0; l < 16; ++l) m[l] = std::max(m[l], std::fabs(x[i + l]));
  for (; i < n; ++i) m[0] = std::max(m[0], std::fabs(x[i]));
  return *std::max_element(m, m + 16);
}

// A copy of a tensor's values as F32.
void copy_as_f32(const SafetensorsTensor& t, std::vector<uint8_t>& copy) {
  copy.resize(static_cast<size_t>(t.n_elements()) * sizeof(float));
  dequantize_row(t.dtype, t.data, reinterpret_cast<float*>(copy.data()), static_cast<size_t>(t.n_elements()));
}

}  // namespace

AdapterInfo inspect_adapter(const Model& model, const std::string& dir, AdapterPrecision precision) {
  return parse_adapter(model, dir, precision, false).info;
}

std::shared_ptr<const LoraWeights> load_adapter(const Model& model, const AdapterInfo& info) {
  Parsed p = parse_adapter(model, info.dir, info.precision, true);
  auto w = std::make_shared<LoraWeights>();
  w->rank = p.info.rank;
  w->scale = p.info.scale;
  w->layers.resize(static_cast<size_t>(model.hp.n_layer));
  w->bytes = p.info.bytes;
  for (const auto& [key, pair] : p.pairs) {
    LoraMatrices& m = w->layers[static_cast<size_t>(key.first)][static_cast<size_t>(key.second)];
    m.dtype = resident_dtype(*pair[0], *pair[1]);
    m.in = pair[0]->shape[1];
    m.out = pair[1]->shape[0];
    for (int i = 0; i < 2; ++i) {
      const SafetensorsTensor& t = *pair[i];
      std::vector<uint8_t>& copy = i == 0 ? m.a_copy : m.b_copy;
      const void* values = t.data;
      const size_t n = static_cast<size_t>(t.n_elements());
      if (m.dtype != DType::F32) {
        const bool finite = m.dtype == DType::F16 ? all_finite<uint16_t, 0x7C00>(values, n) : all_finite<uint16_t, 0x7F80>(values, n);
        if (!finite) fail_bad_file("adapter tensor " + t.name + " contains NaN or Inf");
      } else {
        if (t.dtype != DType::F32 || reinterpret_cast<uintptr_t>(t.data) % alignof(float) != 0) {
          copy_as_f32(t, copy);
          values = copy.data();
        }
        if (!all_finite<uint32_t, 0x7F800000u>(values, n)) fail_bad_file("adapter tensor " + t.name + " contains NaN or Inf");
      }
      (i == 0 ? m.a : m.b) = values;
    }
  }
  if (model.qk_rows_permuted) {
    // The GGUF base stores q/k rows with rotary pairs adjacent; B's output rows must follow.
    const int hd = model.hp.head_dim, half = hd / 2;
    for (auto& layer : w->layers)
      for (LinearKind kind : {LinearKind::Q, LinearKind::K}) {
        LoraMatrices& m = layer[static_cast<size_t>(kind)];
        if (m.empty()) continue;
        const size_t row_bytes = static_cast<size_t>(w->rank) * (m.dtype == DType::F32 ? sizeof(float) : 2);
        const uint8_t* b = static_cast<const uint8_t*>(m.b);
        std::vector<uint8_t> permuted(static_cast<size_t>(m.out) * row_bytes);
        const int64_t heads = m.out / hd;
        for (int64_t h = 0; h < heads; ++h)
          for (int i = 0; i < half; ++i)
            for (int j = 0; j < 2; ++j)
              std::memcpy(&permuted[static_cast<size_t>(h * hd + i * 2 + j) * row_bytes], b + static_cast<size_t>(h * hd + j * half + i) * row_bytes, row_bytes);
        m.b_copy = std::move(permuted);
        m.b = m.b_copy.data();
      }
  }
  if (info.precision == AdapterPrecision::Q8) {
    // One stream buffer, the matrices in the order a step reads them.
    const size_t rank = static_cast<size_t>(w->rank);
    const auto a_bytes = [&](const LoraMatrices& m) { return Q8Layout::round_up(Q8Layout::a_bytes(rank, static_cast<size_t>(m.in)), 64); };
    const auto b_bytes = [&](const LoraMatrices& m) { return Q8Layout::round_up(Q8Layout::b_bytes(rank, static_cast<size_t>(m.out)), 64); };
    size_t total = 0;
    for (const auto& layer : w->layers)
      for (const LoraMatrices& m : layer)
        if (!m.empty()) total += a_bytes(m) + b_bytes(m);
    w->q8_components = allocate_stream_buffer(total, "loading an adapter");
    uint8_t* at = w->q8_components.get();
    for (auto& layer : w->layers)
      for (LoraMatrices& m : layer) {
        if (m.empty()) continue;
        const size_t a_size = a_bytes(m), b_size = b_bytes(m);
        quantize_lora_components(m, w->rank, at, at + a_size);
        m.a_copy = {};
        m.b_copy = {};
        at += a_size + b_size;
      }
    return w;  // nothing points into the file any more
  }
  w->file = std::move(p.file);
  return w;
}

void lora_matrices_to_f32(const LoraMatrices& m, int rank, float* a, float* b) {
  const size_t r = static_cast<size_t>(rank), n_in = static_cast<size_t>(m.in), n_out = static_cast<size_t>(m.out);
  if (m.dtype != DType::I8) {
    dequantize_row(m.dtype, m.a, a, r * n_in);
    dequantize_row(m.dtype, m.b, b, n_out * r);
    return;
  }
  const auto* a_q = static_cast<const int8_t*>(m.a);
  const auto* b_q = static_cast<const int8_t*>(m.b);
  for (size_t k = 0; k < r; ++k) {
    // The whole component scale goes to A's row; B's column keeps the int8 values.
    for (size_t j = 0; j < n_in; ++j) a[k * n_in + j] = m.component_scale[k] * a_q[Q8Layout::a_index(n_in, k, j)];
    for (size_t o = 0; o < n_out; ++o) b[o * r + k] = b_q[Q8Layout::b_index(r, o, k)];
  }
}

void quantize_lora_components(LoraMatrices& m, int rank, uint8_t* a_dst, uint8_t* b_dst) {
  const size_t r = static_cast<size_t>(rank), n_in = static_cast<size_t>(m.in), n_out = static_cast<size_t>(m.out);
  constexpr size_t kGroup = Q8Layout::kRankGroup, kChunk = Q8Layout::kInChunk, kPanel = Q8Layout::kOutPanel;
  // F32 is read in place; F16/BF16 are widened first.
  std::vector<float> widened;
  const auto as_f32 = [&](const void* p, size_t n) {
    if (m.dtype == DType::F32) return static_cast<const float*>(p);
    widened.resize(n);
    dequantize_row(m.dtype, p, widened.data(), n);
    return static_cast<const float*>(widened.data());
  };
  const auto to_int8 = [](float v) { return static_cast<int8_t>(v + (v < 0 ? -0.5f : 0.5f)); };  // |v| <= 127
  std::fill_n(a_dst, Q8Layout::a_bytes(r, n_in), 0);  // the padding
  std::fill_n(b_dst, Q8Layout::b_bytes(r, n_out), 0);
  std::vector<float> a_scale(r), b_amax(r, 0.0f), b_inv(r);
  // A: each component's row to 127 at its largest |value|, written as 32-input chunks of its group.
  const float* a = as_f32(m.a, r * n_in);
  const size_t in_pad = Q8Layout::round_up(n_in, kChunk);
  std::vector<int8_t> q(std::max(n_in, r));  // written here first: stores through int8_t* could alias the floats
  for (size_t k = 0; k < r; ++k) {
    const float* row = a + k * n_in;
    const float amax = abs_max(row, n_in);
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (size_t j = 0; j < n_in; ++j) q[j] = to_int8(row[j] * inv);
    auto* group = a_dst + (k / kGroup) * kGroup * in_pad + (k % kGroup) * kChunk;
    for (size_t j0 = 0; j0 < n_in; j0 += kChunk) std::memcpy(group + j0 * kGroup, q.data() + j0, std::min(kChunk, n_in - j0));
    a_scale[k] = amax / 127.0f;
  }
  // B: each component's column likewise; rows read in order, values written pairwise per panel.
  const float* b = as_f32(m.b, n_out * r);
  for (size_t o = 0; o < n_out; ++o)
    for (size_t k = 0; k < r; ++k) b_amax[k] = std::max(b_amax[k], std::fabs(b[o * r + k]));
  for (size_t k = 0; k < r; ++k) b_inv[k] = b_amax[k] > 0 ? 127.0f / b_amax[k] : 0.0f;
  const size_t width = Q8Layout::round_up(r, 2);
  for (size_t o = 0; o < n_out; ++o) {
    for (size_t k = 0; k < r; ++k) q[k] = to_int8(b[o * r + k] * b_inv[k]);
    uint8_t* out = b_dst + (o / kPanel) * width * kPanel + (o % kPanel) * 2;
    for (size_t k = 0; k < r; ++k) out[(k / 2) * 2 * kPanel + k % 2] = static_cast<uint8_t>(q[k]);
  }
  m.component_scale.resize(r);
  for (size_t k = 0; k < r; ++k) m.component_scale[k] = a_scale[k] * (b_amax[k] / 127.0f);
  m.dtype = DType::I8;
  m.a = a_dst;
  m.b = b_dst;
}

AdapterRegistry::AdapterRegistry(const Model& model, int64_t budget_bytes, AdapterPrecision precision)
    : model_(model), budget_(budget_bytes), precision_(precision), loader_([this] { loader_loop(); }) {}

AdapterRegistry::~AdapterRegistry() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  loader_.join();
}

int32_t AdapterRegistry::add(const std::string& dir) {
  AdapterInfo info = inspect_adapter(model_, dir, precision_);
  std::lock_guard<std::mutex> lock(mutex_);
  const int32_t id = next_id_++;
  entries_[id].info = std::move(info);
  return id;
}

void AdapterRegistry::remove(int32_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) throw Error(OL_ERR_NOT_FOUND, "unknown adapter id " + std::to_string(id));
  if (it->second.weights) {
    lru_.erase(it->second.lru);
    resident_bytes_ -= static_cast<int64_t>(it->second.info.bytes);
  }
  entries_.erase(it);
}

bool AdapterRegistry::known(int32_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.count(id) > 0;
}

AdapterRegistry::State AdapterRegistry::acquire(int32_t id, std::shared_ptr<const LoraWeights>* out, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    *error = "unknown adapter id " + std::to_string(id);
    return State::Failed;
  }
  Entry& e = it->second;
  if (e.weights) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, e.lru);
    *out = e.weights;
    return State::Resident;
  }
  if (!e.error.empty()) {
    *error = e.error;
    e.error.clear();  // a later request retries (the file may have been fixed)
    return State::Failed;
  }
  if (!e.queued) {
    ++misses_;
    e.queued = true;
    queue_.push_back(id);
    cv_.notify_one();
  }
  return State::Loading;
}

std::shared_ptr<const LoraWeights> AdapterRegistry::load_now(int32_t id, int64_t* load_us) {
  *load_us = 0;
  AdapterInfo info;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) throw Error(OL_ERR_NOT_FOUND, "unknown adapter id " + std::to_string(id));
    if (it->second.weights) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.weights;
    }
    info = it->second.info;
    ++misses_;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<const LoraWeights> w = load_adapter(model_, info);
  *load_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it != entries_.end() && !it->second.weights) make_resident(id, w);
  return w;
}

void AdapterRegistry::make_resident(int32_t id, std::shared_ptr<const LoraWeights> w) {
  Entry& e = entries_[id];
  e.weights = std::move(w);
  lru_.push_front(id);
  e.lru = lru_.begin();
  resident_bytes_ += static_cast<int64_t>(e.info.bytes);
  evict_over_budget();
}

void AdapterRegistry::evict_over_budget() {
  // Least recently used first; adapters referenced by running requests (use_count > 1) stay.
  for (auto it = lru_.end(); resident_bytes_ > budget_ && it != lru_.begin();) {
    --it;
    if (it == lru_.begin()) break;
    Entry& e = entries_[*it];
    if (e.weights.use_count() > 1) continue;
    e.weights.reset();
    resident_bytes_ -= static_cast<int64_t>(e.info.bytes);
    ++evictions_;
    it = lru_.erase(it);
  }
}

void AdapterRegistry::loader_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const int32_t id = queue_.front();
    queue_.pop_front();
    auto it = entries_.find(id);
    if (it == entries_.end()) continue;
    const AdapterInfo info = it->second.info;
    lock.unlock();
    std::shared_ptr<const LoraWeights> w;
    std::string error;
    try {
      w = load_adapter(model_, info);
    } catch (const std::exception& ex) {
      error = ex.what();
    }
    lock.lock();
    it = entries_.find(id);
    if (it == entries_.end()) continue;
    it->second.queued = false;
    if (w) make_resident(id, std::move(w));
    else it->second.error = error;
  }
}

AdapterStats AdapterRegistry::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  AdapterStats s;
  s.registered = static_cast<int32_t>(entries_.size());
  s.resident = static_cast<int32_t>(lru_.size());
  s.resident_bytes = resident_bytes_;
  s.hits = hits_;
  s.misses = misses_;
  s.evictions = evictions_;
  return s;
}

}  // namespace ol
