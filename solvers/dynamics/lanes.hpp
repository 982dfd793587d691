// Lane packs: the per-robot algorithms (spatial.hpp, chain_algorithms.hpp, step.hpp) are
// templates on their scalar type and run either on `double` (one robot, as the skills do) or
// on `Lanes`, kLanes robots of one lane group side by side, so that one instruction advances
// kLanes robots. The width comes from KOLLEKTIV_SIMD_LANES (solvers/core/kokkos_types.hpp):
// a GCC vector of doubles on CPU backends, plain `double` (one thread per robot) on GPUs.
//
// Invariant that makes a robot's result independent of its lane and of its neighbours:
// every operation here is elementwise (no lane reads another) and branch-free per lane
// (`select` instead of `if`), so a lane executes exactly the IEEE operations the `double`
// instantiation executes, in the same order. The dynamics module compiles with
// -ffp-contract=off (solvers/dynamics/CMakeLists.txt) so that the compiler cannot fuse a
// multiply-add in one instantiation and not in the other.
#pragma once

#include <cstdint>
#include <cstring>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/core/math.hpp"

namespace kollektiv::dynamics {

inline constexpr int kLanes = KOLLEKTIV_SIMD_LANES;  // robots per lane group
static_assert(kLanes >= 1, "KOLLEKTIV_SIMD_LANES must be >= 1");

// ---------------------------------------------------------------------------------------
// The scalar (one-robot) side of the lane interface.
KOKKOS_INLINE_FUNCTION double select(bool m, double a, double b) { return m ? a : b; }
KOKKOS_INLINE_FUNCTION bool is_finite(double x) { return math::isfinite(x); }
KOKKOS_INLINE_FUNCTION bool any_lane(bool m) { return m; }
KOKKOS_INLINE_FUNCTION bool lane_of(bool m, int) { return m; }
KOKKOS_INLINE_FUNCTION double lane_of(double x, int) { return x; }
KOKKOS_INLINE_FUNCTION void set_lane(double& x, int, double value) { x = value; }
// Bit `bit` of the binary representation of x (the sin/cos quadrant, see sin_cos).
KOKKOS_INLINE_FUNCTION bool bit_set(double x, int bit) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return ((u >> bit) & 1u) != 0;
}

#if KOLLEKTIV_SIMD_LANES > 1
// A per-lane truth value: all bits set (true) or clear (false) in each 64-bit lane.
struct LaneMask {
  using V = std::int64_t __attribute__((vector_size(8 * kLanes)));
  V v;
  friend LaneMask operator&(const LaneMask& a, const LaneMask& b) { return {a.v & b.v}; }
  friend LaneMask operator|(const LaneMask& a, const LaneMask& b) { return {a.v | b.v}; }
  friend LaneMask operator!(const LaneMask& a) { return {~a.v}; }
};

// kLanes doubles, one per robot of a lane group. Implicit from double (broadcast), so that
// model parameters and literals mix with lane values as they do with doubles.
// Taken by const reference: a 64-byte vector by value changes the psABI (GCC notes it).
struct Lanes {
  using V = double __attribute__((vector_size(8 * kLanes)));
  V v;
  Lanes() = default;
  // s - 0 is s for every s (-0 and NaN included), unlike 0 + s; the compiler emits a broadcast.
  Lanes(double s) : v(s - V{}) {}  // NOLINT(google-explicit-constructor): broadcast
  explicit Lanes(V x) : v(x) {}

  friend Lanes operator+(const Lanes& a, const Lanes& b) { return Lanes(a.v + b.v); }
  friend Lanes operator-(const Lanes& a, const Lanes& b) { return Lanes(a.v - b.v); }
  friend Lanes operator*(const Lanes& a, const Lanes& b) { return Lanes(a.v * b.v); }
  friend Lanes operator/(const Lanes& a, const Lanes& b) { return Lanes(a.v / b.v); }
  friend Lanes operator-(const Lanes& a) { return Lanes(-a.v); }
  Lanes& operator+=(const Lanes& b) { v += b.v; return *this; }
  Lanes& operator-=(const Lanes& b) { v -= b.v; return *this; }
  Lanes& operator*=(const Lanes& b) { v *= b.v; return *this; }
  friend LaneMask operator<(const Lanes& a, const Lanes& b) { return {a.v < b.v}; }
  friend LaneMask operator>(const Lanes& a, const Lanes& b) { return {a.v > b.v}; }
  friend LaneMask operator==(const Lanes& a, const Lanes& b) { return {a.v == b.v}; }
};

