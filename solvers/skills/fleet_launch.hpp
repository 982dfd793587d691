// FleetLaunch's definitions: included only by the generated translation units that
// instantiate them (solvers/skills/CMakeLists.txt), each for some (joint count, skill) pairs.
#pragma once

#include "solvers/skills/fleet_kernels.hpp"

namespace kollektiv::skills::detail {

template <int N, class S>
void FleetLaunch<N, S>::reset(int rows, const ResetKernel<N, S>& kernel) {
  Kokkos::parallel_for("skills::reset", Kokkos::RangePolicy<ExecSpace>(0, rows), kernel);
}
template <int N, class S>
void FleetLaunch<N, S>::start(int rows, const StartKernel<N, S>& kernel) {
  Kokkos::parallel_for("skills::start_episodes", Kokkos::RangePolicy<ExecSpace>(0, rows), kernel);
}
template <int N, class S>
void FleetLaunch<N, S>::observe(int rows, const ObserveKernel<N, S>& kernel) {
  Kokkos::parallel_for("skills::observe", Kokkos::RangePolicy<ExecSpace>(0, rows), kernel);
}
template <int N, class S>
void FleetLaunch<N, S>::step(int rows, const StepKernel<N, S>& kernel) {
  Kokkos::parallel_for("skills::step", Kokkos::RangePolicy<ExecSpace>(0, rows), kernel);
}

}  // namespace kollektiv::skills::detail
