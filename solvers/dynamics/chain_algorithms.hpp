// Per-robot rigid-body algorithms for serial chains (Featherstone, "Rigid Body Dynamics
// Algorithms", 2008): forward kinematics, tool Jacobian, RNEA, CRBA, ABA, energy.
// Each function works on one robot's fixed-size local arrays, so a kernel calls it once
// per thread. Joint frames are aligned (DeviceModel), so every motion subspace is a unit
// vector: S = [z; 0] (revolute) or [0; z] (prismatic), and S^T f picks one component.
// Joint-space quantities include the armature on M's diagonal: M(q) qdd + h(q, qd) = tau.
// A payload (a rigid body held by the tool, e.g. a grasped part) is an optional extra
// inertia rigidly attached to the last link: pass it as `payload` (nullptr: none).
// The functions the step uses (joint_transform to aba) are templates on the scalar T, Real
// or Lanes (lanes.hpp): per-robot values are T, model parameters stay double and enter as
// broadcasts; branches depend on the model only (joint type, n), never on a robot's state.
#pragma once

#include "solvers/dynamics/robot_model.hpp"
#include "solvers/dynamics/spatial.hpp"

namespace kollektiv::dynamics {

KOKKOS_FORCEINLINE_FUNCTION bool is_revolute(const DeviceModel& m, int i) {
  return m.type[i] == static_cast<int>(JointType::revolute);
}

// Transform from link i-1 (or the base) to link i at joint position q.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION TransformT<T> joint_transform(const DeviceModel& m, int i, const T& q) {
  TransformT<T> x;
  if (is_revolute(m, i)) {
    // Link orientation in the parent: tree_rot * Rz(q); E is its transpose. sin_cos, not
    // libm, so that one robot and a lane group round alike (lanes.hpp).
    T c, s;
    sin_cos(q, s, c);
    x.e = transpose(mul_rot_z(m.tree_rot[i], c, s));
    x.r = broadcast<T>(m.tree_pos[i]);
  } else {
    x.e = broadcast<T>(transpose(m.tree_rot[i]));
    x.r = broadcast<T>(m.tree_pos[i]) + q * broadcast<T>(column(m.tree_rot[i], 2));
  }
  return x;
}

// S * s for joint i.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> subspace_times(const DeviceModel& m, int i, const T& s) {
  SVecT<T> r;
  if (is_revolute(m, i))
    r.w.z = s;
  else
    r.v.z = s;
  return r;
}
// S^T f for joint i.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T subspace_dot(const DeviceModel& m, int i, const SVecT<T>& f) {
  return is_revolute(m, i) ? f.w.z : f.v.z;
}
// v × (S qd): the velocity-product acceleration of joint i, using S's single non-zero.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> velocity_product(const DeviceModel& m, int i, const SVecT<T>& v, const T& qd) {
  SVecT<T> c;
  if (is_revolute(m, i)) {
    c.w = {v.w.y * qd, -v.w.x * qd, 0};
    c.v = {v.v.y * qd, -v.v.x * qd, 0};
  } else {
    c.v = {v.w.y * qd, -v.w.x * qd, 0};
  }
  return c;
}
// I S for joint i: one column of the articulated inertia.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> inertia_column(const DeviceModel& m, int i, const ArtInertiaT<T>& in) {
  if (is_revolute(m, i)) return {{in.a.xz, in.a.yz, in.a.zz}, {in.b.m[2][0], in.b.m[2][1], in.b.m[2][2]}};
  return {{in.b.m[0][2], in.b.m[1][2], in.b.m[2][2]}, {in.c.xz, in.c.yz, in.c.zz}};
}

// Base acceleration that stands in for gravity: a_0 = -[0; g].
template <class T = Real>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> gravity_acceleration(const DeviceModel& m) {
  return {{0, 0, 0}, broadcast<T>(-m.gravity)};
}

// Spatial inertia of link i, with the payload folded into the last link (i == n - 1).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION RigidInertiaT<T> link_inertia(const DeviceModel& m, int n, int i,
                                                     const Scalar<RigidInertiaT<T>>* payload) {
  RigidInertiaT<T> in = broadcast<T>(m.inertia[i]);
  if (payload != nullptr && i == n - 1) {
    in.m += payload->m;
    in.h = in.h + payload->h;
    in.io = in.io + payload->io;
  }
  return in;
}