inline Lanes select(const LaneMask& m, const Lanes& a, const Lanes& b) { return Lanes(m.v ? a.v : b.v); }
// x - x is 0 exactly when x is finite (inf - inf and NaN - NaN are NaN).
inline LaneMask is_finite(const Lanes& x) { return (x - x) == Lanes(0.0); }
inline bool any_lane(const LaneMask& m) {
  std::int64_t acc = 0;
  for (int l = 0; l < kLanes; ++l) acc |= m.v[l];
  return acc != 0;
}
inline bool lane_of(const LaneMask& m, int l) { return m.v[l] != 0; }
inline double lane_of(const Lanes& x, int l) { return x.v[l]; }
inline void set_lane(Lanes& x, int l, double value) { x.v[l] = value; }
inline LaneMask bit_set(const Lanes& x, int bit) {
  using I = LaneMask::V;
  const I u = (I)x.v;  // NOLINT: a GCC vector cast of equal size reinterprets the bits
  return {((u >> bit) & 1) != 0};
}
#else
using Lanes = double;  // one robot per thread: the GPU layout
#endif

// The truth-value type of T: bool for double, LaneMask for Lanes.
template <class T>
using MaskOf = decltype(T() < T());
template <class T>
KOKKOS_INLINE_FUNCTION MaskOf<T> all_lanes() {
  return T(0.0) == T(0.0);
}

// sin and cos of x for any lane type, in the same operations for every lane, so the result
// does not depend on which lane (or the scalar path) computes it; libm's sin/cos differ from
// a vector libm's. Cody-Waite reduction by pi/2 (pi/2 in a 33-bit head and a tail, exact
// products for |x| < 2^20 pi/2 ~ 1.6e6 rad; beyond it the result loses accuracy but stays
// deterministic) and the fdlibm kernels on [-pi/4, pi/4] (error < 1 ulp each).
template <class T>
KOKKOS_INLINE_FUNCTION void sin_cos(const T& x, T& s, T& c) {
  constexpr double two_over_pi = 6.36619772367581382433e-01;
  constexpr double pio2_hi = 1.57079632673412561417e+00;  // first 33 bits of pi/2
  constexpr double pio2_lo = 6.07710050650619224932e-11;  // pi/2 - pio2_hi
  constexpr double round_magic = 6755399441055744.0;       // 1.5 * 2^52: adding it rounds to an integer
  const T t = x * two_over_pi + round_magic;  // quadrant n in the low mantissa bits of t
  const T n = t - round_magic;
  const T r = (x - n * pio2_hi) - n * pio2_lo;
  const T z = r * r;
  // fdlibm __kernel_sin(r, 0, 0)
  const T ps = 8.33333333332248946124e-03 +
               z * (-1.98412698298579493134e-04 +
                    z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)));
  const T sr = r + (z * r) * (-1.66666666666666324348e-01 + z * ps);
  // fdlibm __kernel_cos(r, 0)
  const T w = z * z;
  const T pc = z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03 + z * 2.48015872894767294178e-05)) +
               (w * w) * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11));
  const T hz = 0.5 * z;
  const T one_minus_hz = 1.0 - hz;
  const T cr = one_minus_hz + (((1.0 - one_minus_hz) - hz) + z * pc);
  // Quadrant n: (sin, cos) = (sr, cr), (cr, -sr), (-sr, -cr), (-cr, sr) for n mod 4 = 0..3.
  const auto odd = bit_set(t, 0), half = bit_set(t, 1);
  const T s0 = select(odd, cr, sr), c0 = select(odd, sr, cr);
  s = select(half, -s0, s0);
  const auto c_negative = (odd & !half) | (half & !odd);  // n mod 4 is 1 or 2
  c = select(c_negative, -c0, c0);
}

}  // namespace kollektiv::dynamics
