// The CUDA backend's device operators (ops_cuda.cu), callable from host C++. Activations are fp32
// [rows, width] row-major, like the CPU backend's buffers; weights and the KV cache are fp32 or fp16.
// Every launcher queues work on `stream` and returns at once.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ol::cuda {

// y[r] = x[src_row(r)] / rms * w, where src_row(r) = row_index ? row_index[r] : r.
void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps, const int32_t* row_index,
              cudaStream_t stream);
// out[r] = table[tokens[r]] (table rows of n elements, fp32 or fp16) as fp32.
void embed(const void* table, bool half, int64_t n, const int32_t* tokens, int64_t rows, float* out, cudaStream_t stream);
void to_half(const float* x, void* y, size_t n, cudaStream_t stream);
void add(float* y, const float* x, size_t n, cudaStream_t stream);
void add_bias(float* y, const float* bias, int64_t rows, int64_t n, cudaStream_t stream);
void silu_mul(float* gate, const float* up, size_t n, cudaStream_t stream);
// Rotary embedding in place with per-row tables cos/sin[r * head_dim / 2 + i] (from BatchPlan).
void rope(float* x, int64_t rows, int n_heads, int head_dim, const float* cos_t, const float* sin_t, bool neox, cudaStream_t stream);

// The paged KV pool, laid out like runtime/kv_cache.h: element offset of (layer, block, slot, k|v) is
// (((block * n_layer + layer) * 2 + kv) * block_size + slot) * kv_dim.
struct KvLayout {
  void* pool = nullptr;
  bool half = true;
  int n_layer = 0, kv_dim = 0, block_size = 0;
};
// Per-row attention inputs (device arrays): position, and the offset of the row's sequence's block
// table in `tables`.
struct AttentionRows {
  const int32_t* positions = nullptr;
  const int32_t* table_offset = nullptr;
  const int32_t* tables = nullptr;
};
// Writes each row's k/v ([rows, kv_dim]) into its slot of the cache.
void kv_store(const KvLayout& kv, int layer, const AttentionRows& ar, const float* k, const float* v, int64_t rows,
              cudaStream_t stream);
// Causal attention of q [rows, n_head * head_dim] over each row's sequence (positions 0..pos) -> out.
void attention(const KvLayout& kv, int layer, const AttentionRows& ar, const float* q, float* out, int64_t rows, int n_head,
               int n_head_kv, int head_dim, cudaStream_t stream);

// Multi-LoRA (SGMV): an item is one (adapter group, row) pair; items of a step are fixed, the
// matrices change per linear. a_ptrs/b_ptrs/ranks are per group (null A: the adapter does not
// target this linear). t holds each item's shrunk activations at t_offset[item].
struct LoraItems {
  const int32_t* row = nullptr;
  const int32_t* group = nullptr;
  const int32_t* t_offset = nullptr;
  const float* scale = nullptr;
  int32_t count = 0;
};
// t[item] = scale[item] * x[row[item]] A^T     (A: [rank, n_in])
void lora_shrink(const LoraItems& items, const float* const* a_ptrs, const int32_t* ranks, const float* x, int64_t n_in,
                 float* t, cudaStream_t stream);
// out[row[item]] += t[item] B^T                 (B: [n_out, rank])
void lora_expand(const LoraItems& items, const float* const* a_ptrs, const float* const* b_ptrs, const int32_t* ranks,
                 const float* t, float* out, int64_t n_out, cudaStream_t stream);

}  // namespace ol::cuda
