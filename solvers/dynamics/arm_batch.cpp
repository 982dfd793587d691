// Kernel functors and launchers of the batched dynamics: one thread per robot, except the
// step, where one iteration advances a lane group of kLanes robots (lanes.hpp).
#include "solvers/dynamics/arm_batch.hpp"

#include <type_traits>

#include "solvers/dynamics/dispatch_dof.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::dynamics {
namespace {

using Policy = Kokkos::RangePolicy<ExecSpace>;


void require_shape(const char* what, std::size_t robots, std::size_t joints, std::size_t n_robots, int dof) {
  if (robots != n_robots || joints < static_cast<std::size_t>(dof))
    throw Error(std::string("dynamics: View '") + what + "' has shape (" + std::to_string(robots) + ", " +
                std::to_string(joints) + "), expected (" + std::to_string(n_robots) + ", >= " + std::to_string(dof) + ")");
}

template <class V>
KOKKOS_INLINE_FUNCTION void load_row(const V& v, int r, int n, Real* out) {
  for (int i = 0; i < n; ++i) out[i] = v(r, i);
}

struct ForwardKinematicsKernel {
  DeviceModel m;
  ConstJointView q;
  View<Real**> tool_pos;
  View<Real***> tool_rot;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Real qr[kMaxJoints] = {};
    load_row(q, r, m.n_joints, qr);
    ChainPose pose;
    forward_kinematics(m, m.n_joints, qr, pose);
    tool_pos(r, 0) = pose.tool_pos.x;
    tool_pos(r, 1) = pose.tool_pos.y;
    tool_pos(r, 2) = pose.tool_pos.z;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) tool_rot(r, i, j) = pose.tool_rot.m[i][j];
  }
};

struct JacobianKernel {
  DeviceModel m;
  ConstJointView q;
  View<Real***> jac;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    const int n = m.n_joints;
    Real qr[kMaxJoints] = {}, j[6 * kMaxJoints] = {};
    load_row(q, r, n, qr);
    tool_jacobian(m, n, qr, j);
    for (int row = 0; row < 6; ++row)
      for (int col = 0; col < n; ++col) jac(r, row, col) = j[row * n + col];
  }
};

struct InverseDynamicsKernel {
  DeviceModel m;
  ConstJointView q, qd, qdd;
  JointView tau;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    const int n = m.n_joints;
    Real qr[kMaxJoints], vr[kMaxJoints], ar[kMaxJoints], t[kMaxJoints];
    load_row(q, r, n, qr);
    load_row(qd, r, n, vr);
    load_row(qdd, r, n, ar);
    rnea(m, n, qr, vr, ar, t);
    for (int i = 0; i < n; ++i) tau(r, i) = t[i];
  }
};

struct MassMatrixKernel {
  DeviceModel m;
  ConstJointView q;
  View<Real***> mass;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    const int n = m.n_joints;
    Real qr[kMaxJoints] = {}, mm[kMaxJoints * kMaxJoints] = {};
    load_row(q, r, n, qr);
    crba(m, n, qr, mm);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) mass(r, i, j) = mm[i * n + j];
  }
};

template <int N>
struct ForwardDynamicsKernel {
  DeviceModel m;
  ConstJointView q, qd, tau;
  JointView qdd;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Real qr[kMaxJoints], vr[kMaxJoints], tr[kMaxJoints], ar[kMaxJoints];
    load_row(q, r, N, qr);
    load_row(qd, r, N, vr);
    load_row(tau, r, N, tr);
    aba<N>(m, N, qr, vr, tr, ar);
    for (int i = 0; i < N; ++i) qdd(r, i) = ar[i];
  }
};

struct EnergyKernel {
  DeviceModel m;
  ConstJointView q, qd;
  View<Real*> energy;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Real qr[kMaxJoints] = {}, vr[kMaxJoints] = {};
    load_row(q, r, m.n_joints, qr);
    load_row(qd, r, m.n_joints, vr);
    energy(r) = mechanical_energy(m, m.n_joints, qr, vr);
  }
};

