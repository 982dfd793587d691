// The `weld` skill: move the torch along a seam (line or arc) drawn per episode at a travel speed, inside lateral and standoff tolerances; quality is the fraction welded inside them.
// Implements the skill interface of skill_kernel.hpp for the fleet's kernels.
#pragma once

#include "solvers/skills/skill_kernel.hpp"

namespace kollektiv::skills::detail {

// // Seam geometry. A seam starts at p0 with unit tangent t0 in the plane normal to n;
// b0 = n x t0. Signed curvature k: p(s) = p0 + sin(ks)/k t0 + (1 - cos(ks))/k b0.
struct Seam {
  Vec3 p0, t0, b0;
  Real length = 0, kappa = 0;
};
KOKKOS_INLINE_FUNCTION Seam seam_of(const Local& s, const KernelParams& p) {
  Seam w;
  w.p0 = vec(s.tr + tr_goal_x);
  w.t0 = vec(s.tr + tr_dir_x);
  w.b0 = cross(p.normal, w.t0);
  w.length = s.tr[tr_length];
  w.kappa = s.tr[tr_curvature];
  return w;
}
KOKKOS_INLINE_FUNCTION void seam_point(const Seam& w, Real arc, Vec3& pos, Vec3& tangent) {
  if (w.kappa == 0) {
    pos = w.p0 + arc * w.t0;
    tangent = w.t0;
    return;
  }
  const Real c = math::cos(w.kappa * arc), sn = math::sin(w.kappa * arc);
  pos = w.p0 + (sn / w.kappa) * w.t0 + ((1 - c) / w.kappa) * w.b0;
  tangent = c * w.t0 + sn * w.b0;
}
// Arc length of the seam point nearest to x (projected onto the seam plane), in [0, L].
KOKKOS_INLINE_FUNCTION Real seam_project(const Seam& w, const Vec3& x) {
  Real arc;
  if (w.kappa == 0) {
    arc = dot(x - w.p0, w.t0);
  } else {
    const Vec3 d = x - (w.p0 + (1 / w.kappa) * w.b0);  // from the arc's centre
    const Real theta = math::atan2(w.kappa * dot(d, w.t0), -w.kappa * dot(d, w.b0));
    arc = theta / w.kappa;
  }
  return clamp(arc, 0, w.length);
}

struct WeldErrors {
  Real arc = 0, lateral = 0, standoff = 0;
  Vec3 closest, tangent;
};
KOKKOS_INLINE_FUNCTION WeldErrors weld_errors(const Seam& w, const KernelParams& p, const Vec3& x) {
  WeldErrors e;
  e.arc = seam_project(w, x);
  seam_point(w, e.arc, e.closest, e.tangent);
  const Vec3 d = x - e.closest;
  e.lateral = dot(d, cross(p.normal, e.tangent));
  e.standoff = dot(d, p.normal) - p.standoff;
  return e;
}
// The reference point: where the torch should be after `step` control steps.
KOKKOS_INLINE_FUNCTION Vec3 weld_reference(const Seam& w, const KernelParams& p, std::int64_t step) {
  Vec3 pos, tan;
  seam_point(w, clamp(p.speed * p.dt * static_cast<Real>(step), 0, w.length), pos, tan);
  return pos + p.standoff * p.normal;
}

// Damped-least-squares position IK: q moves toward placing the tool point at `target`.
template <int N>
KOKKOS_INLINE_FUNCTION void dls_ik(const DeviceModel& m, int iterations, const Vec3& target, Real* q) {
  constexpr Real lambda2 = 0.05 * 0.05, max_step_m = 0.05;
  for (int it = 0; it < iterations; ++it) {
    ChainPose pose;
    Vec3 e = target - tool_position<N>(m, q, pose);
    const Real en = norm(e);
    if (en < 1e-9) break;
    if (en > max_step_m) e = (max_step_m / en) * e;
    Real jac[6 * kMaxJoints];
    dynamics::tool_jacobian(m, N, q, jac);
    // A = J J^T + lambda^2 I (3 x 3, position rows), y = A^{-1} e by the adjugate.
    Real a[3][3];
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        Real s = r == c ? lambda2 : 0;
        for (int j = 0; j < N; ++j) s += jac[r * N + j] * jac[c * N + j];
        a[r][c] = s;
      }
    const Real c00 = a[1][1] * a[2][2] - a[1][2] * a[2][1], c01 = a[1][2] * a[2][0] - a[1][0] * a[2][2],
               c02 = a[1][0] * a[2][1] - a[1][1] * a[2][0];
    const Real det = a[0][0] * c00 + a[0][1] * c01 + a[0][2] * c02;
    const Real inv[3][3] = {{c00, a[0][2] * a[2][1] - a[0][1] * a[2][2], a[0][1] * a[1][2] - a[0][2] * a[1][1]},
                            {c01, a[0][0] * a[2][2] - a[0][2] * a[2][0], a[0][2] * a[1][0] - a[0][0] * a[1][2]},
                            {c02, a[0][1] * a[2][0] - a[0][0] * a[2][1], a[0][0] * a[1][1] - a[0][1] * a[1][0]}};
    const Real ev[3] = {e.x, e.y, e.z};
    Real y[3];
    for (int r = 0; r < 3; ++r) y[r] = (inv[r][0] * ev[0] + inv[r][1] * ev[1] + inv[r][2] * ev[2]) / det;
    for (int j = 0; j < N; ++j) {
      const Real dq = jac[0 * N + j] * y[0] + jac[1 * N + j] * y[1] + jac[2 * N + j] * y[2];
      q[j] = clamp(q[j] + dq, m.lower[j], m.upper[j]);
    }
  }
}

