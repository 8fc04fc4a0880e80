// Device operators of the CUDA backend. Straightforward kernels: one block per row for reductions,
// one thread per element otherwise; attention is one block per (head, row) whose warps each take
// every fourth key with their own running softmax, merged at the end (split-K flash decoding).
#include <cuda_fp16.h>

#include <cmath>

#include "ops_cuda.h"

namespace ol::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kAttnWarps = 4;
constexpr int kMaxHeadDim = 256;
constexpr int kDimsPerLane = kMaxHeadDim / 32;

inline unsigned blocks_for(size_t n, int threads = kThreads) { return static_cast<unsigned>((n + threads - 1) / threads); }

__device__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__global__ void rms_norm_kernel(const float* x, const float* w, float* y, int64_t n, float eps, const int32_t* row_index) {
  const int64_t r = blockIdx.x;
  const float* xr = x + (row_index != nullptr ? row_index[r] : r) * n;
  float* yr = y + r * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  __shared__ float partial[kThreads / 32];
  ss = warp_sum(ss);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < blockDim.x / 32 ? partial[threadIdx.x] : 0.0f;
    v = warp_sum(v);
    if (threadIdx.x == 0) partial[0] = v;
  }
  __syncthreads();
  const float scale = rsqrtf(partial[0] / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * scale * w[i];
}

__global__ void embed_kernel(const void* table, bool half, int64_t n, const int32_t* tokens, float* out) {
  const int64_t r = blockIdx.x;
  const int64_t base = static_cast<int64_t>(tokens[r]) * n;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    out[r * n + i] = half ? __half2float(static_cast<const __half*>(table)[base + i]) : static_cast<const float*>(table)[base + i];
}

__global__ void to_half_kernel(const float* x, __half* y, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    y[i] = __float2half_rn(x[i]);
}

__global__ void add_kernel(float* y, const float* x, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t n, size_t total) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    y[i] += bias[i % static_cast<size_t>(n)];
}

__global__ void silu_mul_kernel(float* a, const float* b, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

__global__ void rope_kernel(float* x, int64_t rows, int n_heads, int head_dim, const float* cos_t, const float* sin_t, bool neox) {
  const int half = head_dim / 2;
  const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(n_heads) * static_cast<size_t>(half);
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total; idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int i = static_cast<int>(idx % static_cast<size_t>(half));
    const size_t rh = idx / static_cast<size_t>(half);  // row * n_heads + head
    const size_t r = rh / static_cast<size_t>(n_heads);
    float* v = x + rh * static_cast<size_t>(head_dim);
    const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
    const float c = cos_t[r * static_cast<size_t>(half) + static_cast<size_t>(i)], s = sin_t[r * static_cast<size_t>(half) + static_cast<size_t>(i)];
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
  }
}

__device__ size_t kv_offset(const KvLayout& kv, int layer, int32_t block, int slot, int which) {
  return ((((static_cast<size_t>(block) * static_cast<size_t>(kv.n_layer) + static_cast<size_t>(layer)) * 2 + static_cast<size_t>(which)) *
               static_cast<size_t>(kv.block_size) +
           static_cast<size_t>(slot)) *
          static_cast<size_t>(kv.kv_dim));
}

__device__ float kv_load(const KvLayout& kv, size_t i) {
  return kv.half ? __half2float(static_cast<const __half*>(kv.pool)[i]) : static_cast<const float*>(kv.pool)[i];
}

