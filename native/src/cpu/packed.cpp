#include "cpu/packed.h"

#include <cstring>

#include "cpu/quant.h"

namespace ol {

bool packable(DType t, int64_t rows, int64_t cols) {
  return (t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q8_0) && rows > 0 && rows % kPackRows == 0 && cols > 0 && cols % 32 == 0;
}

namespace {

// One block of 16 rows: 4 bytes of each row's quants at a time, then the half scales.
template <typename Block, int kQsBytes, int kScales>
void pack_block(const Block* const* rows, size_t i, uint32_t flip, uint8_t* dst) {
  for (int j = 0; j < kQsBytes / 4; ++j)
    for (int c = 0; c < kPackRows; ++c) {
      uint32_t q;
      std::memcpy(&q, reinterpret_cast<const uint8_t*>(rows[c][i].qs) + 4 * j, 4);
      q ^= flip;  // Q8_0: s8 + 128 == s8 ^ 0x80 per byte
      std::memcpy(dst + 64 * j + 4 * c, &q, 4);
    }
  uint8_t* scales = dst + 16 * kQsBytes;
  for (int c = 0; c < kPackRows; ++c)
    for (int k = 0; k < kScales; ++k)  // d (and m) lead every block
      std::memcpy(scales + sizeof(f16_bits) * (k * kPackRows + c), reinterpret_cast<const uint8_t*>(&rows[c][i]) + sizeof(f16_bits) * k, sizeof(f16_bits));
}

template <typename Block, DType T, int kQsBytes, int kScales>
void pack_typed(const uint8_t* src, size_t row_stride, int64_t rows, int64_t cols, uint32_t flip, uint8_t* dst) {
  constexpr size_t block_bytes = packed_block_bytes(T);
  static_assert(block_bytes == kPackRows * (kQsBytes + sizeof(f16_bits) * kScales));
  const size_t blocks = static_cast<size_t>(cols / 32);
  for (int64_t g = 0; g < rows / kPackRows; ++g) {
    const Block* group[kPackRows];
    for (int c = 0; c < kPackRows; ++c) group[c] = reinterpret_cast<const Block*>(src + static_cast<size_t>(g * kPackRows + c) * row_stride);
    for (size_t i = 0; i < blocks; ++i, dst += block_bytes) pack_block<Block, kQsBytes, kScales>(group, i, flip, dst);
  }
}

}  // namespace

void pack_rows(DType t, const uint8_t* src, size_t row_stride, int64_t rows, int64_t cols, uint8_t* dst) {
  switch (t) {
    case DType::Q4_0: pack_typed<BlockQ4_0, DType::Q4_0, 16, 1>(src, row_stride, rows, cols, 0, dst); return;
    case DType::Q4_1: pack_typed<BlockQ4_1, DType::Q4_1, 16, 2>(src, row_stride, rows, cols, 0, dst); return;
    case DType::Q8_0: pack_typed<BlockQ8_0, DType::Q8_0, 32, 1>(src, row_stride, rows, cols, 0x80808080u, dst); return;
    default: return;
  }
}

}  // namespace ol
