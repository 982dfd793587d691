// The exact allreduce gives the same bits at any rank count; data split by rank.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "solvers/comm/collectives.hpp"
#include "solvers/comm/exact_reduce.hpp"

namespace kollektiv::comm {
namespace {

std::vector<double> data() {
  std::mt19937_64 gen(2024);
  std::uniform_real_distribution<double> expo(-300, 300);
  std::vector<double> xs;
  for (int i = 0; i < 5000; ++i) {
    xs.push_back((i % 2 ? 1 : -1) * 1.5 * std::pow(10.0, expo(gen)));
    if (i % 4 == 0) xs.push_back(-xs.back());
  }
  xs.push_back(1.0);
  return xs;
}

TEST(ExactReduce, SameBitsAtAnyRankCount) {
  const auto xs = data();
  ExactSum serial;
  for (double x : xs) serial.add(x);
  const double expected = serial.to_double();

  // Each rank takes a strided, rank-count-dependent subset, summed in reverse order.
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  std::vector<ExactSum> local(2);
  for (std::size_t i = xs.size(); i-- > 0;)
    if (static_cast<int>(i % static_cast<std::size_t>(size)) == rank) {
      local[0].add(xs[i]);
      local[1].add(2 * xs[i]);
    }
  allreduce_exact(MPI_COMM_WORLD, local);
  const double got = local[0].to_double(), got2 = local[1].to_double();
  EXPECT_EQ(std::memcmp(&got, &expected, sizeof got), 0) << got << " vs " << expected;
  EXPECT_EQ(got2, 2 * expected);
}

TEST(ExactReduce, ScalarAndOffsets) {
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  const double v = allreduce_exact(MPI_COMM_WORLD, rank == 0 ? 1e300 : (rank == size - 1 ? -1e300 : 0.5));
  EXPECT_EQ(v, size == 1 ? 1e300 : 0.5 * (size - 2));
  const GlobalOffset off = exclusive_offset(MPI_COMM_WORLD, rank + 1);
  EXPECT_EQ(off.offset, rank * (rank + 1) / 2);
  EXPECT_EQ(off.total, size * (size + 1) / 2);
}

TEST(Collectives, GatherBroadcastAny) {
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  const std::vector<double> mine(static_cast<std::size_t>(rank), rank);
  const auto all = gather_to_root(MPI_COMM_WORLD, mine);
  if (rank == 0) {
    EXPECT_EQ(static_cast<int>(all.size()), size * (size - 1) / 2);
    if (!all.empty()) {
      EXPECT_EQ(all.back(), size - 1);
    }
  } else {
    EXPECT_TRUE(all.empty());
  }
  EXPECT_EQ(broadcast(MPI_COMM_WORLD, rank == 0 ? std::string("deck: 1\n") : std::string()), "deck: 1\n");
  EXPECT_EQ(any_rank(MPI_COMM_WORLD, rank == size - 1), true);
  EXPECT_EQ(any_rank(MPI_COMM_WORLD, false), false);
  EXPECT_EQ(allreduce_sum(MPI_COMM_WORLD, std::int64_t{2}), 2 * size);
}

// Arrays longer than one MPI message (int counts) travel in chunks: with the limit lowered
// to 3 elements, gathers, allreduces, exact sums and broadcasts give what one message gives.
TEST(Collectives, LongArraysTravelInChunks) {
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  const std::int64_t saved = max_message_count();
  set_max_message_count(3);
  std::vector<double> mine(static_cast<std::size_t>(rank + 4));
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = 100.0 * rank + static_cast<double>(i);
  const auto all = gather_to_root(MPI_COMM_WORLD, mine);
  if (rank == 0) {
    std::vector<double> expected;
    for (int r = 0; r < size; ++r)
      for (int i = 0; i < r + 4; ++i) expected.push_back(100.0 * r + i);
    EXPECT_EQ(all, expected);
  } else {
    EXPECT_TRUE(all.empty());
  }
  std::vector<std::int64_t> counts(10);
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] = static_cast<std::int64_t>(i) * (rank + 1);
  allreduce_sum(MPI_COMM_WORLD, counts);
  for (std::size_t i = 0; i < counts.size(); ++i)
    EXPECT_EQ(counts[i], static_cast<std::int64_t>(i) * size * (size + 1) / 2);
  std::vector<double> highs(7, static_cast<double>(rank));
  highs[6] = -rank;
  allreduce_max(MPI_COMM_WORLD, highs);
  EXPECT_EQ(highs[0], size - 1);
  EXPECT_EQ(highs[6], 0.0);
  std::vector<ExactSum> sums(5);
  for (auto& x : sums) x += 0.1 * (rank + 1);
  allreduce_exact(MPI_COMM_WORLD, sums);
  ExactSum reference;
  for (int r = 0; r < size; ++r) reference += 0.1 * (r + 1);
  for (const auto& x : sums) EXPECT_EQ(x.to_double(), reference.to_double());
  EXPECT_EQ(broadcast(MPI_COMM_WORLD, rank == 0 ? std::string("line: long\n") : std::string()), "line: long\n");
  set_max_message_count(saved);
}

}  // namespace
}  // namespace kollektiv::comm
