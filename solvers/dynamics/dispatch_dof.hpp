// dispatch_dof(n, f): calls f(std::integral_constant<int, N>{}) with N = n, the joint count,
// so hot kernels see a compile-time trip count and the compiler unrolls the chain sweeps.
#pragma once

#include <string>
#include <type_traits>

#include "solvers/core/error.hpp"
#include "solvers/dynamics/robot_model.hpp"

namespace kollektiv::dynamics {

template <class F>
void dispatch_dof(int n, F&& f) {
  static_assert(kMaxJoints == 8, "dispatch_dof lists every joint count up to kMaxJoints");
  switch (n) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    case 6: f(std::integral_constant<int, 6>{}); break;
    case 7: f(std::integral_constant<int, 7>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    default: throw Error("dynamics: unsupported joint count " + std::to_string(n));
  }
}

}  // namespace kollektiv::dynamics
