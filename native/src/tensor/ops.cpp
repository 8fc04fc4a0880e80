#include "tensor/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "cpu/vec_math.h"
#include "runtime/thread_pool.h"

namespace ol {

void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i] * xr[i]);  // squares in float, sum in double (as llama.cpp)
    const float scale = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

void rope_tables(const int32_t* positions, int64_t rows, int head_dim, float theta, float* cos_out, float* sin_out) {
  // Angles accumulated in single precision, pos * base^(-2i/d) one factor at a time, the way
  // llama.cpp computes them (bit-for-bit agreement matters more here than the last ulp).
  const int half = head_dim / 2;
  const float theta_scale = std::pow(theta, -2.0f / static_cast<float>(head_dim));
  for (int64_t r = 0; r < rows; ++r) {
    float angle = static_cast<float>(positions[r]);
    for (int i = 0; i < half; ++i) {
      cos_out[r * half + i] = std::cos(angle);
      sin_out[r * half + i] = std::sin(angle);
      angle *= theta_scale;
    }
  }
}

void rope(float* x, int64_t rows, int n_heads, int head_dim, const float* cos_t, const float* sin_t, RopeStyle style) {
  const int half = head_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* c_row = cos_t + r * half;
    const float* s_row = sin_t + r * half;
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (r * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const int a = style == RopeStyle::Interleaved ? 2 * i : i;
        const int b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
        // Fused where llama.cpp's compiler fuses (x0 * cos - x1 * sin, x0 * sin + x1 * cos).
        const float x0 = v[a], x1 = v[b];
        v[a] = std::fma(x0, c_row[i], -(x1 * s_row[i]));
        v[b] = std::fma(x0, s_row[i], x1 * c_row[i]);
      }
    }
  }
}

void silu_mul(float* a, const float* b, size_t n) { vec_math().silu_mul(a, b, n); }

void add_inplace(float* y, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += x[i];
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) add_inplace(y + r * n, bias, static_cast<size_t>(n));
}

void softmax(float* x, size_t n) {
  const float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (size_t i = 0; i < n; ++i) x[i] *= inv;
}

void matmul(const Matrix& w, const float* x, int64_t rows, float* y, ThreadPool& pool) {
  const KernelSet& k = kernels();
  const RowDotFn dot = k.row_dot[static_cast<int>(w.dtype)];
  const size_t n = static_cast<size_t>(w.cols);
  const void* act = x;
  size_t act_stride = n * sizeof(float);
  thread_local std::vector<BlockQ8Act> quantized_buffer;  // the caller's; workers get a pointer
  if (takes_quantized_activations(w.dtype)) {
    quantized_buffer.resize(static_cast<size_t>(rows) * n / 32);
    BlockQ8Act* quantized = quantized_buffer.data();
    pool.parallel_for(static_cast<size_t>(rows), 1, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) k.quantize_act(x + r * n, quantized + r * n / 32, n);
    });
    act = quantized;
    act_stride = n / 32 * sizeof(BlockQ8Act);
  }
  const int64_t out = w.rows;
  if (const PackedDotFn packed = k.packed_dot[static_cast<int>(w.dtype)]; packed != nullptr && w.packed != nullptr) {
    // Groups of 16 weight rows split across threads; each group meets every activation row.
    const size_t group_bytes = packed_group_bytes(w.dtype, w.cols);
    const auto* quantized = static_cast<const BlockQ8Act*>(act);
    pool.parallel_for(static_cast<size_t>(out / kPackRows), 1, [&](size_t g0, size_t g1) {
      for (size_t g = g0; g < g1; ++g)
        packed(w.packed + g * group_bytes, quantized, static_cast<size_t>(rows), n, y + g * kPackRows, static_cast<size_t>(out));
    });
    return;
  }
  const auto* act_bytes = static_cast<const uint8_t*>(act);
  const Rows4DotFn dot4 = k.rows4_dot[static_cast<int>(w.dtype)];
  const Cols4DotFn cols4 = k.cols4_dot[static_cast<int>(w.dtype)];
  // Output rows are split across threads. Within a chunk, groups of 4 activation rows go through
  // every weight row of the chunk (both stay in L1); a quantized weight block is decoded once per
  // group of 4.
  pool.parallel_for(static_cast<size_t>(out), 16, [&](size_t o0, size_t o1) {
    int64_t r = 0;
    if (dot4 != nullptr) {
      for (; r + 4 <= rows; r += 4) {
        const BlockQ8Act* group[4];
        for (int i = 0; i < 4; ++i) group[i] = reinterpret_cast<const BlockQ8Act*>(act_bytes + static_cast<size_t>(r + i) * act_stride);
        for (size_t o = o0; o < o1; ++o) {
          float res[4];
          dot4(w.row(static_cast<int64_t>(o)), group, n, res);
          for (int i = 0; i < 4; ++i) y[static_cast<size_t>((r + i) * out) + o] = res[i];
        }
      }
    }
    for (; r < rows; ++r) {
      const auto* a = act_bytes + static_cast<size_t>(r) * act_stride;
      size_t o = o0;
      if (cols4 != nullptr)
        for (; o + 4 <= o1; o += 4) cols4(w.row(static_cast<int64_t>(o)), w.row_stride, reinterpret_cast<const BlockQ8Act*>(a), n, y + static_cast<size_t>(r * out) + o);
      for (; o < o1; ++o) y[static_cast<size_t>(r * out) + o] = dot(w.row(static_cast<int64_t>(o)), a, n);
    }
  });
}

}  // namespace ol