// One iteration steps robots [group * kLanes, group * kLanes + kLanes): their joint state is
// gathered into lane packs (one pack per joint quantity), stepped together, and scattered
// back. Lanes past the last robot repeat the group's first robot, so a tail group runs the
// same instructions as a full one and every robot's bits are independent of N and of its
// lane; padded lanes and robots flagged before the step are never written back.
template <int N>
struct StepKernel {
  DeviceModel m;
  StepParams sp;
  JointView q, qd;
  ConstJointView control;
  View<int*> error;
  int n_robots;
  KOKKOS_INLINE_FUNCTION void operator()(int group) const {
    const int r0 = group * kLanes;
    Lanes ql[N], vl[N], ul[N];
    for (int l = 0; l < kLanes; ++l) {
      const int r = r0 + l < n_robots ? r0 + l : r0;
      for (int i = 0; i < N; ++i) {
        set_lane(ql[i], l, q(r, i));
        set_lane(vl[i], l, qd(r, i));
        set_lane(ul[i], l, control(r, i));
      }
    }
    const MaskOf<Lanes> alive = step_lanes<N, Lanes>(m, sp, N, ql, vl, ul, all_lanes<Lanes>());
    for (int l = 0; l < kLanes; ++l) {
      const int r = r0 + l;
      if (r >= n_robots || error(r) != 0) continue;  // padding, or frozen until the caller resets it
      for (int i = 0; i < N; ++i) {
        q(r, i) = lane_of(ql[i], l);
        qd(r, i) = lane_of(vl[i], l);
      }
      if (!lane_of(alive, l)) error(r) = 1;
    }
  }
};

struct FirstFlagged {
  View<const int*> error;
  KOKKOS_INLINE_FUNCTION void operator()(int r, int& first) const {
    if (error(r) != 0 && r < first) first = r;
  }
};

}  // namespace

void forward_kinematics(const DeviceModel& m, ConstJointView q, View<Real**> tool_pos, View<Real***> tool_rot) {
  const std::size_t n = q.extent(0);
  require_shape("q", n, q.extent(1), n, m.n_joints);
  Kokkos::parallel_for("dynamics::forward_kinematics", Policy(0, n), ForwardKinematicsKernel{m, q, tool_pos, tool_rot});
}

void tool_jacobian(const DeviceModel& m, ConstJointView q, View<Real***> jac) {
  const std::size_t n = q.extent(0);
  require_shape("q", n, q.extent(1), n, m.n_joints);
  require_shape("jacobian", jac.extent(0), jac.extent(2), n, m.n_joints);
  Kokkos::parallel_for("dynamics::tool_jacobian", Policy(0, n), JacobianKernel{m, q, jac});
}

void inverse_dynamics(const DeviceModel& m, ConstJointView q, ConstJointView qd, ConstJointView qdd, JointView tau) {
  const std::size_t n = q.extent(0);
  require_shape("q", n, q.extent(1), n, m.n_joints);
  require_shape("qd", qd.extent(0), qd.extent(1), n, m.n_joints);
  require_shape("qdd", qdd.extent(0), qdd.extent(1), n, m.n_joints);
  require_shape("tau", tau.extent(0), tau.extent(1), n, m.n_joints);
  Kokkos::parallel_for("dynamics::rnea", Policy(0, n), InverseDynamicsKernel{m, q, qd, qdd, tau});
}

void mass_matrix(const DeviceModel& m, ConstJointView q, View<Real***> mass) {
  const std::size_t n = q.extent(0);
  require_shape("q", n, q.extent(1), n, m.n_joints);
  require_shape("mass", mass.extent(0), mass.extent(1), n, m.n_joints);
  Kokkos::parallel_for("dynamics::crba", Policy(0, n), MassMatrixKernel{m, q, mass});
}

void forward_dynamics(const DeviceModel& m, ConstJointView q, ConstJointView qd, ConstJointView tau, JointView qdd) {
  const std::size_t n = q.extent(0);
  require_shape("q", n, q.extent(1), n, m.n_joints);
  require_shape("qd", qd.extent(0), qd.extent(1), n, m.n_joints);
  require_shape("tau", tau.extent(0), tau.extent(1), n, m.n_joints);
  require_shape("qdd", qdd.extent(0), qdd.extent(1), n, m.n_joints);
  dispatch_dof(m.n_joints, [&](auto dof) {
    Kokkos::parallel_for("dynamics::aba", Policy(0, n), ForwardDynamicsKernel<decltype(dof)::value>{m, q, qd, tau, qdd});
  });
}

