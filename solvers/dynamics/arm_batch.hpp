// Batched dynamics kernels over N robots of one model, one thread per robot. Joint-space
// Views are (robot, joint) with the joint extent >= the model's joint count, in Kokkos'
// default layout. Every launch is labelled "dynamics::<name>".
#pragma once

#include <cstdint>
#include <string>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/dynamics/robot_model.hpp"
#include "solvers/dynamics/step.hpp"

namespace kollektiv::dynamics {

using JointView = View<Real**>;            // (robot, joint)
using ConstJointView = View<const Real**>;

// Tool pose in base coordinates: tool_pos (robot, 3) in m, tool_rot (robot, 3, 3).
void forward_kinematics(const DeviceModel& m, ConstJointView q, View<Real**> tool_pos, View<Real***> tool_rot);
// Geometric Jacobian of the tool point: jac (robot, 6, joint), rows [linear; angular].
void tool_jacobian(const DeviceModel& m, ConstJointView q, View<Real***> jac);
// Inverse dynamics (RNEA): tau = M(q) qdd + h(q, qd).
void inverse_dynamics(const DeviceModel& m, ConstJointView q, ConstJointView qd, ConstJointView qdd, JointView tau);
#if KOLLEKTIV_SIMD_LANES > 1
// One lane group of robots with N == m.n_joints joints and the nominal plant of `m`, stepped
// by one control period in vector lanes: step_lanes<N, Lanes>, compiled once in arm_batch.cpp
// (for N = 1..kMaxJoints) for callers that would otherwise instantiate it for each of their
// own kernels (the skills' step: three skills x eight joint counts). Returns the lanes whose
// state stayed finite. `L` names the lane width in the symbol: a caller compiled for another
// vector width than the library (another -march) fails to link instead of passing packs of
// another size.
template <int N, int L = kLanes>
MaskOf<Lanes> step_lane_group(const DeviceModel& m, const StepParams& sp, Lanes* q, Lanes* qd, const Lanes* control);
#endif

// Mass matrix (CRBA, armature included): mass (robot, joint, joint).
void mass_matrix(const DeviceModel& m, ConstJointView q, View<Real***> mass);
// Forward dynamics (ABA): qdd = M^{-1} (tau - h), tau being the total joint force.
void forward_dynamics(const DeviceModel& m, ConstJointView q, ConstJointView qd, ConstJointView tau, JointView qdd);
// Total mechanical energy per robot, J.
void mechanical_energy(const DeviceModel& m, ConstJointView q, ConstJointView qd, View<Real*> energy);
// Advances every robot by sp.dt_s. A robot whose state becomes non-finite gets
// error(robot) = 1 and is no longer advanced; others are unaffected.
void step(const DeviceModel& m, const StepParams& sp, JointView q, JointView qd, ConstJointView control,
          View<int*> error);
// Throws kollektiv::Error naming the first flagged robot by global id (offset + index),
// e.g. "dynamics: robot 4711 has a non-finite state after step ...". Fences first.
void throw_if_flagged(View<const int*> error, std::int64_t global_offset, const std::string& context);

// A batch of robots of one model with its own labelled state Views: a convenience for
// tests, benchmarks and the fleet. Robots are [global_offset, global_offset + size).
class ArmBatch {
 public:
  ArmBatch(const RobotModel& model, int n_robots, std::int64_t global_offset = 0);

  int size() const { return n_robots_; }
  int dof() const { return model_.n_joints; }
  const DeviceModel& model() const { return model_; }
  JointView q() const { return q_; }
  JointView qd() const { return qd_; }
  JointView control() const { return control_; }  // tau or PD target, per StepParams
  View<int*> error() const { return error_; }

  // One control period for every robot; throws if a robot's state became non-finite.
  void step(const StepParams& sp);

 private:
  DeviceModel model_;
  int n_robots_;
  std::int64_t global_offset_;
  JointView q_, qd_, control_;
  View<int*> error_;
};

}  // namespace kollektiv::dynamics
