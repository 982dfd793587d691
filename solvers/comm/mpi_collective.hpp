// The MPI implementation of comm::Collective. Open MPI here is not CUDA-aware, so View
// payloads go through host mirrors (on host backends the mirror is the View itself).
#pragma once

#include <mpi.h>

#include <memory>

#include "solvers/comm/collective.hpp"

namespace kollektiv::comm {

// A Collective over a duplicate of `comm` (freed with it, before MPI_Finalize), so that its
// messages never meet another module's.
std::unique_ptr<Collective> make_mpi_collective(MPI_Comm comm);

}  // namespace kollektiv::comm
