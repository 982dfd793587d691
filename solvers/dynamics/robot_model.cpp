// Validation of RobotModel and its conversion to the kernels' DeviceModel.
#include "solvers/dynamics/robot_model.hpp"

#include <cmath>
#include <sstream>

#include "solvers/core/error.hpp"

namespace kollektiv::dynamics {
namespace {

std::string number(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

Mat3 to_matrix(const std::array<double, 3>& rpy) { return rpy_to_matrix(rpy[0], rpy[1], rpy[2]); }
Vec3 to_vec(const std::array<double, 3>& a) { return {a[0], a[1], a[2]}; }

// A rotation whose third column is the unit vector `axis`: the aligned joint frame.
// Exactly the identity for +z and a half-turn about x for -z, so common models stay exact.
Mat3 align_z_to(const Vec3& axis) {
  Mat3 r = identity3();
  if (axis.x == 0 && axis.y == 0) {
    if (axis.z < 0) {
      r.m[1][1] = -1;
      r.m[2][2] = -1;
    }
    return r;
  }
  const Vec3 z = axis;
  // Helper vector least aligned with the axis, Gram-Schmidt, then y = z × x.
  Vec3 helper{1, 0, 0};
  if (std::fabs(z.x) > std::fabs(z.y) && std::fabs(z.x) > std::fabs(z.z)) helper = {0, 1, 0};
  Vec3 x = helper - dot(helper, z) * z;
  x = (1.0 / std::sqrt(dot(x, x))) * x;
  const Vec3 y = cross(z, x);
  for (int i = 0; i < 3; ++i) {
    r.m[i][0] = i == 0 ? x.x : i == 1 ? x.y : x.z;
    r.m[i][1] = i == 0 ? y.x : i == 1 ? y.y : y.z;
    r.m[i][2] = i == 0 ? z.x : i == 1 ? z.y : z.z;
  }
  return r;
}

Vec3 unit_axis(const std::array<double, 3>& a) {
  const double n = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
  return {a[0] / n, a[1] / n, a[2] / n};
}

bool all_finite(const double* v, int n) {
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

}  // namespace

void validate(const RobotModel& model) {
  const std::string where = model.source.empty() ? "model '" + model.name + "'" : model.source;
  std::vector<std::string> errors;
  const int n = static_cast<int>(model.joints.size());
  if (n < 1 || n > kMaxJoints)
    errors.push_back(where + ": a serial chain of 1 to " + std::to_string(kMaxJoints) +
                     " joints is required, found " + std::to_string(n));
  for (const JointModel& j : model.joints) {
    const std::string at = where + ": joint '" + j.name + "': ";
    if (!(j.mass > 0) || !std::isfinite(j.mass))
      errors.push_back(at + "mass must be a positive number, found " + number(j.mass));
    const auto& in = j.inertia;  // ixx iyy izz ixy ixz iyz
    const double m1 = in[0];
    const double m2 = in[0] * in[1] - in[3] * in[3];
    const double det = in[0] * (in[1] * in[2] - in[5] * in[5]) - in[3] * (in[3] * in[2] - in[5] * in[4]) +
                       in[4] * (in[3] * in[5] - in[1] * in[4]);
    if (!all_finite(in.data(), 6) || !(m1 > 0 && m2 > 0 && det > 0))
      errors.push_back(at + "inertia [ixx iyy izz ixy ixz iyz] = [" + number(in[0]) + " " + number(in[1]) + " " +
                       number(in[2]) + " " + number(in[3]) + " " + number(in[4]) + " " + number(in[5]) +
                       "] is not positive definite");
    const double axis_norm = std::sqrt(j.axis[0] * j.axis[0] + j.axis[1] * j.axis[1] + j.axis[2] * j.axis[2]);
    if (!(axis_norm > 1e-12) || !std::isfinite(axis_norm)) errors.push_back(at + "axis must be a non-zero vector");
    if (!all_finite(j.origin_xyz.data(), 3) || !all_finite(j.origin_rpy.data(), 3) || !all_finite(j.com.data(), 3))
      errors.push_back(at + "origin and centre of mass must be finite");
    if (!(j.lower <= j.upper)) errors.push_back(at + "lower limit " + number(j.lower) + " exceeds upper limit " + number(j.upper));
    if (!(j.velocity > 0)) errors.push_back(at + "velocity limit must be positive, found " + number(j.velocity));
    if (!(j.effort > 0)) errors.push_back(at + "effort limit must be positive, found " + number(j.effort));
    if (!(j.damping >= 0) || !std::isfinite(j.damping))
      errors.push_back(at + "damping must be a non-negative number, found " + number(j.damping));
    if (!(j.armature >= 0) || !std::isfinite(j.armature))
      errors.push_back(at + "armature must be a non-negative number, found " + number(j.armature));
  }
  if (!all_finite(model.gravity.data(), 3)) errors.push_back(where + ": gravity must be finite");
  if (!all_finite(model.tool_xyz.data(), 3) || !all_finite(model.tool_rpy.data(), 3))
    errors.push_back(where + ": tool frame must be finite");
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    throw Error(msg, ExitCode::bad_input);
  }
}

DeviceModel make_device_model(const RobotModel& model) {
  validate(model);
  DeviceModel d;
  d.n_joints = static_cast<int>(model.joints.size());
  Mat3 prev_align = identity3();  // alignment of the previous link frame (base: none)
  for (int i = 0; i < d.n_joints; ++i) {
    const JointModel& j = model.joints[i];
    const Mat3 align = align_z_to(unit_axis(j.axis));
    const Mat3 prev_t = transpose(prev_align);
    d.type[i] = static_cast<int>(j.type);
    d.tree_rot[i] = prev_t * to_matrix(j.origin_rpy) * align;
    d.tree_pos[i] = prev_t * to_vec(j.origin_xyz);
    // Link inertia in the aligned link frame: c_F = A^T c_L, Ic_F = A^T Ic_L A.
    const Vec3 c = mul_transpose(align, to_vec(j.com));
    const Sym3 ic_link{j.inertia[0], j.inertia[1], j.inertia[2], j.inertia[3], j.inertia[4], j.inertia[5]};
    const Sym3 ic = congruence_transpose(align, ic_link);
    const Real m = j.mass;
    RigidInertia& in = d.inertia[i];
    in.m = m;
    in.h = m * c;
    // Parallel axis: io = ic + m (|c|^2 1 - c c^T)
    in.io = ic + Sym3{m * (c.y * c.y + c.z * c.z), m * (c.x * c.x + c.z * c.z), m * (c.x * c.x + c.y * c.y),
                      -m * c.x * c.y, -m * c.x * c.z, -m * c.y * c.z};
    d.armature[i] = j.armature;
    d.damping[i] = j.damping;
    d.lower[i] = j.lower;
    d.upper[i] = j.upper;
    d.velocity_limit[i] = j.velocity;
    d.effort_limit[i] = j.effort;
    prev_align = align;
  }
  const Mat3 last_t = transpose(prev_align);
  d.tool_rot = last_t * to_matrix(model.tool_rpy);
  d.tool_pos = last_t * to_vec(model.tool_xyz);
  d.gravity = to_vec(model.gravity);
  return d;
}

}  // namespace kollektiv::dynamics
