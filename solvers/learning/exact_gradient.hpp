// Exact, split-independent gradient sums. Per-sample contributions are first summed in
// floating point inside a *segment* (consecutive rows of a batch that belong to one robot
// block, which never straddles two ranks, in an order fixed by global ids), then the segment
// partials are added into one ExactSum per parameter. The rounded result therefore has the
// same bits however the robots are split across ranks; combine_exact() merges the ranks.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "solvers/core/exact_sum.hpp"
#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::learning {

// Widest layer a kernel handles (per-thread arrays); checked when an Mlp is built.
inline constexpr int max_layer_width = 256;

// Rows [begin(g), begin(g+1)) of a batch form segment g; begin(count) is the row count.
struct Segments {
  View<int*> begin;
  int count = 0;
};

// One segment per row (the finest exact split), e.g. for tests and small batches.
Segments segments_per_row(int rows);
// Segments from a host list of row offsets (front 0, back = rows).
Segments segments_from_offsets(const std::vector<int>& offsets);

// Adds the gradient of a dense layer y = x W + b, W stored [in][out], to sums:
//   sums(weight_offset + j*out + i) += sum_rows x(r,j) * delta(r,i)
//   sums(bias_offset + i)           += sum_rows delta(r,i)
// With in == 0 only the second line runs (x is then not read): a column sum of delta.
// `partial` is scratch of [any number of segments][at least (in + 1) * out]; segments are
// processed in chunks of its extent(0). Widths are at most max_layer_width.
void accumulate_outer(View<const Real**> x, View<const Real**> delta, int in, int out,
                      const Segments& segments, View<Real**> partial, View<ExactSum*> sums,
                      std::int64_t weight_offset, std::int64_t bias_offset);

// Column sums of `values` ([rows][k]) added to sums(offset + c), c < k.
void accumulate_columns(View<const Real**> values, int k, const Segments& segments,
                        View<Real**> partial, View<ExactSum*> sums, std::int64_t offset);

// The sums over all ranks of `comm`, rounded once: same bits on every rank and for any
// split of the rows across ranks. Host function; the only MPI in the learning module.
std::vector<double> combine_exact(MPI_Comm comm, View<const ExactSum*> sums);
// The same with host scratch kept by the caller between calls (allocating it per
// minibatch cost page faults in every update).
struct CombineBuffer {
  std::vector<std::int64_t> digits;           // [sum][limb] balanced digits
  std::vector<std::pair<int, int>> own_range;  // [sum] nonzero digits on this rank
  std::vector<int> range;                     // [sum] (lo, -hi) over all ranks
  std::vector<std::int64_t> packed;           // what the allreduce sums
};
std::vector<double> combine_exact(MPI_Comm comm, View<const ExactSum*> sums, CombineBuffer& buffer);

// The exact sum of values(0..n-1) on this rank (one accumulator, order-independent).
ExactSum exact_total(View<const Real*> values, int n);

}  // namespace kollektiv::learning
