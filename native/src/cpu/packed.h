// Weights repacked at load time for the AVX-512 VNNI kernels: 16 output rows interleaved per
// 32-element block, so one 64-byte vector holds 4 consecutive inputs of all 16 rows and one
// vpdpbusd against 4 broadcast activation bytes yields 16 partial dot products (no horizontal sums).
//
// Layout of a packed matrix: row groups of kPackRows rows one after the other; within a group the
// blocks of 32 inputs in order, each block:
//   Q4_0, Q4_1: qs[4][64]: vector j, byte 4c+t = row c's stored byte 4j+t (low nibble input 4j+t,
//               high nibble input 16+4j+t; values 0..15, Q4_0's offset of 8 is left to the kernel);
//   Q8_0:       qs[8][64]: vector j, byte 4c+t = row c's input 4j+t plus 128 (unsigned);
//   then d[16] (half), and for Q4_1 m[16] (half).
// The quantized values and scales are the stored ones, so results equal the unpacked row_dot's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace ol {

constexpr int kPackRows = 16;

// Whether this layout exists for the type and shape (Q4_0/Q4_1/Q8_0, rows a multiple of 16).
bool packable(DType t, int64_t rows, int64_t cols);
// Bytes of one packed block (16 rows x 32 inputs): the quants, then the half scales (d, and m for Q4_1).
constexpr size_t packed_qs_bytes(DType t) { return t == DType::Q8_0 ? 512 : 256; }
constexpr size_t packed_block_bytes(DType t) { return packed_qs_bytes(t) + (t == DType::Q4_1 ? 64 : 32); }
// Bytes of one packed group of 16 rows (cols inputs each).
inline size_t packed_group_bytes(DType t, int64_t cols) { return packed_block_bytes(t) * static_cast<size_t>(cols / 32); }
// Repacks rows x cols stored rows (row_stride bytes apart) into dst (packed_group_bytes * rows / 16 bytes).
void pack_rows(DType t, const uint8_t* src, size_t row_stride, int64_t rows, int64_t cols, uint8_t* dst);

}  // namespace ol
