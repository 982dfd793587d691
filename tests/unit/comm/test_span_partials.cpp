// SpanPartials completes items cut by rank boundaries at the rank holding their first element.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "solvers/comm/collectives.hpp"
#include "solvers/comm/span_partials.hpp"

namespace kollektiv::comm {
namespace {

// Items of the given lengths over `global` elements; every rank sums the gids of its
// elements per item, the owners complete their items, and rank 0 checks each item's total
// and that exactly one rank reported it.
void check_items(const std::vector<std::int64_t>& lengths) {
  const int rank = rank_of(MPI_COMM_WORLD), size = size_of(MPI_COMM_WORLD);
  std::vector<std::int64_t> begin{0};
  for (std::int64_t n : lengths) begin.push_back(begin.back() + n);
  const std::int64_t global = begin.back();
  const Decomposition d(global, rank, size);
  const Range local = d.local();
  const auto item_of = [&](std::int64_t g) {
    return static_cast<std::int64_t>(std::upper_bound(begin.begin(), begin.end(), g) - begin.begin()) - 1;
  };
  std::int64_t first_item = 0, last_item = -1;
  if (local.size() > 0) {
    first_item = item_of(local.begin);
    last_item = item_of(local.end - 1);
  }
  const auto u = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  const SpanPartials plan(MPI_COMM_WORLD, d, local.size() > 0 ? begin[u(first_item)] : 0,
                          local.size() > 0 ? begin[u(last_item)] : 0, local.size() > 0 ? begin[u(last_item) + 1] : 0);
  std::vector<std::int64_t> sums(u(last_item - first_item + 1), 0);
  for (std::int64_t g = local.begin; g < local.end; ++g) sums[u(item_of(g) - first_item)] += g;
  const std::vector<std::int64_t> head{sums.empty() ? 0 : sums.front(), rank};
  for (const std::vector<std::int64_t>& tail : plan.combine(head, 2)) sums.back() += tail[0];
  // Report [item, total] for the owned items; gather to rank 0.
  std::vector<std::int64_t> owned;
  for (std::int64_t i = first_item + (plan.sends_head() ? 1 : 0); i <= last_item; ++i) {
    owned.push_back(i);
    owned.push_back(sums[u(i - first_item)]);
  }
  const std::vector<std::int64_t> all = gather_to_root(MPI_COMM_WORLD, owned);
  if (rank != 0) return;
  ASSERT_EQ(all.size(), 2 * lengths.size());
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    EXPECT_EQ(all[2 * i], static_cast<std::int64_t>(i));
    const std::int64_t b = begin[i], e = begin[i + 1];
    EXPECT_EQ(all[2 * i + 1], (b + e - 1) * (e - b) / 2) << "item " << i;
  }
}

TEST(SpanPartials, ItemsCutByRankBoundariesAreCompletedAtTheirOwner) {
  check_items({3, 1, 7, 2, 2, 9, 1});  // short items and items spanning several ranks
  check_items({40});                    // one item over every rank
  check_items({1, 1, 1});               // fewer elements than ranks at 4 ranks
  check_items({5, 30, 1});              // ranks lying inside one item owned elsewhere
}

}  // namespace
}  // namespace kollektiv::comm