KOKKOS_INLINE_FUNCTION Outcome weld_rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2) {
  Outcome o;
  const Seam w = seam_of(s, p);
  const Vec3 x = pose.tool_pos;
  const WeldErrors e = weld_errors(w, p, x);
  const Real ds = e.arc - s.tr[tr_progress];
  Real welded = 0;
  if (ds > 0) {
    const bool in_tol = math::fabs(e.lateral) <= p.lat_tol && math::fabs(e.standoff) <= p.standoff_tol;
    if (in_tol && ds <= (1 + p.speed_tol) * p.speed * p.dt) welded = ds;
    s.tr[tr_welded] += welded;
    s.tr[tr_progress] = e.arc;
  }
  const Real lat = e.lateral / p.lat_tol, so = e.standoff / p.standoff_tol;
  Real err = lat * lat + so * so;
  err = err > 10 ? 10 : err;
  const Real track = norm(weld_reference(w, p, s.ti[ti_step]) - x);
  o.reward = p.w_progress * welded / (p.speed * p.dt) - p.w_track * track - p.w_error * err - p.w_action * a2;
  o.quality = clamp(s.tr[tr_welded] / w.length, 0, 1);
  o.error = w.length - (s.tr[tr_welded] < w.length ? s.tr[tr_welded] : w.length);
  o.success = o.quality >= p.quality_threshold;
  o.terminated = s.tr[tr_progress] >= w.length;
  if (o.terminated) o.reward += p.w_success * o.quality;
  return o;
}

struct Weld {
  static constexpr SkillKind kind = SkillKind::weld;

  static void configure(const SkillConfig& cfg, KernelParams& p) {
    const auto bad = ExitCode::bad_input;
    const WeldConfig& w = cfg.weld;
    check_box(w.start_box, "weld start_box");
    require(w.length_min_m > 0 && w.length_min_m <= w.length_max_m, "skills: weld needs 0 < length_min_m <= length_max_m",
            bad);
    require(w.curvature_min > 0 && w.curvature_min <= w.curvature_max,
            "skills: weld needs 0 < curvature_min <= curvature_max", bad);
    require(w.yaw_min_rad <= w.yaw_max_rad, "skills: weld needs yaw_min_rad <= yaw_max_rad", bad);
    require(w.travel_speed_m_s > 0 && w.speed_tolerance > 0, "skills: weld needs travel_speed_m_s, speed_tolerance > 0",
            bad);
    require(w.lateral_tolerance_m > 0 && w.standoff_tolerance_m > 0 && w.start_offset_m >= 0 && w.ik_iterations >= 0,
            "skills: weld needs positive tolerances, start_offset_m >= 0 and ik_iterations >= 0", bad);
    require(w.quality_threshold > 0 && w.quality_threshold <= 1, "skills: weld quality_threshold must be in (0, 1]", bad);
    Vec3 nrm = to_vec(w.surface_normal);
    const Real len = std::sqrt(dot(nrm, nrm));
    require(len > 0 && std::isfinite(len), "skills: weld surface_normal must be a non-zero vector", bad);
    nrm = (1 / len) * nrm;
    // In-plane basis: the base x axis projected on the plane (y if x is the normal).
    Vec3 e1 = Vec3{1, 0, 0} - nrm.x * nrm;
    if (std::sqrt(dot(e1, e1)) < 1e-6) e1 = Vec3{0, 1, 0} - nrm.y * nrm;
    e1 = (1 / std::sqrt(dot(e1, e1))) * e1;
    p.stream = rng::Stream::skill_weld;
    p.box_a_min = to_vec(w.start_box.min);
    p.box_a_max = to_vec(w.start_box.max);
    p.seam_kind = static_cast<int>(w.seam_kind);
    p.ik_iterations = w.ik_iterations;
    p.normal = nrm;
    p.e1 = e1;
    p.e2 = cross(nrm, e1);
    p.yaw_min = w.yaw_min_rad;
    p.yaw_max = w.yaw_max_rad;
    p.len_min = w.length_min_m;
    p.len_max = w.length_max_m;
    p.curv_min = w.curvature_min;
    p.curv_max = w.curvature_max;
    p.speed = w.travel_speed_m_s;
    p.speed_tol = w.speed_tolerance;
    p.lat_tol = w.lateral_tolerance_m;
    p.standoff = w.standoff_m;
    p.standoff_tol = w.standoff_tolerance_m;
    p.start_offset = w.start_offset_m;
    p.quality_threshold = w.quality_threshold;
    p.w_progress = w.w_progress;
    p.w_track = w.w_track;
    p.w_error = w.w_error;
    p.w_action = w.w_action;
    p.w_success = w.w_success;
  }

