// Small 3-D and spatial (6-D, Featherstone) algebra for the per-robot dynamics kernels.
// Spatial motion vectors are [angular; linear], force vectors [moment; force]. A Plücker
// transform from a parent frame P to a child frame C is stored as (E, r): E rotates P
// coordinates into C coordinates, r is C's origin in P coordinates; as a 6x6 matrix
// X = [E 0; -E r× E]. Everything is fixed-size, allocation-free and KOKKOS_FORCEINLINE_FUNCTION.
// Every type and operation is a template on the scalar T: Real (one robot; the names
// without T below, e.g. Vec3, are those) or Lanes (a lane group of robots, lanes.hpp).
#pragma once

#include <Kokkos_Core.hpp>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/core/math.hpp"
#include "solvers/dynamics/lanes.hpp"

namespace kollektiv::dynamics {

// Keeps a parameter out of template argument deduction, so `2.0 * v` takes T from v alone.
template <class T>
struct NoDeduce {
  using type = T;
};
template <class T>
using Scalar = typename NoDeduce<T>::type;

template <class T>
struct Vec3T {
  T x = 0, y = 0, z = 0;
};

// Row-major 3x3 matrix: m[row][col].
template <class T>
struct Mat3T {
  T m[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
};

// Symmetric 3x3 matrix stored as xx, yy, zz, xy, xz, yz.
template <class T>
struct Sym3T {
  T xx = 0, yy = 0, zz = 0, xy = 0, xz = 0, yz = 0;
};

using Vec3 = Vec3T<Real>;
using Mat3 = Mat3T<Real>;
using Sym3 = Sym3T<Real>;

template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> operator+(const Vec3T<T>& a, const Vec3T<T>& b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> operator-(const Vec3T<T>& a, const Vec3T<T>& b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> operator-(const Vec3T<T>& a) { return {-a.x, -a.y, -a.z}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> operator*(const Scalar<T>& s, const Vec3T<T>& a) { return {s * a.x, s * a.y, s * a.z}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T dot(const Vec3T<T>& a, const Vec3T<T>& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> cross(const Vec3T<T>& a, const Vec3T<T>& b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}

KOKKOS_FORCEINLINE_FUNCTION Mat3 identity3() {
  Mat3 r;
  r.m[0][0] = r.m[1][1] = r.m[2][2] = 1;
  return r;
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> operator*(const Mat3T<T>& a, const Vec3T<T>& v) {
  return {a.m[0][0] * v.x + a.m[0][1] * v.y + a.m[0][2] * v.z,
          a.m[1][0] * v.x + a.m[1][1] * v.y + a.m[1][2] * v.z,
          a.m[2][0] * v.x + a.m[2][1] * v.y + a.m[2][2] * v.z};
}
// a^T v
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> mul_transpose(const Mat3T<T>& a, const Vec3T<T>& v) {
  return {a.m[0][0] * v.x + a.m[1][0] * v.y + a.m[2][0] * v.z,
          a.m[0][1] * v.x + a.m[1][1] * v.y + a.m[2][1] * v.z,
          a.m[0][2] * v.x + a.m[1][2] * v.y + a.m[2][2] * v.z};
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Mat3T<T> operator*(const Mat3T<T>& a, const Mat3T<T>& b) {
  Mat3T<T> r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[i][j] = a.m[i][0] * b.m[0][j] + a.m[i][1] * b.m[1][j] + a.m[i][2] * b.m[2][j];
  return r;
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Mat3T<T> transpose(const Mat3T<T>& a) {
  Mat3T<T> r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[i][j] = a.m[j][i];
  return r;
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> column(const Mat3T<T>& a, int j) { return {a.m[0][j], a.m[1][j], a.m[2][j]}; }

// A model quantity (double) as the same value in every lane of T.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> broadcast(const Vec3& a) { return {a.x, a.y, a.z}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Mat3T<T> broadcast(const Mat3& a) {
  Mat3T<T> r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r.m[i][j] = a.m[i][j];
  return r;
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Sym3T<T> broadcast(const Sym3& a) { return {a.xx, a.yy, a.zz, a.xy, a.xz, a.yz}; }

// Rotation of a frame about its own z axis by angle q: columns are the rotated x, y, z.
KOKKOS_FORCEINLINE_FUNCTION Mat3 rot_z(Real c, Real s) {
  Mat3 r;
  r.m[0][0] = c;
  r.m[0][1] = -s;
  r.m[1][0] = s;
  r.m[1][1] = c;
  r.m[2][2] = 1;
  return r;
}

// a * rot_z(c, s): only the first two columns mix (12 flops instead of 45). `a` is a model
// rotation (double), c and s are per robot. Column 1 is a1 c + a0 (-s), which rounds exactly
// as a1 c - a0 s: written as a sum because GCC 12's vectorizer turns the alternating
// "x + y, x - y" of the two columns into vfmaddsub (fused) even under -ffp-contract=off,
// which made the one-robot path round differently from the lane path.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Mat3T<T> mul_rot_z(const Mat3& a, const T& c, const T& s) {
  Mat3T<T> r = broadcast<T>(a);
  const T minus_s = -s;
  for (int i = 0; i < 3; ++i) {
    r.m[i][0] = a.m[i][0] * c + a.m[i][1] * s;
    r.m[i][1] = a.m[i][1] * c + a.m[i][0] * minus_s;
  }
  return r;
}
// Fixed-axis roll-pitch-yaw (URDF convention): R = Rz(yaw) Ry(pitch) Rx(roll). Model set-up only (libm).
KOKKOS_FORCEINLINE_FUNCTION Mat3 rpy_to_matrix(Real roll, Real pitch, Real yaw) {
  const Real cr = math::cos(roll), sr = math::sin(roll);
  const Real cp = math::cos(pitch), sp = math::sin(pitch);
  const Real cy = math::cos(yaw), sy = math::sin(yaw);
  Mat3 r;
  r.m[0][0] = cy * cp;
  r.m[0][1] = cy * sp * sr - sy * cr;
  r.m[0][2] = cy * sp * cr + sy * sr;
  r.m[1][0] = sy * cp;
  r.m[1][1] = sy * sp * sr + cy * cr;
  r.m[1][2] = sy * sp * cr - cy * sr;
  r.m[2][0] = -sp;
  r.m[2][1] = cp * sr;
  r.m[2][2] = cp * cr;
  return r;
}

template <class T>
KOKKOS_FORCEINLINE_FUNCTION Vec3T<T> operator*(const Sym3T<T>& a, const Vec3T<T>& v) {
  return {a.xx * v.x + a.xy * v.y + a.xz * v.z, a.xy * v.x + a.yy * v.y + a.yz * v.z,
          a.xz * v.x + a.yz * v.y + a.zz * v.z};
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Sym3T<T> operator+(const Sym3T<T>& a, const Sym3T<T>& b) {
  return {a.xx + b.xx, a.yy + b.yy, a.zz + b.zz, a.xy + b.xy, a.xz + b.xz, a.yz + b.yz};
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Mat3T<T> to_mat3(const Sym3T<T>& a) {
  Mat3T<T> r;
  r.m[0][0] = a.xx;
  r.m[1][1] = a.yy;
  r.m[2][2] = a.zz;
  r.m[0][1] = r.m[1][0] = a.xy;
  r.m[0][2] = r.m[2][0] = a.xz;
  r.m[1][2] = r.m[2][1] = a.yz;
  return r;
}
// E^T S E for a rotation E (re-expresses a tensor given in child coordinates in the parent).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION Sym3T<T> congruence_transpose(const Mat3T<T>& e, const Sym3T<T>& s) {
  const Mat3T<T> se = to_mat3(s) * e;  // S E
  Sym3T<T> r;
  r.xx = e.m[0][0] * se.m[0][0] + e.m[1][0] * se.m[1][0] + e.m[2][0] * se.m[2][0];
  r.yy = e.m[0][1] * se.m[0][1] + e.m[1][1] * se.m[1][1] + e.m[2][1] * se.m[2][1];
  r.zz = e.m[0][2] * se.m[0][2] + e.m[1][2] * se.m[1][2] + e.m[2][2] * se.m[2][2];
  r.xy = e.m[0][0] * se.m[0][1] + e.m[1][0] * se.m[1][1] + e.m[2][0] * se.m[2][1];
  r.xz = e.m[0][0] * se.m[0][2] + e.m[1][0] * se.m[1][2] + e.m[2][0] * se.m[2][2];
  r.yz = e.m[0][1] * se.m[0][2] + e.m[1][1] * se.m[1][2] + e.m[2][1] * se.m[2][2];
  return r;
}

// Spatial motion (angular w, linear v) or force (moment n = w, force f = v) vector.
template <class T>
struct SVecT {
  Vec3T<T> w, v;
};
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> operator+(const SVecT<T>& a, const SVecT<T>& b) { return {a.w + b.w, a.v + b.v}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> operator-(const SVecT<T>& a, const SVecT<T>& b) { return {a.w - b.w, a.v - b.v}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> operator*(const Scalar<T>& s, const SVecT<T>& a) { return {s * a.w, s * a.v}; }
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T dot(const SVecT<T>& a, const SVecT<T>& b) { return dot(a.w, b.w) + dot(a.v, b.v); }

// Motion cross product a × b (velocity-product terms).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> cross_motion(const SVecT<T>& a, const SVecT<T>& b) {
  return {cross(a.w, b.w), cross(a.w, b.v) + cross(a.v, b.w)};
}
// Force cross product a ×* f.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> cross_force(const SVecT<T>& a, const SVecT<T>& f) {
  return {cross(a.w, f.w) + cross(a.v, f.v), cross(a.w, f.v)};
}

// Plücker transform parent -> child, see the file comment.
template <class T>
struct TransformT {
  Mat3T<T> e;  // parent coordinates -> child coordinates
  Vec3T<T> r;  // child origin in parent coordinates
};
// X m (motion, parent -> child): w' = E w, v' = E (v - r × w).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> apply_motion(const TransformT<T>& x, const SVecT<T>& m) {
  return {x.e * m.w, x.e * (m.v - cross(x.r, m.w))};
}
// X^T f (force, child -> parent): f' = E^T f, n' = E^T n + r × f'.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> apply_force_transpose(const TransformT<T>& x, const SVecT<T>& f) {
  const Vec3T<T> fp = mul_transpose(x.e, f.v);
  return {mul_transpose(x.e, f.w) + cross(x.r, fp), fp};
}

// Rigid-body spatial inertia about a frame's origin: mass m, first moment h = m c, and
// rotational inertia about the origin io = ic - m c× c×.
template <class T>
struct RigidInertiaT {
  T m = 0;
  Vec3T<T> h;
  Sym3T<T> io;
};
// I v = [io w + h × v; m v - h × w]
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> operator*(const RigidInertiaT<T>& in, const SVecT<T>& a) {
  return {in.io * a.w + cross(in.h, a.v), in.m * a.v - cross(in.h, a.w)};
}

// General symmetric 6x6 (articulated) inertia in 3x3 blocks [a b; b^T c], a and c
// symmetric: 21 numbers instead of 36, and the structured transform below.
template <class T>
struct ArtInertiaT {
  Sym3T<T> a;
  Mat3T<T> b;
  Sym3T<T> c;
};
// r = the rigid inertia in block form, every number written in place (a lane group's
// ArtInertia is 21 vectors: returned by value and assigned, it was copied with a slow
// block move, 5% of an arm step).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void set_articulated(const RigidInertiaT<T>& in, ArtInertiaT<T>& r) {
  r.a = in.io;
  // b = h×
  r.b.m[0][0] = r.b.m[1][1] = r.b.m[2][2] = T(0);
  r.b.m[0][1] = -in.h.z;
  r.b.m[0][2] = in.h.y;
  r.b.m[1][0] = in.h.z;
  r.b.m[1][2] = -in.h.x;
  r.b.m[2][0] = -in.h.y;
  r.b.m[2][1] = in.h.x;
  r.c.xx = r.c.yy = r.c.zz = in.m;
  r.c.xy = r.c.xz = r.c.yz = T(0);
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION SVecT<T> operator*(const ArtInertiaT<T>& in, const SVecT<T>& s) {
  return {in.a * s.w + in.b * s.v, mul_transpose(in.b, s.w) + in.c * s.v};
}

// X^T I X: an inertia given in child coordinates, re-expressed in the parent. Done as a
// rotation by E^T of each block, then the shift by r in block form:
//   a' = a + R b^T - b R - R c R,  b' = b + R c,  c' = c   with R = r×
// which costs about a third of the generic 6x6 triple product.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION ArtInertiaT<T> transform_to_parent(const TransformT<T>& x, const ArtInertiaT<T>& in) {
  const Sym3T<T> a = congruence_transpose(x.e, in.a);
  const Sym3T<T> c = congruence_transpose(x.e, in.c);
  const Mat3T<T> b = transpose(x.e) * (in.b * x.e);
  const Vec3T<T> r = x.r;
  // rc = R c (c symmetric), rows of R are (0,-rz,ry), (rz,0,-rx), (-ry,rx,0)
  const Mat3T<T> cm = to_mat3(c);
  Mat3T<T> rc;
  for (int j = 0; j < 3; ++j) {
    rc.m[0][j] = -r.z * cm.m[1][j] + r.y * cm.m[2][j];
    rc.m[1][j] = r.z * cm.m[0][j] - r.x * cm.m[2][j];
    rc.m[2][j] = -r.y * cm.m[0][j] + r.x * cm.m[1][j];
  }
  ArtInertiaT<T> out;
  out.c = c;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) out.b.m[i][j] = b.m[i][j] + rc.m[i][j];
  // t = R b^T - R c R = R (b^T - c R) ; since (c R)^T = -R c: b^T - cR = b^T + (R c)^T
  Mat3T<T> t;  // t = b^T + (R c)^T
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) t.m[i][j] = b.m[j][i] + rc.m[j][i];
  // k = R t, then a' = a + k - b R where (b R)_{ij} = -(R b^T)_{ji}; so a' = a + k + (R b^T)^T.
  // Symmetry of the result lets us compute the upper triangle only.
  Mat3T<T> k, rbt;
  for (int j = 0; j < 3; ++j) {
    k.m[0][j] = -r.z * t.m[1][j] + r.y * t.m[2][j];
    k.m[1][j] = r.z * t.m[0][j] - r.x * t.m[2][j];
    k.m[2][j] = -r.y * t.m[0][j] + r.x * t.m[1][j];
    rbt.m[0][j] = -r.z * b.m[j][1] + r.y * b.m[j][2];
    rbt.m[1][j] = r.z * b.m[j][0] - r.x * b.m[j][2];
    rbt.m[2][j] = -r.y * b.m[j][0] + r.x * b.m[j][1];
  }
  out.a.xx = a.xx + k.m[0][0] + rbt.m[0][0];
  out.a.yy = a.yy + k.m[1][1] + rbt.m[1][1];
  out.a.zz = a.zz + k.m[2][2] + rbt.m[2][2];
  out.a.xy = a.xy + k.m[0][1] + rbt.m[1][0];
  out.a.xz = a.xz + k.m[0][2] + rbt.m[2][0];
  out.a.yz = a.yz + k.m[1][2] + rbt.m[2][1];
  return out;
}

using SVec = SVecT<Real>;
using Transform = TransformT<Real>;
using RigidInertia = RigidInertiaT<Real>;
using ArtInertia = ArtInertiaT<Real>;

template <class T>
KOKKOS_FORCEINLINE_FUNCTION RigidInertiaT<T> broadcast(const RigidInertia& a) {
  return {a.m, broadcast<T>(a.h), broadcast<T>(a.io)};
}

}  // namespace kollektiv::dynamics
