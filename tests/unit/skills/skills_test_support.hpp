// Shared helpers of the skills tests: shipped models with configs that suit them, host
// copies of fleet Views, state editing, and a scripted damped-least-squares controller.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "io/robot_model_io.hpp"
#include "solvers/dynamics/chain_algorithms.hpp"
#include "solvers/skills/fleet.hpp"

namespace kollektiv::testing {

inline dynamics::RobotModel shipped_model(const std::string& name) {
  return io::read_robot_model(std::string(KOLLEKTIV_SOURCE_DIR) + "/inputs/robots/" + name + ".yaml");
}

// A config that suits the shipped arm: the planar arm moves in its x-y plane (z = 0),
// ur5 and panda start from a home pose in front of the base (+x).
inline skills::SkillConfig config_for(const std::string& arm, skills::SkillKind kind) {
  skills::SkillConfig c;
  c.kind = kind;
  if (arm == "planar2") {
    c.common.initial_q = {-0.6, 1.2};
    c.reach.target_box = {{0.3, -1.2, 0.0}, {1.5, 1.2, 0.0}};
    c.weld.start_box = {{0.9, -0.6, 0.0}, {1.3, 0.2, 0.0}};
    c.weld.yaw_min_rad = 1.2;  // the seam runs roughly along +y, across the arm's reach
    c.weld.yaw_max_rad = 1.9;
    c.pick_place.part_box = {{1.0, -0.5, 0.0}, {1.3, -0.2, 0.0}};
    c.pick_place.place_box = {{1.0, 0.2, 0.0}, {1.3, 0.5, 0.0}};
    if (kind == skills::SkillKind::pick_place) c.common.episode_steps = 200;
  } else if (arm == "ur5") {
    c.common.initial_q = {3.141592653589793, -1.57, 1.57, -1.57, -1.57, 0};
  } else if (arm == "panda") {
    c.common.initial_q = {0, -0.3, 0, -2.2, 0, 2.0, 0.785};
  }
  return c;
}

template <class V>
std::vector<double> host_rows(const V& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> out;
  for (std::size_t r = 0; r < h.extent(0); ++r)
    for (std::size_t c = 0; c < h.extent(1); ++c) out.push_back(static_cast<double>(h(r, c)));
  return out;
}
template <class V>
std::vector<double> host_vector(const V& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> out;
  for (std::size_t r = 0; r < h.extent(0); ++r) out.push_back(static_cast<double>(h(r)));
  return out;
}
inline View<Real**> actions_view(const std::vector<double>& a, int robots, int act_dim) {
  View<Real**> v("test::actions", robots, act_dim);
  auto h = Kokkos::create_mirror_view(v);
  for (int r = 0; r < robots; ++r)
    for (int k = 0; k < act_dim; ++k) h(r, k) = a[static_cast<std::size_t>(r * act_dim + k)];
  Kokkos::deep_copy(v, h);
  return v;
}

inline dynamics::ChainPose pose_of(const dynamics::DeviceModel& m, const std::vector<double>& q, int robot) {
  dynamics::ChainPose pose;
  dynamics::forward_kinematics(m, m.n_joints, q.data() + robot * m.n_joints, pose);
  return pose;
}
inline dynamics::Vec3 tool_of(const dynamics::DeviceModel& m, const std::vector<double>& q, int robot) {
  return pose_of(m, q, robot).tool_pos;
}

// Joint velocities that give tool velocity v_des (damped least squares, position rows).
inline std::vector<double> dls_velocity(const dynamics::DeviceModel& m, const double* q, const dynamics::Vec3& v_des,
                                        double lambda = 0.02) {
  const int n = m.n_joints;
  double jac[6 * dynamics::kMaxJoints];
  dynamics::tool_jacobian(m, n, q, jac);
  double a[3][3];
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) {
      a[r][c] = r == c ? lambda * lambda : 0.0;
      for (int j = 0; j < n; ++j) a[r][c] += jac[r * n + j] * jac[c * n + j];
    }
  // Solve a y = v by Gaussian elimination (3 x 3, SPD).
  double b[3] = {v_des.x, v_des.y, v_des.z};
  for (int k = 0; k < 3; ++k)
    for (int r = k + 1; r < 3; ++r) {
      const double f = a[r][k] / a[k][k];
      for (int c = k; c < 3; ++c) a[r][c] -= f * a[k][c];
      b[r] -= f * b[k];
    }
  double y[3];
  for (int r = 2; r >= 0; --r) {
    double s = b[r];
    for (int c = r + 1; c < 3; ++c) s -= a[r][c] * y[c];
    y[r] = s / a[r][r];
  }
  std::vector<double> qd(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) qd[j] = jac[0 * n + j] * y[0] + jac[1 * n + j] * y[1] + jac[2 * n + j] * y[2];
  return qd;
}

// pd_delta actions that make the joints move at qd_des: the PD loop with target lead
// delta settles at qd = kp delta / kd, so delta = qd_des kd / kp (clipped to [-1, 1]).
inline void pd_delta_actions(const skills::Fleet& f, const std::vector<double>& qd_des, double* a) {
  const auto& sp = f.step_params();
  for (int j = 0; j < f.dof(); ++j) {
    const double delta = qd_des[j] * sp.kd[j] / sp.kp[j];
    a[j] = std::fmax(-1.0, std::fmin(1.0, delta / f.config().common.action_scale));
  }
}

inline dynamics::Vec3 clip_norm(const dynamics::Vec3& v, double max) {
  const double n = std::sqrt(dynamics::dot(v, v));
  return n > max ? (max / n) * v : v;
}

}  // namespace kollektiv::testing