__global__ void kv_store_kernel(KvLayout kv, int layer, AttentionRows ar, const float* k, const float* v) {
  const int64_t r = blockIdx.x;
  const int32_t p = ar.positions[r];
  const int32_t block = ar.tables[ar.table_offset[r] + p / kv.block_size];
  const size_t ko = kv_offset(kv, layer, block, p % kv.block_size, 0), vo = kv_offset(kv, layer, block, p % kv.block_size, 1);
  for (int d = threadIdx.x; d < kv.kv_dim; d += blockDim.x) {
    const float kd = k[r * kv.kv_dim + d], vd = v[r * kv.kv_dim + d];
    if (kv.half) {
      static_cast<__half*>(kv.pool)[ko + static_cast<size_t>(d)] = __float2half_rn(kd);
      static_cast<__half*>(kv.pool)[vo + static_cast<size_t>(d)] = __float2half_rn(vd);
    } else {
      static_cast<float*>(kv.pool)[ko + static_cast<size_t>(d)] = kd;
      static_cast<float*>(kv.pool)[vo + static_cast<size_t>(d)] = vd;
    }
  }
}

__global__ void attention_kernel(KvLayout kv, int layer, AttentionRows ar, const float* q, float* out, int n_head, int group, int hd,
                                 float scale) {
  const int h = static_cast<int>(blockIdx.x);
  const int64_t r = blockIdx.y;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int kvh = h / group, q_dim = n_head * hd;
  const int32_t n_ctx = ar.positions[r] + 1;
  const int32_t* table = ar.tables + ar.table_offset[r];
  float qr[kDimsPerLane], acc[kDimsPerLane];
#pragma unroll
  for (int i = 0; i < kDimsPerLane; ++i) {
    const int d = lane + 32 * i;
    qr[i] = d < hd ? q[r * q_dim + h * hd + d] * scale : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int32_t j = warp; j < n_ctx; j += kAttnWarps) {
    const int32_t block = table[j / kv.block_size];
    const size_t ko = kv_offset(kv, layer, block, j % kv.block_size, 0) + static_cast<size_t>(kvh * hd);
    const size_t vo = kv_offset(kv, layer, block, j % kv.block_size, 1) + static_cast<size_t>(kvh * hd);
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < kDimsPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < hd) s += qr[i] * kv_load(kv, ko + static_cast<size_t>(d));
    }
    s = warp_sum(s);
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new), p = expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int i = 0; i < kDimsPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < hd) acc[i] = acc[i] * corr + p * kv_load(kv, vo + static_cast<size_t>(d));
    }
    m = m_new;
  }
  __shared__ float warp_m[kAttnWarps], warp_l[kAttnWarps];
  __shared__ float warp_acc[kAttnWarps][kMaxHeadDim];
  if (lane == 0) {
    warp_m[warp] = m;
    warp_l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kDimsPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < hd) warp_acc[warp][d] = acc[i];
  }
  __syncthreads();
  if (warp != 0) return;
  float mx = warp_m[0];  // warp 0 always saw key 0, so mx is finite
  for (int w = 1; w < kAttnWarps; ++w) mx = fmaxf(mx, warp_m[w]);
  float sum = 0.0f, f[kAttnWarps];
  for (int w = 0; w < kAttnWarps; ++w) {
    f[w] = expf(warp_m[w] - mx);
    sum += warp_l[w] * f[w];
  }
  for (int d = lane; d < hd; d += 32) {
    float o = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w) o += warp_acc[w][d] * f[w];
    out[r * q_dim + h * hd + d] = o / sum;
  }
}

__global__ void lora_shrink_kernel(LoraItems items, const float* const* a_ptrs, const int32_t* ranks, const float* x, int64_t n_in, float* t) {
  const int item = static_cast<int>(blockIdx.x);
  const int g = items.group[item];
  const float* a = a_ptrs[g];
  if (a == nullptr) return;
  const int rank = ranks[g];
  const float* xr = x + static_cast<int64_t>(items.row[item]) * n_in;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32, warps = static_cast<int>(blockDim.x) / 32;
  for (int k = warp; k < rank; k += warps) {
    const float* ak = a + static_cast<int64_t>(k) * n_in;
    float s = 0.0f;
    for (int64_t i = lane; i < n_in; i += 32) s += xr[i] * ak[i];
    s = warp_sum(s);
    if (lane == 0) t[items.t_offset[item] + k] = items.scale[item] * s;
  }
}

