// Philox-4x32-10 against the published known-answer vectors (Salmon et al., Random123
// kat_vectors), and properties of the draws built on it.
#include <gtest/gtest.h>

#include <cmath>

#include "solvers/core/philox.hpp"

namespace kollektiv::rng {
namespace {

void expect_kat(Philox4x32 ctr, std::uint32_t k0, std::uint32_t k1, Philox4x32 expected) {
  const Philox4x32 out = philox4x32_10(ctr, k0, k1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], expected.v[i]) << "word " << i;
}

TEST(Philox, KnownAnswerZero) {
  expect_kat({{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}});
}

TEST(Philox, KnownAnswerAllOnes) {
  expect_kat({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
             {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}});
}

TEST(Philox, KnownAnswerPi) {
  expect_kat({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
             {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}});
}

TEST(Philox, DrawIsAPureFunctionOfItsKey) {
  const auto a = draw(42, Stream::test, 7, 3), b = draw(42, Stream::test, 7, 3);
  const auto c = draw(42, Stream::test, 7, 4), d = draw(42, Stream::process_time, 7, 3);
  const auto e = draw(43, Stream::test, 7, 3), f = draw(42, Stream::test, 8, 3);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.v[i], b.v[i]);
  EXPECT_NE(a.v[0], c.v[0]);
  EXPECT_NE(a.v[0], d.v[0]);
  EXPECT_NE(a.v[0], e.v[0]);
  EXPECT_NE(a.v[0], f.v[0]);
}

TEST(Philox, UniformIsOpenAndMomentsMatch) {
  EXPECT_GT(uniform_open(0, 0), 0.0);
  EXPECT_LT(uniform_open(0xffffffffu, 0xffffffffu), 1.0);
  const int n = 200000;
  double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
  for (int i = 0; i < n; ++i) {
    const auto r = draw(1, Stream::test, 0, static_cast<std::uint64_t>(i));
    const double u = uniform0(r);
    sum += u;
    sum2 += u * u;
    const double z = normal(r);
    nsum += z;
    nsum2 += z * z;
  }
  // Five standard errors: a wrong mapping of bits to doubles fails by far more.
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sum2 / n - 0.25, 1.0 / 12.0, 0.002);
  EXPECT_NEAR(nsum / n, 0.0, 5 / std::sqrt(n));
  EXPECT_NEAR(nsum2 / n, 1.0, 0.02);
}

}  // namespace
}  // namespace kollektiv::rng
