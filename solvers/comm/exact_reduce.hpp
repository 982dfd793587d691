// Exact, order-independent global sums: ExactSum accumulators combined across ranks.
// The limbs are integers, so the MPI sum is exact and the result has the same bits for
// any rank count and any reduction tree.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "solvers/core/exact_sum.hpp"

namespace kollektiv::comm {

// Sums `sums[i]` over all ranks of `comm`, in place, on every rank.
void allreduce_exact(MPI_Comm comm, std::vector<ExactSum>& sums);

// The exact global sum of each rank's values, rounded once; same bits on every rank.
double allreduce_exact(MPI_Comm comm, double local_value);

// Exclusive prefix sum and total of a count: where this rank's items start in a global array.
struct GlobalOffset {
  std::int64_t offset = 0;
  std::int64_t total = 0;
};
GlobalOffset exclusive_offset(MPI_Comm comm, std::int64_t local_count);

}  // namespace kollektiv::comm
