// The pieces every skill's kernels share: the config as kernels see it (KernelParams), one
// robot's state in registers (Local), its episode's random draws, small vector helpers, the
// outcome of a step's rules, and the skill interface that reach.hpp, weld.hpp and
// pick_place.hpp implement. Internal to solvers/skills (fleet.cpp includes the skills).
//
// A skill S is a type with
//   static constexpr SkillKind kind;
//   static void configure(const SkillConfig&, KernelParams&);     host: validate, fill its fields
//   template <int N> static void begin(m, p, draws, Local&);      the task of a new episode
//   template <int N> static int observe(m, p, const Local&, pose, Real* o)
//                                                                 its observation block; returns the size
//   static Outcome rules(p, Local&, pose, a2, const Real* extra)  reward, end, success, quality after a
//                                                                 step (extra: the actions after the joints')
//   static bool payload(m, p, const Local&, RigidInertia&)        a load the last link carries now
//   static void misses(p, const Local&, Real* out)                at an episode's end: kMissCauses
//                                                                 figures of what it missed (see
//                                                                 miss_causes() in fleet.hpp)
// all KOKKOS_INLINE_FUNCTION but configure; the fleet's kernels are templated on it.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "solvers/core/error.hpp"
#include "solvers/core/kokkos_types.hpp"
#include "solvers/core/math.hpp"
#include "solvers/core/philox.hpp"
#include "solvers/dynamics/chain_algorithms.hpp"
#include "solvers/skills/fleet_state.hpp"
#include "solvers/skills/skill_config.hpp"

namespace kollektiv::skills::detail {

using dynamics::ChainPose;
using dynamics::DeviceModel;
using dynamics::kMaxJoints;
using dynamics::Mat3;
using dynamics::RigidInertia;
using dynamics::Sym3;
using dynamics::Vec3;

// Draws reserved per episode in the counter space of a robot's stream.
constexpr std::uint64_t kDrawsPerEpisode = 64;
// Draw indices: initial joint noise uses [0, kMaxJoints); skill draws start here.
constexpr int kSkillDraw = 16;
// Randomised dynamics: joint i uses draws kDynamicsDraw / 2 + 2 i and + 2 i + 1 (four
// uniforms: link mass, damping, friction, servo gain).
constexpr int kDynamicsDraw = 64;

// The config as kernels see it: plain values only.
struct KernelParams {
  int n = 0, obs_dim = 0, act_dim = 0, episode_steps = 1, action_mode = 0;
  bool auto_reset = true;  // false (cells): a robot whose episode ended waits for start_episodes
  Real dt = 0, action_scale = 0, q_noise = 0;
  Vec3 gravity;  // the model's, m/s^2 (base frame)
  Real q_home[kMaxJoints] = {};
  Real home_inertia[kMaxJoints] = {};  // mass-matrix diagonal at q_home (friction ramps)
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
  bool torch_angles = false, sensor = false;
  Vec3 torch_axis;  // tool frame, unit
  Real work_angle = 0, travel_angle = 0, angle_tol = 0, part_offset = 0, part_yaw = 0;
  Real sensor_noise = 0, sensor_gain = 1;  // gain: 1 - exp(-dt / lag), 1 without lag
  // Curriculum: every tolerance of the rules is multiplied by this (1: as configured).
  Real tolerance_scale = 1;
  // Randomised dynamics and sensing (CommonConfig::randomise) and whether either is on.
  DynamicsRandomisation randomise;
  bool randomise_dynamics = false, sensing_noise = false;
  // pick_place
  Real mass_min = 0, mass_max = 0, side = 0, grasp_tol = 0, place_tol = 0, grip_threshold = 0;
  Real w_reach = 0, w_place = 0, w_hold = 0, w_grasp = 0;
  bool part_orientation = false;
  Vec3 jaw_axis;
  Real part_yaw_min = 0, part_yaw_max = 0, place_yaw_min = 0, place_yaw_max = 0, grasp_yaw_tol = 0,
       place_yaw_tol = 0, grip_hold = 0, w_yaw = 0, w_drop = 0, w_near_miss = 0, w_time = 0;  // grip_hold: 2 mu F, N (0: never slips)
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
  // Philox block b of the episode: draws 2b (uniform0) and 2b + 1 (uniform1).
  KOKKOS_INLINE_FUNCTION rng::Philox4x32 block(int b) const {
    return rng::draw(seed, stream, gid, episode * kDrawsPerEpisode + static_cast<std::uint64_t>(b));
  }
  KOKKOS_INLINE_FUNCTION Real uniform(int k) const {
    const rng::Philox4x32 r = block(k / 2);
    return k % 2 == 0 ? rng::uniform0(r) : rng::uniform1(r);
  }
};

template <int N>
KOKKOS_INLINE_FUNCTION Vec3 tool_position(const DeviceModel& m, const Real* q, ChainPose& pose) {
  dynamics::forward_kinematics(m, N, q, pose);
  return pose.tool_pos;
}

// // The skill rules after a physics step. Returns the reward; sets terminated, and at an
// episode end (terminated or time limit) success and quality.
struct Outcome {
  Real reward = 0, quality = 0;
  Real error = 0;  // m from the goal: reach target, unwelded seam length, part to place target
  bool terminated = false, success = false;
};

inline Vec3 to_vec(const std::array<double, 3>& a) { return {a[0], a[1], a[2]}; }

inline void check_box(const Box& b, const char* what) {
  for (int i = 0; i < 3; ++i)
    require(std::isfinite(b.min[i]) && std::isfinite(b.max[i]) && b.min[i] <= b.max[i],
            std::string("skills: ") + what + " needs finite min <= max on every axis", ExitCode::bad_input);
}

}  // namespace kollektiv::skills::detail
