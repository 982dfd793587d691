// The fleet's kernels: per-robot episode set-up (randomisation, weld start IK), the skill
// rules (reward, termination, success, quality), observation, and the step that ties them
// to the arm dynamics. One thread per robot; kernels are templated on the joint count.
#include "solvers/skills/fleet.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "solvers/dynamics/dispatch_dof.hpp"
#include "solvers/core/error.hpp"
#include "solvers/core/math.hpp"
#include "solvers/core/philox.hpp"
#include "solvers/dynamics/arm_batch.hpp"
#include "solvers/dynamics/chain_algorithms.hpp"

namespace kollektiv::skills {
namespace {

using dynamics::ChainPose;
using dynamics::dispatch_dof;
using dynamics::DeviceModel;
using dynamics::kMaxJoints;
using dynamics::Mat3;
using dynamics::RigidInertia;
using dynamics::StepParams;
using dynamics::Sym3;
using dynamics::Vec3;
using Policy = Kokkos::RangePolicy<ExecSpace>;

// Draws reserved per episode in the counter space of a robot's stream.
constexpr std::uint64_t kDrawsPerEpisode = 64;
// Draw indices: initial joint noise uses [0, kMaxJoints); skill draws start here.
constexpr int kSkillDraw = 16;

// The config as kernels see it: plain values only.
struct KernelParams {
  int kind = 0, n = 0, obs_dim = 0, act_dim = 0, episode_steps = 1, action_mode = 0;
  bool auto_reset = true;  // false (cells): a robot whose episode ended waits for start_episodes
  Real dt = 0, action_scale = 0, q_noise = 0;
  Real q_home[kMaxJoints] = {};
  std::uint64_t seed = 0;
  rng::Stream stream = rng::Stream::skill_reach;
  Vec3 box_a_min, box_a_max;  // reach target | weld start | pick_place part
  Vec3 box_b_min, box_b_max;  // pick_place place target
  // reach
  Real tolerance = 0, w_distance = 0, w_action = 0, w_success = 0;
  int hold_steps = 1;
  // weld
  int seam_kind = 0, ik_iterations = 0;
  Vec3 normal, e1, e2;
  Real yaw_min = 0, yaw_max = 0, len_min = 0, len_max = 0, curv_min = 0, curv_max = 0;
  Real speed = 0, speed_tol = 0, lat_tol = 0, standoff = 0, standoff_tol = 0, start_offset = 0;
  Real quality_threshold = 0, w_progress = 0, w_track = 0, w_error = 0;
  // pick_place
  Real mass_min = 0, mass_max = 0, side = 0, grasp_tol = 0, place_tol = 0, grip_threshold = 0;
  Real w_reach = 0, w_place = 0, w_hold = 0, w_grasp = 0;
};

// One robot's state in registers.
struct Local {
  Real q[kMaxJoints] = {}, qd[kMaxJoints] = {};
  Real tr[task_real_count] = {};
  std::int64_t ti[task_int_count] = {};
};

KOKKOS_INLINE_FUNCTION Vec3 vec(const Real* v) { return {v[0], v[1], v[2]}; }
KOKKOS_INLINE_FUNCTION void put(Real* v, const Vec3& x) {
  v[0] = x.x;
  v[1] = x.y;
  v[2] = x.z;
}
KOKKOS_INLINE_FUNCTION Real norm(const Vec3& v) { return math::sqrt(dot(v, v)); }
KOKKOS_INLINE_FUNCTION Real clamp(Real x, Real lo, Real hi) { return x < lo ? lo : (x > hi ? hi : x); }
KOKKOS_INLINE_FUNCTION Real lerp(Real lo, Real hi, Real u) { return lo + (hi - lo) * u; }
KOKKOS_INLINE_FUNCTION Vec3 in_box(const Vec3& lo, const Vec3& hi, Real u0, Real u1, Real u2) {
  return {lerp(lo.x, hi.x, u0), lerp(lo.y, hi.y, u1), lerp(lo.z, hi.z, u2)};
}

// Uniform k in (0, 1) of a robot's episode: draw k / 2, word pair k % 2.
struct EpisodeDraws {
  std::uint64_t seed;
  rng::Stream stream;
  std::uint64_t gid;
  std::uint64_t episode;
  KOKKOS_INLINE_FUNCTION Real uniform(int k) const {
    const rng::Philox4x32 r = rng::draw(seed, stream, gid, episode * kDrawsPerEpisode + static_cast<std::uint64_t>(k / 2));
    return k % 2 == 0 ? rng::uniform0(r) : rng::uniform1(r);
  }
};

// ---------------------------------------------------------------------------------------
// Seam geometry. A seam starts at p0 with unit tangent t0 in the plane normal to n;
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

// ---------------------------------------------------------------------------------------
// Kinematics helpers.
template <int N>
KOKKOS_INLINE_FUNCTION Vec3 tool_position(const DeviceModel& m, const Real* q, ChainPose& pose) {
  dynamics::forward_kinematics(m, N, q, pose);
  return pose.tool_pos;
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

// The payload of a held part: a solid cube of the part's mass at its grip offset.
KOKKOS_INLINE_FUNCTION RigidInertia part_payload(const DeviceModel& m, const KernelParams& p, const Local& s) {
  const Real mass = s.tr[tr_part_mass];
  const Real i = mass * p.side * p.side / 6.0;
  return dynamics::payload_inertia(m, mass, vec(s.tr + tr_grip_x), Sym3{i, i, i, 0, 0, 0});
}

// ---------------------------------------------------------------------------------------
// Episode set-up: the task from the draws of (gid, episode ti[ti_episode]), the initial
// joint noise from those of (gid, noise_episode) (the same episode, except for a cell's
// repeated attempt at one part).
template <int N>
KOKKOS_INLINE_FUNCTION void begin_episode(const DeviceModel& m, const KernelParams& p, std::uint64_t gid,
                                          std::uint64_t noise_episode, Local& s) {
  const EpisodeDraws d{p.seed, p.stream, gid, static_cast<std::uint64_t>(s.ti[ti_episode])};
  const EpisodeDraws noise{p.seed, p.stream, gid, noise_episode};
  for (int i = 0; i < N; ++i) {
    s.q[i] = clamp(p.q_home[i] + p.q_noise * (2 * noise.uniform(i) - 1), m.lower[i], m.upper[i]);
    s.qd[i] = 0;
  }
  for (int c = 0; c < task_real_count; ++c) s.tr[c] = 0;
  s.tr[tr_place_error] = -1;
  s.ti[ti_step] = s.ti[ti_attached] = s.ti[ti_streak] = s.ti[ti_grasped] = 0;
  constexpr int k = kSkillDraw;
  ChainPose pose;
  if (p.kind == static_cast<int>(SkillKind::reach)) {
    const Vec3 target = in_box(p.box_a_min, p.box_a_max, d.uniform(k), d.uniform(k + 1), d.uniform(k + 2));
    put(s.tr + tr_goal_x, target);
    s.tr[tr_initial_distance] = norm(target - tool_position<N>(m, s.q, pose));
  } else if (p.kind == static_cast<int>(SkillKind::weld)) {
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
  } else {
    const Vec3 part = in_box(p.box_a_min, p.box_a_max, d.uniform(k), d.uniform(k + 1), d.uniform(k + 2));
    const Vec3 place = in_box(p.box_b_min, p.box_b_max, d.uniform(k + 3), d.uniform(k + 4), d.uniform(k + 5));
    put(s.tr + tr_part_x, part);
    put(s.tr + tr_goal_x, place);
    s.tr[tr_part_mass] = lerp(p.mass_min, p.mass_max, d.uniform(k + 6));
  }
}

// Part centre now: held parts follow the tool.
KOKKOS_INLINE_FUNCTION Vec3 part_position(const Local& s, const ChainPose& pose) {
  if (s.ti[ti_attached] != 0) return pose.tool_pos + pose.tool_rot * vec(s.tr + tr_grip_x);
  return vec(s.tr + tr_part_x);
}

// ---------------------------------------------------------------------------------------
// Observation of one robot into o[0, obs_dim).
template <int N>
KOKKOS_INLINE_FUNCTION void observe_robot(const DeviceModel& m, const KernelParams& p, const Local& s,
                                          const ChainPose& pose, Real* o) {
  int k = 0;
  for (int i = 0; i < N; ++i) {
    const bool rev = dynamics::is_revolute(m, i);
    o[k++] = rev ? math::sin(s.q[i]) : s.q[i];
    o[k++] = rev ? math::cos(s.q[i]) : 1.0;
  }
  for (int i = 0; i < N; ++i) o[k++] = s.qd[i];
  const Vec3 x = pose.tool_pos;
  put(o + k, x);
  k += 3;
  if (p.kind == static_cast<int>(SkillKind::reach)) {
    put(o + k, vec(s.tr + tr_goal_x) - x);
    k += 3;
  } else if (p.kind == static_cast<int>(SkillKind::weld)) {
    const Seam w = seam_of(s, p);
    const WeldErrors e = weld_errors(w, p, x);
    put(o + k, e.closest + p.standoff * p.normal - x);
    put(o + k + 3, e.tangent);
    put(o + k + 6, weld_reference(w, p, s.ti[ti_step]) - x);
    o[k + 9] = e.lateral;
    o[k + 10] = e.standoff;
    o[k + 11] = s.tr[tr_progress] / w.length;
    k += 12;
  } else {
    const Vec3 part = part_position(s, pose);
    put(o + k, part - x);
    put(o + k + 3, vec(s.tr + tr_goal_x) - part);
    o[k + 6] = static_cast<Real>(s.ti[ti_attached]);
    k += 7;
  }
  o[k] = static_cast<Real>(s.ti[ti_step]) / static_cast<Real>(p.episode_steps);
}

// ---------------------------------------------------------------------------------------
// The skill rules after a physics step. Returns the reward; sets terminated, and at an
// episode end (terminated or time limit) success and quality.
struct Outcome {
  Real reward = 0, quality = 0;
  Real error = 0;  // m from the goal: reach target, unwelded seam length, part to place target
  bool terminated = false, success = false;
};

KOKKOS_INLINE_FUNCTION Outcome reach_rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2) {
  Outcome o;
  const Real dist = norm(vec(s.tr + tr_goal_x) - pose.tool_pos);
  const bool inside = dist <= p.tolerance;
  s.ti[ti_streak] = inside ? s.ti[ti_streak] + 1 : 0;
  o.reward = -p.w_distance * dist - p.w_action * a2 + (inside ? p.w_success : 0.0);
  o.success = s.ti[ti_streak] >= p.hold_steps;
  o.error = dist;
  const Real d0 = s.tr[tr_initial_distance];
  o.quality = d0 > 0 ? clamp(1 - dist / d0, 0, 1) : (inside ? 1.0 : 0.0);
  return o;
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

KOKKOS_INLINE_FUNCTION Outcome pick_place_rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2,
                                                bool closed) {
  Outcome o;
  const Vec3 x = pose.tool_pos;
  const Vec3 place = vec(s.tr + tr_goal_x);
  Real bonus = 0;
  if (s.ti[ti_attached] == 0) {
    const Vec3 part = vec(s.tr + tr_part_x);
    if (closed && norm(part - x) <= p.grasp_tol) {
      s.ti[ti_attached] = 1;
      put(s.tr + tr_grip_x, dynamics::mul_transpose(pose.tool_rot, part - x));
      if (s.ti[ti_grasped] == 0) bonus += p.w_grasp;
      s.ti[ti_grasped] = 1;
    }
  } else if (!closed) {
    const Vec3 part = part_position(s, pose);
    put(s.tr + tr_part_x, part);
    s.ti[ti_attached] = 0;
    const Real err = norm(place - part);
    s.tr[tr_place_error] = err;
    if (err <= p.place_tol) {
      o.terminated = o.success = true;
      bonus += p.w_success;
    }
  }
  const Vec3 part = part_position(s, pose);
  const bool held = s.ti[ti_attached] != 0;
  o.reward = bonus - p.w_place * norm(place - part) - p.w_action * a2 -
             (held ? 0.0 : p.w_reach * norm(part - x) + p.w_hold);
  const Real err = s.tr[tr_place_error];
  o.quality = o.success ? clamp(1 - err / p.place_tol, 0, 1) : 0.0;
  o.error = norm(place - part);
  return o;
}

// ---------------------------------------------------------------------------------------
// Kernels.
struct StateViews {
  View<Real**> q, qd, task_real;
  View<std::int64_t**> task_int;
  KOKKOS_INLINE_FUNCTION void load(int r, int n, Local& s) const {
    for (int i = 0; i < n; ++i) {
      s.q[i] = q(r, i);
      s.qd[i] = qd(r, i);
    }
    for (int c = 0; c < task_real_count; ++c) s.tr[c] = task_real(r, c);
    for (int c = 0; c < task_int_count; ++c) s.ti[c] = task_int(r, c);
  }
  KOKKOS_INLINE_FUNCTION void store(int r, int n, const Local& s) const {
    for (int i = 0; i < n; ++i) {
      q(r, i) = s.q[i];
      qd(r, i) = s.qd[i];
    }
    for (int c = 0; c < task_real_count; ++c) task_real(r, c) = s.tr[c];
    for (int c = 0; c < task_int_count; ++c) task_int(r, c) = s.ti[c];
  }
};

template <int N>
struct ResetKernel {
  DeviceModel m;
  KernelParams p;
  StateViews st;
  View<int*> error;
  std::int64_t gid_offset;
  bool stagger;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Local s;
    s.ti[ti_episode] = 0;
    const auto gid = static_cast<std::uint64_t>(gid_offset + r);
    begin_episode<N>(m, p, gid, 0, s);
    if (stagger) {  // the last draw of episode 0, used by nothing else
      const EpisodeDraws d{p.seed, p.stream, gid, 0};
      const auto offset = static_cast<std::int64_t>(d.uniform(2 * kDrawsPerEpisode - 1) * p.episode_steps);
      s.ti[ti_step] = offset < p.episode_steps ? offset : p.episode_steps - 1;
    }
    st.store(r, N, s);
    error(r) = 0;
  }
};

// Robot r begins the episode keyed by keys(r, :) = (draw id, task episode, noise episode).
template <int N>
struct StartKernel {
  DeviceModel m;
  KernelParams p;
  StateViews st;
  View<const std::int64_t**> keys;
  View<int*> error;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Local s;
    s.ti[ti_episode] = keys(r, 1);
    begin_episode<N>(m, p, static_cast<std::uint64_t>(keys(r, 0)), static_cast<std::uint64_t>(keys(r, 2)), s);
    st.store(r, N, s);
    error(r) = 0;
  }
};