__global__ void lora_expand_kernel(LoraItems items, const float* const* a_ptrs, const float* const* b_ptrs, const int32_t* ranks, const float* t,
                                   float* out, int64_t n_out) {
  const int item = static_cast<int>(blockIdx.y);
  const int g = items.group[item];
  if (a_ptrs[g] == nullptr) return;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= n_out) return;
  const int rank = ranks[g];
  const float* b = b_ptrs[g] + o * rank;
  const float* ti = t + items.t_offset[item];
  float s = 0.0f;
  for (int k = 0; k < rank; ++k) s += ti[k] * b[k];
  // A row may belong to several groups (weighted adapter mixes), so items can share output rows.
  atomicAdd(out + static_cast<int64_t>(items.row[item]) * n_out + o, s);
}

}  // namespace

void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps, const int32_t* row_index, cudaStream_t stream) {
  if (rows > 0) rms_norm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, w, y, n, eps, row_index);
}

void embed(const void* table, bool half, int64_t n, const int32_t* tokens, int64_t rows, float* out, cudaStream_t stream) {
  if (rows > 0) embed_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(table, half, n, tokens, out);
}

void to_half(const float* x, void* y, size_t n, cudaStream_t stream) {
  if (n > 0) to_half_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, static_cast<__half*>(y), n);
}

void add(float* y, const float* x, size_t n, cudaStream_t stream) {
  if (n > 0) add_kernel<<<blocks_for(n), kThreads, 0, stream>>>(y, x, n);
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t n, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(n);
  if (total > 0) add_bias_kernel<<<blocks_for(total), kThreads, 0, stream>>>(y, bias, n, total);
}

void silu_mul(float* gate, const float* up, size_t n, cudaStream_t stream) {
  if (n > 0) silu_mul_kernel<<<blocks_for(n), kThreads, 0, stream>>>(gate, up, n);
}

void rope(float* x, int64_t rows, int n_heads, int head_dim, const float* cos_t, const float* sin_t, bool neox, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(rows) * static_cast<size_t>(n_heads) * static_cast<size_t>(head_dim / 2);
  if (total > 0) rope_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, rows, n_heads, head_dim, cos_t, sin_t, neox);
}

void kv_store(const KvLayout& kv, int layer, const AttentionRows& ar, const float* k, const float* v, int64_t rows, cudaStream_t stream) {
  if (rows > 0) kv_store_kernel<<<static_cast<unsigned>(rows), 128, 0, stream>>>(kv, layer, ar, k, v);
}

void attention(const KvLayout& kv, int layer, const AttentionRows& ar, const float* q, float* out, int64_t rows, int n_head, int n_head_kv,
               int head_dim, cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 grid(static_cast<unsigned>(n_head), static_cast<unsigned>(rows));
  attention_kernel<<<grid, 32 * kAttnWarps, 0, stream>>>(kv, layer, ar, q, out, n_head, n_head / n_head_kv, head_dim,
                                                          1.0f / sqrtf(static_cast<float>(head_dim)));
}

void lora_shrink(const LoraItems& items, const float* const* a_ptrs, const int32_t* ranks, const float* x, int64_t n_in, float* t,
                 cudaStream_t stream) {
  if (items.count > 0) lora_shrink_kernel<<<static_cast<unsigned>(items.count), 128, 0, stream>>>(items, a_ptrs, ranks, x, n_in, t);
}

void lora_expand(const LoraItems& items, const float* const* a_ptrs, const float* const* b_ptrs, const int32_t* ranks, const float* t,
                 float* out, int64_t n_out, cudaStream_t stream) {
  if (items.count == 0) return;
  const dim3 grid(blocks_for(static_cast<size_t>(n_out), 128), static_cast<unsigned>(items.count));
  lora_expand_kernel<<<grid, 128, 0, stream>>>(items, a_ptrs, b_ptrs, ranks, t, out, n_out);
}

}  // namespace ol::cuda
