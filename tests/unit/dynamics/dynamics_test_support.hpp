// Shared helpers of the dynamics tests: random models and states, the planar arm built in
// code, host<->View copies, and where the shipped robot files live.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/dynamics/robot_model.hpp"

namespace kollektiv::testing {

inline std::string robots_dir() { return std::string(KOLLEKTIV_SOURCE_DIR) + "/inputs/robots/"; }

// Row-major (robot, joint) host array <-> View.
inline View<Real**> to_view(const std::vector<double>& host, int robots, int joints, const char* label) {
  View<Real**> v(std::string(label), robots, joints);
  auto h = Kokkos::create_mirror_view(v);
  for (int r = 0; r < robots; ++r)
    for (int j = 0; j < joints; ++j) h(r, j) = host[r * joints + j];
  Kokkos::deep_copy(v, h);
  return v;
}
inline std::vector<double> to_host(const View<Real**>& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> out(v.extent(0) * v.extent(1));
  for (std::size_t r = 0; r < v.extent(0); ++r)
    for (std::size_t j = 0; j < v.extent(1); ++j) out[r * v.extent(1) + j] = h(r, j);
  return out;
}

// The two-link planar arm of inputs/robots/planar2.yaml, built in code.
inline dynamics::RobotModel planar2_model(double armature = 0.0) {
  dynamics::RobotModel m;
  m.name = "planar2";
  m.gravity = {0, -9.81, 0};
  m.tool_xyz = {1, 0, 0};
  for (int i = 0; i < 2; ++i) {
    dynamics::JointModel j;
    j.name = i == 0 ? "shoulder" : "elbow";
    j.origin_xyz = {i == 0 ? 0.0 : 1.0, 0, 0};
    j.mass = 1.0;
    j.com = {0.5, 0, 0};
    j.inertia = {1e-3, 1.0 / 12.0, 1.0 / 12.0, 0, 0, 0};
    j.armature = armature;
    m.joints.push_back(j);
  }
  return m;
}

// A random serial chain: mixed revolute/prismatic joints, arbitrary axes and origins,
// physically plausible inertias (random principal moments obeying the triangle
// inequality, randomly rotated).
inline dynamics::RobotModel random_model(std::mt19937_64& rng, int n_joints, bool prismatic_allowed = true) {
  std::uniform_real_distribution<double> u(-1.0, 1.0), pos(0.2, 1.0);
  dynamics::RobotModel m;
  m.name = "random";
  m.gravity = {0.3 * u(rng), 0.3 * u(rng), -9.81};
  m.tool_xyz = {0.1 * u(rng), 0.1 * u(rng), 0.2 * pos(rng)};
  m.tool_rpy = {u(rng), u(rng), u(rng)};
  for (int i = 0; i < n_joints; ++i) {
    dynamics::JointModel j;
    j.name = "j" + std::to_string(i);
    j.type = (prismatic_allowed && u(rng) > 0.6) ? dynamics::JointType::prismatic : dynamics::JointType::revolute;
    j.origin_xyz = {0.3 * u(rng), 0.3 * u(rng), 0.3 * u(rng)};
    j.origin_rpy = {3 * u(rng), 1.5 * u(rng), 3 * u(rng)};
    j.axis = {u(rng), u(rng), u(rng)};
    if (i % 3 == 0) j.axis = {0, 0, u(rng) > 0 ? 1.0 : -1.0};  // exercise the exact aligned paths too
    j.mass = 0.5 + 4.5 * pos(rng);
    j.com = {0.2 * u(rng), 0.2 * u(rng), 0.2 * u(rng)};
    const double a = 0.01 + 0.1 * pos(rng), b = 0.01 + 0.1 * pos(rng);
    const double c = std::fabs(a - b) + (a + b - std::fabs(a - b)) * pos(rng);  // |a-b| < c < a+b
    const dynamics::Mat3 r = dynamics::rpy_to_matrix(3 * u(rng), 1.5 * u(rng), 3 * u(rng));
    double in[3][3];
    for (int p = 0; p < 3; ++p)
      for (int q = 0; q < 3; ++q) in[p][q] = r.m[p][0] * a * r.m[q][0] + r.m[p][1] * b * r.m[q][1] + r.m[p][2] * c * r.m[q][2];
    j.inertia = {in[0][0], in[1][1], in[2][2], in[0][1], in[0][2], in[1][2]};
    j.armature = 0.2 * pos(rng);
    j.damping = 0.5 * pos(rng);
    m.joints.push_back(j);
  }
  return m;
}

}  // namespace kollektiv::testing