template <int N>
struct ObserveKernel {
  DeviceModel m;
  KernelParams p;
  StateViews st;
  View<Real**> obs;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Local s;
    st.load(r, N, s);
    ChainPose pose;
    dynamics::forward_kinematics(m, N, s.q, pose);
    Real o[kMaxObs];
    observe_robot<N>(m, p, s, pose, o);
    for (int k = 0; k < p.obs_dim; ++k) obs(r, k) = o[k];
  }
};

template <int N>
struct StepKernel {
  DeviceModel m;
  KernelParams p;
  StepParams sp;
  StateViews st;
  View<const Real**> actions;
  View<const int*> active;  // empty: every robot steps
  View<int*> error;
  std::int64_t gid_offset;
  View<Real*> reward;
  View<int*> terminated, truncated;
  View<Real**> final_obs;
  View<int*> done;
  View<Real*> ep_return;
  View<int*> ep_success;
  View<Real*> ep_quality;
  View<Real*> ep_error;
  View<int*> ep_length;

  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    if (active.extent(0) > 0 && active(r) == 0) {
      reward(r) = 0;
      terminated(r) = truncated(r) = done(r) = 0;
      return;
    }
    Local s;
    st.load(r, N, s);
    // Actions, clipped to [-1, 1]; the joint part becomes the control. The action penalty
    // takes the policy's actions before clipping, the gripper's included: past +-1 an action
    // changes nothing else, and without it a Gaussian mean can drift there and stop
    // exploring (a gripper that never opens again).
    Real a[kMaxJoints], control[kMaxJoints];
    Real a2 = 0;
    for (int k = 0; k < p.act_dim; ++k) a2 += actions(r, k) * actions(r, k);
    for (int i = 0; i < N; ++i) {
      a[i] = clamp(actions(r, i), -1, 1);
      if (p.action_mode == static_cast<int>(ActionMode::torque))
        control[i] = p.action_scale * a[i];
      else if (p.action_mode == static_cast<int>(ActionMode::pd_target))
        control[i] = p.q_home[i] + p.action_scale * a[i];
      else
        control[i] = s.q[i] + p.action_scale * a[i];
    }
    const bool pick = p.kind == static_cast<int>(SkillKind::pick_place);
    const bool closed = pick && actions(r, N) > p.grip_threshold;
    RigidInertia payload;
    const bool held = pick && s.ti[ti_attached] != 0;
    if (held) payload = part_payload(m, p, s);
    if (!dynamics::step_robot<N>(m, sp, N, s.q, s.qd, control, held ? &payload : nullptr)) {
      error(r) = 1;
      reward(r) = 0;
      terminated(r) = truncated(r) = done(r) = 0;
      return;  // the state stays as it was; the host throws naming this robot
    }
    s.ti[ti_step] += 1;
    ChainPose pose;
    dynamics::forward_kinematics(m, N, s.q, pose);
    Outcome o;
    if (p.kind == static_cast<int>(SkillKind::reach))
      o = reach_rules(p, s, pose, a2);
    else if (p.kind == static_cast<int>(SkillKind::weld))
      o = weld_rules(p, s, pose, a2);
    else
      o = pick_place_rules(p, s, pose, a2, closed);
    s.tr[tr_return] += o.reward;
    const bool cut = !o.terminated && s.ti[ti_step] >= p.episode_steps;
    reward(r) = o.reward;
    terminated(r) = o.terminated ? 1 : 0;
    truncated(r) = cut ? 1 : 0;
    done(r) = (o.terminated || cut) ? 1 : 0;
    if (o.terminated || cut) {
      Real ob[kMaxObs];
      observe_robot<N>(m, p, s, pose, ob);
      for (int k = 0; k < p.obs_dim; ++k) final_obs(r, k) = ob[k];
      ep_return(r) = s.tr[tr_return];
      ep_success(r) = o.success ? 1 : 0;
      ep_quality(r) = o.quality;
      ep_error(r) = o.error;
      ep_length(r) = static_cast<int>(s.ti[ti_step]);
      if (p.auto_reset) {
        s.ti[ti_episode] += 1;
        begin_episode<N>(m, p, static_cast<std::uint64_t>(gid_offset + r), static_cast<std::uint64_t>(s.ti[ti_episode]),
                         s);
      }
    }
    st.store(r, N, s);
  }
};


