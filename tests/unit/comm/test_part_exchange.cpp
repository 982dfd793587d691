// PartExchange moves messages to the owner of their destination, in sender order.
#include <gtest/gtest.h>

#include <limits>

#include "solvers/comm/collectives.hpp"
#include "solvers/comm/part_exchange.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::comm {
namespace {

TEST(PartExchange, RingOfNeighboursDeliversInOrder) {
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  const Decomposition d(4 * size, rank, size);  // four stations per rank
  std::vector<int> neighbours;
  if (rank > 0) neighbours.push_back(rank - 1);
  if (rank + 1 < size) neighbours.push_back(rank + 1);
  PartExchange exchange(MPI_COMM_WORLD, d, neighbours);

  // Each rank sends three messages to the first station of the next rank, one to the
  // last station of the previous rank.
  std::vector<PartMessage> out;
  if (rank + 1 < size)
    for (int k = 0; k < 3; ++k) out.push_back(PartMessage{d.range_of(rank + 1).begin, 1, 0, 10.0 + k, 100 * rank + k, 1.0});
  if (rank > 0) out.push_back(PartMessage{d.range_of(rank - 1).end - 1, 2, 0, 5.0, -1, 0.0});
  for (int round = 0; round < 3; ++round) {
    const auto in = exchange.exchange(out, false, 1e9, 1e9);
    std::size_t expected = (rank > 0 ? 3u : 0u) + (rank + 1 < size ? 1u : 0u);
    ASSERT_EQ(in.size(), expected);
    std::size_t i = 0;
    if (rank > 0)
      for (int k = 0; k < 3; ++k, ++i) {
        EXPECT_EQ(in[i].dest_gid, d.local().begin);
        EXPECT_EQ(in[i].part_id, 100 * (rank - 1) + k);
        EXPECT_EQ(in[i].time_s, 10.0 + k);
      }
    if (rank + 1 < size) {
      EXPECT_EQ(in[i].kind, 2);
    }
  }
}

TEST(PartExchange, AgreesOnTheEarliestPendingTimeAndTheLeastFrontOfAnyRank) {
  // Ranks without neighbours too: the earliest time counts every rank's own next event and
  // the times of the messages it sends, whoever receives them.
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  const Decomposition d(2 * size, rank, size);
  std::vector<int> neighbours;
  if (rank + 1 < size) neighbours.push_back(rank + 1);
  if (rank > 0) neighbours.push_back(rank - 1);
  PartExchange exchange(MPI_COMM_WORLD, d, neighbours);
  std::vector<PartMessage> out;
  // The last rank's own next event is the earliest one.
  exchange.exchange(out, true, rank == size - 1 ? 3.0 : 100.0 + rank, 1.0 + rank);
  EXPECT_EQ(exchange.next_s(), 3.0);
  EXPECT_EQ(exchange.front_s(), 1.0);  // the least front, whatever the messages
  // Rank 0 sends a message due earlier than any rank's own events.
  if (rank == 0 && size > 1) out.push_back(PartMessage{d.range_of(1).begin, 1, 0, 2.5, 7, 0.0});
  exchange.exchange(out, true, 50.0, 60.0 - rank);
  EXPECT_EQ(exchange.next_s(), size > 1 ? 2.5 : 50.0);
  EXPECT_EQ(exchange.front_s(), 61.0 - size);
  // Nothing pending anywhere.
  out.clear();
  exchange.exchange(out, true, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(exchange.next_s(), std::numeric_limits<double>::infinity());
}

TEST(PartExchange, MessageToANonNeighbourIsAnError) {
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  if (size < 3) GTEST_SKIP() << "needs a rank that is not a neighbour";
  const Decomposition d(size, rank, size);
  PartExchange exchange(MPI_COMM_SELF, d, {});
  const std::vector<PartMessage> out{PartMessage{(rank + 2) % size, 1, 0, 0.0, 0, 0.0}};
  EXPECT_THROW(exchange.exchange(out, true, 0.0, 0.0), Error);
}

}  // namespace
}  // namespace kollektiv::comm
