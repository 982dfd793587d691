// The fleet's kernels (fleet.cpp launches them): per-robot episode set-up, observation, and
// the step that ties a skill's rules to the arm dynamics. One thread per robot (the step on
// CPU backends: a lane group of robots, whose dynamics advance in vector lanes); kernels are
// templated on the joint count N and on the skill S (reach.hpp, weld.hpp, pick_place.hpp:
// each skill's task, observation and rules in its own file, behind the interface of
// skill_kernel.hpp). FleetLaunch<N, S> launches them: it is defined in fleet_launch.hpp and
// instantiated in generated translation units (CMakeLists.txt), so that fleet.cpp compiles
// no kernel and a CUDA build compiles the 24 (N, S) pairs in parallel.
#pragma once

#include <cstdint>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/core/math.hpp"
#include "solvers/core/philox.hpp"
#include "solvers/dynamics/arm_batch.hpp"
#include "solvers/dynamics/chain_algorithms.hpp"
#include "solvers/skills/fleet.hpp"
#include "solvers/skills/pick_place.hpp"
#include "solvers/skills/reach.hpp"
#include "solvers/skills/skill_kernel.hpp"
#include "solvers/skills/weld.hpp"

namespace kollektiv::skills::detail {

using dynamics::StepParams;

// ---------------------------------------------------------------------------------------
// Episode set-up: the task from the draws of (gid, episode ti[ti_episode]), the initial
// joint noise from those of (gid, noise_episode) (the same episode, except for a cell's
// repeated attempt at one part).
template <int N, class S>
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
  s.ti[ti_step] = s.ti[ti_attached] = s.ti[ti_streak] = s.ti[ti_grasped] = s.ti[ti_dropped] = 0;
  s.ti[ti_draw_id] = static_cast<std::int64_t>(gid);
  S::template begin<N>(m, p, d, s);
}

// Randomised dynamics: the plant of the robot's episode (`md`: link masses, damping,
// friction from the nominal `m`) and its servo gains (`sq` from `sp`; `gain`, the factor of
// each joint's torque command in torque mode). Draws of the episode, see kDynamicsDraw.
template <int N>
KOKKOS_INLINE_FUNCTION void episode_dynamics(const KernelParams& p, const Local& s, DeviceModel& md, StepParams& sq,
                                             Real* gain) {
  const Real h = sq.dt_s / sq.substeps, lightest = 1 - p.randomise.link_mass;
  const EpisodeDraws d{p.seed, p.stream, static_cast<std::uint64_t>(s.ti[ti_draw_id]),
                       static_cast<std::uint64_t>(s.ti[ti_episode])};
  for (int i = 0; i < N; ++i) {
    // Draws kDynamicsDraw + 4 i .. + 3: two Philox blocks, each computed once (this runs at
    // every step: nothing of the episode's plant is stored).
    const rng::Philox4x32 first = d.block(kDynamicsDraw / 2 + 2 * i), second = d.block(kDynamicsDraw / 2 + 2 * i + 1);
    const Real mass = 1 + p.randomise.link_mass * (2 * rng::uniform0(first) - 1);
    RigidInertia& in = md.inertia[i];
    in.m *= mass;
    in.h = mass * in.h;
    in.io = Sym3{mass * in.io.xx, mass * in.io.yy, mass * in.io.zz, mass * in.io.xy, mass * in.io.xz, mass * in.io.yz};
    md.damping[i] *= 1 + p.randomise.joint_damping * (2 * rng::uniform1(first) - 1);
    md.friction[i] = p.randomise.joint_friction_nm * rng::uniform0(second);
    md.friction_slope[i] = dynamics::friction_slope(md.friction[i], lightest * p.home_inertia[i], h);
    gain[i] = 1 + p.randomise.actuator_gain * (2 * rng::uniform1(second) - 1);
    sq.kp[i] *= gain[i];
    sq.kd[i] *= gain[i];
  }
  md.has_friction = p.randomise.joint_friction_nm > 0;
}

