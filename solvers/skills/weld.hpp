// The `weld` skill: move the torch along a seam (line or arc) drawn per episode at a travel
// speed, inside lateral and standoff tolerances, a speed band and (optionally) the torch
// angles of the procedure; quality is the fraction of the seam welded inside all of them.
// The seam may be seen only through a sensor (noise and lag) on a part placed with an error.
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
// The nominal seam: as drawn, the path the robot is programmed with.
KOKKOS_INLINE_FUNCTION Seam nominal_seam(const Local& s, const KernelParams& p) {
  Seam w;
  w.p0 = vec(s.tr + tr_goal_x);
  w.t0 = vec(s.tr + tr_dir_x);
  w.b0 = cross(p.normal, w.t0);
  w.length = s.tr[tr_length];
  w.kappa = s.tr[tr_curvature];
  return w;
}
// The real seam: the nominal one moved by the part's placement error (shifted along b0 and
// the normal, turned about the normal at its start).
KOKKOS_INLINE_FUNCTION Seam real_seam(const Local& s, const KernelParams& p) {
  Seam w = nominal_seam(s, p);
  w.p0 = w.p0 + s.tr[tr_fixture_lateral] * w.b0 + s.tr[tr_fixture_normal] * p.normal;
  const Real c = math::cos(s.tr[tr_fixture_yaw]), sn = math::sin(s.tr[tr_fixture_yaw]);
  w.t0 = c * w.t0 + sn * w.b0;
  w.b0 = cross(p.normal, w.t0);
  return w;
}
// The seam the policy knows: the real one, or with the sensor the nominal one.
KOKKOS_INLINE_FUNCTION Seam known_seam(const Local& s, const KernelParams& p) {
  return p.sensor ? nominal_seam(s, p) : real_seam(s, p);
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
// Arc length of x (projected onto the seam plane) along the seam's line or circle, from its
// start, not clamped to the seam: where the torch is along the seam.
KOKKOS_INLINE_FUNCTION Real seam_project(const Seam& w, const Vec3& x) {
  if (w.kappa == 0) return dot(x - w.p0, w.t0);
  const Vec3 d = x - (w.p0 + (1 / w.kappa) * w.b0);  // from the arc's centre
  const Real theta = math::atan2(w.kappa * dot(d, w.t0), -w.kappa * dot(d, w.b0));
  return theta / w.kappa;
}

struct WeldErrors {
  Real along = 0;  // seam_project: the torch's arc length along the seam, unclamped
  Real arc = 0;    // the seam point nearest to the torch, in [0, L]
  Real lateral = 0, standoff = 0;
  Vec3 closest, tangent;
};
KOKKOS_INLINE_FUNCTION WeldErrors weld_errors(const Seam& w, const KernelParams& p, const Vec3& x) {
  WeldErrors e;
  e.along = seam_project(w, x);
  e.arc = clamp(e.along, 0, w.length);
  seam_point(w, e.arc, e.closest, e.tangent);
  const Vec3 d = x - e.closest;
  e.lateral = dot(d, cross(p.normal, e.tangent));
  e.standoff = dot(d, p.normal) - p.standoff;
  return e;
}
// The torch's work and travel angles minus the procedure's, in the frame of the seam
// tangent `tangent` (see WeldConfig).
struct AngleErrors {
  Real work = 0, travel = 0;
};
KOKKOS_INLINE_FUNCTION AngleErrors angle_errors(const KernelParams& p, const ChainPose& pose, const Vec3& tangent) {
  const Vec3 a = pose.tool_rot * p.torch_axis;
  const Real down = -dot(a, p.normal);
  return {math::atan2(dot(a, cross(p.normal, tangent)), down) - p.work_angle,
          math::atan2(dot(a, tangent), down) - p.travel_angle};
}
// The torch direction of the procedure's angles at a seam tangent.
KOKKOS_INLINE_FUNCTION Vec3 procedure_axis(const KernelParams& p, const Vec3& tangent) {
  const Vec3 a = math::tan(p.travel_angle) * tangent + math::tan(p.work_angle) * cross(p.normal, tangent) - p.normal;
  return (1 / norm(a)) * a;
}

// The seam sensor's lag after a step: each lagged value moves `sensor_gain` of the way to
// the true error (a first-order lag of time constant sensor_lag_s).
KOKKOS_INLINE_FUNCTION void sense(const KernelParams& p, Local& s, Real lateral, Real standoff) {
  s.tr[tr_sensed_lateral] += p.sensor_gain * (lateral - s.tr[tr_sensed_lateral]);
  s.tr[tr_sensed_standoff] += p.sensor_gain * (standoff - s.tr[tr_sensed_standoff]);
}
// The sensor's noise on its reading at this step (draws of the robot's draw id, episode and
// step; channel 0 lateral, 1 standoff), standard deviation sensor_noise_m.
KOKKOS_INLINE_FUNCTION Real sensor_noise(const KernelParams& p, const Local& s, int channel) {
  if (p.sensor_noise <= 0) return 0;
  const std::uint64_t c = (static_cast<std::uint64_t>(s.ti[ti_episode]) << 25) +
                          (static_cast<std::uint64_t>(s.ti[ti_step]) << 1) + static_cast<std::uint64_t>(channel);
  return p.sensor_noise *
         rng::normal(rng::draw(p.seed, rng::Stream::skill_weld_sensor, static_cast<std::uint64_t>(s.ti[ti_draw_id]), c));
}

// The reference point: where the torch should be after `step` control steps.
KOKKOS_INLINE_FUNCTION Vec3 weld_reference(const Seam& w, const KernelParams& p, std::int64_t step) {
  Vec3 pos, tan;
  seam_point(w, clamp(p.speed * p.dt * static_cast<Real>(step), 0, w.length), pos, tan);
  return pos + p.standoff * p.normal;
}

// Solves (A + lambda^2 I) y = e for a symmetric positive definite R x R matrix A by Cholesky
// (A is overwritten).
template <int R>
KOKKOS_INLINE_FUNCTION void spd_solve(Real (&a)[R][R], const Real (&e)[R], Real (&y)[R]) {
  for (int c = 0; c < R; ++c) {
    for (int k = 0; k < c; ++k) a[c][c] -= a[c][k] * a[c][k];
    a[c][c] = math::sqrt(a[c][c]);
    for (int r = c + 1; r < R; ++r) {
      for (int k = 0; k < c; ++k) a[r][c] -= a[r][k] * a[c][k];
      a[r][c] /= a[c][c];
    }
  }
  for (int r = 0; r < R; ++r) {
    Real v = e[r];
    for (int k = 0; k < r; ++k) v -= a[r][k] * y[k];
    y[r] = v / a[r][r];
  }
  for (int r = R - 1; r >= 0; --r) {
    Real v = y[r];
    for (int k = r + 1; k < R; ++k) v -= a[k][r] * y[k];
    y[r] = v / a[r][r];
  }
}

// Damped-least-squares IK: q moves toward placing the tool point at `target` and, with
// R = 6, the torch axis (p.torch_axis in the tool frame) along `axis`.
template <int N, int R>
KOKKOS_INLINE_FUNCTION void dls_ik(const DeviceModel& m, const KernelParams& p, int iterations, const Vec3& target,
                                   const Vec3& axis, Real* q) {
  constexpr Real lambda2 = 0.05 * 0.05, max_step_m = 0.05;
  for (int it = 0; it < iterations; ++it) {
    ChainPose pose;
    Vec3 e = target - tool_position<N>(m, q, pose);
    const Real en = norm(e);
    // The rotation that turns the torch axis onto `axis`: sin(angle) about their normal.
    const Vec3 w = R == 6 ? cross(pose.tool_rot * p.torch_axis, axis) : Vec3{0, 0, 0};
    if (en < 1e-9 && norm(w) < 1e-9) break;
    if (en > max_step_m) e = (max_step_m / en) * e;
    Real jac[6 * kMaxJoints];
    dynamics::tool_jacobian(m, N, q, jac);
    Real a[R][R];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < R; ++c) {
        Real s = r == c ? lambda2 : 0;
        for (int j = 0; j < N; ++j) s += jac[r * N + j] * jac[c * N + j];
        a[r][c] = s;
      }
    Real ev[R], y[R];
    const Real err[6] = {e.x, e.y, e.z, w.x, w.y, w.z};
    for (int r = 0; r < R; ++r) ev[r] = err[r];
    spd_solve<R>(a, ev, y);
    for (int j = 0; j < N; ++j) {
      Real dq = 0;
      for (int r = 0; r < R; ++r) dq += jac[r * N + j] * y[r];
      q[j] = clamp(q[j] + dq, m.lower[j], m.upper[j]);
    }
  }
}

