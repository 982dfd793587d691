// Reproducible sums of per-segment partials over all ranks of a Collective: the exact
// combination behind every gradient of a shared learner and every federated average.
//
// Each column's exponent E (|v| < 2^E for every partial v of the column on every rank) is
// agreed with one max; every v is then scaled by 2^(shift - E) and truncated to an int64,
// where shift = 61 - ceil(log2(terms)) leaves room to add `terms` of them (segments never
// outnumber the rows they sum); the integers are added on this rank and with one sum over
// the ranks, exactly, and the total is scaled back with one rounding. Every term is kept to
// 2^-shift of the column's largest term, which for a minibatch of 2048 rows is 2^-50, and
// the result does not depend on the order of terms, on how the segments are split across
// ranks, or on the rank count. A column with a non-finite partial anywhere is NaN.
//
// The scaling and integer sums are kernels over the partial View in the kernels' memory
// space, of either layout; only the columns' results come back to the host.
#pragma once

#include <cstdint>
#include <vector>

#include "solvers/comm/collective.hpp"
#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::comm {

class FixedPointSum {
 public:
  // Sums partial(g, c) over the segments g < segments of every rank, for c < columns;
  // `terms` bounds the number of segments over all ranks (e.g. the minibatch's rows).
  std::vector<double> sum(Collective& collective, AnyLayoutView<const Real**> partial, int segments, int columns,
                          std::int64_t terms);

 private:
  void reserve(int columns);
  View<int*> exponent_;
  View<std::int64_t*> fixed_;
  View<Real*> result_;
};

}  // namespace kollektiv::comm