Vec3 to_vec(const std::array<double, 3>& a) { return {a[0], a[1], a[2]}; }

// Per-joint gains from a config list: empty -> automatic, one value -> all joints.
void fill_gains(const std::vector<double>& given, const double* automatic, int n, const char* what, Real* out) {
  require(given.empty() || given.size() == 1 || static_cast<int>(given.size()) == n,
          std::string("skills: ") + what + " needs 0, 1 or " + std::to_string(n) + " values, found " +
              std::to_string(given.size()),
          ExitCode::bad_input);
  for (int i = 0; i < n; ++i) {
    out[i] = given.empty() ? automatic[i] : (given.size() == 1 ? given[0] : given[static_cast<std::size_t>(i)]);
    require(out[i] >= 0 && std::isfinite(out[i]), std::string("skills: ") + what + " must be finite and >= 0",
            ExitCode::bad_input);
  }
}

void check_box(const Box& b, const char* what) {
  for (int i = 0; i < 3; ++i)
    require(std::isfinite(b.min[i]) && std::isfinite(b.max[i]) && b.min[i] <= b.max[i],
            std::string("skills: ") + what + " needs finite min <= max on every axis", ExitCode::bad_input);
}

KernelParams make_params(const SkillConfig& cfg, const DeviceModel& m, std::uint64_t seed, int obs_dim,
                         int act_dim) {
  const CommonConfig& c = cfg.common;
  const auto bad = ExitCode::bad_input;
  require(c.episode_steps >= 1, "skills: episode_steps must be >= 1", bad);
  require(c.control_dt_s > 0 && c.substeps >= 1, "skills: control_dt_s must be > 0 and substeps >= 1", bad);
  require(c.action_scale > 0, "skills: action_scale must be > 0", bad);
  require(c.initial_q_noise >= 0, "skills: initial_q_noise must be >= 0", bad);
  const int n = m.n_joints;
  require(c.initial_q.empty() || static_cast<int>(c.initial_q.size()) == n,
          "skills: initial_q needs " + std::to_string(n) + " values, found " + std::to_string(c.initial_q.size()), bad);
  KernelParams p;
  p.kind = static_cast<int>(cfg.kind);
  p.n = n;
  p.obs_dim = obs_dim;
  p.act_dim = act_dim;
  p.episode_steps = c.episode_steps;
  p.action_mode = static_cast<int>(c.action_mode);
  p.dt = c.control_dt_s;
  p.action_scale = c.action_scale;
  p.q_noise = c.initial_q_noise;
  for (int i = 0; i < n; ++i) p.q_home[i] = c.initial_q.empty() ? 0.0 : c.initial_q[static_cast<std::size_t>(i)];
  p.seed = seed;
  if (cfg.kind == SkillKind::reach) {
    const ReachConfig& r = cfg.reach;
    check_box(r.target_box, "reach target_box");
    require(r.tolerance_m > 0 && r.hold_steps >= 1, "skills: reach needs tolerance_m > 0 and hold_steps >= 1", bad);
    p.stream = rng::Stream::skill_reach;
    p.box_a_min = to_vec(r.target_box.min);
    p.box_a_max = to_vec(r.target_box.max);
    p.tolerance = r.tolerance_m;
    p.hold_steps = r.hold_steps;
    p.w_distance = r.w_distance;
    p.w_action = r.w_action;
    p.w_success = r.w_success;
  } else if (cfg.kind == SkillKind::weld) {
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
  } else {
    const PickPlaceConfig& k = cfg.pick_place;
    check_box(k.part_box, "pick_place part_box");
    check_box(k.place_box, "pick_place place_box");
    require(k.part_mass_min_kg > 0 && k.part_mass_min_kg <= k.part_mass_max_kg,
            "skills: pick_place needs 0 < part_mass_min_kg <= part_mass_max_kg", bad);
    require(k.part_side_m > 0 && k.grasp_tolerance_m > 0 && k.place_tolerance_m > 0,
            "skills: pick_place needs part_side_m, grasp_tolerance_m, place_tolerance_m > 0", bad);
    p.stream = rng::Stream::skill_pick_place;
    p.box_a_min = to_vec(k.part_box.min);
    p.box_a_max = to_vec(k.part_box.max);
    p.box_b_min = to_vec(k.place_box.min);
    p.box_b_max = to_vec(k.place_box.max);
    p.mass_min = k.part_mass_min_kg;
    p.mass_max = k.part_mass_max_kg;
    p.side = k.part_side_m;
    p.grasp_tol = k.grasp_tolerance_m;
    p.place_tol = k.place_tolerance_m;
    p.grip_threshold = k.gripper_threshold;
    p.w_reach = k.w_reach;
    p.w_place = k.w_place;
    p.w_hold = k.w_hold;
    p.w_grasp = k.w_grasp;
    p.w_action = k.w_action;
    p.w_success = k.w_success;
  }
  return p;
}

