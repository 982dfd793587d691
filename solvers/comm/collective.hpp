// comm::Collective: the seam between learning code and a communication library. Learning
// code takes a Collective& and never sees MPI_Comm or an NCCL communicator; the run picks
// the implementation once at start-up (make_mpi_collective, make_nccl_collective, or
// make_local_collective for a replica that lives on one rank).
//
// Every operation is collective over the Collective's ranks and leaves the same result on
// each of them. Integer sums and maxima are exact, so results built from them (exact sums,
// fixed-point gradient sums) do not depend on the rank count or the reduction order. View
// arguments live in the kernels' memory space (device memory in a CUDA build) and may have
// either layout; host vectors are for small payloads (counts, ranges, flags).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "solvers/core/exact_sum.hpp"
#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::comm {

// What one rank has handed to the library through a Collective, cumulative.
struct Traffic {
  std::int64_t bytes_sent = 0;  // payload bytes given to other ranks (0 on a one-rank collective)
  double seconds = 0;           // wall time inside the operations, waiting for other ranks included
  std::int64_t operations = 0;
};

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* backend() const = 0;  // "mpi", "nccl" or "local"

  // Element-wise over all ranks, in place.
  virtual void sum(View<std::int64_t*> values) = 0;
  virtual void max(View<int*> values) = 0;
  virtual void sum(std::vector<std::int64_t>& values) = 0;
  virtual void min(std::vector<int>& values) = 0;
  virtual void max(std::vector<int>& values) = 0;
  // `values` of rank `root` on every rank (same length everywhere).
  virtual void broadcast(View<Real*> values, int root) = 0;

  // One pairwise exchange per entry, all posted at once: `send` goes to `peer`, and `recv`
  // (of the same length) receives what `peer` sends back. Peers list each other; a rank may
  // swap with several peers, also with itself (a copy). Swaps between the same two ranks are
  // matched in the order each of them lists them.
  struct Swap {
    int peer = 0;
    View<const Real*> send;
    View<Real*> recv;
  };
  virtual void exchange(const std::vector<Swap>& swaps) = 0;

  const Traffic& traffic() const { return traffic_; }

 protected:
  Traffic traffic_;
};

// True on every rank if `flag` is true on any rank.
bool any_rank(Collective& c, bool flag);
// The sum of `value` over all ranks.
std::int64_t sum(Collective& c, std::int64_t value);
// Adds `sums[i]` over all ranks, in place, limb by limb: exact, any rank count.
void sum_exact(Collective& c, std::vector<ExactSum>& sums);
// The flat form that sum_exact (and comm::allreduce_exact over MPI) adds up: every sum
// normalised (limbs below 2^32, so an integer sum of them cannot overflow), words in a row;
// and back.
std::vector<std::int64_t> exact_words(std::vector<ExactSum>& sums);
void from_exact_words(const std::vector<std::int64_t>& words, std::vector<ExactSum>& sums);
// Concatenation of every rank's `local` (each of the same length) in rank order, on every rank.
std::vector<std::int64_t> all_gather(Collective& c, const std::vector<std::int64_t>& local);

// A Collective of one rank: every operation is the identity (a swap with itself copies).
std::unique_ptr<Collective> make_local_collective();

}  // namespace kollektiv::comm
