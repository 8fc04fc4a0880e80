// cpu/vec_math: the exp approximation's accuracy and saturation, the portable set's summation
// orders on hand values, and the AVX-512 set giving the portable set's results bit for bit.
#include "cpu/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/quant.h"

using namespace ol;

namespace {

std::vector<float> random_floats(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint16_t> random_halves(size_t n, unsigned seed) {
  std::vector<uint16_t> h;
  for (float x : random_floats(n, -2.0f, 2.0f, seed)) h.push_back(f32_to_f16(x));
  return h;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST(VecMath, ExpIsWithinTwoUlpsAndSaturates) {
  const VecMath& vm = vec_math_scalar();
  const auto x = random_floats(4096, -87.0f, 88.0f, 1);
  std::vector<float> y(x.size());
  vm.exp_sum(y.data(), x.data(), 0.0f, x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = std::exp(x[i]);
    EXPECT_LE(std::fabs(y[i] - want), 2.0f * (std::nextafter(want, INFINITY) - want)) << x[i];
  }
  const float edge[16] = {-INFINITY, -200.0f, 0.0f, 200.0f, 1.0f, -1.0f, 0.5f, 2.0f, 0, 0, 0, 0, 0, 0, 0, 0};
  float out[16];
  vm.exp_sum(out, edge, 0.0f, 16);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 1.0f);
  EXPECT_TRUE(std::isinf(out[3]));
}

TEST(VecMath, HandValues) {
  const VecMath& vm = vec_math_scalar();
  // silu(0) = 0, silu(x) * 1 close to x / (1 + e^-x); the 17th value takes the libm tail.
  std::vector<float> a(17, 0.0f), b(17, 1.0f);
  a[1] = 1.0f;
  a[16] = -3.0f;
  vm.silu_mul(a.data(), b.data(), a.size());
  EXPECT_EQ(a[0], 0.0f);
  EXPECT_NEAR(a[1], 1.0f / (1.0f + std::exp(-1.0f)), 1e-6f);
  EXPECT_EQ(a[16], -3.0f / (1.0f + std::exp(3.0f)));
  // dot of halves: 64 blocked values plus a 3-value tail summed in double.
  std::vector<uint16_t> x(67, f32_to_f16(0.5f)), y(67, f32_to_f16(2.0f));
  const uint16_t* rows[1] = {x.data()};
  float dot = 0.0f;
  vm.dot_keys_f16_half(y.data(), rows, 1, x.size(), &dot);
  EXPECT_EQ(dot, 67.0f);
  // One fma chain per key.
  const float q[3] = {1.0f, 2.0f, 3.0f};
  const uint16_t k0[3] = {f32_to_f16(1.0f), f32_to_f16(1.0f), f32_to_f16(1.0f)};
  const uint16_t k1[3] = {f32_to_f16(-1.0f), f32_to_f16(0.5f), f32_to_f16(0.0f)};
  const uint16_t* keys[2] = {k0, k1};
  float out[2];
  vm.dot_keys_f16(q, keys, 2, 3, out);
  EXPECT_EQ(out[0], 6.0f);
  EXPECT_EQ(out[1], 0.0f);
}

static void expect_matches_portable(const VecMath* fast) {
  const VecMath& ref = vec_math_scalar();
  for (size_t n : {5u, 16u, 64u, 70u, 128u, 1536u}) {
    // Wide enough for exp's extremes (|n| > 126 takes another path in the AVX2 set).
    const auto a0 = random_floats(n, n == 1536 ? -120.0f : -12.0f, n == 1536 ? 100.0f : 12.0f, static_cast<unsigned>(n));
    const auto b = random_floats(n, -3.0f, 3.0f, static_cast<unsigned>(n) + 1);
    auto a1 = a0, a2 = a0;
    ref.silu_mul(a1.data(), b.data(), n);
    fast->silu_mul(a2.data(), b.data(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(a1[i], a2[i])) << "silu_mul n=" << n << " i=" << i;

    std::vector<float> y1(n), y2(n);
    const double s1 = ref.exp_sum(y1.data(), a0.data(), 3.0f, n), s2 = fast->exp_sum(y2.data(), a0.data(), 3.0f, n);
    ASSERT_EQ(s1, s2) << "exp_sum n=" << n;
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(y1[i], y2[i])) << "exp n=" << n << " i=" << i;

    const auto hx = random_halves(n, 7), hy = random_halves(n, 8);
    const uint16_t* rows[1] = {hx.data()};
    float d1 = 0.0f, d2 = 0.0f;
    ref.dot_keys_f16_half(hy.data(), rows, 1, n, &d1);
    fast->dot_keys_f16_half(hy.data(), rows, 1, n, &d2);
    ASSERT_TRUE(same_bits(d1, d2)) << "dot_keys_f16_half n=" << n;

    std::vector<float> m1(n, 0.25f), m2(n, 0.25f);
    ref.mad_f16_f32(m1.data(), hx.data(), -0.7f, n);
    fast->mad_f16_f32(m2.data(), hx.data(), -0.7f, n);
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(m1[i], m2[i])) << "mad n=" << n;
  }
  // 37 keys of 64 and of 100 elements (a partial block of lanes; a row length not a multiple of 16).
  for (size_t n : {64u, 100u}) {
    std::vector<std::vector<uint16_t>> rows;
    std::vector<const uint16_t*> keys;
    for (unsigned j = 0; j < 37; ++j) rows.push_back(random_halves(n, 100 + j));
    for (const auto& r : rows) keys.push_back(r.data());
    const auto q = random_floats(n, -1.0f, 1.0f, 9);
    std::vector<float> o1(keys.size()), o2(keys.size());
    ref.dot_keys_f16(q.data(), keys.data(), keys.size(), n, o1.data());
    fast->dot_keys_f16(q.data(), keys.data(), keys.size(), n, o2.data());
    for (size_t j = 0; j < keys.size(); ++j) ASSERT_TRUE(same_bits(o1[j], o2[j])) << "dot_keys n=" << n << " key " << j;
  }
}

TEST(VecMath, Avx512MatchesPortableBitForBit) {
  if (vec_math_avx512() == nullptr) GTEST_SKIP() << "no AVX-512 on this CPU";
  expect_matches_portable(vec_math_avx512());
}

TEST(VecMath, Avx2MatchesPortableBitForBit) {
  if (vec_math_avx2() == nullptr) GTEST_SKIP() << "no AVX2 on this CPU";
  expect_matches_portable(vec_math_avx2());
}