// A payload of `mass` (kg) whose centre of mass sits at `com_tool` (m, tool frame) with
// rotational inertia `inertia_tool` about that centre (kg m^2, tool-frame axes), as a
// spatial inertia about the aligned last-link frame (what link_inertia() adds).
KOKKOS_FORCEINLINE_FUNCTION RigidInertia payload_inertia(const DeviceModel& m, Real mass, const Vec3& com_tool,
                                                    const Sym3& inertia_tool) {
  const Vec3 c = m.tool_pos + m.tool_rot * com_tool;
  // R I R^T with R = tool_rot: congruence_transpose(E, S) = E^T S E, so E = R^T.
  const Sym3 ic = congruence_transpose(transpose(m.tool_rot), inertia_tool);
  RigidInertia out;
  out.m = mass;
  out.h = mass * c;
  out.io = ic + Sym3{mass * (c.y * c.y + c.z * c.z), mass * (c.x * c.x + c.z * c.z), mass * (c.x * c.x + c.y * c.y),
                     -mass * c.x * c.y, -mass * c.x * c.z, -mass * c.y * c.z};
  return out;
}

// ---------------------------------------------------------------------------------------
// Forward kinematics: world (base) pose of every link frame and of the tool frame.
struct ChainPose {
  Mat3 link_rot[kMaxJoints];
  Vec3 link_pos[kMaxJoints];
  Mat3 tool_rot;
  Vec3 tool_pos;
};
KOKKOS_FORCEINLINE_FUNCTION void forward_kinematics(const DeviceModel& m, int n, const Real* q, ChainPose& pose) {
  Mat3 rot = identity3();
  Vec3 pos{0, 0, 0};
  for (int i = 0; i < n; ++i) {
    const Transform x = joint_transform(m, i, q[i]);
    pos = pos + rot * x.r;
    rot = rot * transpose(x.e);
    pose.link_rot[i] = rot;
    pose.link_pos[i] = pos;
  }
  pose.tool_rot = rot * m.tool_rot;
  pose.tool_pos = pos + rot * m.tool_pos;
}

// Geometric Jacobian of the tool point in base coordinates: rows 0-2 linear velocity,
// rows 3-5 angular velocity; jac[row * n + col].
KOKKOS_FORCEINLINE_FUNCTION void tool_jacobian(const DeviceModel& m, int n, const Real* q, Real* jac) {
  ChainPose pose;
  forward_kinematics(m, n, q, pose);
  for (int i = 0; i < n; ++i) {
    const Vec3 z = column(pose.link_rot[i], 2);  // joint axis (aligned frames)
    Vec3 lin = z, ang{0, 0, 0};
    if (is_revolute(m, i)) {
      lin = cross(z, pose.tool_pos - pose.link_pos[i]);
      ang = z;
    }
    jac[0 * n + i] = lin.x;
    jac[1 * n + i] = lin.y;
    jac[2 * n + i] = lin.z;
    jac[3 * n + i] = ang.x;
    jac[4 * n + i] = ang.y;
    jac[5 * n + i] = ang.z;
  }
}

// ---------------------------------------------------------------------------------------
// Inverse dynamics, recursive Newton-Euler: tau = M(q) qdd + h(q, qd).
// Capacity (n <= Capacity <= kMaxJoints) sizes the per-joint scratch: callers that know the
// joint count at compile time (dispatch_dof) pass it, so that a 2-joint arm does not
// construct, and zero, scratch for eight.
template <int Capacity = kMaxJoints, class T>
KOKKOS_FORCEINLINE_FUNCTION void rnea(const DeviceModel& m, int n, const T* q, const T* qd, const T* qdd, T* tau,
                                 const Scalar<RigidInertiaT<T>>* payload = nullptr) {
  static_assert(Capacity >= 1 && Capacity <= kMaxJoints, "rnea: 1 <= Capacity <= kMaxJoints");
  TransformT<T> x[Capacity];
  SVecT<T> f[Capacity];
  SVecT<T> v{}, a = gravity_acceleration<T>(m);
  for (int i = 0; i < n; ++i) {
    x[i] = joint_transform(m, i, q[i]);
    v = apply_motion(x[i], v) + subspace_times(m, i, qd[i]);
    a = apply_motion(x[i], a) + subspace_times(m, i, qdd[i]) + velocity_product(m, i, v, qd[i]);
    const RigidInertiaT<T> in = link_inertia<T>(m, n, i, payload);
    f[i] = in * a + cross_force(v, in * v);
  }
  for (int i = n - 1; i >= 0; --i) {
    tau[i] = subspace_dot(m, i, f[i]) + m.armature[i] * qdd[i];
    if (i > 0) f[i - 1] = f[i - 1] + apply_force_transpose(x[i], f[i]);
  }
}

