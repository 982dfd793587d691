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
// Robots in lane groups (one iteration each) on CPU backends where every robot has the
// nominal plant; one robot per iteration on GPU backends (kLanes 1) and with randomised
// dynamics (a plant per robot).
template <int N, class S>
void FleetLaunch<N, S>::step(int rows, const StepKernel<N, S>& kernel) {
#if KOLLEKTIV_SIMD_LANES > 1
  if (!kernel.p.randomise_dynamics) {
    constexpr int lanes = dynamics::kLanes;
    Kokkos::parallel_for("skills::step_lanes", Kokkos::RangePolicy<ExecSpace>(0, (rows + lanes - 1) / lanes),
                         [=](const int group) { kernel.step_group(group, rows); });
    return;
  }
#endif
  Kokkos::parallel_for("skills::step", Kokkos::RangePolicy<ExecSpace>(0, rows), kernel);
}

}  // namespace kollektiv::skills::detail
