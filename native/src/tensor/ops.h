// Forward operators on row-major float buffers ([rows, n]). Each is a pure function of its inputs
// so a backward counterpart (training) can be added next to it without touching callers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/model.h"

namespace ol {

class ThreadPool;

// y[r] = x[r] / rms(x[r]) * w
void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps);
// Rotation angles for rotary embeddings: cos/sin[r * head_dim / 2 + i] for row r at positions[r].
void rope_tables(const int32_t* positions, int64_t rows, int head_dim, float theta, float* cos_out, float* sin_out);
// Rotary embedding in place on [rows, n_heads * head_dim] with tables from rope_tables.
void rope(float* x, int64_t rows, int n_heads, int head_dim, const float* cos_t, const float* sin_t, RopeStyle style);
// a = silu(a) * b
void silu_mul(float* a, const float* b, size_t n);
void add_inplace(float* y, const float* x, size_t n);
// Adds bias[n] to every row.
void add_bias(float* y, const float* bias, int64_t rows, int64_t n);
// y[T, W.rows] = x[T, W.cols] * W^T for a weight in any stored type (quantized weights take
// activations quantized per row; the weights are never dequantized wholesale).
void matmul(const Matrix& w, const float* x, int64_t rows, float* y, ThreadPool& pool);
// Softmax in place over n values.
void softmax(float* x, size_t n);

}  // namespace ol