// What the robot's joint sensors read at this step: q and qd with Gaussian noise (draws of
// the robot's draw id, episode and step).
template <int N>
KOKKOS_INLINE_FUNCTION void sense_joints(const KernelParams& p, Local& s) {
  const auto id = static_cast<std::uint64_t>(s.ti[ti_draw_id]);
  const std::uint64_t c =
      (static_cast<std::uint64_t>(s.ti[ti_episode]) << 30) + (static_cast<std::uint64_t>(s.ti[ti_step]) << 5);
  const auto normal = [&](std::uint64_t k) {
    return rng::normal(rng::draw(p.seed, rng::Stream::skill_observation_noise, id, c + k));
  };
  for (int i = 0; i < N; ++i) {
    s.q[i] += p.randomise.joint_noise_rad * normal(2 * i);
    s.qd[i] += p.randomise.joint_velocity_noise_rad_s * normal(2 * i + 1);
  }
}

// Observation of one robot into o[0, obs_dim): the arm's part, the skill's, the episode time.
template <int N, class S>
KOKKOS_INLINE_FUNCTION void observe_robot(const DeviceModel& m, const KernelParams& p, const Local& s,
                                          const ChainPose& pose, Real* o) {
  int k = 0;
  for (int i = 0; i < N; ++i) {
    const bool rev = dynamics::is_revolute(m, i);
    o[k++] = rev ? math::sin(s.q[i]) : s.q[i];
    o[k++] = rev ? math::cos(s.q[i]) : 1.0;
  }
  for (int i = 0; i < N; ++i) o[k++] = s.qd[i];
  put(o + k, pose.tool_pos);
  k += 3;
  k += S::template observe<N>(m, p, s, pose, o + k);
  o[k] = static_cast<Real>(s.ti[ti_step]) / static_cast<Real>(p.episode_steps);
}

// The observation with sensing noise: of the joint states the sensors read and of the tool
// pose computed from them. `pose` is the true pose (reused when there is no noise).
template <int N, class S>
KOKKOS_INLINE_FUNCTION void observe_sensed(const DeviceModel& m, const KernelParams& p, const Local& s,
                                           const ChainPose& pose, Real* o) {
  if (!p.sensing_noise) {
    observe_robot<N, S>(m, p, s, pose, o);
    return;
  }
  Local seen = s;
  sense_joints<N>(p, seen);
  ChainPose seen_pose;
  dynamics::forward_kinematics(m, N, seen.q, seen_pose);
  observe_robot<N, S>(m, p, seen, seen_pose, o);
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

template <int N, class S>
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
    begin_episode<N, S>(m, p, gid, 0, s);
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
template <int N, class S>
struct StartKernel {
  DeviceModel m;
  KernelParams p;
  StateViews st;
  View<const std::int64_t**> keys;
  View<int*> error;
  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Local s;
    s.ti[ti_episode] = keys(r, 1);
    begin_episode<N, S>(m, p, static_cast<std::uint64_t>(keys(r, 0)), static_cast<std::uint64_t>(keys(r, 2)), s);
    st.store(r, N, s);
    error(r) = 0;
  }
};

template <int N, class S>
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
    observe_sensed<N, S>(m, p, s, pose, o);
    for (int k = 0; k < p.obs_dim; ++k) obs(r, k) = o[k];
  }
};

