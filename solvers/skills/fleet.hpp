// Fleet: the robots of one skill on one rank, robots [gid_offset, gid_offset + n) of one
// RobotModel. Owns their dynamics state (q, qd) and task state, and steps them as Kokkos
// kernels ("skills::..."): action -> control -> physics substeps -> reward, termination,
// success, quality -> auto-reset with the next episode's randomisation. Every random draw
// is rng::draw(seed, skill stream, robot gid, episode * 64 + k), so a robot's trajectory is
// the same on whichever rank it lives.
//
// Observation (obs_dim), per robot, in this order:
//   sin q_i, cos q_i (revolute) or q_i, 1 (prismatic), 2 n values; qd (n); tool position (3);
//   reach:      target - tool (3)
//   weld:       closest seam point - tool (3), seam tangent there (3), reference point - tool
//               (3), lateral error (1), standoff error (1), progress / length (1), work and
//               travel angle errors (2); with the seam sensor, the nominal path and the
//               sensor's readings (weld.hpp)
//   pick_place: part - tool (3), place target - part (3), attached flag (1), part yaw - jaw
//               yaw and target yaw - part yaw, modulo pi, each as (sin 2e, cos 2e) (4)
//   then the time-in-episode fraction step / episode_steps (1).
// Action (act_dim): n joint actions in [-1, 1] (clipped; see ActionMode), plus for
// pick_place one gripper action (closed when > gripper_threshold).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/core/segment.hpp"
#include "solvers/dynamics/robot_model.hpp"
#include "solvers/dynamics/step.hpp"
#include "solvers/skills/fleet_state.hpp"
#include "solvers/skills/skill_config.hpp"

namespace kollektiv::skills {

// Largest observation of any skill (3 * kMaxJoints + 3 + 14 + 1).
inline constexpr int kMaxObs = 3 * dynamics::kMaxJoints + 18;

// What an episode missed, per cause (StepResult::episode_misses): weld, the fractions of the
// seam length not welded for each tolerance (lateral, standoff, speed, work angle, travel
// angle; a length missed on several counts is in each) and the fraction never reached
// (unfinished); pick_place, why it failed, each 0 or 1 (not grasped, dropped, released
// outside the position or the yaw tolerance, still held at the time limit). miss_causes(kind)
// names them (at most kMissCauses); empty for skills without a breakdown.
inline constexpr int kMissCauses = 6;
std::vector<std::string> miss_causes(SkillKind kind);

// The observation and action of `kind` on an arm of `dof` joints, as named segments (the
// order above): joint_angles (2 dof), joint_velocities, tool_position; reach: goal_offset;
// weld: seam_offset, seam_tangent, goal_offset (the reference point), lateral_error,
// standoff_error, progress, work_angle_error, travel_angle_error; pick_place: part_offset,
// place_offset, attached, part_yaw_error, place_yaw_error, place_offset_fine; then
// episode_time. Actions: joints (dof), and for pick_place gripper (1). A segment of the
// same name means the same quantity in every skill (what a transferred policy relies on).
SegmentLayout observation_layout(SkillKind kind, int dof);
SegmentLayout action_layout(SkillKind kind, int dof);

// What one step() leaves, per robot of the fleet.
struct StepResult {
  StepResult() = default;
  StepResult(int robots, int obs_dim);
  View<Real*> reward;
  View<int*> terminated;   // the episode ended in a terminal state (weld done, part placed)
  View<int*> truncated;    // the episode was cut by the time limit
  View<Real**> final_obs;  // observation that ended the episode, before the auto-reset
                           // (rows of robots whose episode did not end are left as they were)
  // Per-episode results, valid where episode_done == 1 (terminated or truncated).
  View<int*> episode_done;
  View<Real*> episode_return;   // undiscounted sum of the episode's rewards
  View<int*> episode_success;
  View<Real*> episode_quality;  // in [0, 1], see README.md
  View<Real*> episode_final_error;  // m from the goal at the episode's end, see README.md
  View<int*> episode_length;    // control steps
  View<Real**> episode_misses;  // (robots, kMissCauses), see miss_causes()
};

class Fleet {
 public:
  // Throws kollektiv::Error (bad_input) for an inconsistent config (sizes of kp, kd,
  // initial_q; non-positive dt, tolerances, ...).
  Fleet(const dynamics::RobotModel& model, const SkillConfig& cfg, std::uint64_t seed, std::int64_t gid_offset,
        int n_robots);

