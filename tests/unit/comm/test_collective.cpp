// comm::Collective over MPI (and the one-rank Collective): every operation leaves the same
// result on every rank, exchanges pair the right peers, traffic counts what was sent, and
// fixed-point sums keep their bits for any split of the segments over the ranks.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "solvers/comm/collective.hpp"
#include "solvers/comm/fixed_point_sum.hpp"
#include "solvers/core/philox.hpp"
#include "tests/test_collectives.hpp"

namespace kollektiv::comm {
namespace {

template <class T>
View<T*> device(const std::vector<T>& values) {
  return to_view(values, "test::values");
}

TEST(Collective, ReductionsAndBroadcastAgreeOnEveryRank) {
  Collective& c = testing::world();
  const int rank = c.rank(), size = c.size();
  const std::int64_t big = std::int64_t{1} << 60;
  View<std::int64_t*> sums = device<std::int64_t>({rank + 1, big / 8, -rank});
  c.sum(sums);
  EXPECT_EQ(to_vector(sums), (std::vector<std::int64_t>{size * (size + 1) / 2, size * (big / 8), -size * (size - 1) / 2}));
  View<int*> maxima = device<int>({rank, -rank});
  c.max(maxima);
  EXPECT_EQ(to_vector(maxima), (std::vector<int>{size - 1, 0}));
  std::vector<int> minima{rank, -rank};
  c.min(minima);
  EXPECT_EQ(minima, (std::vector<int>{0, -(size - 1)}));
  EXPECT_EQ(sum(c, 2), 2 * size);
  EXPECT_TRUE(any_rank(c, rank == size - 1));
  EXPECT_FALSE(any_rank(c, false));
  EXPECT_EQ(all_gather(c, {rank, 10 * rank}).size(), static_cast<std::size_t>(2 * size));
  EXPECT_EQ(all_gather(c, {rank, 10 * rank})[2 * (size - 1) + 1], 10 * (size - 1));

  View<Real*> values = device<Real>({rank + 0.5, -1.0 * rank});
  c.broadcast(values, size - 1);
  EXPECT_EQ(to_vector(values), (std::vector<Real>{size - 0.5, -1.0 * (size - 1)}));
}

// Ring swaps with both neighbours (and with itself): each rank receives what its peers sent.
TEST(Collective, ExchangePairsPeersAndCountsBytes) {
  Collective& c = testing::world();
  const int rank = c.rank(), size = c.size();
  const int right = (rank + 1) % size, left = (rank + size - 1) % size;
  View<Real*> to_right = device<Real>({1.0 * rank, 100.0 + rank});
  View<Real*> to_left = device<Real>({-1.0 * rank, -100.0 - rank});
  View<Real*> from_left("test::from_left", 2), from_right("test::from_right", 2);
  // Both neighbours are the same rank at two ranks: the order of the swaps pairs them.
  std::vector<Collective::Swap> swaps;
  if (rank % 2 == 0 || size == 1) {
    swaps = {{right, to_right, from_right}, {left, to_left, from_left}};
  } else {
    swaps = {{left, to_left, from_left}, {right, to_right, from_right}};
  }
  if (size == 2) swaps = {{right, to_right, from_left}, {left, to_left, from_right}};
  const Traffic before = c.traffic();
  c.exchange(swaps);
  if (size == 1) {
    EXPECT_EQ(to_vector(from_right), to_vector(to_right));
    EXPECT_EQ(to_vector(from_left), to_vector(to_left));
    EXPECT_EQ(c.traffic().bytes_sent, before.bytes_sent);
  } else if (size == 2) {
    EXPECT_EQ(to_vector(from_left), (std::vector<Real>{1.0 * left, 100.0 + left}));
    EXPECT_EQ(to_vector(from_right), (std::vector<Real>{-1.0 * right, -100.0 - right}));
  } else {
    EXPECT_EQ(to_vector(from_left), (std::vector<Real>{1.0 * left, 100.0 + left}));
    EXPECT_EQ(to_vector(from_right), (std::vector<Real>{-1.0 * right, -100.0 - right}));
    EXPECT_EQ(c.traffic().bytes_sent - before.bytes_sent, static_cast<std::int64_t>(4 * sizeof(Real)));
  }
  EXPECT_GT(c.traffic().operations, before.operations);
}

// 24 segments of 5 columns, dealt to the ranks in a rank-count-dependent way: the sum has
// the bits of the one-rank sum of all segments.
TEST(Collective, FixedPointSumHasTheSameBitsForAnySplit) {
  Collective& c = testing::world();
  const int segments = 24, columns = 5;
  std::vector<std::vector<double>> all(segments, std::vector<double>(columns));
  for (int g = 0; g < segments; ++g)
    for (int k = 0; k < columns; ++k)
      all[g][k] = std::ldexp(rng::normal(rng::draw(5, rng::Stream::test, g, k)), 8 * k - 16);
  const auto partial_of = [&](const std::vector<int>& chosen) {
    View<Real**> p("test::partial", std::max<std::size_t>(chosen.size(), 1), columns);
    auto h = Kokkos::create_mirror_view(p);
    for (std::size_t i = 0; i < chosen.size(); ++i)
      for (int k = 0; k < columns; ++k) h(i, k) = all[chosen[i]][k];
    Kokkos::deep_copy(p, h);
    return p;
  };
  std::vector<int> mine, every;
  for (int g = 0; g < segments; ++g) {
    every.push_back(g);
    if (g % c.size() == c.rank()) mine.push_back(g);
  }
  FixedPointSum fixed;
  const std::vector<double> split =
      fixed.sum(c, partial_of(mine), static_cast<int>(mine.size()), columns, segments);
  const std::vector<double> whole = fixed.sum(testing::self(), partial_of(every), segments, columns, segments);
  EXPECT_EQ(split, whole);
}

TEST(Collective, LocalCollectiveIsTheIdentity) {
  auto local = make_local_collective();
  EXPECT_EQ(local->size(), 1);
  std::vector<std::int64_t> v{3, -4};
  local->sum(v);
  EXPECT_EQ(v, (std::vector<std::int64_t>{3, -4}));
  View<Real*> a = device<Real>({1, 2}), b("test::b", 2);
  local->exchange({{0, a, b}});
  EXPECT_EQ(to_vector(b), to_vector(a));
  EXPECT_EQ(local->traffic().bytes_sent, 0);
  EXPECT_THROW(local->exchange({{1, a, b}}), std::invalid_argument);
}

}  // namespace
}  // namespace kollektiv::comm
