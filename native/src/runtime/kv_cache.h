// Paged KV cache: one pool of fixed-size blocks (block_size token slots, all layers); each sequence
// owns a block table mapping its positions to blocks. Memory is reserved up front but only touched
// pages become resident. Keys and values are stored in half precision (as llama.cpp does) or, for
// models with single-precision weights, in single precision (exact references in tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ol {

class KvCache {
 public:
  KvCache(int n_layer, int kv_dim, int block_size, int64_t n_blocks, bool half);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t n_free() const { return static_cast<int64_t>(free_.size()); }
  bool half() const { return elem_bytes_ == 2; }
  static size_t bytes_per_block(int n_layer, int kv_dim, int block_size, bool half);

  // Grows a block table to hold n_tokens positions; false (table unchanged) when the pool is short.
  bool reserve(std::vector<int32_t>& table, int64_t n_tokens);
  void release(std::vector<int32_t>& table);

  // kv_dim elements (uint16_t halves or floats, see half()) of one token.
  uint8_t* key(int layer, int32_t block, int slot) { return base(layer, block, slot, 0); }
  uint8_t* value(int layer, int32_t block, int slot) { return base(layer, block, slot, 1); }

 private:
  uint8_t* base(int layer, int32_t block, int slot, int kv) {
    return pool_ + ((((static_cast<size_t>(block) * n_layer_ + static_cast<size_t>(layer)) * 2 + static_cast<size_t>(kv)) *
                     static_cast<size_t>(block_size_) + static_cast<size_t>(slot)) * static_cast<size_t>(kv_dim_)) * elem_bytes_;
  }
  int n_layer_, kv_dim_, block_size_;
  size_t elem_bytes_;
  int64_t n_blocks_;
  size_t bytes_;
  uint8_t* pool_;
  std::vector<int32_t> free_;
};

}  // namespace ol
