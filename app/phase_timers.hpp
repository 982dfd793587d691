// Wall time per phase of a run loop: a scope that times one phase and names it as a Kokkos
// profiling region (so Kokkos Tools see the run loop's phases around the kernels), and the
// table printed at exit with each phase's min, mean and max over the ranks.
#pragma once

#include <mpi.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace kollektiv::app {

// The Kokkos profiling region "kollektiv::<name>" from construction to destruction.
class Region {
 public:
  explicit Region(const char* name);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
};

// Adds the wall time from construction to destruction to `seconds`, inside the Kokkos
// profiling region `name` ("kollektiv::advance").
class PhaseScope {
 public:
  PhaseScope(const char* name, double& seconds);
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Region region_;
  double& seconds_;
  std::chrono::steady_clock::time_point start_;
};

// Collective. Prints on rank 0, one row per phase (this rank's seconds in `phases`, the same
// names in the same order on every rank) and a total row (`total_s`): min, mean and max over
// the ranks and the mean's share of the mean total. Phases named with a leading space are
// parts of the phase above them.
void print_phase_table(MPI_Comm comm, const std::vector<std::pair<std::string, double>>& phases, double total_s);

}  // namespace kollektiv::app
