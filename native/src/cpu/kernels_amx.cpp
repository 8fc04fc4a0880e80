// AMX kernel set: the AVX-512 set, with the packed matmul of 16 or more activation rows done by AMX
// int8 tiles (prefill chunks, batched decode). Compiled with the AVX-512 flags plus -mamx-tile
// -mamx-int8; kernels.cpp uses it only after cpuid says the CPU has AMX and the kernel has granted
// this process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM).
//
// Per 32-input block, one TDPBSUD multiplies a tile of 16 activation rows (signed bytes, read in
// place with their row stride) by a tile of the group's 16 weight rows in the packed layout
// (unsigned bytes, 4 inputs per lane: exactly the tile's VNNI format). The 16x16 exact int32 sums go
// through memory to AVX-512 registers, where each output accumulates its blocks in order with fused
// multiply-adds, as row_dot does: results are the same to the last bit.
#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/packed.h"

namespace ol {
namespace {

constexpr int kTileRows = 16;
// Tile registers (the intrinsics take literal numbers), two sets: tmm0/tmm3 = C (int32 16x16),
// tmm1/tmm4 = A (activations, 16 rows x 32 bytes), tmm2/tmm5 = B (weights, 8 rows x 64 bytes).

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// The asm of the tile intrinsics does not tell the compiler which memory they read.
inline void compiler_barrier() { asm volatile("" ::: "memory"); }

// Tile configuration is per thread and anything else in the thread may change it, so every call
// loads it (tens of cycles against thousands for a group).
void configure_tiles() {
  TileConfig cfg;
  for (int set = 0; set < 2; ++set) {
    cfg.colsb[3 * set] = 64, cfg.rows[3 * set] = kTileRows;
    cfg.colsb[3 * set + 1] = 32, cfg.rows[3 * set + 1] = kTileRows;
    cfg.colsb[3 * set + 2] = 64, cfg.rows[3 * set + 2] = 8;
  }
  compiler_barrier();
  _tile_loadconfig(&cfg);
}

enum class Kind { Q4_0, Q4_1, Q8_0 };
template <Kind K>
constexpr size_t kQsBytes = K == Kind::Q8_0 ? 512 : 256;
template <Kind K>
constexpr size_t kBlockBytes = kQsBytes<K> + (K == Kind::Q4_1 ? 64 : 32);

inline __m512 halves_to_float(const uint8_t* p) { return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

const KernelSet* avx512_set() {
  static const KernelSet* set = kernels_avx512();
  return set;
}

// The weight tiles of a group: Q8_0 is read in place; Q4 nibbles are widened to bytes once per
// group (every 16-row activation tile reuses them), long before the tile loads read them back.
template <Kind K>
const uint8_t* weight_tiles(const uint8_t* group, size_t blocks, std::vector<uint8_t>& buffer) {
  if constexpr (K == Kind::Q8_0) return group;
  buffer.resize(blocks * 512 + 64);
  auto* out = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buffer.data()) + 63) & ~uintptr_t{63});
  const __m512i low_mask = _mm512_set1_epi8(0xF);
  for (size_t i = 0; i < blocks; ++i) {
    const uint8_t* b = group + i * kBlockBytes<K>;
    for (int j = 0; j < 4; ++j) {
      const __m512i v = _mm512_loadu_si512(b + 64 * j);
      _mm512_store_si512(out + i * 512 + 64 * j, _mm512_and_si512(v, low_mask));
      _mm512_store_si512(out + i * 512 + 64 * (j + 4), _mm512_and_si512(_mm512_srli_epi16(v, 4), low_mask));
    }
  }
  return out;
}

