// Quantized formats: reference dequantization against hand-computed blocks and round trips, and
// every SIMD kernel set against the scalar reference and a float dot of the dequantized rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "cpu/quant.h"

using namespace ol;

namespace {

const DType kAllTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q8_0, DType::Q4_K, DType::Q6_K};

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(t, x.size()));
  quantize_row(t, x.data(), q.data(), x.size());
  return q;
}

}  // namespace

TEST(Half, RoundTripsExactValues) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-08f}) EXPECT_EQ(f16_to_f32(f32_to_f16(f)), f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7C00)));
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(3.0f)), 3.0f);
}

TEST(Dequantize, Q4_0HandBlock) {
  BlockQ4_0 b{};
  b.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(DType::Q4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_FLOAT_EQ(y[j], 0.5f * (j - 8));
    EXPECT_FLOAT_EQ(y[j + 16], 0.5f * (15 - j - 8));
  }
}

TEST(Dequantize, Q4_1AndQ8_0HandBlocks) {
  BlockQ4_1 b{};
  b.d = f32_to_f16(2.0f);
  b.m = f32_to_f16(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(3 | (7 << 4));
  float y[32];
  dequantize_row(DType::Q4_1, &b, y, 32);
  EXPECT_FLOAT_EQ(y[0], 5.0f);
  EXPECT_FLOAT_EQ(y[31], 13.0f);
  BlockQ8_0 c{};
  c.d = f32_to_f16(0.25f);
  for (int j = 0; j < 32; ++j) c.qs[j] = static_cast<int8_t>(j - 16);
  dequantize_row(DType::Q8_0, &c, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_FLOAT_EQ(y[j], 0.25f * (j - 16));
}

TEST(Dequantize, Q4_KHandBlock) {
  BlockQ4_K b{};
  b.d = f32_to_f16(1.0f);
  b.dmin = f32_to_f16(0.5f);
  // Sub-block scales 1..8 and mins 2..9 in the 12-byte packing.
  const uint8_t sc[8] = {1, 2, 3, 4, 5, 6, 7, 40}, mn[8] = {2, 3, 4, 5, 6, 7, 8, 50};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  for (int j = 0; j < 128; ++j) b.qs[j] = static_cast<uint8_t>((j % 16) | ((15 - j % 16) << 4));
  std::vector<float> y(256);
  dequantize_row(DType::Q4_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) {
    const int sub = e / 32, l = e % 32, chunk = e / 64;
    const uint8_t byte = b.qs[chunk * 32 + l];
    const int q = (sub % 2 == 0) ? (byte & 0xF) : (byte >> 4);
    EXPECT_FLOAT_EQ(y[static_cast<size_t>(e)], 1.0f * sc[sub] * q - 0.5f * mn[sub]) << e;
  }
}

TEST(Dequantize, Q6_KHandBlock) {
  BlockQ6_K b{};
  b.d = f32_to_f16(0.125f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
  // Element e holds value (e % 64): its low 4 bits in ql, high 2 bits in qh.
  for (int e = 0; e < 256; ++e) {
    const int v = e % 64, c = e / 128, o = e % 128, part = o / 32, l = o % 32;
    uint8_t& ql = b.ql[c * 64 + l + (part & 1) * 32];
    ql = static_cast<uint8_t>(ql | ((v & 0xF) << (part >= 2 ? 4 : 0)));
    b.qh[c * 32 + l] = static_cast<uint8_t>(b.qh[c * 32 + l] | ((v >> 4) << (2 * part)));
  }
  std::vector<float> y(256);
  dequantize_row(DType::Q6_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) EXPECT_FLOAT_EQ(y[static_cast<size_t>(e)], 0.125f * (e / 16 - 8) * (e % 64 - 32)) << e;
}

TEST(Quantize, RoundTripErrorIsBoundedByTheFormat) {
  const auto x = random_values(1024, 7);
  for (DType t : kAllTypes) {
    const auto q = quantize(t, x);
    std::vector<float> y(x.size());
    dequantize_row(t, q.data(), y.data(), x.size());
    double err = 0, norm = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (x[i] - y[i]) * (x[i] - y[i]);
      norm += x[i] * x[i];
    }
    const double rel = std::sqrt(err / norm);
    const double bound = t == DType::F32 ? 1e-7 : t == DType::F16 ? 1e-3 : t == DType::BF16 ? 5e-3 : t == DType::Q8_0 ? 0.01 : t == DType::Q6_K ? 0.05 : 0.2;
    EXPECT_LT(rel, bound) << dtype_name(t);
  }
}

TEST(Kernels, EverySetMatchesTheDequantizedDot) {
  const size_t n = 1024;
  const auto w = random_values(n, 11), x = random_values(n, 12);
  std::vector<BlockQ8Act> act(n / 32);
  quantize_activations_ref(x.data(), act.data(), n);
  std::vector<float> xq(n);  // the activations as the integer kernels see them
  for (size_t i = 0; i < n; ++i) xq[i] = act[i / 32].d * act[i / 32].qs[i % 32];
  size_t count = 0;
  const KernelSet* const* sets = available_kernel_sets(&count);
  ASSERT_GE(count, 1u);
  for (DType t : kAllTypes) {
    const auto q = quantize(t, w);
    std::vector<float> wd(n);
    dequantize_row(t, q.data(), wd.data(), n);
    const bool qa = takes_quantized_activations(t);
    double ref = 0;
    for (size_t i = 0; i < n; ++i) ref += static_cast<double>(wd[i]) * (qa ? xq[i] : x[i]);
    for (size_t s = 0; s < count; ++s) {
      const float got = sets[s]->row_dot[static_cast<int>(t)](q.data(), qa ? static_cast<const void*>(act.data()) : x.data(), n);
      EXPECT_NEAR(got, ref, 1e-3 * (1 + std::fabs(ref))) << dtype_name(t) << " " << sets[s]->isa;
    }
  }
}

TEST(Kernels, FourRowKernelsMatchTheSingleRowOnes) {
  const size_t n = 512;
  const auto w = random_values(n, 21);
  std::vector<std::vector<BlockQ8Act>> acts(4, std::vector<BlockQ8Act>(n / 32));
  for (int r = 0; r < 4; ++r) quantize_activations_ref(random_values(n, 30 + static_cast<uint64_t>(r)).data(), acts[static_cast<size_t>(r)].data(), n);
  const BlockQ8Act* group[4] = {acts[0].data(), acts[1].data(), acts[2].data(), acts[3].data()};
  size_t count = 0;
  const KernelSet* const* sets = available_kernel_sets(&count);
  for (DType t : kAllTypes) {
    if (!takes_quantized_activations(t)) continue;
    const auto q = quantize(t, w);
    for (size_t s = 0; s < count; ++s) {
      if (const Cols4DotFn cols4 = sets[s]->cols4_dot[static_cast<int>(t)]) {
        // Four different weight rows, one after the other: output c equals row_dot of row c exactly.
        std::vector<uint8_t> four;
        for (int c = 0; c < 4; ++c) {
          const auto row = quantize(t, random_values(n, 40 + static_cast<uint64_t>(c)));
          four.insert(four.end(), row.begin(), row.end());
        }
        const size_t stride = four.size() / 4;
        float cols[4];
        cols4(four.data(), stride, group[1], n, cols);
        for (int c = 0; c < 4; ++c)
          EXPECT_EQ(cols[c], sets[s]->row_dot[static_cast<int>(t)](four.data() + c * stride, group[1], n)) << dtype_name(t) << " " << sets[s]->isa << " column " << c;
      }
      if (sets[s]->rows4_dot[static_cast<int>(t)] == nullptr) continue;
      float out[4];
      sets[s]->rows4_dot[static_cast<int>(t)](q.data(), group, n, out);
      for (int r = 0; r < 4; ++r) {
        // Same blocks, same multiply-add order as this set's single-row kernel: equal to the last bit.
        EXPECT_EQ(out[r], sets[s]->row_dot[static_cast<int>(t)](q.data(), group[r], n)) << dtype_name(t) << " " << sets[s]->isa << " row " << r;
      }
    }
  }
}

TEST(Kernels, PackedKernelsEqualTheScalarRowDotOnTheStoredRows) {
  // 2 groups of 16 weight rows against 1..17 activation rows (AVX-512 tiles of 8 and every
  // remainder) and 48..59 (AMX tiles of 16 and remainders): each output must equal the scalar
  // reference on the unpacked row bit for bit (same block order).
  const size_t n = 384, rows = 2 * kPackRows, max_act = 59;
  std::vector<BlockQ8Act> act(max_act * n / 32);
  for (size_t r = 0; r < max_act; ++r) quantize_activations_ref(random_values(n, 60 + r).data(), act.data() + r * n / 32, n);
  size_t count = 0, checked = 0;
  const KernelSet* const* sets = available_kernel_sets(&count);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q8_0}) {
    ASSERT_TRUE(packable(t, static_cast<int64_t>(rows), static_cast<int64_t>(n)));
    const size_t stride = row_bytes(t, n);
    std::vector<uint8_t> stored;
    for (size_t c = 0; c < rows; ++c) {
      const auto row = quantize(t, random_values(n, 70 + c));
      stored.insert(stored.end(), row.begin(), row.end());
    }
    std::vector<uint8_t> packed(packed_group_bytes(t, static_cast<int64_t>(n)) * rows / kPackRows);
    pack_rows(t, stored.data(), stride, static_cast<int64_t>(rows), static_cast<int64_t>(n), packed.data());
    for (size_t s = 0; s < count; ++s) {
      const PackedDotFn packed_dot = sets[s]->packed_dot[static_cast<int>(t)];
      if (packed_dot == nullptr) continue;
      ++checked;
      for (size_t n_act : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 48, 49, 59}) {
        std::vector<float> out(n_act * rows, NAN);
        for (size_t g = 0; g < rows / kPackRows; ++g)
          packed_dot(packed.data() + g * packed_group_bytes(t, static_cast<int64_t>(n)), act.data(), n_act, n, out.data() + g * kPackRows, rows);
        for (size_t r = 0; r < n_act; ++r)
          for (size_t c = 0; c < rows; ++c)
            ASSERT_EQ(out[r * rows + c], kernels_scalar().row_dot[static_cast<int>(t)](stored.data() + c * stride, act.data() + r * n / 32, n))
                << dtype_name(t) << " " << sets[s]->isa << " activation rows " << n_act << " row " << r << " column " << c;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no kernel set on this CPU has packed kernels";
}

TEST(Kernels, ActivationQuantizationMatchesTheReference) {
  const auto x = random_values(512, 3);
  std::vector<BlockQ8Act> ref(16), got(16);
  quantize_activations_ref(x.data(), ref.data(), 512);
  size_t count = 0;
  const KernelSet* const* sets = available_kernel_sets(&count);
  for (size_t s = 0; s < count; ++s) {
    sets[s]->quantize_act(x.data(), got.data(), 512);
    for (size_t b = 0; b < 16; ++b) {
      EXPECT_FLOAT_EQ(got[b].d, ref[b].d);
      EXPECT_FLOAT_EQ(got[b].s, ref[b].s);
      EXPECT_EQ(got[b].sum, ref[b].sum);
      EXPECT_EQ(std::memcmp(got[b].qs, ref[b].qs, 32), 0) << sets[s]->isa;
    }
  }
}
