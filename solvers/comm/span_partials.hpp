// SpanPartials: the plan that completes per-item records (a factory line's KPI sums) when an
// item's elements (its stations) are cut by rank boundaries. Items are contiguous ranges of
// global ids; ranks own contiguous ranges (Decomposition), so a rank shares at most two
// items with other ranks: the one holding its first element and the one holding its last.
// An item belongs to the rank that owns its first element. Built once; each combine() is
// one round of point-to-point messages between the ranks an item spans, never a collective
// over all ranks, so completing every line of a report costs O(local stations).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "solvers/comm/decomposition.hpp"

namespace kollektiv::comm {

class SpanPartials {
 public:
  // `head_begin`: first gid of the item holding this rank's first element; `tail_begin`,
  // `tail_end`: the range of the item holding its last element (the same item when the
  // local range lies inside one). Ignored on a rank with no elements. Symmetric by
  // construction: sender and receiver derive each pair from the same decomposition.
  SpanPartials(MPI_Comm comm, const Decomposition& decomposition, std::int64_t head_begin, std::int64_t tail_begin,
               std::int64_t tail_end);

  // Whether this rank's first item belongs to another rank (combine() then sends its
  // record there), and whether its last item belongs to it and reaches further ranks
  // (combine() then returns their records).
  bool sends_head() const { return head_owner_ >= 0; }
  bool receives_tail() const { return !tail_sources_.empty(); }

  // One round. `head`: this rank's partial record of its first item (used if sends_head());
  // returns the records of the last item from the ranks it spans beyond this one, in rank
  // order (empty unless receives_tail()). Every record has `width` words, the same on
  // every rank.
  std::vector<std::vector<std::int64_t>> combine(const std::vector<std::int64_t>& head, std::size_t width) const;

 private:
  MPI_Comm comm_;
  int head_owner_ = -1;
  std::vector<int> tail_sources_;
};

}  // namespace kollektiv::comm
