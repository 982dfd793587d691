// Plain, validated-elsewhere configuration of a skill fleet: what io::Deck fills from the
// deck and solvers/skills takes by value. SI units throughout (m, s, kg, rad, N m); every
// field says its unit, meaning and default. Positions are in the robot's base frame.
// The suggested deck keys are listed in solvers/skills/README.md.
#pragma once

#include <array>
#include <vector>

#include "solvers/dynamics/step.hpp"

namespace kollektiv::skills {

enum class SkillKind : int { reach = 0, weld = 1, pick_place = 2 };

// "reach", "weld" or "pick_place": the name decks, files and messages use.
inline const char* kind_name(SkillKind kind) {
  switch (kind) {
    case SkillKind::reach: return "reach";
    case SkillKind::weld: return "weld";
    case SkillKind::pick_place: return "pick_place";
  }
  return "unknown";
}

// How the policy's joint actions a in [-1, 1] (clipped) become the joint control.
enum class ActionMode : int {
  torque = 0,     // tau = action_scale * a                  (action_scale in N m)
  pd_target = 1,  // PD target = initial_q + action_scale * a (action_scale in rad)
  pd_delta = 2,   // PD target = current q + action_scale * a (action_scale in rad per step)
};

enum class SeamKind : int { line = 0, arc = 1, both = 2 };  // both: line or arc, 50/50 per part

// An axis-aligned box in the base frame; min == max on an axis pins that coordinate
// (e.g. z in [0, 0] for the planar arm, which moves in its x-y plane).
struct Box {
  std::array<double, 3> min{0, 0, 0};  // m
  std::array<double, 3> max{0, 0, 0};  // m, >= min
};

// Randomised dynamics and sensing, so that a policy is robust rather than tuned to one
// model: per robot and episode (draws of the episode, see fleet_kernels.hpp), each link's
// mass and inertia (its centre of mass kept), each joint's viscous damping and servo gains
// are multiplied by U(1 - x, 1 + x), each joint gets a Coulomb friction torque U(0, x); per
// step, the joint angles and velocities the policy sees (and the tool pose computed from
// them) carry Gaussian noise. The gravity compensation uses the nominal model. All zero: off.
struct DynamicsRandomisation {
  double link_mass = 0.0;        // -, in [0, 0.5]
  double joint_damping = 0.0;    // -, in [0, 0.5]
  double joint_friction_nm = 0.0;  // N m (N for prismatic joints), >= 0
  double actuator_gain = 0.0;    // -, in [0, 0.5]: kp and kd (torque mode: the torque command)
  double joint_noise_rad = 0.0;  // rad (m), >= 0, standard deviation
  double joint_velocity_noise_rad_s = 0.0;  // rad/s (m/s), >= 0, standard deviation
  bool dynamics() const { return link_mass > 0 || joint_damping > 0 || joint_friction_nm > 0 || actuator_gain > 0; }
  bool sensing() const { return joint_noise_rad > 0 || joint_velocity_noise_rad_s > 0; }
};

// Settings shared by all skills.
struct CommonConfig {
  int episode_steps = 150;     // control steps per episode (time limit -> truncated), >= 1
  double control_dt_s = 0.02;  // s, control period (one action per period), > 0
  int substeps = 4;            // physics substeps per control period, >= 1
  dynamics::Integrator integrator = dynamics::Integrator::semi_implicit_euler;
  ActionMode action_mode = ActionMode::pd_delta;
  double action_scale = 0.1;   // rad per step (pd_delta), rad (pd_target) or N m (torque), > 0
  // PD gains per joint (N m/rad, N m s/rad). Empty: automatic, kp_i = M_ii w^2 and
  // kd_i = 2 zeta M_ii w with M_ii the mass-matrix diagonal at initial_q, w = 2 pi
  // pd_frequency_hz; one value: used for every joint; else one value per joint.
  std::vector<double> kp;
  std::vector<double> kd;
  double pd_frequency_hz = 4.0;  // Hz, > 0, closed-loop bandwidth of the automatic gains
  double pd_damping_ratio = 1.0; // -, > 0, damping ratio of the automatic gains
  // Adds the model's gravity torque g(q) (payload included) to the actuator command,
  // as industrial joint controllers do; default true.
  bool gravity_compensation = true;
  bool joint_limits = true;      // joint-limit spring-dampers and velocity clamp
  // Training: each robot's first episode starts at a step drawn uniformly from
  // [0, episode_steps) (keyed by its gid), so that episode ends, resets and their statistics
  // spread over the iterations instead of arriving all at once; default true.
  bool stagger_start = true;
  // Home configuration, rad (m for prismatic); empty = all zeros; else one per joint.
  std::vector<double> initial_q;
  double initial_q_noise = 0.05; // rad, >= 0: each joint starts at initial_q + U(-x, x)
  DynamicsRandomisation randomise;
};

// reach: bring the tool point to a target drawn per episode from `target_box` and hold it.
struct ReachConfig {
  Box target_box{{0.35, -0.25, 0.25}, {0.6, 0.25, 0.55}};  // m; planar2: {0.3,-1.2,0}-{1.5,1.2,0}
  double tolerance_m = 0.05;     // m, > 0: "at the target" radius
  int hold_steps = 10;           // >= 1: success = inside tolerance for the last hold_steps steps
  double w_distance = 1.0;       // reward per step: - w_distance * |target - tool| (m)
  double w_action = 0.01;        // reward per step: - w_action * |a|^2 (a before clipping)
  double w_success = 0.5;        // reward per step while inside tolerance
};

// weld: move the torch (tool point) along a seam from its start to its end at the travel
// speed, inside the lateral and standoff tolerances. The seam lies in a plane normal to
// `surface_normal`; the torch should sit standoff_m above the seam along that normal.
struct WeldConfig {
  SeamKind seam_kind = SeamKind::both;
  Box start_box{{0.4, -0.15, 0.25}, {0.5, 0.05, 0.35}};  // m, seam start point; planar2: z = 0
  std::array<double, 3> surface_normal{0, 0, 1};      // workpiece normal (normalised); planar2: [0,0,1] with standoff 0
  double yaw_min_rad = -0.5;     // rad: seam direction at the start, angle about the normal
  double yaw_max_rad = 0.5;      //      measured from the base x axis projected on the plane
  double length_min_m = 0.1;     // m, > 0, seam length range
  double length_max_m = 0.25;    // m, >= length_min_m
  double curvature_min = 1.0;    // 1/m, > 0, |curvature| range of arcs; sign drawn 50/50;
  double curvature_max = 4.0;    // 1/m; length * curvature is capped at pi (half circle)
  double travel_speed_m_s = 0.1; // m/s, > 0, target torch speed along the seam
  double speed_tolerance = 0.5;  // -, > 0: progress outside v (1 - x) .. v (1 + x) is not welded
  double lateral_tolerance_m = 0.01;  // m, > 0: in-plane distance from the seam
  double standoff_m = 0.0;            // m, torch height above the seam along the normal
  double standoff_tolerance_m = 0.01; // m, > 0
  double start_offset_m = 0.005; // m, >= 0: torch starts U(0, x) behind the seam start and
                                 //   U(-x, x) off it laterally and along the normal
  int ik_iterations = 60;        // >= 0, damped-least-squares steps that place the torch at the start
  // Torch orientation. The torch points along `torch_axis` (tool frame, from the torch
  // towards the work). In the seam frame (tangent t, lateral b = n x t, normal n) its
  // travel angle is atan2(a.t, -a.n) (> 0: pushing, tip ahead) and its work angle
  // atan2(a.b, -a.n); 0, 0 is a torch normal to the workpiece. With torch_angles, a step
  // whose angles are more than angle_tolerance_rad from the procedure's is not welded, the
  // start pose meets the procedure's angles and w_error counts the angle errors.
  bool torch_angles = false;
  std::array<double, 3> torch_axis{0, 0, 1};  // tool frame, non-zero (normalised)
  double work_angle_rad = 0.0;       // rad, procedure's work angle, |x| < pi/2
  double travel_angle_rad = 0.0;     // rad, procedure's travel angle, |x| < pi/2
  double angle_tolerance_rad = 0.0872664626;  // rad, > 0 (5 degrees)
  // The part as placed: the real seam is the nominal (drawn) one shifted U(-x, x) laterally
  // and along the normal and turned U(-y, y) about the normal at its start. Without the
  // sensor the policy observes the real seam; with it, the nominal path and the sensor.
  double part_offset_m = 0.0;        // m, >= 0
  double part_yaw_rad = 0.0;         // rad, >= 0
  // Seam sensor (a laser line scanner on the torch): with seam_sensor, the policy sees the
  // seam's lateral and standoff offsets from the torch only through it: each reading is the
  // true offset through a first-order lag of time constant sensor_lag_s, plus Gaussian noise
  // of sensor_noise_m drawn for that reading (Stream::skill_weld_sensor, keyed by the robot,
  // episode and step).
  bool seam_sensor = false;
  double sensor_noise_m = 0.0;       // m, >= 0, standard deviation
  double sensor_lag_s = 0.0;         // s, >= 0 (0: no lag)
  double quality_threshold = 0.9;  // -, in (0, 1]: success = quality >= threshold
  double w_progress = 1.0;   // reward: + w_progress * (welded progress this step) / (v dt)
  double w_track = 10.0;     // reward: - w_track * |reference point - torch| (m); the reference
                             //   point moves along the seam at travel_speed from the start
  double w_error = 0.1;      // reward: - w_error * min(10, (e_lat/tol_lat)^2 + (e_so/tol_so)^2
                             //   [+ (e_work/tol_angle)^2 + (e_travel/tol_angle)^2 with torch_angles])
  double w_action = 0.01;    // reward: - w_action * |a|^2 (a before clipping)
  double w_success = 10.0;   // reward at the seam end: + w_success * quality
};

// pick_place: reach the part, close the gripper (an extra action) within grasp tolerance,
// carry it (mass and inertia join the last link) and release it at the place target.
struct PickPlaceConfig {
  Box part_box{{0.4, -0.3, 0.15}, {0.55, -0.1, 0.25}};   // m, part start (its centre); planar2: z = 0
  Box place_box{{0.4, 0.1, 0.15}, {0.55, 0.3, 0.25}};    // m, place target
  double part_mass_min_kg = 0.2;  // kg, > 0
  double part_mass_max_kg = 1.0;  // kg, >= min
  double part_side_m = 0.05;      // m, > 0: a solid cube, inertia m s^2 / 6 about its centre
  double grasp_tolerance_m = 0.03;  // m, > 0: tool-to-part distance for a grasp
  double place_tolerance_m = 0.04;  // m, > 0: part-to-target distance for a good release
  double gripper_threshold = 0.0;   // gripper action > threshold: closed, else open
  // Orientation. The part lies at a yaw (about the base z axis) drawn per part, and the place
  // target has one; both count modulo pi (one pair of grip faces, closed on from either
  // side). With
  // part_orientation, the gripper grasps only with its jaw axis (`jaw_axis`, tool frame,
  // projected on the base x-y plane) within grasp_yaw_tolerance_rad of the part's yaw, a held
  // part turns with the tool, and a release succeeds only within place_yaw_tolerance_rad of
  // the target's yaw too.
  bool part_orientation = false;
  std::array<double, 3> jaw_axis{1, 0, 0};  // tool frame, not along the base z axis at grasps
  double part_yaw_min_rad = 0.0;   // rad, part yaw range
  double part_yaw_max_rad = 0.0;   // rad, >= min
  double place_yaw_min_rad = 0.0;  // rad, place target yaw range
  double place_yaw_max_rad = 0.0;  // rad, >= min
  double grasp_yaw_tolerance_rad = 0.0873;  // rad, > 0 (5 degrees)
  double place_yaw_tolerance_rad = 0.0524;  // rad, > 0 (3 degrees)
  // Grip: a held part slips out when m |a - g| > 2 grip_friction grip_force_n (a friction
  // grip of two jaws; a the tool point's acceleration over the last two control periods;
  // times the curriculum's tolerance scale): the part drops, is lost, and the episode fails
  // (it runs on to its time limit). 0: the grip never slips.
  double grip_force_n = 0.0;       // N, >= 0
  double grip_friction = 0.8;      // -, > 0
  double w_reach = 1.0;      // reward per step before the grasp: - w_reach * |part - tool|
  double w_place = 1.0;      // reward per step: - w_place * |place - part|
  double w_hold = 0.5;       // reward per step while the part is not held: - w_hold
  double w_grasp = 1.0;      // reward once per grasp
  double w_action = 0.01;    // reward per step: - w_action * |a|^2 (a before clipping, gripper included)
  double w_success = 10.0;   // reward at a release inside the place tolerance
  double w_yaw = 0.1;        // with part_orientation, reward per step: - w_yaw * |yaw error| (rad):
                             //   jaws to part before the grasp, part to target while held
  double w_drop = 10.0;      // reward when the part drops: - w_drop
  double w_near_miss = 0.0;  // reward at an episode's first release outside the tolerances:
                             //   + w * clamp(2 - error / tolerance, 0, 1) (the larger of position
                             //   and yaw): a gradient towards the tolerance that tightens with it
  double w_time = 0.0;       // reward per step until the success: - w_time; it prices a part held
                             //   at the target without a release, which the time limit's
                             //   bootstrapped value otherwise leaves free
};

struct SkillConfig {
  SkillKind kind = SkillKind::reach;
  CommonConfig common;
  ReachConfig reach;
  WeldConfig weld;
  PickPlaceConfig pick_place;
};

}  // namespace kollektiv::skills
