// What the two dynamics benchmarks share: the shipped model by name, the start state and
// the counted floating-point work of one step.
#pragma once

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "io/robot_model_io.hpp"
#include "solvers/dynamics/robot_model.hpp"

namespace kollektiv::testing {

inline dynamics::RobotModel load_shipped_model(const std::string& name) {
  return io::read_robot_model(std::string(KOLLEKTIV_SOURCE_DIR) + "/inputs/robots/" + name + ".yaml");
}

// Random joint positions inside the limits (or +-1 rad where unlimited), row-major
// (robot, joint); the same numbers on every build (std::mt19937_64 is specified bit for bit).
inline std::vector<double> start_positions(const dynamics::RobotModel& m, int robots) {
  std::mt19937_64 rng(1);
  const int n = static_cast<int>(m.joints.size());
  std::vector<double> q(static_cast<std::size_t>(robots) * n);
  for (int r = 0; r < robots; ++r)
    for (int i = 0; i < n; ++i) {
      const auto& j = m.joints[i];
      const double lo = std::max(j.lower, -1.0), hi = std::min(j.upper, 1.0);
      // 0.1 + 0.8 u with u = 53 random bits / 2^53: unlike std::uniform_real_distribution,
      // whose algorithm the standard leaves to the library, the same value everywhere.
      const double u = 0.1 + 0.8 * static_cast<double>(rng() >> 11) * 0x1.0p-53;
      q[static_cast<std::size_t>(r) * n + i] = lo + (hi - lo) * u;
    }
  return q;
}

// Counted floating-point operations of one semi-implicit Euler step of an n-joint chain
// (revolute joints), by hand from chain_algorithms.hpp/spatial.hpp; sin and cos are
// counted as one operation each. Per joint: outward sweep 137 (transform 18 + motion
// transform 42 + S qd 1 + v×Sqd 4 + I v 42 + v×*Iv 30), inward sweep 556 (D, u 3,
// rank-1 update 48, I^a c 66, p^a 19, block X^T I X 351, accumulate 21, X^T p^a 48), last
// sweep 62, applied forces 10, integration 4, finite check 2, sin/cos 2. The base joint
// skips the inward transfer (-485) and the first motion transform (-42). This counts the
// algorithm, not what a kernel executes (a CPU lane kernel's sin_cos polynomial, both sides
// of every per-robot select and a tail group's padded lanes are left out), so a rate of
// FLOPs derived from it is a lower bound of the executed rate.
inline double flops_per_step(int n) { return n * (137.0 + 556 + 62 + 10 + 4 + 2 + 2) - 485 - 42; }

}  // namespace kollektiv::testing
