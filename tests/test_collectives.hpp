// Collectives that test bodies share, made by the test main after MPI and Kokkos start and
// destroyed before they stop: world() over MPI_COMM_WORLD, self() of this rank alone.
#pragma once

#include "solvers/comm/collective.hpp"

namespace kollektiv::testing {

comm::Collective& world();
comm::Collective& self();

}  // namespace kollektiv::testing