KernelParams kernel_params(const SkillConfig& cfg, const DeviceModel& m, std::uint64_t seed, int obs_dim, int act_dim,
                           bool auto_reset) {
  KernelParams p = make_params(cfg, m, seed, obs_dim, act_dim);
  p.auto_reset = auto_reset;
  return p;
}

int observation_size(SkillKind kind, int n) { return layout_width(observation_layout(kind, n)); }

template <class V>
void require_shape(const V& v, int rows, int cols, const char* what) {
  require(static_cast<int>(v.extent(0)) >= rows && static_cast<int>(v.extent(1)) >= cols,
          std::string("skills: View '") + what + "' has shape (" + std::to_string(v.extent(0)) + ", " +
              std::to_string(v.extent(1)) + "), expected at least (" + std::to_string(rows) + ", " +
              std::to_string(cols) + ")");
}

}  // namespace

SegmentLayout observation_layout(SkillKind kind, int dof) {
  SegmentLayout layout{{"joint_angles", 2 * dof}, {"joint_velocities", dof}, {"tool_position", 3}};
  switch (kind) {
    case SkillKind::reach: layout.push_back({"goal_offset", 3}); break;
    case SkillKind::weld:
      layout.insert(layout.end(), {{"seam_offset", 3}, {"seam_tangent", 3}, {"goal_offset", 3}, {"lateral_error", 1},
                                   {"standoff_error", 1}, {"progress", 1}});
      break;
    case SkillKind::pick_place:
      layout.insert(layout.end(), {{"part_offset", 3}, {"place_offset", 3}, {"attached", 1}});
      break;
  }
  layout.push_back({"episode_time", 1});
  return layout;
}

