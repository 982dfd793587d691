// The `pick_place` skill: reach a part, close the gripper, carry the part (its mass joins the last link) and release it inside a tolerance of a place target.
// Implements the skill interface of skill_kernel.hpp for the fleet's kernels.
#pragma once

#include "solvers/skills/skill_kernel.hpp"

namespace kollektiv::skills::detail {

// The payload of a held part: a solid cube of the part's mass at its grip offset.
KOKKOS_INLINE_FUNCTION RigidInertia part_payload(const DeviceModel& m, const KernelParams& p, const Local& s) {
  const Real mass = s.tr[tr_part_mass];
  const Real i = mass * p.side * p.side / 6.0;
  return dynamics::payload_inertia(m, mass, vec(s.tr + tr_grip_x), Sym3{i, i, i, 0, 0, 0});
}

// Part centre now: held parts follow the tool.
KOKKOS_INLINE_FUNCTION Vec3 part_position(const Local& s, const ChainPose& pose) {
  if (s.ti[ti_attached] != 0) return pose.tool_pos + pose.tool_rot * vec(s.tr + tr_grip_x);
  return vec(s.tr + tr_part_x);
}

// An angle modulo pi (a box part looks the same turned half a turn), in (-pi/2, pi/2].
KOKKOS_INLINE_FUNCTION Real half_turn(Real a) { return 0.5 * math::atan2(math::sin(2 * a), math::cos(2 * a)); }
// The yaw of the gripper's jaw axis about the base z axis.
KOKKOS_INLINE_FUNCTION Real jaw_yaw(const KernelParams& p, const ChainPose& pose) {
  const Vec3 j = pose.tool_rot * p.jaw_axis;
  return math::atan2(j.y, j.x);
}
// The part's yaw now: a held part turns with the jaws.
KOKKOS_INLINE_FUNCTION Real part_yaw(const KernelParams& p, const Local& s, const ChainPose& pose) {
  return s.ti[ti_attached] != 0 ? jaw_yaw(p, pose) + s.tr[tr_grip_yaw] : s.tr[tr_part_yaw];
}

// The last release's error as a multiple of its tolerance: the larger of position and yaw.
KOKKOS_INLINE_FUNCTION Real place_shortfall(const KernelParams& p, const Local& s) {
  const Real at = s.tr[tr_place_error] / (p.tolerance_scale * p.place_tol);
  if (!p.part_orientation) return at;
  const Real turn = s.tr[tr_place_yaw_error] / (p.tolerance_scale * p.place_yaw_tol);
  return turn > at ? turn : at;
}

KOKKOS_INLINE_FUNCTION Outcome pick_place_rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2,
                                                bool closed) {
  Outcome o;
  const Vec3 x = pose.tool_pos;
  const Vec3 place = vec(s.tr + tr_goal_x);
  const Real scale = p.tolerance_scale, jaws = jaw_yaw(p, pose);
  // The tool point's acceleration over the last two control periods.
  const Vec3 velocity = (1 / p.dt) * (x - vec(s.tr + tr_tool_px));
  const Vec3 acceleration = (1 / p.dt) * (velocity - vec(s.tr + tr_tool_vx));
  put(s.tr + tr_tool_px, x);
  put(s.tr + tr_tool_vx, velocity);
  Real bonus = 0;
  if (s.ti[ti_attached] == 0) {
    const Vec3 part = vec(s.tr + tr_part_x);
    const bool aligned =
        !p.part_orientation || math::fabs(half_turn(s.tr[tr_part_yaw] - jaws)) <= scale * p.grasp_yaw_tol;
    if (closed && aligned && s.ti[ti_dropped] == 0 && norm(part - x) <= scale * p.grasp_tol) {
      s.ti[ti_attached] = 1;
      put(s.tr + tr_grip_x, dynamics::mul_transpose(pose.tool_rot, part - x));
      s.tr[tr_grip_yaw] = s.tr[tr_part_yaw] - jaws;
      if (s.ti[ti_grasped] == 0) bonus += p.w_grasp;
      s.ti[ti_grasped] = 1;
    }
  } else if (p.grip_hold > 0 && s.tr[tr_part_mass] * norm(acceleration - p.gravity) > scale * p.grip_hold) {
    // The grip slips: the part drops where it is and is lost (it cannot be grasped again);
    // the episode runs on to its time limit, a failure.
    put(s.tr + tr_part_x, part_position(s, pose));
    s.tr[tr_part_yaw] = jaws + s.tr[tr_grip_yaw];
    s.ti[ti_attached] = 0;
    s.ti[ti_dropped] = 1;
    bonus -= p.w_drop;
  } else if (!closed) {
    const Vec3 part = part_position(s, pose);
    put(s.tr + tr_part_x, part);
    s.tr[tr_part_yaw] = jaws + s.tr[tr_grip_yaw];
    s.ti[ti_attached] = 0;
    const Real err = norm(place - part);
    const Real yaw_err = math::fabs(half_turn(s.tr[tr_part_yaw] - s.tr[tr_place_yaw]));
    const bool first_release = s.tr[tr_place_error] < 0;
    s.tr[tr_place_error] = err;
    s.tr[tr_place_yaw_error] = yaw_err;
    if (err <= scale * p.place_tol && (!p.part_orientation || yaw_err <= scale * p.place_yaw_tol)) {
      o.terminated = o.success = true;
      bonus += p.w_success;
    } else if (first_release) {  // a near miss: 1 at the tolerance, 0 at twice it
      const Real shortfall = place_shortfall(p, s);
      bonus += p.w_near_miss * clamp(2 - shortfall, 0, 1);
    }
  }
  const Vec3 part = part_position(s, pose);
  const bool held = s.ti[ti_attached] != 0;
  o.reward = bonus - p.w_time - p.w_place * norm(place - part) - p.w_action * a2 -
             (held ? 0.0 : p.w_reach * norm(part - x) + p.w_hold);
  if (p.part_orientation)
    o.reward -= p.w_yaw * math::fabs(held ? half_turn(part_yaw(p, s, pose) - s.tr[tr_place_yaw])
                                          : half_turn(s.tr[tr_part_yaw] - jaws));
  o.quality = o.success ? clamp(1 - place_shortfall(p, s), 0, 1) : 0.0;
  o.error = norm(place - part);
  return o;
}

