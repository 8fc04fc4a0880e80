#include "runtime/kv_cache.h"

#include <sys/mman.h>

#include "common/error.h"

namespace ol {

size_t KvCache::bytes_per_block(int n_layer, int kv_dim, int block_size, bool half) {
  return static_cast<size_t>(n_layer) * 2 * static_cast<size_t>(block_size) * static_cast<size_t>(kv_dim) * (half ? 2 : 4);
}

KvCache::KvCache(int n_layer, int kv_dim, int block_size, int64_t n_blocks, bool half)
    : n_layer_(n_layer), kv_dim_(kv_dim), block_size_(block_size), elem_bytes_(half ? 2 : 4), n_blocks_(n_blocks) {
  if (n_blocks <= 0 || block_size <= 0) throw Error(OL_ERR_INVALID_ARGUMENT, "KV cache needs at least one block");
  bytes_ = bytes_per_block(n_layer, kv_dim, block_size, half) * static_cast<size_t>(n_blocks);
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw Error(OL_ERR_OUT_OF_MEMORY, "cannot reserve " + std::to_string(bytes_) + " bytes for the KV cache");
  pool_ = static_cast<uint8_t*>(p);
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

KvCache::~KvCache() { ::munmap(pool_, bytes_); }

bool KvCache::reserve(std::vector<int32_t>& table, int64_t n_tokens) {
  const int64_t need = (n_tokens + block_size_ - 1) / block_size_ - static_cast<int64_t>(table.size());
  if (need <= 0) return true;
  if (need > n_free()) return false;
  for (int64_t i = 0; i < need; ++i) {
    table.push_back(free_.back());
    free_.pop_back();
  }
  return true;
}

void KvCache::release(std::vector<int32_t>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) free_.push_back(*it);
  table.clear();
}

}  // namespace ol