void mechanical_energy(const DeviceModel& m, ConstJointView q, ConstJointView qd, View<Real*> energy) {
  const std::size_t n = q.extent(0);
  require_shape("q", n, q.extent(1), n, m.n_joints);
  require_shape("qd", qd.extent(0), qd.extent(1), n, m.n_joints);
  Kokkos::parallel_for("dynamics::energy", Policy(0, n), EnergyKernel{m, q, qd, energy});
}

void step(const DeviceModel& m, const StepParams& sp, JointView q, JointView qd, ConstJointView control,
          View<int*> error) {
  const std::size_t n = q.extent(0);
  require_shape("q", n, q.extent(1), n, m.n_joints);
  require_shape("qd", qd.extent(0), qd.extent(1), n, m.n_joints);
  require_shape("control", control.extent(0), control.extent(1), n, m.n_joints);
  if (error.extent(0) != n) throw Error("dynamics: error-flag View has the wrong length");
  if (!(sp.dt_s > 0) || sp.substeps < 1)
    throw Error("dynamics: step needs dt_s > 0 and substeps >= 1", ExitCode::bad_input);
  dispatch_dof(m.n_joints, [&](auto dof) {
    const std::size_t groups = (n + kLanes - 1) / kLanes;
    Kokkos::parallel_for("dynamics::step", Policy(0, groups),
                         StepKernel<decltype(dof)::value>{m, sp, q, qd, control, error, static_cast<int>(n)});
  });
}

#if KOLLEKTIV_SIMD_LANES > 1
template <int N, int L>
MaskOf<Lanes> step_lane_group(const DeviceModel& m, const StepParams& sp, Lanes* q, Lanes* qd, const Lanes* control) {
  static_assert(L == kLanes, "step_lane_group is compiled for this build's lane width only");
  if (m.n_joints != N) throw Error("dynamics: step_lane_group<" + std::to_string(N) + "> on a model of " +
                                   std::to_string(m.n_joints) + " joints");
  return step_lanes<N, Lanes>(m, sp, N, q, qd, control, all_lanes<Lanes>());
}
static_assert(kMaxJoints == 8, "step_lane_group is instantiated for every joint count up to kMaxJoints");
template MaskOf<Lanes> step_lane_group<1>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
template MaskOf<Lanes> step_lane_group<2>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
template MaskOf<Lanes> step_lane_group<3>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
template MaskOf<Lanes> step_lane_group<4>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
template MaskOf<Lanes> step_lane_group<5>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
template MaskOf<Lanes> step_lane_group<6>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
template MaskOf<Lanes> step_lane_group<7>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
template MaskOf<Lanes> step_lane_group<8>(const DeviceModel&, const StepParams&, Lanes*, Lanes*, const Lanes*);
#endif

void throw_if_flagged(View<const int*> error, std::int64_t global_offset, const std::string& context) {
  int first = static_cast<int>(error.extent(0));
  Kokkos::parallel_reduce("dynamics::first_flagged", Policy(0, error.extent(0)), FirstFlagged{error},
                          Kokkos::Min<int>(first));  // the reduction fences before returning
  if (first < static_cast<int>(error.extent(0)))
    throw Error("dynamics: robot " + std::to_string(global_offset + first) + " has a non-finite state " + context);
}

ArmBatch::ArmBatch(const RobotModel& model, int n_robots, std::int64_t global_offset)
    : model_(make_device_model(model)),
      n_robots_(n_robots),
      global_offset_(global_offset),
      q_("dynamics::q", n_robots, model_.n_joints),
      qd_("dynamics::qd", n_robots, model_.n_joints),
      control_("dynamics::control", n_robots, model_.n_joints),
      error_("dynamics::error", n_robots) {}

void ArmBatch::step(const StepParams& sp) {
  dynamics::step(model_, sp, q_, qd_, control_, error_);
  throw_if_flagged(error_, global_offset_, "after a step (dt_s = " + std::to_string(sp.dt_s) + ")");
}

}  // namespace kollektiv::dynamics