SegmentLayout action_layout(SkillKind kind, int dof) {
  SegmentLayout layout{{"joints", dof}};
  if (kind == SkillKind::pick_place) layout.push_back({"gripper", 1});
  return layout;
}

StepResult::StepResult(int robots, int obs_dim)
    : reward("skills::reward", robots),
      terminated("skills::terminated", robots),
      truncated("skills::truncated", robots),
      final_obs("skills::final_obs", robots, obs_dim),
      episode_done("skills::episode_done", robots),
      episode_return("skills::episode_return", robots),
      episode_success("skills::episode_success", robots),
      episode_quality("skills::episode_quality", robots),
      episode_final_error("skills::episode_final_error", robots),
      episode_length("skills::episode_length", robots) {}

Fleet::Fleet(const dynamics::RobotModel& model, const SkillConfig& cfg, std::uint64_t seed, std::int64_t gid_offset,
             int n_robots)
    : cfg_(cfg),
      model_(dynamics::make_device_model(model)),
      seed_(seed),
      gid_offset_(gid_offset),
      n_robots_(n_robots) {
  require(n_robots >= 0 && gid_offset >= 0, "skills: fleet needs n_robots >= 0 and gid_offset >= 0", ExitCode::bad_input);
  const int n = model_.n_joints;
  obs_dim_ = observation_size(cfg.kind, n);
  act_dim_ = n + (cfg.kind == SkillKind::pick_place ? 1 : 0);
  const KernelParams p = make_params(cfg, model_, seed, obs_dim_, act_dim_);  // validates

  const CommonConfig& c = cfg.common;
  sp_.dt_s = c.control_dt_s;
  sp_.substeps = c.substeps;
  sp_.integrator = c.integrator;
  sp_.control = c.action_mode == ActionMode::torque ? dynamics::ControlMode::torque : dynamics::ControlMode::pd;
  sp_.joint_limits = c.joint_limits;
  sp_.gravity_compensation = c.gravity_compensation;
  // Automatic gains from the mass-matrix diagonal at the home configuration.
  require(c.pd_frequency_hz > 0 && c.pd_damping_ratio > 0, "skills: pd_frequency_hz and pd_damping_ratio must be > 0",
          ExitCode::bad_input);
  Real mass[kMaxJoints * kMaxJoints] = {};
  dynamics::crba(model_, n, p.q_home, mass);
  const double w = 2 * math::pi * c.pd_frequency_hz;
  double kp_auto[kMaxJoints] = {}, kd_auto[kMaxJoints] = {};
  for (int i = 0; i < n; ++i) {
    kp_auto[i] = mass[i * n + i] * w * w;
    kd_auto[i] = 2 * c.pd_damping_ratio * mass[i * n + i] * w;
  }
  fill_gains(c.kp, kp_auto, n, "kp", sp_.kp);
  fill_gains(c.kd, kd_auto, n, "kd", sp_.kd);

  q_ = View<Real**>("skills::q", n_robots, n);
  qd_ = View<Real**>("skills::qd", n_robots, n);
  task_real_ = View<Real**>("skills::task_real", n_robots, task_real_count);
  task_int_ = View<std::int64_t**>("skills::task_int", n_robots, task_int_count);
  error_ = View<int*>("skills::error", n_robots);
  reset_all();
}

