// Exact sums over Views of ExactSum accumulators: the rank-combined totals behind the
// observation statistics and the advantage normalisation (a handful of values per update,
// where exactness over the full double range costs nothing).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "solvers/comm/collective.hpp"
#include "solvers/core/exact_sum.hpp"
#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::learning {

// The sums over all ranks of `collective`, rounded once: same bits on every rank and for any
// split of the terms across ranks. Host function.
std::vector<double> combine_exact(comm::Collective& collective, View<const ExactSum*> sums);

// The exact sum of values(0..n-1) on this rank (one accumulator, order-independent).
ExactSum exact_total(View<const Real*> values, int n);

}  // namespace kollektiv::learning
