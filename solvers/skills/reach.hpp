// The `reach` skill: bring the tool point to a target drawn per episode and hold it there.
// Implements the skill interface of skill_kernel.hpp for the fleet's kernels.
#pragma once

#include "solvers/skills/skill_kernel.hpp"

namespace kollektiv::skills::detail {

// The rules after a physics step (see README.md).
KOKKOS_INLINE_FUNCTION Outcome reach_rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2) {
  Outcome o;
  const Real dist = norm(vec(s.tr + tr_goal_x) - pose.tool_pos);
  const bool inside = dist <= p.tolerance_scale * p.tolerance;
  s.ti[ti_streak] = inside ? s.ti[ti_streak] + 1 : 0;
  o.reward = -p.w_distance * dist - p.w_action * a2 + (inside ? p.w_success : 0.0);
  o.success = s.ti[ti_streak] >= p.hold_steps;
  o.error = dist;
  const Real d0 = s.tr[tr_initial_distance];
  o.quality = d0 > 0 ? clamp(1 - dist / d0, 0, 1) : (inside ? 1.0 : 0.0);
  return o;
}

struct Reach {
  static constexpr SkillKind kind = SkillKind::reach;

  static void configure(const SkillConfig& cfg, KernelParams& p) {
    const auto bad = ExitCode::bad_input;
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
  }

  template <int N>
  KOKKOS_INLINE_FUNCTION static void begin(const DeviceModel& m, const KernelParams& p, const EpisodeDraws& d, Local& s) {
    constexpr int k = kSkillDraw;
    ChainPose pose;
    const Vec3 target = in_box(p.box_a_min, p.box_a_max, d.uniform(k), d.uniform(k + 1), d.uniform(k + 2));
    put(s.tr + tr_goal_x, target);
    s.tr[tr_initial_distance] = norm(target - tool_position<N>(m, s.q, pose));
  }

  template <int N>
  KOKKOS_INLINE_FUNCTION static int observe(const DeviceModel& /*m*/, const KernelParams& /*p*/, const Local& s,
                                            const ChainPose& pose, Real* o) {
    put(o, vec(s.tr + tr_goal_x) - pose.tool_pos);
    return 3;
  }

  KOKKOS_INLINE_FUNCTION static Outcome rules(const KernelParams& p, Local& s, const ChainPose& pose, Real a2,
                                              const Real* /*extra*/) {
    return reach_rules(p, s, pose, a2);
  }

  KOKKOS_INLINE_FUNCTION static bool payload(const DeviceModel&, const KernelParams&, const Local&, RigidInertia&) {
    return false;
  }

  // No breakdown of misses for this skill.
  KOKKOS_INLINE_FUNCTION static void misses(const KernelParams&, const Local&, Real* out) {
    for (int c = 0; c < kMissCauses; ++c) out[c] = 0;
  }
};

}  // namespace kollektiv::skills::detail
