// Test/benchmark helper: the MuJoCo (MJCF) equivalent of a dynamics::RobotModel, with
// contacts and joint limits off, the same inertias, armature, damping and gravity, and a
// site "tool" at the tool frame. Written here, not in the library, because only the
// cross-checks and the benchmark need MuJoCo.
#pragma once

#include <array>
#include <cmath>
#include <sstream>
#include <string>

#include "solvers/dynamics/robot_model.hpp"

namespace kollektiv::testing {

// Quaternion (w, x, y, z) of R = Rz(yaw) Ry(pitch) Rx(roll).
inline std::array<double, 4> rpy_to_quat(const std::array<double, 3>& rpy) {
  const double cr = std::cos(0.5 * rpy[0]), sr = std::sin(0.5 * rpy[0]);
  const double cp = std::cos(0.5 * rpy[1]), sp = std::sin(0.5 * rpy[1]);
  const double cy = std::cos(0.5 * rpy[2]), sy = std::sin(0.5 * rpy[2]);
  return {cy * cp * cr + sy * sp * sr, cy * cp * sr - sy * sp * cr, cy * sp * cr + sy * cp * sr,
          sy * cp * cr - cy * sp * sr};
}

// Principal moments and axes of a symmetric inertia [ixx iyy izz ixy ixz iyz] by cyclic
// Jacobi rotations to machine precision, as MJCF `diaginertia` + `quat`: MuJoCo's own
// decomposition of `fullinertia` stops at about 1e-9 relative, which would hide our error.
inline void principal_inertia(const std::array<double, 6>& in, std::array<double, 3>& moments,
                              std::array<double, 4>& quat) {
  double a[3][3] = {{in[0], in[3], in[4]}, {in[3], in[1], in[5]}, {in[4], in[5], in[2]}};
  double v[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  for (int sweep = 0; sweep < 50; ++sweep) {
    const double off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    if (off == 0) break;
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q) {
        if (a[p][q] == 0) continue;
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 3; ++k) {  // A <- A J
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {  // A <- J^T A
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 3; ++k) {  // V <- V J
          const double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  moments = {a[0][0], a[1][1], a[2][2]};
  const double det = v[0][0] * (v[1][1] * v[2][2] - v[1][2] * v[2][1]) - v[0][1] * (v[1][0] * v[2][2] - v[1][2] * v[2][0]) +
                     v[0][2] * (v[1][0] * v[2][1] - v[1][1] * v[2][0]);
  if (det < 0)
    for (int k = 0; k < 3; ++k) v[k][2] = -v[k][2];
  // rotation matrix (columns = principal axes) -> quaternion (w, x, y, z)
  const double tr = v[0][0] + v[1][1] + v[2][2];
  if (tr > 0) {
    const double s = 2 * std::sqrt(tr + 1);
    quat = {0.25 * s, (v[2][1] - v[1][2]) / s, (v[0][2] - v[2][0]) / s, (v[1][0] - v[0][1]) / s};
  } else if (v[0][0] > v[1][1] && v[0][0] > v[2][2]) {
    const double s = 2 * std::sqrt(1 + v[0][0] - v[1][1] - v[2][2]);
    quat = {(v[2][1] - v[1][2]) / s, 0.25 * s, (v[0][1] + v[1][0]) / s, (v[0][2] + v[2][0]) / s};
  } else if (v[1][1] > v[2][2]) {
    const double s = 2 * std::sqrt(1 + v[1][1] - v[0][0] - v[2][2]);
    quat = {(v[0][2] - v[2][0]) / s, (v[0][1] + v[1][0]) / s, 0.25 * s, (v[1][2] + v[2][1]) / s};
  } else {
    const double s = 2 * std::sqrt(1 + v[2][2] - v[0][0] - v[1][1]);
    quat = {(v[1][0] - v[0][1]) / s, (v[0][2] + v[2][0]) / s, (v[1][2] + v[2][1]) / s, 0.25 * s};
  }
}

inline std::string mjcf_from_model(const dynamics::RobotModel& m, double timestep_s = 1e-3,
                                   const std::string& integrator = "Euler") {
  std::ostringstream x;
  x.precision(17);
  auto v3 = [&](const std::array<double, 3>& a) {
    std::ostringstream s;
    s.precision(17);
    s << a[0] << " " << a[1] << " " << a[2];
    return s.str();
  };
  auto q4 = [&](const std::array<double, 3>& rpy) {
    const auto q = rpy_to_quat(rpy);
    std::ostringstream s;
    s.precision(17);
    s << q[0] << " " << q[1] << " " << q[2] << " " << q[3];
    return s.str();
  };
  x << "<mujoco model=\"" << m.name << "\">\n"
    << "  <compiler angle=\"radian\" inertiafromgeom=\"false\"/>\n"
    << "  <option timestep=\"" << timestep_s << "\" integrator=\"" << integrator << "\" gravity=\"" << v3(m.gravity)
    << "\">\n    <flag contact=\"disable\"/>\n  </option>\n  <worldbody>\n";
  std::string indent = "    ";
  for (std::size_t i = 0; i < m.joints.size(); ++i) {
    const dynamics::JointModel& j = m.joints[i];
    std::array<double, 3> moments{};
    std::array<double, 4> axes{};
    principal_inertia(j.inertia, moments, axes);
    x << indent << "<body name=\"link" << i + 1 << "\" pos=\"" << v3(j.origin_xyz) << "\" quat=\"" << q4(j.origin_rpy)
      << "\">\n"
      << indent << "  <joint name=\"" << j.name << "\" type=\""
      << (j.type == dynamics::JointType::revolute ? "hinge" : "slide") << "\" axis=\"" << v3(j.axis)
      << "\" limited=\"false\" damping=\"" << j.damping << "\" armature=\"" << j.armature << "\"/>\n"
      << indent << "  <inertial pos=\"" << v3(j.com) << "\" mass=\"" << j.mass << "\" diaginertia=\"" << v3(moments)
      << "\" quat=\"" << axes[0] << " " << axes[1] << " " << axes[2] << " " << axes[3] << "\"/>\n";
    indent += "  ";
  }
  x << indent << "<site name=\"tool\" pos=\"" << v3(m.tool_xyz) << "\" quat=\"" << q4(m.tool_rpy) << "\"/>\n";
  for (std::size_t i = m.joints.size(); i > 0; --i) {
    indent.resize(indent.size() - 2);
    x << indent << "</body>\n";
  }
  x << "  </worldbody>\n</mujoco>\n";
  return x.str();
}

}  // namespace kollektiv::testing