// One control step of robot r in three stages: begin (the actions into the control), the
// dynamics, end (the skill's rules, the episode's end and reset). operator() runs them for
// one robot; step_group for a lane group of dynamics::kLanes robots whose dynamics advance
// together in vector lanes (the same operations per lane as one robot's step: bitwise the
// same results), used where every robot has the nominal plant (no randomised dynamics).
template <int N, class S>
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
  View<Real**> ep_misses;
  View<Real**> next_obs;  // empty: not written

  // What begin() hands to the dynamics and to end().
  struct Command {
    Real control[kMaxJoints];
    Real a2 = 0;              // |action|^2 before clipping
    Real extra[2] = {0, 0};   // the actions after the joints' (pick_place: the gripper)
    RigidInertia payload;
    bool held = false;        // the tool holds `payload`
  };

  // Loads robot r and computes its command; false (its outputs written) for a robot that
  // does not step.
  KOKKOS_INLINE_FUNCTION bool begin(int r, Local& s, Command& c) const {
    if (active.extent(0) > 0 && active(r) == 0) {
      reward(r) = 0;
      terminated(r) = truncated(r) = done(r) = 0;
      return false;
    }
    st.load(r, N, s);
    // Actions, clipped to [-1, 1]; the joint part becomes the control. The action penalty
    // takes the policy's actions before clipping, the gripper's included: past +-1 an action
    // changes nothing else, and without it a Gaussian mean can drift there and stop
    // exploring (a gripper that never opens again).
    for (int k = 0; k < p.act_dim; ++k) c.a2 += actions(r, k) * actions(r, k);
    for (int i = 0; i < N; ++i) {
      const Real a = clamp(actions(r, i), -1, 1);
      if (p.action_mode == static_cast<int>(ActionMode::torque))
        c.control[i] = p.action_scale * a;
      else if (p.action_mode == static_cast<int>(ActionMode::pd_target))
        c.control[i] = p.q_home[i] + p.action_scale * a;
      else
        c.control[i] = s.q[i] + p.action_scale * a;
    }
    for (int k = N; k < p.act_dim && k < N + 2; ++k) c.extra[k - N] = actions(r, k);
    c.held = S::payload(m, p, s, c.payload);
    return true;
  }

  // One robot's dynamics; false if its state became non-finite.
  KOKKOS_INLINE_FUNCTION bool step_dynamics(Local& s, Command& c) const {
    if (p.randomise_dynamics) {  // the episode's plant; the gravity compensation keeps the nominal model
      DeviceModel md = m;
      StepParams sq = sp;
      Real gain[kMaxJoints];
      episode_dynamics<N>(p, s, md, sq, gain);
      if (p.action_mode == static_cast<int>(ActionMode::torque))
        for (int i = 0; i < N; ++i) c.control[i] *= gain[i];
      return dynamics::step_robot<N>(md, sq, N, s.q, s.qd, c.control, c.held ? &c.payload : nullptr, &m);
    }
    return dynamics::step_robot<N>(m, sp, N, s.q, s.qd, c.control, c.held ? &c.payload : nullptr);
  }

  // The skill's rules after the dynamics, the episode's end, and the store of robot r.
  KOKKOS_INLINE_FUNCTION void end(int r, Local& s, const Command& c, bool finite) const {
    if (!finite) {
      error(r) = 1;
      reward(r) = 0;
      terminated(r) = truncated(r) = done(r) = 0;
      return;  // the state stays as it was; the host throws naming this robot
    }
    s.ti[ti_step] += 1;
    ChainPose pose;
    dynamics::forward_kinematics(m, N, s.q, pose);
    const Outcome o = S::rules(p, s, pose, c.a2, c.extra);
    s.tr[tr_return] += o.reward;
    const bool cut = !o.terminated && s.ti[ti_step] >= p.episode_steps;
    reward(r) = o.reward;
    terminated(r) = o.terminated ? 1 : 0;
    truncated(r) = cut ? 1 : 0;
    done(r) = (o.terminated || cut) ? 1 : 0;
    // ob: the observation of the state after the step and the rules, which observe() would
    // return now unless the episode ends and the robot is reset below.
    Real ob[kMaxObs];
    const bool ended = o.terminated || cut;
    if (ended || next_obs.extent(0) > 0) observe_sensed<N, S>(m, p, s, pose, ob);
    if (ended) {
      for (int k = 0; k < p.obs_dim; ++k) final_obs(r, k) = ob[k];
      ep_return(r) = s.tr[tr_return];
      ep_success(r) = o.success ? 1 : 0;
      ep_quality(r) = o.quality;
      ep_error(r) = o.error;
      ep_length(r) = static_cast<int>(s.ti[ti_step]);
      Real misses[kMissCauses];
      S::misses(p, s, misses);
      for (int c = 0; c < kMissCauses; ++c) ep_misses(r, c) = misses[c];
      if (p.auto_reset) {
        s.ti[ti_episode] += 1;
        begin_episode<N, S>(m, p, static_cast<std::uint64_t>(gid_offset + r), static_cast<std::uint64_t>(s.ti[ti_episode]),
                         s);
        if (next_obs.extent(0) > 0) {  // the next episode's first observation
          dynamics::forward_kinematics(m, N, s.q, pose);
          observe_sensed<N, S>(m, p, s, pose, ob);
        }
      }
    }
    if (next_obs.extent(0) > 0)
      for (int k = 0; k < p.obs_dim; ++k) next_obs(r, k) = ob[k];
    st.store(r, N, s);
  }

  KOKKOS_INLINE_FUNCTION void operator()(int r) const {
    Local s;
    Command c;
    if (!begin(r, s, c)) return;
    const bool finite = step_dynamics(s, c);
    end(r, s, c, finite);
  }

