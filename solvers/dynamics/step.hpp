// One robot's time step: applied joint forces (control, effort saturation, damping, joint
// limits as stiff spring-dampers) and the integrators (semi-implicit Euler, RK4).
#pragma once

#include "solvers/dynamics/chain_algorithms.hpp"

namespace kollektiv::dynamics {

enum class Integrator : int { semi_implicit_euler = 0, rk4 = 1 };
enum class ControlMode : int { torque = 0, pd = 1 };

// How a batch is stepped; plain values, copied into kernels.
struct StepParams {
  Real dt_s = 1e-3;  // control period; each substep advances dt_s / substeps
  int substeps = 1;  // >= 1
  Integrator integrator = Integrator::semi_implicit_euler;
  ControlMode control = ControlMode::torque;  // torque: control = tau; pd: control = q target
  Real kp[kMaxJoints] = {};  // PD stiffness, N m/rad or N/m
  Real kd[kMaxJoints] = {};  // PD damping, N m s/rad or N s/m
  bool joint_limits = true;       // position-limit spring-dampers and velocity clamp
  Real limit_stiffness = 1.0e4;   // N m/rad or N/m, acts only beyond a position limit
  Real limit_damping = 1.0e2;     // N m s/rad or N s/m, acts only beyond a position limit
  // Adds the gravity torque g(q) of the model (payload included) to the actuator command
  // before saturation, as industrial joint controllers do; costs one RNEA per substep.
  bool gravity_compensation = false;
};

// The narrowest Coulomb friction ramp, rad/s (m/s).
inline constexpr Real kFrictionRamp = 0.01;

// The slope of a joint's friction ramp (DeviceModel::friction_slope): 1 / kFrictionRamp, or
// less where the ramp's damping friction * slope would make a substep h unstable for a
// joint of inertia `inertia` (kept to h * friction * slope / inertia <= 1/2).
KOKKOS_INLINE_FUNCTION Real friction_slope(Real friction, Real inertia, Real h) {
  const Real stable = inertia / (2 * h * friction);
  return friction > 0 && stable < 1 / kFrictionRamp ? stable : 1 / kFrictionRamp;
}

// Total joint force on the chain for state (q, qd) and the control input held over the
// step: saturated actuator force, minus viscous damping and Coulomb friction, plus limit
// spring-dampers. `payload`: optional inertia held by the tool (chain_algorithms.hpp).
// `controller`: the model the gravity compensation uses (default: m itself; a robot whose
// dynamics are randomised compensates with its nominal model). Capacity: as for rnea and
// aba, an upper bound of n known at compile time (the default fits any chain). T: Real or
// Lanes (lanes.hpp); what depends on a robot's state is a per-lane select, so the lanes of a
// group stay independent.
template <int Capacity = kMaxJoints, class T>
KOKKOS_FORCEINLINE_FUNCTION void applied_forces(const DeviceModel& m, const StepParams& sp, int n, const T* q,
                                           const T* qd, const T* control, T* tau,
                                           const Scalar<RigidInertiaT<T>>* payload = nullptr,
                                           const DeviceModel* controller = nullptr) {
  T g[Capacity] = {};
  if (sp.gravity_compensation) {
    const T zero[Capacity] = {};
    rnea<Capacity>(controller != nullptr ? *controller : m, n, q, zero, zero, g, payload);
  }
  for (int i = 0; i < n; ++i) {
    T t = sp.control == ControlMode::torque ? control[i] : sp.kp[i] * (control[i] - q[i]) - sp.kd[i] * qd[i];
    t += g[i];
    const T e = m.effort_limit[i];
    t = select(t > e, e, select(t < -e, -e, t));
    t -= m.damping[i] * qd[i];
    if (m.has_friction) {
      const T ramp = qd[i] * m.friction_slope[i];
      t -= m.friction[i] * select(ramp > 1.0, T(1.0), select(ramp < -1.0, T(-1.0), ramp));
    }
    if (sp.joint_limits) {
      // Both sides computed, the one beyond a limit kept: the same sums as `if (q < lower) t += ...`.
      t = select(q[i] < m.lower[i], t + (sp.limit_stiffness * (m.lower[i] - q[i]) - sp.limit_damping * qd[i]), t);
      t = select(q[i] > m.upper[i], t + (sp.limit_stiffness * (m.upper[i] - q[i]) - sp.limit_damping * qd[i]), t);
    }
    tau[i] = t;
  }
}

template <int Capacity = kMaxJoints, class T>
KOKKOS_FORCEINLINE_FUNCTION void accelerations(const DeviceModel& m, const StepParams& sp, int n, const T* q,
                                          const T* qd, const T* control, T* qdd,
                                          const Scalar<RigidInertiaT<T>>* payload = nullptr,
                                          const DeviceModel* controller = nullptr) {
  T tau[Capacity];
  applied_forces<Capacity>(m, sp, n, q, qd, control, tau, payload, controller);
  aba<Capacity>(m, n, q, qd, tau, qdd, payload);
}

// Advances the lanes of (q, qd) that are `alive` by one control period and returns the lanes
// still alive: a lane whose state becomes non-finite in a substep keeps the state that
// substep computed and takes no further substeps (the caller flags the robot); the other
// lanes are unaffected. With T = Real this is one robot's step (alive = true).
template <int Capacity = kMaxJoints, class T>
KOKKOS_FORCEINLINE_FUNCTION MaskOf<T> step_lanes(const DeviceModel& m, const StepParams& sp, int n, T* q, T* qd,
                                            const T* control, const MaskOf<T>& alive_in,
                                            const Scalar<RigidInertiaT<T>>* payload = nullptr,
                                            const DeviceModel* controller = nullptr) {
  const Real h = sp.dt_s / sp.substeps;
  MaskOf<T> alive = alive_in;
  T qdd[Capacity], qn[Capacity], vn[Capacity];
  for (int s = 0; s < sp.substeps; ++s) {
    if (sp.integrator == Integrator::semi_implicit_euler) {
      accelerations<Capacity>(m, sp, n, q, qd, control, qdd, payload, controller);
      for (int i = 0; i < n; ++i) {
        vn[i] = qd[i] + h * qdd[i];
        qn[i] = q[i] + h * vn[i];
      }
    } else {
      T k1q[Capacity], k1v[Capacity], k2q[Capacity], k2v[Capacity], k3q[Capacity], k3v[Capacity];
      T qt[Capacity], vt[Capacity];
      accelerations<Capacity>(m, sp, n, q, qd, control, k1v, payload, controller);
      for (int i = 0; i < n; ++i) {
        k1q[i] = qd[i];
        qt[i] = q[i] + 0.5 * h * k1q[i];
        vt[i] = qd[i] + 0.5 * h * k1v[i];
      }
      accelerations<Capacity>(m, sp, n, qt, vt, control, k2v, payload, controller);
      for (int i = 0; i < n; ++i) {
        k2q[i] = vt[i];
        qt[i] = q[i] + 0.5 * h * k2q[i];
        vt[i] = qd[i] + 0.5 * h * k2v[i];
      }
      accelerations<Capacity>(m, sp, n, qt, vt, control, k3v, payload, controller);
      for (int i = 0; i < n; ++i) {
        k3q[i] = vt[i];
        qt[i] = q[i] + h * k3q[i];
        vt[i] = qd[i] + h * k3v[i];
      }
      accelerations<Capacity>(m, sp, n, qt, vt, control, qdd, payload, controller);  // k4v; k4q = vt
      for (int i = 0; i < n; ++i) {
        qn[i] = q[i] + (h / 6.0) * (k1q[i] + 2.0 * k2q[i] + 2.0 * k3q[i] + vt[i]);
        vn[i] = qd[i] + (h / 6.0) * (k1v[i] + 2.0 * k2v[i] + 2.0 * k3v[i] + qdd[i]);
      }
    }
    MaskOf<T> finite = alive;
    for (int i = 0; i < n; ++i) {
      if (sp.joint_limits) {
        const T vmax = m.velocity_limit[i];
        vn[i] = select(vn[i] > vmax, vmax, select(vn[i] < -vmax, -vmax, vn[i]));
      }
      finite = finite & is_finite(qn[i]) & is_finite(vn[i]);
      q[i] = select(alive, qn[i], q[i]);
      qd[i] = select(alive, vn[i], qd[i]);
    }
    alive = finite;
    if (!any_lane(alive)) break;  // control flow only: a dead lane's state is frozen either way
  }
  return alive;
}

// Advances one robot's (q, qd) by one control period; returns false if the state became
// non-finite (the state is then left as that substep computed, and the caller flags the robot).
template <int Capacity = kMaxJoints>
KOKKOS_FORCEINLINE_FUNCTION bool step_robot(const DeviceModel& m, const StepParams& sp, int n, Real* q, Real* qd,
                                       const Real* control, const RigidInertia* payload = nullptr,
                                       const DeviceModel* controller = nullptr) {
  return step_lanes<Capacity, Real>(m, sp, n, q, qd, control, true, payload, controller);
}

}  // namespace kollektiv::dynamics
