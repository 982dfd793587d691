// FleetState: the checkpoint of a fleet's robots as plain arrays, everything per robot and
// indexed by robot within the fleet (gid order), never per rank, so the global arrays
// (concatenated in gid order over all ranks) can be cut into any other contiguous ranges
// on restart. The task-state columns are named by TaskReal and TaskInt.
#pragma once

#include <cstdint>
#include <vector>

namespace kollektiv::skills {

// Columns of the per-robot real task state, [robot][task_real_count].
enum TaskReal : int {
  tr_goal_x = 0,  // reach: target; weld: seam start; pick_place: place target (m, base frame)
  tr_goal_y,
  tr_goal_z,
  tr_dir_x,       // weld: unit seam tangent at its start
  tr_dir_y,
  tr_dir_z,
  tr_length,      // weld: seam length, m
  tr_curvature,   // weld: signed curvature, 1/m (0: line)
  tr_part_x,      // pick_place: part centre while not held, m
  tr_part_y,
  tr_part_z,
  tr_grip_x,      // pick_place: part centre in the tool frame while held, m
  tr_grip_y,
  tr_grip_z,
  tr_part_mass,   // pick_place: kg
  tr_progress,    // weld: furthest projection of the torch onto the seam, m of arc length
  tr_welded,      // weld: seam length welded inside tolerance, m
  tr_initial_distance,  // reach: tool-target distance at the episode start, m
  tr_return,      // reward summed over the running episode
  tr_place_error, // pick_place: part-to-target distance at the last release, m (-1: none)
  tr_along,       // weld: the torch's arc length along the seam (unclamped) after the last step, m
  tr_fixture_lateral,  // weld: the part's placement error in its fixture, m: the real seam's
  tr_fixture_normal,   //   shift along b0 = n x t0, m: along the normal,
  tr_fixture_yaw,      //   rad: and its turn about the normal at the seam start
  tr_sensed_lateral,   // weld: the seam sensor's lagged lateral error (its reading less the noise), m
  tr_sensed_standoff,  //   and standoff error, m
  tr_miss_lateral,  // weld: seam length not welded for a lateral error, m
  tr_miss_standoff, //   for a standoff error,
  tr_miss_speed,    //   for a travel speed outside the band,
  tr_miss_work,     //   for the work angle,
  tr_miss_travel,   //   for the travel angle (a length missed on several counts is in each)
  tr_part_yaw,      // pick_place: the part's yaw while not held, rad (base z axis)
  tr_place_yaw,     //   the place target's yaw, rad
  tr_grip_yaw,      //   the part's yaw minus the jaws' while held, rad
  tr_place_yaw_error,  //   |part yaw - target yaw| modulo pi at the last release, rad (-1: none)
  tr_tool_px,       //   the tool point after the last step (grip loss), m
  tr_tool_py,
  tr_tool_pz,
  tr_tool_vx,       //   its velocity over the last step, m/s
  tr_tool_vy,
  tr_tool_vz,
  task_real_count
};

// Columns of the per-robot integer task state, [robot][task_int_count].
enum TaskInt : int {
  ti_episode = 0,  // episodes begun before the running one (its randomisation index)
  ti_step,         // control steps taken in the running episode
  ti_attached,     // pick_place: 1 while the part is held
  ti_streak,       // reach: consecutive steps inside tolerance
  ti_grasped,      // pick_place: 1 once the part was grasped in this episode
  ti_draw_id,      // the id of the episode's draws (a training robot's gid; a cell's part id)
  ti_dropped,      // pick_place: 1 once the part dropped (the episode ends)
  task_int_count
};

struct FleetState {
  int dof = 0;                         // joints per robot
  std::vector<double> q, qd;           // [robot][dof], rad (m) and rad/s (m/s)
  std::vector<double> task_real;       // [robot][task_real_count]
  std::vector<std::int64_t> task_int;  // [robot][task_int_count]

  std::int64_t robot_count() const {
    return static_cast<std::int64_t>(task_int.size()) / task_int_count;
  }
};

// Robots [first, first + count) of `state` (indices relative to `state`).
FleetState slice_state(const FleetState& state, std::int64_t first, std::int64_t count);
// Appends `more`'s robots after `into`'s (an empty `into` takes `more`'s dof).
void append_state(FleetState& into, const FleetState& more);
// Throws kollektiv::Error if the array sizes are inconsistent.
void check_state(const FleetState& state);

}  // namespace kollektiv::skills
