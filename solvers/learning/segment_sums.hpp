// Reproducible gradient sums. A minibatch's rows are grouped in *segments*: consecutive
// rows of one robot block (a block never straddles two ranks), ordered by global ids. Each
// segment's contribution to a column (a parameter or a loss statistic) is summed in
// floating point in that fixed order, so it has the same bits on any rank; the kernels
// write it to partial(segment, column). FixedPointSum then adds the segment partials of
// all ranks as integers on a grid agreed by all ranks, which is exact and
// order-independent: the result has the same bits for any number of ranks.
#pragma once

#include <mpi.h>

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
void segment_column_sums(View<const Real**> values, int k, const Segments& segments, View<Real**> partial,
                         std::int64_t offset);

// Sums partial(g, c) over the segments g of every rank, per column c.
//
// Each column's exponent E (|v| < 2^E for every partial v of the column on every rank) is
// agreed with one MPI_MAX allreduce; every v is then scaled by 2^(shift - E) and truncated
// to an int64, where shift = 61 - ceil(log2(global_rows)) leaves room to add one term per
// row of the minibatch (segments never outnumber rows); the integers are added on this
// rank and with one MPI_SUM allreduce, exactly, and the total is scaled back with one
// rounding. Every term is kept to 2^-shift of the column's largest term, which for a
// minibatch of 2048 rows is 2^-50, and the result does not depend on the order of terms,
// on how the segments are split across ranks, or on the rank count. A column with a
// non-finite partial anywhere is NaN.
class FixedPointSum {
 public:
  std::vector<double> sum(MPI_Comm comm, View<const Real**> partial, int segments, int columns,
                          std::int64_t global_rows);
  // Wall time spent in the two allreduces so far (waiting for other ranks included).
  double communication_s() const { return communication_s_; }

 private:
  std::vector<double> largest_;
  std::vector<unsigned char> non_finite_;
  std::vector<int> exponent_;
  std::vector<std::int64_t> fixed_;
  std::vector<double> up_, down_, inv_up_, inv_down_;
  double communication_s_ = 0;
};

}  // namespace kollektiv::learning