#if KOLLEKTIV_SIMD_LANES > 1
  // Robots [group * kLanes, group * kLanes + kLanes) of [0, rows), nominal plant only (CPU
  // backends). Lanes of robots that do not step (past rows, inactive) repeat a stepping
  // robot's state and are never written back; a group where some robot holds a payload steps
  // robot by robot.
  void step_group(int group, int rows) const {
    using dynamics::kLanes;
    using dynamics::Lanes;
    const int r0 = group * kLanes;
    Local s[kLanes];
    Command c[kLanes];
    bool steps[kLanes];
    int first = -1;
    bool held = false;
    for (int l = 0; l < kLanes; ++l) {
      steps[l] = r0 + l < rows && begin(r0 + l, s[l], c[l]);
      if (steps[l] && first < 0) first = l;
      held = held || (steps[l] && c[l].held);
    }
    if (first < 0) return;
    if (held) {
      for (int l = 0; l < kLanes; ++l)
        if (steps[l]) end(r0 + l, s[l], c[l], step_dynamics(s[l], c[l]));
      return;
    }
    Lanes q[N], qd[N], control[N];
    for (int l = 0; l < kLanes; ++l) {
      const int from = steps[l] ? l : first;
      for (int i = 0; i < N; ++i) {
        dynamics::set_lane(q[i], l, s[from].q[i]);
        dynamics::set_lane(qd[i], l, s[from].qd[i]);
        dynamics::set_lane(control[i], l, c[from].control[i]);
      }
    }
    const auto alive = dynamics::step_lane_group<N>(m, sp, q, qd, control);
    for (int l = 0; l < kLanes; ++l) {
      if (!steps[l]) continue;
      for (int i = 0; i < N; ++i) {
        s[l].q[i] = dynamics::lane_of(q[i], l);
        s[l].qd[i] = dynamics::lane_of(qd[i], l);
      }
      end(r0 + l, s[l], c[l], dynamics::lane_of(alive, l));
    }
  }
#endif
};

// The launches of one (joint count, skill) pair over rows [0, rows).
template <int N, class S>
struct FleetLaunch {
  static void reset(int rows, const ResetKernel<N, S>& kernel);
  static void start(int rows, const StartKernel<N, S>& kernel);
  static void observe(int rows, const ObserveKernel<N, S>& kernel);
  static void step(int rows, const StepKernel<N, S>& kernel);
};

}  // namespace kollektiv::skills::detail
