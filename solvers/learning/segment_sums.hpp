// Reproducible gradient sums. A minibatch's rows are grouped in *segments*: consecutive
// rows of one robot block (a block never straddles two ranks), ordered by global ids. Each
// segment's contribution to a column (a parameter or a loss statistic) is summed in
// floating point in that fixed order, so it has the same bits on any rank; the kernels
// write it to partial(segment, column). comm::FixedPointSum then adds the segment partials
// of all ranks as integers on a grid agreed by all ranks, which is exact and
// order-independent: the result has the same bits for any number of ranks.
#pragma once

#include <cstdint>
#include <vector>

#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::learning {

// Rows [begin(g), begin(g+1)) of a batch form segment g; begin(count) is the row count.
struct Segments {
  View<int*> begin;
  int count = 0;
};

// One segment per row (the finest split), e.g. for tests and small batches.
Segments segments_per_row(int rows);
// Segments from a host list of row offsets (front 0, back = rows).
Segments segments_from_offsets(const std::vector<int>& offsets);

// partial(g, offset + c) = sum over the rows of segment g, in order, of values(r, c), c < k.
// Either layout for both Views.
void segment_column_sums(AnyLayoutView<const Real**> values, int k, const Segments& segments,
                         AnyLayoutView<Real**> partial, std::int64_t offset);

}  // namespace kollektiv::learning
