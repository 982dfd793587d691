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

  template <int N>
  KOKKOS_INLINE_FUNCTION static void begin(const DeviceModel& /*m*/, const KernelParams& p, const EpisodeDraws& d,
                                           Local& s) {
    constexpr int k = kSkillDraw;
    const Vec3 part = in_box(p.box_a_min, p.box_a_max, d.uniform(k), d.uniform(k + 1), d.uniform(k + 2));
    const Vec3 place = in_box(p.box_b_min, p.box_b_max, d.uniform(k + 3), d.uniform(k + 4), d.uniform(k + 5));
    put(s.tr + tr_part_x, part);
    put(s.tr + tr_goal_x, place);
    s.tr[tr_part_mass] = lerp(p.mass_min, p.mass_max, d.uniform(k + 6));
  }

  template <int N>
  KOKKOS_INLINE_FUNCTION static int observe(const DeviceModel& /*m*/, const KernelParams& /*p*/, const Local& s,
                                            const ChainPose& pose, Real* o) {
    const Vec3 part = part_position(s, pose);
    put(o, part - pose.tool_pos);
    put(o + 3, vec(s.tr + tr_goal_x) - part);
    o[6] = static_cast<Real>(s.ti[ti_attached]);
    return 7;
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
};

}  // namespace kollektiv::skills::detail
