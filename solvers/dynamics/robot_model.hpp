// Robot models: the plain host-side RobotModel that io/ reads from YAML or URDF, its
// validation, and the fixed-size DeviceModel that kernels take by value.
#pragma once

#include <array>
#include <limits>
#include <string>
#include <vector>

#include "solvers/dynamics/spatial.hpp"

namespace kollektiv::dynamics {

// Compile-time maximum number of joints of a serial chain; sizes every per-robot array.
inline constexpr int kMaxJoints = 8;

enum class JointType : int { revolute = 0, prismatic = 1 };

// One joint and the link it moves, URDF conventions: the joint frame sits at `origin`
// (xyz in m, rpy in rad, fixed-axis roll-pitch-yaw) in the previous link's frame; the link
// frame is the joint frame moved by q about/along `axis`. Inertial data in the link frame.
struct JointModel {
  std::string name;
  JointType type = JointType::revolute;
  std::array<double, 3> origin_xyz{0, 0, 0};  // m
  std::array<double, 3> origin_rpy{0, 0, 0};  // rad
  std::array<double, 3> axis{0, 0, 1};        // unit vector (normalised on validation)
  double mass = 1.0;                          // kg, > 0
  std::array<double, 3> com{0, 0, 0};         // m, centre of mass in the link frame
  // Inertia tensor about the centre of mass, link-frame axes: ixx, iyy, izz, ixy, ixz, iyz
  // (kg m^2), positive definite.
  std::array<double, 6> inertia{1e-3, 1e-3, 1e-3, 0, 0, 0};
  double lower = -std::numeric_limits<double>::infinity();  // rad or m
  double upper = std::numeric_limits<double>::infinity();   // rad or m
  double velocity = std::numeric_limits<double>::infinity();  // |qd| limit, rad/s or m/s
  double effort = std::numeric_limits<double>::infinity();    // |tau| limit, N m or N
  double damping = 0.0;   // N m s/rad or N s/m, >= 0
  double armature = 0.0;  // reflected rotor inertia added to M's diagonal, kg m^2 or kg, >= 0
};

struct RobotModel {
  std::string name;
  std::string source;  // file it was read from (for messages); empty if built in code
  std::vector<JointModel> joints;  // base to tip, 1..kMaxJoints
  std::array<double, 3> tool_xyz{0, 0, 0};  // tool frame in the last link's frame, m
  std::array<double, 3> tool_rpy{0, 0, 0};  // rad
  std::array<double, 3> gravity{0, 0, -9.81};  // m/s^2, base frame
};

// Throws kollektiv::Error (ExitCode::bad_input) listing every problem, each naming the
// model's source and the joint: non-positive mass, non-PD inertia, zero axis, bad limits,
// negative damping/armature, no joints or more than kMaxJoints.
void validate(const RobotModel& model);

// Model parameters as kernels see them: fixed-size arrays, copied by value into kernels.
// Each joint frame is pre-rotated so that its axis is the local z axis (the motion
// subspace is then a unit vector and S^T U picks one element); link inertias, the next
// joint's origin and the tool frame are re-expressed in these aligned frames.
struct DeviceModel {
  int n_joints = 0;
  int type[kMaxJoints] = {};      // JointType as int
  Mat3 tree_rot[kMaxJoints];      // aligned joint frame orientation in the parent link frame
  Vec3 tree_pos[kMaxJoints];      // joint frame origin in the parent link frame, m
  RigidInertia inertia[kMaxJoints];  // link inertia about the aligned link frame origin
  Real armature[kMaxJoints] = {};
  Real damping[kMaxJoints] = {};
  // Coulomb friction torque (N m; N for prismatic), regularised by a linear ramp: below a
  // joint speed of 1 / friction_slope[i] it grows linearly from zero (step.hpp). Inside the
  // ramp it acts as a damping friction * slope, which an explicit step keeps stable only if
  // h * friction * slope / M_ii < 2: friction_ramp() picks the slope. Robot files carry
  // none; skills' randomised dynamics set it.
  Real friction[kMaxJoints] = {};
  Real friction_slope[kMaxJoints] = {};  // 1/(rad/s) (1/(m/s))
  bool has_friction = false;  // any friction[i] != 0: the step adds its term
  Real lower[kMaxJoints] = {};
  Real upper[kMaxJoints] = {};
  Real velocity_limit[kMaxJoints] = {};
  Real effort_limit[kMaxJoints] = {};
  Mat3 tool_rot;  // tool frame orientation in the aligned last link frame
  Vec3 tool_pos;  // m
  Vec3 gravity;   // m/s^2, base frame
};

// Validates, then builds the DeviceModel.
DeviceModel make_device_model(const RobotModel& model);

}  // namespace kollektiv::dynamics