struct PickPlace {
  static constexpr SkillKind kind = SkillKind::pick_place;

  static void configure(const SkillConfig& cfg, KernelParams& p) {
    const auto bad = ExitCode::bad_input;
    const PickPlaceConfig& k = cfg.pick_place;
    check_box(k.part_box, "pick_place part_box");
    check_box(k.place_box, "pick_place place_box");
    require(k.part_mass_min_kg > 0 && k.part_mass_min_kg <= k.part_mass_max_kg,
            "skills: pick_place needs 0 < part_mass_min_kg <= part_mass_max_kg", bad);
    require(k.part_side_m > 0 && k.grasp_tolerance_m > 0 && k.place_tolerance_m > 0,
            "skills: pick_place needs part_side_m, grasp_tolerance_m, place_tolerance_m > 0", bad);
    require(k.part_yaw_min_rad <= k.part_yaw_max_rad && k.place_yaw_min_rad <= k.place_yaw_max_rad,
            "skills: pick_place needs part_yaw_min_rad <= part_yaw_max_rad and place_yaw_min_rad <= place_yaw_max_rad",
            bad);
    require(k.grasp_yaw_tolerance_rad > 0 && k.place_yaw_tolerance_rad > 0 && k.grip_force_n >= 0 &&
                k.grip_friction > 0,
            "skills: pick_place needs grasp_yaw_tolerance_rad, place_yaw_tolerance_rad, grip_friction > 0 and "
            "grip_force_n >= 0",
            bad);
    const Vec3 jaw = to_vec(k.jaw_axis);
    const Real jaw_len = std::sqrt(dot(jaw, jaw));
    require(jaw_len > 0 && std::isfinite(jaw_len), "skills: pick_place jaw_axis must be a non-zero vector", bad);
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
    p.part_orientation = k.part_orientation;
    p.jaw_axis = (1 / jaw_len) * jaw;
    p.part_yaw_min = k.part_yaw_min_rad;
    p.part_yaw_max = k.part_yaw_max_rad;
    p.place_yaw_min = k.place_yaw_min_rad;
    p.place_yaw_max = k.place_yaw_max_rad;
    p.grasp_yaw_tol = k.grasp_yaw_tolerance_rad;
    p.place_yaw_tol = k.place_yaw_tolerance_rad;
    p.grip_hold = 2 * k.grip_friction * k.grip_force_n;
    p.w_reach = k.w_reach;
    p.w_place = k.w_place;
    p.w_hold = k.w_hold;
    p.w_grasp = k.w_grasp;
    p.w_action = k.w_action;
    p.w_success = k.w_success;
    p.w_yaw = k.w_yaw;
    p.w_drop = k.w_drop;
    p.w_near_miss = k.w_near_miss;
    p.w_time = k.w_time;
  }