void Fleet::reset_all(bool stagger) {
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch_dof(model_.n_joints, [&](auto dof) {
    Kokkos::parallel_for("skills::reset", Policy(0, n_robots_),
                         ResetKernel<decltype(dof)::value>{model_, p, st, error_, gid_offset_, stagger});
  });
}

void Fleet::observe(View<Real**> obs) const {
  require_shape(obs, n_robots_, obs_dim_, "obs");
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch_dof(model_.n_joints, [&](auto dof) {
    Kokkos::parallel_for("skills::observe", Policy(0, n_robots_), ObserveKernel<decltype(dof)::value>{model_, p, st, obs});
  });
}

void Fleet::step(View<const Real**> actions, StepResult& out) { step(actions, View<const int*>(), out); }

void Fleet::step(View<const Real**> actions, View<const int*> active, StepResult& out) {
  require_shape(actions, n_robots_, act_dim_, "actions");
  require(active.extent(0) == 0 || static_cast<int>(active.extent(0)) >= n_robots_,
          "skills: the active mask has fewer rows than the fleet has robots");
  if (static_cast<int>(out.reward.extent(0)) < n_robots_ || static_cast<int>(out.final_obs.extent(1)) < obs_dim_)
    out = StepResult(n_robots_, obs_dim_);
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch_dof(model_.n_joints, [&](auto dof) {
    Kokkos::parallel_for("skills::step", Policy(0, n_robots_),
                         StepKernel<decltype(dof)::value>{model_, p, sp_, st, actions, active, error_, gid_offset_,
                                                          out.reward, out.terminated, out.truncated, out.final_obs,
                                                          out.episode_done, out.episode_return, out.episode_success,
                                                          out.episode_quality, out.episode_final_error,
                                                          out.episode_length});
  });
  dynamics::throw_if_flagged(error_, gid_offset_, "in skills::step");
}

