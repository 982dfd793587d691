// The NCCL implementation of comm::Collective, built with KOLLEKTIV_ENABLE_NCCL for a CUDA
// Kokkos: View payloads stay in device memory (any layout: the operations see flat
// buffers), host vectors travel through a small device buffer. The communicator is made
// once from an MPI communicator (rank 0's ncclUniqueId is broadcast over MPI) and is
// destroyed with the object. Every operation runs on the object's own stream and waits for
// it, after a Kokkos fence so that kernels that wrote the buffers have finished.
#pragma once

#include <mpi.h>

#include <memory>

#include "solvers/comm/collective.hpp"

namespace kollektiv::comm {

// Error(bad_input) when Kokkos' memory space is not device memory (NCCL needs device
// buffers) or NCCL cannot make the communicator.
std::unique_ptr<Collective> make_nccl_collective(MPI_Comm comm);

}  // namespace kollektiv::comm