  int size() const { return n_robots_; }
  int dof() const { return model_.n_joints; }
  int obs_dim() const { return obs_dim_; }
  int act_dim() const { return act_dim_; }
  SkillKind kind() const { return cfg_.kind; }
  std::int64_t gid_offset() const { return gid_offset_; }
  const SkillConfig& config() const { return cfg_; }
  const dynamics::DeviceModel& model() const { return model_; }
  const dynamics::StepParams& step_params() const { return sp_; }  // includes the PD gains used

  // Every robot starts episode 0.
  // Every robot starts episode 0; with stagger, at a step drawn per robot in
  // [0, episode_steps) (training uses common.stagger_start, evaluation never).
  void reset_all(bool stagger = false);
  // obs: (>= size(), >= obs_dim()).
  void observe(View<Real**> obs) const;
  // actions: (>= size(), >= act_dim()). Robots whose episode ends are reset to their next
  // episode (unless auto-reset is off). Throws kollektiv::Error naming the robot gid if a
  // state became non-finite.
  void step(View<const Real**> actions, StepResult& out);
  // The same, and every robot's observation after its step (after its reset where its episode
  // ended) into next_obs (>= size(), >= obs_dim()): what observe() would write next, computed
  // from the pose the step has at hand instead of a second pass over every robot's kinematics.
  void step(View<const Real**> actions, StepResult& out, View<Real**> next_obs);
  // Only robots r < rows (-1: all) with active(r) != 0 step; the others keep their state and
  // report nothing (rows past `rows` are not touched at all; nor are their rows of a given
  // next_obs, which needs >= rows rows; an empty one is not written).
  void step(View<const Real**> actions, View<const int*> active, StepResult& out, int rows = -1,
            View<Real**> next_obs = View<Real**>());
  // observe() of robots r < rows only.
  void observe(View<Real**> obs, int rows) const;

  // Robot cells: with auto-reset off, a robot whose episode ended keeps its final state until
  // start_episodes() gives it the next one.
  void set_auto_reset(bool on) { auto_reset_ = on; }
  // Robots r < count begin the episode keyed by keys(r, :) = (draw id, task episode, noise
  // episode): the task from the draws rng::draw(seed, skill stream, draw id, task episode *
  // 64 + k), the initial joint noise from those of the noise episode. A training robot's
  // episode e is the key (its gid, e, e), so a cell given that key runs the same episode.
  void start_episodes(View<const std::int64_t**> keys, int count);

  // Curriculum: every tolerance of the skill's rules times `scale` (> 0; 1 as configured;
  // reach and weld tolerances; pick_place grasp and place tolerances, positions and yaws, and
  // the grip's holding force) from the next step on.
  void set_tolerance_scale(double scale);
  double tolerance_scale() const { return tolerance_scale_; }

  FleetState save_state() const;
  // Throws kollektiv::Error if the state does not have size() robots of dof() joints.
  void restore_state(const FleetState& state);

  View<Real**> q() const { return q_; }
  View<Real**> qd() const { return qd_; }
  View<Real**> task_real() const { return task_real_; }
  View<std::int64_t**> task_int() const { return task_int_; }

 private:
  SkillConfig cfg_;
  dynamics::DeviceModel model_;
  dynamics::StepParams sp_;
  std::uint64_t seed_;
  std::int64_t gid_offset_;
  int n_robots_;
  int obs_dim_ = 0, act_dim_ = 0;
  bool auto_reset_ = true;
  double tolerance_scale_ = 1.0;
  Real home_inertia_[dynamics::kMaxJoints] = {};  // mass-matrix diagonal at the home configuration
  View<Real**> q_, qd_, task_real_;
  View<std::int64_t**> task_int_;
  View<int*> error_;
};

}  // namespace kollektiv::skills
