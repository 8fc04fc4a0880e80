// PEFT LoRA adapters: validation against a model, loading into resident A/B matrices, and the registry
// that keeps a memory-bounded resident set (LRU) and loads adapters on a background thread so
// running requests never wait for disk.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"

namespace ol {

// How resident adapters hold their A/B matrices.
enum class AdapterPrecision {
  AsStored,  // F32, or F16/BF16 when the file stores both so: exact
  Q8,        // int8 per rank component (a quarter of F32's bytes to stream per decode step)
};

// One adapted linear, rank components k = 0 .. rank-1:
//   F32 / F16 / BF16: A [rank, in] and B [out, rank], row-major, as PEFT stores them.
//   I8 (AdapterPrecision::Q8): component k's row of A and column of B, each scaled so its largest
//   |value| is 127; component_scale[k] is the product of the two scales (W's delta = sum over k of
//   component_scale[k] * outer(Bq column k, Aq row k)). Laid out (Q8Layout) so that the kernels read
//   each matrix front to back as one stream and feed pairs of int8 values, widened to int16, to
//   int16 dot-product instructions: A in groups of 4 components whose 32-input chunks sit side by
//   side; B in panels of 64 outputs holding, per pair of components, each output's two values
//   side by side. in is rounded up to 32, rank to 4 (A) or 2 (B), out to 64, with zeros.
struct Q8Layout {
  static constexpr size_t kRankGroup = 4, kInChunk = 32, kOutPanel = 64;
  static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }
  static size_t a_bytes(size_t rank, size_t in) { return round_up(rank, kRankGroup) * round_up(in, kInChunk); }
  static size_t b_bytes(size_t rank, size_t out) { return round_up(rank, 2) * round_up(out, kOutPanel); }
  static size_t a_index(size_t in, size_t k, size_t j) {
    return (k / kRankGroup) * kRankGroup * round_up(in, kInChunk) + (j / kInChunk) * kRankGroup * kInChunk + (k % kRankGroup) * kInChunk + j % kInChunk;
  }
  static size_t b_index(size_t rank, size_t o, size_t k) {
    return (o / kOutPanel) * round_up(rank, 2) * kOutPanel + (k / 2) * 2 * kOutPanel + (o % kOutPanel) * 2 + k % 2;
  }
};

struct LoraMatrices {
  int64_t in = 0, out = 0;
  DType dtype = DType::F32;
  const void* a = nullptr;
  const void* b = nullptr;
  // a/b point into the mapped adapter file (aligned F32/F16) or into these copies (converted types,
  // q/k rows permuted for GGUF bases, int8 copies).
  std::vector<uint8_t> a_copy, b_copy;
  std::vector<float> component_scale;  // I8 only
  bool empty() const { return a == nullptr; }
};

struct LoraWeights {
  int rank = 0;
  float scale = 1.0f;  // lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora
  std::vector<std::array<LoraMatrices, kLinearKinds>> layers;
  size_t bytes = 0;
  std::unique_ptr<MappedFile> file;  // adapter_model.safetensors, read in place
  StreamBuffer q8_components;        // AdapterPrecision::Q8: every matrix, in the order a step reads them
};

struct AdapterInfo {
  std::string dir;
  int rank = 0;
  float scale = 1.0f;
  AdapterPrecision precision = AdapterPrecision::AsStored;
  size_t bytes = 0;  // resident size once loaded
};

// Reads adapter_config.json and the safetensors header; checks every tensor name and shape against
// the model. Throws ol::Error(BAD_FILE / IO) with the reason.
AdapterInfo inspect_adapter(const Model& model, const std::string& dir, AdapterPrecision precision = AdapterPrecision::AsStored);
// Reads the weights (refusing NaN/Inf), permuting q/k rows where the model's are permuted, and
// holds them in info.precision.
std::shared_ptr<const LoraWeights> load_adapter(const Model& model, const AdapterInfo& info);
// A [rank, in] and B [out, rank] as F32 in PEFT's layout, whatever the resident form (backends
// that keep their own copy, tests).
void lora_matrices_to_f32(const LoraMatrices& m, int rank, float* a, float* b);
// Writes the I8 components of F32/F16/BF16 matrices to a_dst (Q8Layout::a_bytes) and b_dst
// (Q8Layout::b_bytes) and points m at them (AdapterPrecision::Q8).
void quantize_lora_components(LoraMatrices& m, int rank, uint8_t* a_dst, uint8_t* b_dst);

struct AdapterStats {
  int32_t registered = 0, resident = 0;
  int64_t resident_bytes = 0, hits = 0, misses = 0, evictions = 0;
};

class AdapterRegistry {
 public:
  AdapterRegistry(const Model& model, int64_t budget_bytes, AdapterPrecision precision = AdapterPrecision::AsStored);
  ~AdapterRegistry();

  int32_t add(const std::string& dir);  // validates; throws ol::Error
  void remove(int32_t id);              // throws NOT_FOUND; in-flight users keep their reference
  bool known(int32_t id) const;

  enum class State { Resident, Loading, Failed };
  // Resident: *out holds the weights (kept alive while referenced). Loading: queued on the loader
  // thread; ask again later. Failed: *error says why (the adapter file went bad).
  State acquire(int32_t id, std::shared_ptr<const LoraWeights>* out, std::string* error);
  // Loads synchronously (or finds it resident) and returns the weights; *load_us = microseconds
  // spent loading (0 when already resident). Throws ol::Error.
  std::shared_ptr<const LoraWeights> load_now(int32_t id, int64_t* load_us);
  AdapterStats stats() const;

 private:
  struct Entry {
    AdapterInfo info;
    std::shared_ptr<const LoraWeights> weights;  // null when not resident
    std::list<int32_t>::iterator lru;            // valid when resident
    bool queued = false;
    std::string error;
  };
  void loader_loop();
  void make_resident(int32_t id, std::shared_ptr<const LoraWeights> w);  // lock held
  // Evicts least recently used, unreferenced adapters; never the newest one (so an adapter larger
  // than the budget can still be used).
  void evict_over_budget();  // lock held

  const Model& model_;
  int64_t budget_;
  AdapterPrecision precision_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int32_t, Entry> entries_;
  std::list<int32_t> lru_;  // front = most recently used
  std::deque<int32_t> queue_;
  int32_t next_id_ = 1;
  int64_t resident_bytes_ = 0, hits_ = 0, misses_ = 0, evictions_ = 0;
  bool stop_ = false;
  std::thread loader_;
};

}  // namespace ol