  template <int N>
  KOKKOS_INLINE_FUNCTION static void begin(const DeviceModel& m, const KernelParams& p, const EpisodeDraws& d, Local& s) {
    constexpr int k = kSkillDraw;
    const Vec3 p0 = in_box(p.box_a_min, p.box_a_max, d.uniform(k), d.uniform(k + 1), d.uniform(k + 2));
    const Real yaw = lerp(p.yaw_min, p.yaw_max, d.uniform(k + 3));
    const Vec3 t0 = math::cos(yaw) * p.e1 + math::sin(yaw) * p.e2;
    const Real length = lerp(p.len_min, p.len_max, d.uniform(k + 4));
    const bool arc = p.seam_kind == static_cast<int>(SeamKind::arc) ||
                     (p.seam_kind == static_cast<int>(SeamKind::both) && d.uniform(k + 5) < 0.5);
    Real kappa = 0;
    if (arc) {
      kappa = lerp(p.curv_min, p.curv_max, d.uniform(k + 6));
      if (kappa * length > math::pi) kappa = math::pi / length;
      if (d.uniform(k + 7) < 0.5) kappa = -kappa;
    }
    put(s.tr + tr_goal_x, p0);
    put(s.tr + tr_dir_x, t0);
    s.tr[tr_length] = length;
    s.tr[tr_curvature] = kappa;
    // Torch start: slightly behind the seam start, off it laterally and along the normal.
    const Vec3 b0 = cross(p.normal, t0);
    const Vec3 start = p0 + p.standoff * p.normal - (p.start_offset * d.uniform(k + 8)) * t0 +
                       (p.start_offset * (2 * d.uniform(k + 9) - 1)) * b0 +
                       (p.start_offset * (2 * d.uniform(k + 10) - 1)) * p.normal;
    dls_ik<N>(m, p.ik_iterations, start, s.q);
  }

  template <int N>
  KOKKOS_INLINE_FUNCTION static int observe(const DeviceModel& /*m*/, const KernelParams& p, const Local& s,
                                            const ChainPose& pose, Real* o) {
    const Vec3 x = pose.tool_pos;
    const Seam w = seam_of(s, p);
    const WeldErrors e = weld_errors(w, p, x);
    put(o, e.closest + p.standoff * p.normal - x);
    put(o + 3, e.tangent);
    put(o + 6, weld_reference(w, p, s.ti[ti_step]) - x);
    o[9] = e.lateral;
    o[10] = e.standoff;
    o[11] = s.tr[tr_progress] / w.length;
    return 12;
  }

  KOKKOS_INLINE_FUNCTION static Outcome rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2,
                                              const Real* /*extra*/) {
    return weld_rules(p, s, pose, a2);
  }

  KOKKOS_INLINE_FUNCTION static bool payload(const DeviceModel&, const KernelParams&, const Local&, RigidInertia&) {
    return false;
  }
};

}  // namespace kollektiv::skills::detail