// 16 activation rows (blocks apart) against one packed group; out rows out_stride apart. First all
// blocks' tile products (stored as int32), then the in-order float accumulation, so the tile unit
// and the vector unit do not wait on each other block by block.
template <Kind K>
void tile16(const uint8_t* group, const uint8_t* tiles, const BlockQ8Act* act, size_t blocks, int32_t* sums, float* out, size_t out_stride) {
  constexpr size_t kTileStride = K == Kind::Q8_0 ? kBlockBytes<K> : 512;
  const size_t act_stride = blocks * sizeof(BlockQ8Act);
  compiler_barrier();
  // Two sets of tile registers take alternate blocks, so one block's product overlaps the next's loads.
  size_t i = 0;
  for (; i + 2 <= blocks; i += 2) {
    _tile_loadd(2, tiles + i * kTileStride, 64);
    _tile_loadd(1, act[i].qs, act_stride);
    _tile_loadd(5, tiles + (i + 1) * kTileStride, 64);
    _tile_loadd(4, act[i + 1].qs, act_stride);
    _tile_zero(0);
    _tile_zero(3);
    _tile_dpbsud(0, 1, 2);
    _tile_dpbsud(3, 4, 5);
    _tile_stored(0, sums + i * 256, 64);
    _tile_stored(3, sums + (i + 1) * 256, 64);
  }
  if (i < blocks) {
    _tile_loadd(2, tiles + i * kTileStride, 64);
    _tile_loadd(1, act[i].qs, act_stride);
    _tile_zero(0);
    _tile_dpbsud(0, 1, 2);
    _tile_stored(0, sums + i * 256, 64);
  }
  __m512 acc[kTileRows];
  for (int r = 0; r < kTileRows; ++r) acc[r] = _mm512_setzero_ps();
  for (size_t i = 0; i < blocks; ++i) {
    const uint8_t* b = group + i * kBlockBytes<K>;
    const __m512 d = halves_to_float(b + kQsBytes<K>);
    for (int r = 0; r < kTileRows; ++r) {
      const BlockQ8Act& a = act[static_cast<size_t>(r) * blocks + i];
      __m512i sum = _mm512_load_si512(sums + i * 256 + 16 * r);
      // The weights went in unsigned: Q4_0 is stored +8 and packed Q8_0 +128.
      if constexpr (K == Kind::Q4_0) sum = _mm512_sub_epi32(sum, _mm512_set1_epi32(8 * a.sum));
      if constexpr (K == Kind::Q8_0) sum = _mm512_sub_epi32(sum, _mm512_set1_epi32(128 * a.sum));
      acc[r] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, sum), _mm512_mul_ps(d, _mm512_set1_ps(a.d)), acc[r]);
    }
    if constexpr (K == Kind::Q4_1) {
      const __m512 m = halves_to_float(b + kQsBytes<K> + 32);
      for (int r = 0; r < kTileRows; ++r) acc[r] = _mm512_fmadd_ps(m, _mm512_set1_ps(act[static_cast<size_t>(r) * blocks + i].s), acc[r]);
    }
  }
  for (int r = 0; r < kTileRows; ++r) _mm512_storeu_ps(out + static_cast<size_t>(r) * out_stride, acc[r]);
}

template <Kind K, DType T>
void packed_dot_amx(const uint8_t* group, const BlockQ8Act* act, size_t rows, size_t n, float* out, size_t out_stride) {
  const size_t blocks = n / 32;
  size_t r = 0;
  if (rows >= kTileRows) {
    configure_tiles();
    thread_local std::vector<uint8_t> widened;
    thread_local std::vector<int32_t> sums;
    const uint8_t* tiles = weight_tiles<K>(group, blocks, widened);
    sums.resize(blocks * 256 + 16);
    int32_t* aligned_sums = reinterpret_cast<int32_t*>((reinterpret_cast<uintptr_t>(sums.data()) + 63) & ~uintptr_t{63});
    for (; r + kTileRows <= rows; r += kTileRows) tile16<K>(group, tiles, act + r * blocks, blocks, aligned_sums, out + r * out_stride, out_stride);
  }
  if (r < rows) avx512_set()->packed_dot[static_cast<int>(T)](group, act + r * blocks, rows - r, n, out + r * out_stride, out_stride);
}

KernelSet make_set() {
  KernelSet k = *avx512_set();
  k.isa = "amx";
  k.packed_dot[static_cast<int>(DType::Q4_0)] = packed_dot_amx<Kind::Q4_0, DType::Q4_0>;
  k.packed_dot[static_cast<int>(DType::Q4_1)] = packed_dot_amx<Kind::Q4_1, DType::Q4_1>;
  k.packed_dot[static_cast<int>(DType::Q8_0)] = packed_dot_amx<Kind::Q8_0, DType::Q8_0>;
  return k;
}

}  // namespace

const KernelSet* kernels_amx() {
  static const KernelSet set = make_set();
  return &set;
}

}  // namespace ol