// X^T I X for a rigid (composite) inertia: the centre of mass moves to c' = E^T c + r and
// the rotational inertia about the centre of mass rotates.
KOKKOS_FORCEINLINE_FUNCTION RigidInertia rigid_to_parent(const Transform& x, const RigidInertia& in) {
  const Real m = in.m;
  const Vec3 c = (1.0 / m) * in.h;
  // Inertia about the centre of mass, child axes: ic = io - m (|c|^2 1 - c c^T)
  const Sym3 ic = in.io + Sym3{-m * (c.y * c.y + c.z * c.z), -m * (c.x * c.x + c.z * c.z), -m * (c.x * c.x + c.y * c.y),
                               m * c.x * c.y, m * c.x * c.z, m * c.y * c.z};
  const Sym3 ic_p = congruence_transpose(x.e, ic);
  const Vec3 cp = mul_transpose(x.e, c) + x.r;
  RigidInertia out;
  out.m = m;
  out.h = m * cp;
  out.io = ic_p + Sym3{m * (cp.y * cp.y + cp.z * cp.z), m * (cp.x * cp.x + cp.z * cp.z), m * (cp.x * cp.x + cp.y * cp.y),
                       -m * cp.x * cp.y, -m * cp.x * cp.z, -m * cp.y * cp.z};
  return out;
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION RigidInertiaT<T> operator+(const RigidInertiaT<T>& a, const RigidInertiaT<T>& b) {
  RigidInertiaT<T> r;
  r.m = a.m + b.m;
  r.h = a.h + b.h;
  r.io = a.io + b.io;
  return r;
}

// Joint-space mass matrix by the composite-rigid-body algorithm; mass[i * n + j].
KOKKOS_FORCEINLINE_FUNCTION void crba(const DeviceModel& m, int n, const Real* q, Real* mass,
                                 const RigidInertia* payload = nullptr) {
  Transform x[kMaxJoints];
  RigidInertia ic[kMaxJoints];
  for (int i = 0; i < n; ++i) {
    x[i] = joint_transform(m, i, q[i]);
    ic[i] = link_inertia<Real>(m, n, i, payload);
  }
  for (int i = n - 1; i > 0; --i) ic[i - 1] = ic[i - 1] + rigid_to_parent(x[i], ic[i]);
  for (int i = 0; i < n; ++i) {
    SVec f = ic[i] * subspace_times(m, i, 1.0);
    mass[i * n + i] = subspace_dot(m, i, f) + m.armature[i];
    for (int j = i; j > 0; --j) {
      f = apply_force_transpose(x[j], f);
      mass[i * n + (j - 1)] = mass[(j - 1) * n + i] = subspace_dot(m, j - 1, f);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Forward dynamics, articulated-body algorithm: qdd = M^{-1} (tau - h). Three sweeps over
// the chain; articulated inertias in 21-number block form (ArtInertia), U = I^A S is one
// column of I^A, D = S^T U a single entry. Capacity as for rnea.
template <int Capacity = kMaxJoints, class T>
KOKKOS_FORCEINLINE_FUNCTION void aba(const DeviceModel& m, int n, const T* q, const T* qd, const T* tau, T* qdd,
                                const Scalar<RigidInertiaT<T>>* payload = nullptr) {
  static_assert(Capacity >= 1 && Capacity <= kMaxJoints, "aba: 1 <= Capacity <= kMaxJoints");
  TransformT<T> x[Capacity];
  SVecT<T> c[Capacity], p[Capacity], u_col[Capacity];
  ArtInertiaT<T> ia[Capacity];
  T d_inv[Capacity], u[Capacity];

  // Outward: transforms, velocities, velocity-product accelerations, bias forces.
  SVecT<T> v{};
  for (int i = 0; i < n; ++i) {
    x[i] = joint_transform(m, i, q[i]);
    v = (i == 0 ? SVecT<T>{} : apply_motion(x[i], v)) + subspace_times(m, i, qd[i]);
    c[i] = velocity_product(m, i, v, qd[i]);
    const RigidInertiaT<T> in = link_inertia<T>(m, n, i, payload);
    p[i] = cross_force(v, in * v);
    set_articulated(in, ia[i]);
  }
  // Inward: articulated inertias and bias forces.
  for (int i = n - 1; i >= 0; --i) {
    const SVecT<T> uc = inertia_column(m, i, ia[i]);
    const T d = subspace_dot(m, i, uc) + m.armature[i];
    const T dinv = 1.0 / d;
    u_col[i] = uc;
    d_inv[i] = dinv;
    u[i] = tau[i] - subspace_dot(m, i, p[i]);
    if (i == 0) break;
    // I^a = I^A - U U^T / D, p^a = p + I^a c + U u / D; in place (I^A is not needed after)
    ArtInertiaT<T>& a = ia[i];
    const Vec3T<T> uw = dinv * uc.w;
    a.a.xx -= uw.x * uc.w.x;
    a.a.yy -= uw.y * uc.w.y;
    a.a.zz -= uw.z * uc.w.z;
    a.a.xy -= uw.x * uc.w.y;
    a.a.xz -= uw.x * uc.w.z;
    a.a.yz -= uw.y * uc.w.z;
    const T uwv[3] = {uw.x, uw.y, uw.z};
    const T ucv[3] = {uc.v.x, uc.v.y, uc.v.z};
    for (int r = 0; r < 3; ++r)
      for (int s = 0; s < 3; ++s) a.b.m[r][s] -= uwv[r] * ucv[s];
    const Vec3T<T> uv = dinv * uc.v;
    a.c.xx -= uv.x * uc.v.x;
    a.c.yy -= uv.y * uc.v.y;
    a.c.zz -= uv.z * uc.v.z;
    a.c.xy -= uv.x * uc.v.y;
    a.c.xz -= uv.x * uc.v.z;
    a.c.yz -= uv.y * uc.v.z;
    const SVecT<T> pa = p[i] + a * c[i] + (u[i] * dinv) * uc;
    const ArtInertiaT<T> ap = transform_to_parent(x[i], a);
    ArtInertiaT<T>& parent = ia[i - 1];
    parent.a = parent.a + ap.a;
    parent.c = parent.c + ap.c;
    for (int r = 0; r < 3; ++r)
      for (int s = 0; s < 3; ++s) parent.b.m[r][s] += ap.b.m[r][s];
    p[i - 1] = p[i - 1] + apply_force_transpose(x[i], pa);
  }
  // Outward: accelerations.
  SVecT<T> a = gravity_acceleration<T>(m);
  for (int i = 0; i < n; ++i) {
    a = apply_motion(x[i], a) + c[i];
    qdd[i] = (u[i] - dot(u_col[i], a)) * d_inv[i];
    a = a + subspace_times(m, i, qdd[i]);
  }
}

// Total mechanical energy (J): kinetic (links plus armature) + gravitational potential.
KOKKOS_FORCEINLINE_FUNCTION Real mechanical_energy(const DeviceModel& m, int n, const Real* q, const Real* qd,
                                              const RigidInertia* payload = nullptr) {
  Real kinetic = 0, potential = 0;
  SVec v{};
  Mat3 rot = identity3();
  Vec3 pos{0, 0, 0};
  for (int i = 0; i < n; ++i) {
    const Transform x = joint_transform(m, i, q[i]);
    v = apply_motion(x, v) + subspace_times(m, i, qd[i]);
    const RigidInertia in = link_inertia<Real>(m, n, i, payload);
    kinetic += 0.5 * dot(v, in * v) + 0.5 * m.armature[i] * qd[i] * qd[i];
    pos = pos + rot * x.r;
    rot = rot * transpose(x.e);
    const Vec3 com_world = pos + rot * ((1.0 / in.m) * in.h);
    potential -= in.m * dot(m.gravity, com_world);
  }
  return kinetic + potential;
}

}  // namespace kollektiv::dynamics