  template <int N>
  KOKKOS_INLINE_FUNCTION static void begin(const DeviceModel& m, const KernelParams& p, const EpisodeDraws& d,
                                           Local& s) {
    constexpr int k = kSkillDraw;
    const Vec3 part = in_box(p.box_a_min, p.box_a_max, d.uniform(k), d.uniform(k + 1), d.uniform(k + 2));
    const Vec3 place = in_box(p.box_b_min, p.box_b_max, d.uniform(k + 3), d.uniform(k + 4), d.uniform(k + 5));
    put(s.tr + tr_part_x, part);
    put(s.tr + tr_goal_x, place);
    s.tr[tr_part_mass] = lerp(p.mass_min, p.mass_max, d.uniform(k + 6));
    s.tr[tr_part_yaw] = lerp(p.part_yaw_min, p.part_yaw_max, d.uniform(k + 7));
    s.tr[tr_place_yaw] = lerp(p.place_yaw_min, p.place_yaw_max, d.uniform(k + 8));
    s.tr[tr_place_yaw_error] = -1;
    ChainPose pose;
    put(s.tr + tr_tool_px, tool_position<N>(m, s.q, pose));  // at rest: velocity 0
  }

  template <int N>
  KOKKOS_INLINE_FUNCTION static int observe(const DeviceModel& /*m*/, const KernelParams& p, const Local& s,
                                            const ChainPose& pose, Real* o) {
    const Vec3 part = part_position(s, pose);
    put(o, part - pose.tool_pos);
    const Vec3 e = vec(s.tr + tr_goal_x) - part;  // the place offset
    put(o + 3, e);
    o[6] = static_cast<Real>(s.ti[ti_attached]);
    // Yaw errors modulo pi as (sin 2e, cos 2e): continuous where e wraps at +-pi/2.
    const Real yaw = part_yaw(p, s, pose);
    const Real to_part = 2 * (yaw - jaw_yaw(p, pose)), to_place = 2 * (s.tr[tr_place_yaw] - yaw);
    o[7] = math::sin(to_part);
    o[8] = math::cos(to_part);
    o[9] = math::sin(to_place);
    o[10] = math::cos(to_place);
    // The place offset again, as e / (|e| + 5 tol): a direction far away, and near the target
    // a slope that resolves the deck's tolerance, which is a sliver of place_offset's spread.
    put(o + 11, (1 / (norm(e) + 5 * p.place_tol)) * e);
    return 14;
  }

  KOKKOS_INLINE_FUNCTION static Outcome rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2,
                                              const Real* extra) {
    return pick_place_rules(p, s, pose, a2, extra[0] > p.grip_threshold);
  }

  KOKKOS_INLINE_FUNCTION static bool payload(const DeviceModel& m, const KernelParams& p, const Local& s,
                                             RigidInertia& out) {
    if (s.ti[ti_attached] == 0) return false;
    out = part_payload(m, p, s);
    return true;
  }

  // Why an episode failed (each 0 or 1; all 0 for a success): the part never grasped,
  // dropped, last released outside the position or the yaw tolerance, or still held at the
  // time limit.
  KOKKOS_INLINE_FUNCTION static void misses(const KernelParams& p, const Local& s, Real* out) {
    for (int c = 0; c < kMissCauses; ++c) out[c] = 0;
    const bool released = s.ti[ti_grasped] != 0 && s.ti[ti_attached] == 0 && s.ti[ti_dropped] == 0;
    out[0] = s.ti[ti_grasped] == 0 ? 1 : 0;
    out[1] = s.ti[ti_dropped] != 0 ? 1 : 0;
    out[2] = released && s.tr[tr_place_error] > p.tolerance_scale * p.place_tol ? 1 : 0;
    out[3] = released && p.part_orientation && s.tr[tr_place_yaw_error] > p.tolerance_scale * p.place_yaw_tol ? 1 : 0;
    out[4] = s.ti[ti_attached] != 0 ? 1 : 0;
  }
};

}  // namespace kollektiv::skills::detail
