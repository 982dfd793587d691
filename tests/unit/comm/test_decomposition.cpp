// Decomposition: contiguous, balanced, covering, and owner() agrees with range_of().
#include <gtest/gtest.h>

#include "solvers/comm/decomposition.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::comm {
namespace {

TEST(Decomposition, CoversAllIdsExactlyOnceAndBalances) {
  for (std::int64_t count : {0, 1, 5, 7, 20, 1001}) {
    for (int size : {1, 2, 3, 4, 7}) {
      std::int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const Range range = Decomposition(count, r, size).local();
        EXPECT_EQ(range.begin, next);
        EXPECT_LE(range.size(), count / size + 1);
        EXPECT_GE(range.size(), count / size);
        for (std::int64_t g = range.begin; g < range.end; ++g)
          EXPECT_EQ(Decomposition(count, 0, size).owner(g), r);
        next = range.end;
      }
      EXPECT_EQ(next, count);
    }
  }
}

TEST(Decomposition, RejectsBadArguments) {
  EXPECT_THROW(Decomposition(10, 2, 2), Error);
  EXPECT_THROW(Decomposition(10, 0, 2).owner(10), Error);
  EXPECT_THROW(Decomposition(-1, 0, 1), Error);
}

}  // namespace
}  // namespace kollektiv::comm