KOKKOS_INLINE_FUNCTION Outcome weld_rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2) {
  Outcome o;
  const Seam w = real_seam(s, p);
  const Vec3 x = pose.tool_pos;
  const WeldErrors e = weld_errors(w, p, x);
  const AngleErrors ang = angle_errors(p, pose, e.tangent);
  const Real lat_tol = p.tolerance_scale * p.lat_tol, so_tol = p.tolerance_scale * p.standoff_tol;
  const Real angle_tol = p.tolerance_scale * p.angle_tol, speed_tol = p.tolerance_scale * p.speed_tol;
  const Real ds = e.arc - s.tr[tr_progress];
  const Real travel = e.along - s.tr[tr_along];  // the torch's travel along the seam this step
  s.tr[tr_along] = e.along;
  Real welded = 0;
  if (ds > 0) {
    const Real v_step = p.speed * p.dt;
    const bool lat_ok = math::fabs(e.lateral) <= lat_tol, so_ok = math::fabs(e.standoff) <= so_tol;
    const bool speed_ok = travel >= (1 - speed_tol) * v_step && travel <= (1 + speed_tol) * v_step;
    const bool work_ok = !p.torch_angles || math::fabs(ang.work) <= angle_tol;
    const bool travel_ok = !p.torch_angles || math::fabs(ang.travel) <= angle_tol;
    if (lat_ok && so_ok && speed_ok && work_ok && travel_ok) welded = ds;
    s.tr[tr_miss_lateral] += lat_ok ? 0 : ds;
    s.tr[tr_miss_standoff] += so_ok ? 0 : ds;
    s.tr[tr_miss_speed] += speed_ok ? 0 : ds;
    s.tr[tr_miss_work] += work_ok ? 0 : ds;
    s.tr[tr_miss_travel] += travel_ok ? 0 : ds;
    s.tr[tr_welded] += welded;
    s.tr[tr_progress] = e.arc;
  }
  if (p.sensor) sense(p, s, e.lateral, e.standoff);
  const Real lat = e.lateral / lat_tol, so = e.standoff / so_tol;
  Real err = lat * lat + so * so;
  if (p.torch_angles) err += (ang.work * ang.work + ang.travel * ang.travel) / (angle_tol * angle_tol);
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
    require(std::fabs(w.work_angle_rad) < math::pi / 2 && std::fabs(w.travel_angle_rad) < math::pi / 2 &&
                w.angle_tolerance_rad > 0,
            "skills: weld needs |work_angle_rad|, |travel_angle_rad| < pi/2 and angle_tolerance_rad > 0", bad);
    require(!w.torch_angles || p.n >= 5,
            "skills: weld torch_angles needs an arm of at least 5 joints, this one has " + std::to_string(p.n), bad);
    require(w.part_offset_m >= 0 && w.part_yaw_rad >= 0 && w.sensor_noise_m >= 0 && w.sensor_lag_s >= 0,
            "skills: weld needs part_offset_m, part_yaw_rad, sensor_noise_m, sensor_lag_s >= 0", bad);
    // The sensor's draw counter holds the step in 24 bits.
    require(cfg.common.episode_steps < (1 << 24), "skills: weld needs episode_steps < 2^24", bad);
    Vec3 nrm = to_vec(w.surface_normal);
    const Real len = std::sqrt(dot(nrm, nrm));
    require(len > 0 && std::isfinite(len), "skills: weld surface_normal must be a non-zero vector", bad);
    nrm = (1 / len) * nrm;
    Vec3 axis = to_vec(w.torch_axis);
    const Real axis_len = std::sqrt(dot(axis, axis));
    require(axis_len > 0 && std::isfinite(axis_len), "skills: weld torch_axis must be a non-zero vector", bad);
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
    p.torch_angles = w.torch_angles;
    p.torch_axis = (1 / axis_len) * axis;
    p.work_angle = w.work_angle_rad;
    p.travel_angle = w.travel_angle_rad;
    p.angle_tol = w.angle_tolerance_rad;
    p.part_offset = w.part_offset_m;
    p.part_yaw = w.part_yaw_rad;
    p.sensor = w.seam_sensor;
    p.sensor_noise = w.sensor_noise_m;
    p.sensor_gain = w.sensor_lag_s > 0 ? -std::expm1(-cfg.common.control_dt_s / w.sensor_lag_s) : 1.0;
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
    s.tr[tr_fixture_lateral] = p.part_offset * (2 * d.uniform(k + 11) - 1);
    s.tr[tr_fixture_normal] = p.part_offset * (2 * d.uniform(k + 12) - 1);
    s.tr[tr_fixture_yaw] = p.part_yaw * (2 * d.uniform(k + 13) - 1);
    // Torch start (the seam found on the real part): slightly behind its start, off it
    // laterally and along the normal; with torch_angles at the procedure's angles.
    const Seam w = real_seam(s, p);
    const Vec3 start = w.p0 + p.standoff * p.normal - (p.start_offset * d.uniform(k + 8)) * w.t0 +
                       (p.start_offset * (2 * d.uniform(k + 9) - 1)) * w.b0 +
                       (p.start_offset * (2 * d.uniform(k + 10) - 1)) * p.normal;
    if (p.torch_angles)
      dls_ik<N, 6>(m, p, p.ik_iterations, start, procedure_axis(p, w.t0), s.q);
    else
      dls_ik<N, 3>(m, p, p.ik_iterations, start, Vec3{0, 0, 0}, s.q);
    // The sensor's lag starts settled on the true errors.
    ChainPose pose;
    const WeldErrors e = weld_errors(w, p, tool_position<N>(m, s.q, pose));
    s.tr[tr_along] = e.along;
    s.tr[tr_sensed_lateral] = e.lateral;
    s.tr[tr_sensed_standoff] = e.standoff;
  }

  // The seam as the policy knows it: the real one, or with the sensor the nominal path with
  // the sensor's lateral and standoff readings in place of the nominal path's.
  template <int N>
  KOKKOS_INLINE_FUNCTION static int observe(const DeviceModel& /*m*/, const KernelParams& p, const Local& s,
                                            const ChainPose& pose, Real* o) {
    const Vec3 x = pose.tool_pos;
    const Seam w = known_seam(s, p);
    const WeldErrors e = weld_errors(w, p, x);
    const Real lat = p.sensor ? s.tr[tr_sensed_lateral] + sensor_noise(p, s, 0) : e.lateral;
    const Real so = p.sensor ? s.tr[tr_sensed_standoff] + sensor_noise(p, s, 1) : e.standoff;
    const Vec3 b = cross(p.normal, e.tangent);
    put(o, e.closest + p.standoff * p.normal - x + (e.lateral - lat) * b + (e.standoff - so) * p.normal);
    put(o + 3, e.tangent);
    put(o + 6, weld_reference(w, p, s.ti[ti_step]) - x);
    o[9] = lat;
    o[10] = so;
    o[11] = s.tr[tr_progress] / w.length;
    const AngleErrors ang = angle_errors(p, pose, e.tangent);
    o[12] = ang.work;
    o[13] = ang.travel;
    return 14;
  }

  KOKKOS_INLINE_FUNCTION static Outcome rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2,
                                              const Real* /*extra*/) {
    return weld_rules(p, s, pose, a2);
  }

  KOKKOS_INLINE_FUNCTION static bool payload(const DeviceModel&, const KernelParams&, const Local&, RigidInertia&) {
    return false;
  }

  // Fractions of the seam length missed for each tolerance, then the part never reached.
  KOKKOS_INLINE_FUNCTION static void misses(const KernelParams&, const Local& s, Real* out) {
    const Real length = s.tr[tr_length];
    out[0] = s.tr[tr_miss_lateral] / length;
    out[1] = s.tr[tr_miss_standoff] / length;
    out[2] = s.tr[tr_miss_speed] / length;
    out[3] = s.tr[tr_miss_work] / length;
    out[4] = s.tr[tr_miss_travel] / length;
    out[5] = clamp(1 - s.tr[tr_progress] / length, 0, 1);
  }
};

}  // namespace kollektiv::skills::detail
