// reserve_large: a reserve (the hint it adds changes no contents and no capacity rule).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "solvers/core/memory.hpp"

namespace kollektiv {
namespace {

TEST(ReserveLarge, ReservesAndKeepsTheContents) {
  std::vector<std::int64_t> v = {1, 2, 3};
  reserve_large(v, std::size_t{1} << 20);  // 8 MiB: advised
  ASSERT_GE(v.capacity(), std::size_t{1} << 20);
  EXPECT_EQ(v, (std::vector<std::int64_t>{1, 2, 3}));
  const std::int64_t* data = v.data();
  for (std::int64_t i = 0; i < (std::int64_t{1} << 20) - 3; ++i) v.push_back(i);
  EXPECT_EQ(v.data(), data) << "filling the reserved capacity reallocated";
  EXPECT_EQ(v[3], 0);
  EXPECT_EQ(v.back(), (std::int64_t{1} << 20) - 4);

  std::vector<double> small = {0.5};
  reserve_large(small, 10);  // small: a plain reserve
  EXPECT_GE(small.capacity(), 10u);
  EXPECT_EQ(small, (std::vector<double>{0.5}));
  reserve_large(small, 1);  // never shrinks
  EXPECT_GE(small.capacity(), 10u);
  advise_huge_pages(small.data(), 8);  // less than a huge page: nothing, and no failure
}

}  // namespace
}  // namespace kollektiv
