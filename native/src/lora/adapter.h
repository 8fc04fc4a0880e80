// PEFT LoRA adapters: validation against a model, loading into fp32 A/B matrices, and the registry
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

// One adapted linear: A [rank, in] and B [out, rank], row-major, both of `dtype`: F16 or BF16 when
// the file stores both so (kept as stored: exact, and half the bytes to stream per step), else F32.
struct LoraMatrices {
  int64_t in = 0, out = 0;
  DType dtype = DType::F32;
  const void* a = nullptr;
  const void* b = nullptr;
  // a/b point into the mapped adapter file (aligned F32/F16) or into these copies (converted types,
  // q/k rows permuted for GGUF bases).
  std::vector<uint8_t> a_copy, b_copy;
  bool empty() const { return a == nullptr; }
};

struct LoraWeights {
  int rank = 0;
  float scale = 1.0f;  // lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora
  std::vector<std::array<LoraMatrices, kLinearKinds>> layers;
  size_t bytes = 0;
  std::unique_ptr<MappedFile> file;  // adapter_model.safetensors, read in place
};

struct AdapterInfo {
  std::string dir;
  int rank = 0;
  float scale = 1.0f;
  size_t bytes = 0;  // resident size once loaded
};

// Reads adapter_config.json and the safetensors header; checks every tensor name and shape against
// the model. Throws ol::Error(BAD_FILE / IO) with the reason.
AdapterInfo inspect_adapter(const Model& model, const std::string& dir);
// Reads the weights (refusing NaN/Inf), permuting q/k rows where the model's are permuted.
std::shared_ptr<const LoraWeights> load_adapter(const Model& model, const AdapterInfo& info);

struct AdapterStats {
  int32_t registered = 0, resident = 0;
  int64_t resident_bytes = 0, hits = 0, misses = 0, evictions = 0;
};

class AdapterRegistry {
 public:
  AdapterRegistry(const Model& model, int64_t budget_bytes);
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