void Fleet::start_episodes(View<const std::int64_t**> keys, int count) {
  require(count >= 0 && count <= n_robots_ && static_cast<int>(keys.extent(0)) >= count && keys.extent(1) >= 3,
          "skills: start_episodes needs (count <= robots, 3) keys");
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch_dof(model_.n_joints, [&](auto dof) {
    Kokkos::parallel_for("skills::start_episodes", Policy(0, count),
                         StartKernel<decltype(dof)::value>{model_, p, st, keys, error_});
  });
}

FleetState Fleet::save_state() const {
  FleetState s;
  const int n = model_.n_joints;
  s.dof = n;
  const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), q_);
  const auto qd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), qd_);
  const auto tr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), task_real_);
  const auto ti = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), task_int_);
  for (int r = 0; r < n_robots_; ++r) {
    for (int i = 0; i < n; ++i) {
      s.q.push_back(q(r, i));
      s.qd.push_back(qd(r, i));
    }
    for (int c = 0; c < task_real_count; ++c) s.task_real.push_back(tr(r, c));
    for (int c = 0; c < task_int_count; ++c) s.task_int.push_back(ti(r, c));
  }
  return s;
}

void Fleet::restore_state(const FleetState& s) {
  check_state(s);
  const int n = model_.n_joints;
  require(s.dof == n && s.robot_count() == n_robots_,
          "skills: fleet state has " + std::to_string(s.robot_count()) + " robots of " + std::to_string(s.dof) +
              " joints, the fleet " + std::to_string(n_robots_) + " of " + std::to_string(n),
          ExitCode::bad_checkpoint);
  // A checkpoint is untrusted: joint states finite, counters in their ranges, flags 0 or 1.
  for (int r = 0; r < n_robots_; ++r) {
    const auto row = static_cast<std::size_t>(r);
    const auto finite = [&](const std::vector<double>& v) {
      return std::all_of(v.begin() + static_cast<std::ptrdiff_t>(row * n),
                         v.begin() + static_cast<std::ptrdiff_t>((row + 1) * n), [](double x) { return std::isfinite(x); });
    };
    const std::int64_t* ti = s.task_int.data() + row * task_int_count;
    const auto flag = [](std::int64_t x) { return x == 0 || x == 1; };
    constexpr std::int64_t most_episodes = std::int64_t{1} << 53;  // incremented: far from the int64 limit
    require(finite(s.q) && finite(s.qd) && ti[ti_episode] >= 0 && ti[ti_episode] <= most_episodes &&
                ti[ti_step] >= 0 && ti[ti_step] <= cfg_.common.episode_steps && ti[ti_streak] >= 0 &&
                ti[ti_streak] <= cfg_.common.episode_steps && flag(ti[ti_attached]) && flag(ti[ti_grasped]),
            "skills: the fleet state of robot " + std::to_string(gid_offset_ + r) +
                " is out of range (non-finite joint state, or counters or flags out of range)",
            ExitCode::bad_checkpoint);
  }
  auto q = Kokkos::create_mirror_view(q_);
  auto qd = Kokkos::create_mirror_view(qd_);
  auto tr = Kokkos::create_mirror_view(task_real_);
  auto ti = Kokkos::create_mirror_view(task_int_);
  for (int r = 0; r < n_robots_; ++r) {
    for (int i = 0; i < n; ++i) {
      q(r, i) = s.q[static_cast<std::size_t>(r * n + i)];
      qd(r, i) = s.qd[static_cast<std::size_t>(r * n + i)];
    }
    for (int c = 0; c < task_real_count; ++c) tr(r, c) = s.task_real[static_cast<std::size_t>(r * task_real_count + c)];
    for (int c = 0; c < task_int_count; ++c) ti(r, c) = s.task_int[static_cast<std::size_t>(r * task_int_count + c)];
  }
  Kokkos::deep_copy(q_, q);
  Kokkos::deep_copy(qd_, qd);
  Kokkos::deep_copy(task_real_, tr);
  Kokkos::deep_copy(task_int_, ti);
  Kokkos::deep_copy(error_, 0);
}

}  // namespace kollektiv::skills
