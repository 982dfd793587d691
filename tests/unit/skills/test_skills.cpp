// Rules of each skill on constructed states (reward, termination, success, quality),
// randomisation keyed by (seed, gid, episode) only, state save/restore/slice, and the
// non-finite error path.
#include <gtest/gtest.h>

#include <cmath>

#include "solvers/core/error.hpp"
#include "tests/unit/skills/skills_test_support.hpp"

namespace kollektiv::skills {
namespace {

using dynamics::Vec3;
using testing::actions_view;
using testing::config_for;
using testing::host_rows;
using testing::host_vector;
using testing::shipped_model;
using testing::tool_of;

void set3(FleetState& s, int robot, int column, const Vec3& v) {
  s.task_real[static_cast<std::size_t>(robot * task_real_count + column)] = v.x;
  s.task_real[static_cast<std::size_t>(robot * task_real_count + column + 1)] = v.y;
  s.task_real[static_cast<std::size_t>(robot * task_real_count + column + 2)] = v.z;
}
double& real_of(FleetState& s, int robot, int column) {
  return s.task_real[static_cast<std::size_t>(robot * task_real_count + column)];
}
double real_of(const FleetState& s, int robot, int column) {
  return s.task_real[static_cast<std::size_t>(robot * task_real_count + column)];
}
std::int64_t& int_of(FleetState& s, int robot, int column) {
  return s.task_int[static_cast<std::size_t>(robot * task_int_count + column)];
}
std::int64_t int_of(const FleetState& s, int robot, int column) {
  return s.task_int[static_cast<std::size_t>(robot * task_int_count + column)];
}
Vec3 v3(double x, double y, double z) { return Vec3{x, y, z}; }

// Actions that depend only on (gid, step): what a policy would do for the same robot.
std::vector<double> gid_actions(std::int64_t offset, int robots, int act_dim, int step) {
  std::vector<double> a;
  for (int r = 0; r < robots; ++r)
    for (int k = 0; k < act_dim; ++k) a.push_back(std::sin(0.7 * static_cast<double>(offset + r) + 1.3 * step + k));
  return a;
}

// One robot at rest at q (zero velocity); returns the tool position.
Vec3 place_robot(Fleet& f, FleetState& s, const std::vector<double>& q) {
  for (int i = 0; i < f.dof(); ++i) {
    s.q[static_cast<std::size_t>(i)] = q[static_cast<std::size_t>(i)];
    s.qd[static_cast<std::size_t>(i)] = 0;
  }
  return tool_of(f.model(), s.q, 0);
}

TEST(Skills, DimensionsPerSkill) {
  const auto planar = shipped_model("planar2");
  const auto ur5 = shipped_model("ur5");
  EXPECT_EQ(Fleet(planar, config_for("planar2", SkillKind::reach), 1, 0, 2).obs_dim(), 3 * 2 + 3 + 3 + 1);
  EXPECT_EQ(Fleet(ur5, config_for("ur5", SkillKind::weld), 1, 0, 2).obs_dim(), 3 * 6 + 3 + 14 + 1);
  Fleet pick(ur5, config_for("ur5", SkillKind::pick_place), 1, 0, 2);
  EXPECT_EQ(pick.obs_dim(), 3 * 6 + 3 + 14 + 1);
  EXPECT_EQ(pick.act_dim(), 7);
}

TEST(Skills, BadConfigIsRejected) {
  auto c = config_for("planar2", SkillKind::reach);
  c.common.kp = {1, 2, 3};
  EXPECT_THROW(Fleet(shipped_model("planar2"), c, 1, 0, 1), Error);
  c = config_for("planar2", SkillKind::weld);
  c.weld.length_min_m = 0.5;
  c.weld.length_max_m = 0.1;
  EXPECT_THROW(Fleet(shipped_model("planar2"), c, 1, 0, 1), Error);
}

TEST(Skills, ReachRewardSuccessQuality) {
  auto cfg = config_for("planar2", SkillKind::reach);
  cfg.common.episode_steps = 20;
  Fleet f(shipped_model("planar2"), cfg, 7, 5, 1);
  FleetState s = f.save_state();
  const Vec3 x = place_robot(f, s, {0.3, 0.9});
  set3(s, 0, tr_goal_x, x + v3(0, 0.03, 0));
  real_of(s, 0, tr_initial_distance) = 0.5;
  int_of(s, 0, ti_step) = cfg.common.episode_steps - 1;
  int_of(s, 0, ti_streak) = cfg.reach.hold_steps - 1;
  f.restore_state(s);
  StepResult out(1, f.obs_dim());
  // Zero pd_delta action with gravity compensation: the arm holds still exactly.
  f.step(actions_view({0, 0}, 1, 2), out);
  EXPECT_NEAR(host_vector(out.reward)[0], -cfg.reach.w_distance * 0.03 + cfg.reach.w_success, 1e-9);
  EXPECT_EQ(host_vector(out.truncated)[0], 1);
  EXPECT_EQ(host_vector(out.terminated)[0], 0);
  EXPECT_EQ(host_vector(out.episode_done)[0], 1);
  EXPECT_EQ(host_vector(out.episode_success)[0], 1);
  EXPECT_NEAR(host_vector(out.episode_quality)[0], 1 - 0.03 / 0.5, 1e-9);
  EXPECT_NEAR(host_vector(out.episode_final_error)[0], 0.03, 1e-9);
  EXPECT_EQ(host_vector(out.episode_length)[0], cfg.common.episode_steps);
  const auto fo = host_rows(out.final_obs);
  const int k = 3 * 2 + 3;  // target - tool
  EXPECT_NEAR(fo[k + 1], 0.03, 1e-9);
  EXPECT_NEAR(fo[static_cast<std::size_t>(f.obs_dim() - 1)], 1.0, 1e-12);  // time fraction
  // Auto-reset into episode 1 with a new target drawn inside the box.
  FleetState after = f.save_state();
  EXPECT_EQ(int_of(after, 0, ti_episode), 1);
  EXPECT_EQ(int_of(after, 0, ti_step), 0);
  EXPECT_EQ(real_of(after, 0, tr_goal_z), 0.0);
  EXPECT_GE(real_of(after, 0, tr_goal_x), 0.3);
  EXPECT_LE(real_of(after, 0, tr_goal_x), 1.5);

  // Outside tolerance at the time limit: no success.
  s = f.save_state();
  const Vec3 x2 = place_robot(f, s, {0.3, 0.9});
  set3(s, 0, tr_goal_x, x2 + v3(0.1, 0, 0));
  real_of(s, 0, tr_initial_distance) = 0.4;
  int_of(s, 0, ti_step) = cfg.common.episode_steps - 1;
  f.restore_state(s);
  f.step(actions_view({0.5, -0.5}, 1, 2), out);
  EXPECT_EQ(host_vector(out.episode_success)[0], 0);
  const double r = host_vector(out.reward)[0];
  EXPECT_LT(r, -cfg.reach.w_action * 0.5);  // distance and action penalties only
}

TEST(Skills, WeldLineProgressToleranceAndEnd) {
  auto cfg = config_for("planar2", SkillKind::weld);
  Fleet f(shipped_model("planar2"), cfg, 3, 0, 1);
  const WeldConfig& w = cfg.weld;
  const double vdt = w.travel_speed_m_s * cfg.common.control_dt_s;
  FleetState s = f.save_state();
  const Vec3 x = place_robot(f, s, {-0.4, 1.4});
  // A line along +y that the torch (at rest) sits on, 0.8 v dt past its start.
  const Vec3 t0 = v3(0, 1, 0);
  set3(s, 0, tr_goal_x, x - (0.8 * vdt) * t0);
  set3(s, 0, tr_dir_x, t0);
  real_of(s, 0, tr_length) = 0.2;
  real_of(s, 0, tr_curvature) = 0;
  real_of(s, 0, tr_progress) = 0;
  real_of(s, 0, tr_along) = 0;
  real_of(s, 0, tr_welded) = 0;
  int_of(s, 0, ti_step) = 0;
  f.restore_state(s);
  StepResult out(1, f.obs_dim());
  f.step(actions_view({0, 0}, 1, 2), out);
  // After one step the reference is at v dt, the torch at 0.8 v dt; welded 0.8 v dt.
  EXPECT_NEAR(host_vector(out.reward)[0], w.w_progress * 0.8 - w.w_track * 0.2 * vdt, 1e-9);
  FleetState a = f.save_state();
  EXPECT_NEAR(real_of(a, 0, tr_progress), 0.8 * vdt, 1e-12);
  EXPECT_NEAR(real_of(a, 0, tr_welded), 0.8 * vdt, 1e-12);
  EXPECT_EQ(host_vector(out.episode_done)[0], 0);

  // Laterally off by twice the tolerance: progress is made, nothing is welded.
  s = a;
  const Vec3 b0 = dynamics::cross(v3(0, 0, 1), t0);  // lateral direction
  set3(s, 0, tr_goal_x, x - (1.6 * vdt) * t0 - (2 * w.lateral_tolerance_m) * b0);
  f.restore_state(s);
  f.step(actions_view({0, 0}, 1, 2), out);
  a = f.save_state();
  EXPECT_NEAR(real_of(a, 0, tr_progress), 1.6 * vdt, 1e-12);
  EXPECT_NEAR(real_of(a, 0, tr_welded), 0.8 * vdt, 1e-12);
  const double track = std::sqrt(std::pow(0.4 * vdt, 2) + std::pow(2 * w.lateral_tolerance_m, 2));
  EXPECT_NEAR(host_vector(out.reward)[0], -w.w_track * track - w.w_error * 4.0, 1e-9);

  // Too fast: a jump of 3 v dt along the seam is progress, not weld.
  s = a;
  set3(s, 0, tr_goal_x, x - (4.6 * vdt) * t0);
  f.restore_state(s);
  f.step(actions_view({0, 0}, 1, 2), out);
  a = f.save_state();
  EXPECT_NEAR(real_of(a, 0, tr_welded), 0.8 * vdt, 1e-12);

  // Reaching the end terminates; quality = welded / length; success by the threshold.
  s = a;
  set3(s, 0, tr_goal_x, x - (4.6 * vdt + 0.8 * vdt) * t0);  // 0.4 v dt past the end
  real_of(s, 0, tr_length) = 4.6 * vdt + 0.4 * vdt;
  real_of(s, 0, tr_welded) = 4.4 * vdt;
  f.restore_state(s);
  f.step(actions_view({0, 0}, 1, 2), out);
  const double quality = (4.4 * vdt + 0.4 * vdt) / (5.0 * vdt);
  EXPECT_EQ(host_vector(out.terminated)[0], 1);
  EXPECT_EQ(host_vector(out.truncated)[0], 0);
  EXPECT_NEAR(host_vector(out.episode_quality)[0], quality, 1e-9);
  EXPECT_NEAR(host_vector(out.episode_final_error)[0], (1 - quality) * 5.0 * vdt, 1e-9);
  EXPECT_EQ(host_vector(out.episode_success)[0], quality >= w.quality_threshold ? 1 : 0);
  // The misses: 0.8 v dt for the lateral error, 3 v dt for the speed, of 5 v dt.
  const std::vector<double> misses = host_rows(out.episode_misses);
  const std::vector<double> expected{0.8 / 5, 0, 3.0 / 5, 0, 0, 0};
  for (int c = 0; c < kMissCauses; ++c) EXPECT_NEAR(misses[static_cast<std::size_t>(c)], expected[c], 1e-9) << c;
  EXPECT_EQ(miss_causes(SkillKind::weld).size(), static_cast<std::size_t>(kMissCauses));
  EXPECT_TRUE(miss_causes(SkillKind::reach).empty());
  FleetState next = f.save_state();
  EXPECT_EQ(int_of(next, 0, ti_episode), int_of(a, 0, ti_episode) + 1);
}

TEST(Skills, WeldArcProjection) {
  auto cfg = config_for("planar2", SkillKind::weld);
  Fleet f(shipped_model("planar2"), cfg, 3, 0, 1);
  for (double kappa : {4.0, -3.0}) {
    FleetState s = f.save_state();
    const Vec3 x = place_robot(f, s, {-0.4, 1.4});
    const Vec3 t0 = v3(std::cos(1.3), std::sin(1.3), 0), b0 = dynamics::cross(v3(0, 0, 1), t0);
    const double arc = 0.05;
    const Vec3 p0 = x - ((std::sin(kappa * arc) / kappa) * t0 + ((1 - std::cos(kappa * arc)) / kappa) * b0);
    set3(s, 0, tr_goal_x, p0);
    set3(s, 0, tr_dir_x, t0);
    real_of(s, 0, tr_length) = 0.2;
    real_of(s, 0, tr_curvature) = kappa;
    real_of(s, 0, tr_progress) = arc - 0.001;
    real_of(s, 0, tr_along) = arc - 0.0016;  // a travel of 0.8 v dt this step
    real_of(s, 0, tr_welded) = 0.04;
    int_of(s, 0, ti_step) = 10;
    f.restore_state(s);
    StepResult out(1, f.obs_dim());
    f.step(actions_view({0, 0}, 1, 2), out);
    FleetState a = f.save_state();
    EXPECT_NEAR(real_of(a, 0, tr_progress), arc, 1e-12) << kappa;
    EXPECT_NEAR(real_of(a, 0, tr_welded), 0.041, 1e-12) << kappa;
    View<Real**> o("test::obs", 1, f.obs_dim());
    f.observe(o);
    const auto ob = host_rows(o);
    const int k = 3 * 2 + 3;
    EXPECT_NEAR(ob[k + 0], 0, 1e-12);  // closest point - torch
    EXPECT_NEAR(ob[k + 1], 0, 1e-12);
    EXPECT_NEAR(ob[k + 3], std::cos(1.3 + kappa * arc), 1e-12);  // tangent
    EXPECT_NEAR(ob[k + 4], std::sin(1.3 + kappa * arc), 1e-12);
    EXPECT_NEAR(ob[k + 9], 0, 1e-12);  // lateral error
    EXPECT_NEAR(ob[k + 11], arc / 0.2, 1e-12);
  }
}

// The torch angles on the UR5 at home (torch axis = tool z, pointing down within 1e-3 rad):
// the angle errors observed, a travel angle off the procedure's by more than the tolerance
// misses the step, a tolerance scale that admits it welds it.
TEST(Skills, WeldTorchAnglesAndToleranceScale) {
  auto cfg = config_for("ur5", SkillKind::weld);
  cfg.weld.torch_angles = true;
  cfg.weld.travel_angle_rad = 0.2;
  cfg.weld.angle_tolerance_rad = 0.1;
  cfg.weld.lateral_tolerance_m = cfg.weld.standoff_tolerance_m = 0.01;
  Fleet f(shipped_model("ur5"), cfg, 3, 0, 1);
  const double vdt = cfg.weld.travel_speed_m_s * cfg.common.control_dt_s;
  FleetState s = f.save_state();
  const Vec3 x = place_robot(f, s, {3.1416, -1.57, 1.57, -1.57, -1.57, 0});
  const Vec3 t0 = v3(1, 0, 0);  // the tool x axis is about -y, its z axis about -z
  const auto start = [&](FleetState& st, double behind) {
    set3(st, 0, tr_goal_x, x - behind * t0);
    set3(st, 0, tr_dir_x, t0);
    real_of(st, 0, tr_length) = 0.2;
    real_of(st, 0, tr_curvature) = 0;
    real_of(st, 0, tr_progress) = behind - 0.8 * vdt;
    real_of(st, 0, tr_along) = behind - 0.8 * vdt;
    real_of(st, 0, tr_welded) = 0;
    int_of(st, 0, ti_step) = 0;
  };
  start(s, 0.8 * vdt);
  f.restore_state(s);
  View<Real**> o("test::obs", 1, f.obs_dim());
  f.observe(o);
  const auto ob = host_rows(o);
  const int k = 3 * 6 + 3;
  const dynamics::ChainPose pose = testing::pose_of(f.model(), s.q, 0);
  const Vec3 a = pose.tool_rot * v3(0, 0, 1);
  EXPECT_NEAR(ob[k + 12], std::atan2(a.y, -a.z), 1e-12);  // work angle: lateral b = n x t = +y
  EXPECT_NEAR(ob[k + 13], std::atan2(a.x, -a.z) - 0.2, 1e-12);
  EXPECT_LT(std::fabs(ob[k + 12]), 2e-3);
  StepResult out(1, f.obs_dim());
  f.step(actions_view(std::vector<double>(6, 0.0), 1, 6), out);
  FleetState after = f.save_state();
  EXPECT_NEAR(real_of(after, 0, tr_progress), 0.8 * vdt, 1e-5);
  EXPECT_EQ(real_of(after, 0, tr_welded), 0);  // travel angle off by 0.2 > 0.1
  EXPECT_NEAR(real_of(after, 0, tr_miss_travel), 0.8 * vdt, 1e-5);
  EXPECT_EQ(real_of(after, 0, tr_miss_work), 0);
  EXPECT_EQ(real_of(after, 0, tr_miss_lateral), 0);
  // Tolerances x2.5 admit an error of 0.2.
  f.set_tolerance_scale(2.5);
  start(s, 0.8 * vdt);
  f.restore_state(s);
  f.step(actions_view(std::vector<double>(6, 0.0), 1, 6), out);
  after = f.save_state();
  EXPECT_NEAR(real_of(after, 0, tr_welded), 0.8 * vdt, 1e-5);
  EXPECT_THROW(f.set_tolerance_scale(0), Error);
  // Without torch_angles the same step welds.
  cfg.weld.torch_angles = false;
  Fleet g(shipped_model("ur5"), cfg, 3, 0, 1);
  g.restore_state(s);
  g.step(actions_view(std::vector<double>(6, 0.0), 1, 6), out);
  EXPECT_NEAR(real_of(g.save_state(), 0, tr_welded), 0.8 * vdt, 1e-5);
  // A planar arm cannot hold torch angles.
  auto planar = config_for("planar2", SkillKind::weld);
  planar.weld.torch_angles = true;
  EXPECT_THROW(Fleet(shipped_model("planar2"), planar, 1, 0, 1), Error);
}

// A travel slower than v (1 - speed_tolerance) per step is progress, not weld.
TEST(Skills, WeldTooSlowIsMissedForSpeed) {
  auto cfg = config_for("planar2", SkillKind::weld);
  Fleet f(shipped_model("planar2"), cfg, 3, 0, 1);
  const double vdt = cfg.weld.travel_speed_m_s * cfg.common.control_dt_s;
  FleetState s = f.save_state();
  const Vec3 x = place_robot(f, s, {-0.4, 1.4});
  const Vec3 t0 = v3(0, 1, 0);
  set3(s, 0, tr_goal_x, x - 0.05 * t0);
  set3(s, 0, tr_dir_x, t0);
  real_of(s, 0, tr_length) = 0.2;
  real_of(s, 0, tr_curvature) = 0;
  real_of(s, 0, tr_progress) = 0.05 - 0.3 * vdt;
  real_of(s, 0, tr_along) = 0.05 - 0.3 * vdt;  // 0.3 v dt < (1 - 0.5) v dt
  for (int c : {tr_welded, tr_miss_lateral, tr_miss_standoff, tr_miss_speed, tr_miss_work, tr_miss_travel})
    real_of(s, 0, c) = 0;
  f.restore_state(s);
  StepResult out(1, f.obs_dim());
  f.step(actions_view({0, 0}, 1, 2), out);
  const FleetState a = f.save_state();
  EXPECT_EQ(real_of(a, 0, tr_welded), 0);
  EXPECT_NEAR(real_of(a, 0, tr_miss_speed), 0.3 * vdt, 1e-9);
  EXPECT_EQ(real_of(a, 0, tr_miss_lateral), 0);
}

// With the seam sensor the policy sees the nominal path and the sensor's readings of the
// real seam: a part shifted 4 mm sideways reads as a lateral error of 4 mm after the lag's
// first-order response, and noise comes from the robot's own stream.
TEST(Skills, WeldSeamSensorLagNoiseAndPartOffset) {
  auto cfg = config_for("ur5", SkillKind::weld);
  cfg.weld.seam_sensor = true;
  cfg.weld.sensor_lag_s = 0.05;
  Fleet f(shipped_model("ur5"), cfg, 3, 0, 1);
  FleetState s = f.save_state();
  const Vec3 x = place_robot(f, s, {3.1416, -1.57, 1.57, -1.57, -1.57, 0});
  const Vec3 t0 = v3(1, 0, 0), b0 = v3(0, 1, 0);
  set3(s, 0, tr_goal_x, x - 0.05 * t0);
  set3(s, 0, tr_dir_x, t0);
  real_of(s, 0, tr_length) = 0.2;
  real_of(s, 0, tr_curvature) = 0;
  real_of(s, 0, tr_progress) = real_of(s, 0, tr_along) = 0.05;
  real_of(s, 0, tr_fixture_lateral) = 0.004;  // the real seam is 4 mm along +b0: the torch is at -4 mm
  real_of(s, 0, tr_fixture_normal) = real_of(s, 0, tr_fixture_yaw) = 0;
  real_of(s, 0, tr_sensed_lateral) = real_of(s, 0, tr_sensed_standoff) = 0;
  f.restore_state(s);
  const int k = 3 * 6 + 3;
  View<Real**> o("test::obs", 1, f.obs_dim());
  f.observe(o);
  auto ob = host_rows(o);
  EXPECT_NEAR(ob[k + 9], 0, 1e-12);      // the sensor still reads 0
  EXPECT_NEAR(ob[k + 1], 0, 1e-9);       // the nominal path runs through the torch
  StepResult out(1, f.obs_dim());
  f.step(actions_view(std::vector<double>(6, 0.0), 1, 6), out);
  const double gain = -std::expm1(-cfg.common.control_dt_s / 0.05);
  const FleetState a = f.save_state();
  const Vec3 x1 = tool_of(f.model(), a.q, 0);
  const double lateral = dynamics::dot(x1 - (x + 0.004 * b0), b0);
  f.observe(o);
  ob = host_rows(o);
  EXPECT_NEAR(ob[k + 9], gain * lateral, 1e-12);
  EXPECT_NEAR(lateral, -0.004, 1e-4);
  // seam_offset: the nominal closest point with the sensed lateral error in place of the
  // nominal one (the torch's along-seam and nominal errors cancel).
  EXPECT_NEAR(ob[k + 1], -gain * lateral, 1e-9);
  EXPECT_EQ(real_of(a, 0, tr_miss_lateral), 0);  // no progress this step
  // Noise: the same reading for the same robot in any fleet, another for another robot.
  cfg.weld.sensor_noise_m = 0.001;
  cfg.weld.part_offset_m = 0.003;
  cfg.weld.part_yaw_rad = 0.05;
  Fleet big(shipped_model("ur5"), cfg, 9, 0, 4), part(shipped_model("ur5"), cfg, 9, 2, 2);
  StepResult rb, rp;
  big.step(actions_view(std::vector<double>(24, 0.1), 4, 6), rb);
  part.step(actions_view(std::vector<double>(12, 0.1), 2, 6), rp);
  const FleetState sb = slice_state(big.save_state(), 2, 2), sp = part.save_state();
  EXPECT_EQ(sb.task_real, sp.task_real);
  FleetState all = big.save_state();
  for (int r = 0; r < 4; ++r) {
    EXPECT_LE(std::fabs(real_of(all, r, tr_fixture_lateral)), 0.003);
    EXPECT_LE(std::fabs(real_of(all, r, tr_fixture_yaw)), 0.05);
  }
  // The observed readings: the same for the same robots, noisy (not the lagged value).
  View<Real**> ob_big("test::obs", 4, big.obs_dim()), ob_part("test::obs", 2, part.obs_dim());
  big.observe(ob_big);
  part.observe(ob_part);
  const std::vector<double> rows_big = host_rows(ob_big), rows_part = host_rows(ob_part);
  const int width = big.obs_dim();
  EXPECT_EQ(std::vector<double>(rows_big.begin() + 2 * width, rows_big.end()), rows_part);
  for (int r = 0; r < 4; ++r) {
    const double reading = rows_big[static_cast<std::size_t>(r * width + k + 9)];
    EXPECT_NE(reading, real_of(all, r, tr_sensed_lateral)) << r;
    EXPECT_LT(std::fabs(reading - real_of(all, r, tr_sensed_lateral)), 0.006) << r;  // 6 sigma
  }
}

// The start pose of a torch_angles episode meets the procedure's angles.
TEST(Skills, WeldStartPoseMeetsTheProcedureAngles) {
  auto cfg = config_for("ur5", SkillKind::weld);
  cfg.weld.torch_angles = true;
  cfg.weld.travel_angle_rad = 0.1745;
  cfg.weld.work_angle_rad = -0.05;
  cfg.weld.start_offset_m = 0;
  Fleet f(shipped_model("ur5"), cfg, 7, 0, 16);
  f.reset_all(false);
  View<Real**> o("test::obs", 16, f.obs_dim());
  f.observe(o);
  const auto ob = host_rows(o);
  const int k = 3 * 6 + 3;
  for (int r = 0; r < 16; ++r) {
    const double* row = ob.data() + r * f.obs_dim();
    EXPECT_LT(std::fabs(row[k + 12]), 1e-3) << r;  // work angle error
    EXPECT_LT(std::fabs(row[k + 13]), 1e-3) << r;  // travel angle error
    EXPECT_LT(std::sqrt(row[k] * row[k] + row[k + 1] * row[k + 1] + row[k + 2] * row[k + 2]), 1e-3) << r;
  }
}

// Randomised dynamics: each robot's episode has its own plant, keyed by (seed, gid,
// episode) only; the gravity compensation keeps the nominal model, so a randomised arm at
// rest sags where the nominal one holds; friction and servo gains change the motion.
TEST(Skills, RandomisedDynamicsPerRobotAndEpisode) {
  auto cfg = config_for("ur5", SkillKind::reach);
  cfg.common.initial_q_noise = 0;
  const auto model = shipped_model("ur5");
  const std::vector<double> hold(6 * 4, 0.0);
  Fleet nominal(model, cfg, 4, 0, 4);
  auto rcfg = cfg;
  rcfg.common.randomise.link_mass = 0.3;
  Fleet heavy(model, rcfg, 4, 0, 4);
  for (int t = 0; t < 10; ++t) {
    StepResult out;
    nominal.step(actions_view(hold, 4, 6), out);
    heavy.step(actions_view(hold, 4, 6), out);
  }
  const FleetState n = nominal.save_state(), h = heavy.save_state();
  const auto moved = [](const FleetState& s, int r) {
    double most = 0;
    for (int i = 0; i < 6; ++i) most = std::fmax(most, std::fabs(s.qd[static_cast<std::size_t>(6 * r + i)]));
    return most;
  };
  for (int r = 0; r < 4; ++r) {
    EXPECT_LT(moved(n, r), 1e-6) << r;  // the nominal arm holds its pose
    EXPECT_GT(moved(h, r), 1e-4) << r;  // a heavier or lighter one sags or rises
  }
  EXPECT_NE(h.qd[0], h.qd[6]);  // robots 0 and 1: different plants

  // Friction and gains too; the same robot in another fleet has the same plant.
  rcfg.common.randomise = {0.2, 0.5, 0.8, 0.3, 0, 0};
  Fleet big(model, rcfg, 4, 0, 4), part(model, rcfg, 4, 2, 2), plain(model, cfg, 4, 2, 2);
  for (int t = 0; t < 12; ++t) {
    StepResult ob, op, on;
    big.step(actions_view(gid_actions(0, 4, 6, t), 4, 6), ob);
    part.step(actions_view(gid_actions(2, 2, 6, t), 2, 6), op);
    plain.step(actions_view(gid_actions(2, 2, 6, t), 2, 6), on);
  }
  const FleetState sb = slice_state(big.save_state(), 2, 2), sp = part.save_state();
  EXPECT_EQ(sb.q, sp.q);
  EXPECT_EQ(sb.qd, sp.qd);
  EXPECT_NE(sp.q, plain.save_state().q);

  // Friction alone, on an arm held at rest: the joints stay still (a ramp too narrow for
  // the step would make them chatter at about h f / M_ii, 0.04 rad/s on the wrist).
  auto fcfg = cfg;
  fcfg.common.randomise.joint_friction_nm = 0.3;
  Fleet rough(model, fcfg, 4, 0, 4);
  for (int t = 0; t < 20; ++t) {
    StepResult out;
    rough.step(actions_view(hold, 4, 6), out);
  }
  const FleetState still = rough.save_state();
  for (int r = 0; r < 4; ++r) EXPECT_LT(moved(still, r), 1e-4) << r;

  auto bad = cfg;
  bad.common.randomise.link_mass = 0.6;
  EXPECT_THROW(Fleet(model, bad, 1, 0, 1), Error);
  bad = cfg;
  bad.common.randomise.joint_friction_nm = -1;
  EXPECT_THROW(Fleet(model, bad, 1, 0, 1), Error);
}

// Sensing noise changes what the policy sees (the joint entries and the tool pose computed
// from them), never the physics; the same step reads the same noise.
TEST(Skills, SensingNoiseIsInTheObservationOnly) {
  auto cfg = config_for("ur5", SkillKind::weld);
  const auto model = shipped_model("ur5");
  auto ncfg = cfg;
  ncfg.common.randomise.joint_noise_rad = 0.001;
  ncfg.common.randomise.joint_velocity_noise_rad_s = 0.01;
  Fleet clean(model, cfg, 6, 0, 3), noisy(model, ncfg, 6, 0, 3);
  View<Real**> oc("test::obs", 3, clean.obs_dim()), on("test::obs", 3, noisy.obs_dim());
  clean.observe(oc);
  noisy.observe(on);
  auto a = host_rows(oc), b = host_rows(on);
  EXPECT_NE(a, b);
  double largest = 0;
  for (std::size_t k = 0; k < a.size(); ++k) largest = std::fmax(largest, std::fabs(a[k] - b[k]));
  EXPECT_LT(largest, 0.1);  // noise of a few sigma on sin q, cos q, qd, the tool and the seam offsets
  noisy.observe(on);
  EXPECT_EQ(host_rows(on), b);  // the same step: the same reading
  for (int t = 0; t < 6; ++t) {
    StepResult rc, rn;
    clean.step(actions_view(gid_actions(0, 3, 6, t), 3, 6), rc);
    noisy.step(actions_view(gid_actions(0, 3, 6, t), 3, 6), rn);
  }
  EXPECT_EQ(clean.save_state().q, noisy.save_state().q);
  EXPECT_EQ(clean.save_state().task_real, noisy.save_state().task_real);
  noisy.observe(on);
  EXPECT_NE(host_rows(on), b);  // a later step: another reading
}

TEST(Skills, PickPlaceGraspCarryRelease) {
  auto cfg = config_for("planar2", SkillKind::pick_place);
  const PickPlaceConfig& p = cfg.pick_place;
  Fleet f(shipped_model("planar2"), cfg, 11, 0, 1);
  FleetState s = f.save_state();
  const Vec3 x = place_robot(f, s, {-0.4, 1.4});
  const Vec3 part = x + v3(0.01, 0, 0), place = part + v3(0.1, 0, 0);
  set3(s, 0, tr_part_x, part);
  set3(s, 0, tr_goal_x, place);
  real_of(s, 0, tr_part_mass) = 1.0;
  f.restore_state(s);
  StepResult out(1, f.obs_dim());
  // Open gripper near the part: nothing happens.
  f.step(actions_view({0, 0, -1}, 1, 3), out);
  // Every step below has a gripper action of +-1: w_action * 1 of action penalty.
  EXPECT_NEAR(host_vector(out.reward)[0], -p.w_place * 0.1 - p.w_reach * 0.01 - p.w_hold - p.w_action, 1e-9);
  // Closing within the grasp tolerance attaches the part (bonus once).
  f.step(actions_view({0, 0, 1}, 1, 3), out);
  EXPECT_NEAR(host_vector(out.reward)[0], p.w_grasp - p.w_place * 0.1 - p.w_action, 1e-9);
  FleetState a = f.save_state();
  EXPECT_EQ(int_of(a, 0, ti_attached), 1);
  // Holding a 1 kg part still: the gravity compensation includes the payload, so the
  // arm stays where it is.
  for (int i = 0; i < 5; ++i) f.step(actions_view({0, 0, 1}, 1, 3), out);
  a = f.save_state();
  const Vec3 x_now = tool_of(f.model(), a.q, 0);
  EXPECT_NEAR(x_now.x, x.x, 1e-9);
  EXPECT_NEAR(x_now.y, x.y, 1e-9);
  EXPECT_NEAR(host_vector(out.reward)[0], -p.w_place * 0.1 - p.w_action, 1e-9);
  // Release away from the target: the part stays there, no success.
  f.step(actions_view({0, 0, -1}, 1, 3), out);
  EXPECT_EQ(host_vector(out.episode_done)[0], 0);
  a = f.save_state();
  EXPECT_EQ(int_of(a, 0, ti_attached), 0);
  EXPECT_NEAR(real_of(a, 0, tr_place_error), 0.1, 1e-9);
  // Regrasp (no second bonus), then release 2 cm from the target: success, quality 0.5.
  set3(a, 0, tr_goal_x, part + v3(0.02, 0, 0));
  f.restore_state(a);
  f.step(actions_view({0, 0, 1}, 1, 3), out);
  EXPECT_NEAR(host_vector(out.reward)[0], -p.w_place * 0.02 - p.w_action, 1e-9);
  f.step(actions_view({0, 0, -1}, 1, 3), out);
  EXPECT_EQ(host_vector(out.terminated)[0], 1);
  EXPECT_EQ(host_vector(out.episode_success)[0], 1);
  EXPECT_NEAR(host_vector(out.episode_quality)[0], 1 - 0.02 / p.place_tolerance_m, 1e-9);
  EXPECT_NEAR(host_vector(out.episode_final_error)[0], 0.02, 1e-9);
  EXPECT_NEAR(host_vector(out.reward)[0], p.w_success - p.w_place * 0.02 - p.w_reach * 0.01 - p.w_hold - p.w_action, 1e-9);
  EXPECT_EQ(host_vector(out.episode_length)[0], 10);
}

// The UR5 at home with a part at its tool point (the jaws, tool x, point along -y: yaw
// -pi/2, the same as pi/2 for a box part); the tool state of the grip check at rest.
struct PickPlaceCase {
  Fleet f;
  FleetState s;
  Vec3 x;
};
PickPlaceCase pick_place_case(const PickPlaceConfig& k) {
  auto cfg = config_for("ur5", SkillKind::pick_place);
  cfg.pick_place = k;
  PickPlaceCase c{Fleet(shipped_model("ur5"), cfg, 11, 0, 1), {}, {}};
  c.s = c.f.save_state();
  c.x = place_robot(c.f, c.s, {3.1416, -1.57, 1.57, -1.57, -1.57, 0});
  set3(c.s, 0, tr_part_x, c.x + v3(0.005, 0, 0));
  set3(c.s, 0, tr_tool_px, c.x);
  set3(c.s, 0, tr_tool_vx, v3(0, 0, 0));
  real_of(c.s, 0, tr_part_mass) = 1.0;
  real_of(c.s, 0, tr_place_error) = real_of(c.s, 0, tr_place_yaw_error) = -1;
  for (int col : {ti_attached, ti_grasped, ti_dropped, ti_step}) int_of(c.s, 0, col) = 0;
  return c;
}
std::vector<double> gripper(double g) { return {0, 0, 0, 0, 0, 0, g}; }

// Part orientation: the jaws must match the part's yaw (modulo pi) to grasp it, and the part's
// yaw must match the target's to place it; the misses say why an episode failed.
TEST(Skills, PickPlaceYawToGraspAndToPlace) {
  PickPlaceConfig k;
  k.part_orientation = true;
  k.place_tolerance_m = 0.002;
  PickPlaceCase c = pick_place_case(k);
  const double jaws = -0.5 * math::pi;
  real_of(c.s, 0, tr_part_yaw) = jaws + math::pi + 0.3;  // 0.3 rad off, half a turn around
  set3(c.s, 0, tr_goal_x, c.x + v3(0.005, 0, 0.001));
  real_of(c.s, 0, tr_place_yaw) = jaws + 0.03 + 0.1;
  c.f.restore_state(c.s);
  StepResult out(1, c.f.obs_dim());
  View<Real**> o("test::obs", 1, c.f.obs_dim());
  c.f.observe(o);
  const int base = 3 * 6 + 3;
  EXPECT_NEAR(host_rows(o)[base + 7], std::sin(0.6), 2e-3);  // part yaw - jaw yaw e = 0.3 (mod pi): sin 2e
  EXPECT_NEAR(host_rows(o)[base + 8], std::cos(0.6), 2e-3);
  // The fine place offset e / (|e| + 5 tol): e = 1 mm up, 5 tol = 10 mm.
  EXPECT_NEAR(host_rows(o)[base + 11], 0.0, 1e-12);
  EXPECT_NEAR(host_rows(o)[base + 12], 0.0, 1e-12);
  EXPECT_NEAR(host_rows(o)[base + 13], 0.001 / 0.011, 1e-9);
  c.f.step(actions_view(gripper(1), 1, 7), out);
  EXPECT_EQ(int_of(c.f.save_state(), 0, ti_attached), 0);  // misaligned: no grasp
  real_of(c.s, 0, tr_part_yaw) = jaws + 0.03;
  c.f.restore_state(c.s);
  c.f.step(actions_view(gripper(1), 1, 7), out);
  FleetState a = c.f.save_state();
  EXPECT_EQ(int_of(a, 0, ti_attached), 1);
  EXPECT_NEAR(real_of(a, 0, tr_grip_yaw), 0.03, 1e-3);
  c.f.observe(o);
  EXPECT_NEAR(host_rows(o)[base + 9], std::sin(0.2), 2e-3);  // target yaw - part yaw: 0.1
  EXPECT_NEAR(host_rows(o)[base + 10], std::cos(0.2), 2e-3);
  // Released 1 mm from the target but turned 0.1 rad > 3 degrees: a yaw miss, no success.
  c.f.step(actions_view(gripper(-1), 1, 7), out);
  a = c.f.save_state();
  EXPECT_NEAR(real_of(a, 0, tr_place_yaw_error), 0.1, 1e-3);
  EXPECT_EQ(host_vector(out.episode_done)[0], 0);
  int_of(a, 0, ti_step) = c.f.config().common.episode_steps - 1;  // the time limit next step
  c.f.restore_state(a);
  c.f.step(actions_view(gripper(-1), 1, 7), out);
  EXPECT_EQ(host_vector(out.truncated)[0], 1);
  EXPECT_EQ(host_rows(out.episode_misses), (std::vector<double>{0, 0, 0, 1, 0, 0}));
  // Turned to the target's yaw: placed, quality by the larger of the two shortfalls.
  real_of(c.s, 0, tr_place_yaw) = jaws + 0.03 + 0.02;
  c.f.restore_state(c.s);
  c.f.step(actions_view(gripper(1), 1, 7), out);
  c.f.step(actions_view(gripper(-1), 1, 7), out);
  EXPECT_EQ(host_vector(out.episode_success)[0], 1);
  EXPECT_NEAR(host_vector(out.episode_quality)[0], 1 - std::fmax(0.02 / k.place_yaw_tolerance_rad, 0.001 / 0.002),
              2e-3);
  EXPECT_EQ(host_rows(out.episode_misses), (std::vector<double>(kMissCauses, 0.0)));
  EXPECT_EQ(miss_causes(SkillKind::pick_place).size(), 5u);

  // A near miss earns w_near_miss * clamp(2 - shortfall, 0, 1) at the episode's first release
  // only: the same release step with and without it.
  real_of(c.s, 0, tr_place_yaw) = jaws + 0.03 + 0.07;  // released 0.07 rad off: 1.34 tolerances
  c.f.restore_state(c.s);
  c.f.step(actions_view(gripper(1), 1, 7), out);
  const FleetState held = c.f.save_state();
  k.w_near_miss = 2.0;
  PickPlaceCase near = pick_place_case(k);
  near.f.restore_state(held);
  c.f.step(actions_view(gripper(-1), 1, 7), out);
  StepResult near_out(1, near.f.obs_dim());
  near.f.step(actions_view(gripper(-1), 1, 7), near_out);
  const double shortfall = real_of(near.f.save_state(), 0, tr_place_yaw_error) / k.place_yaw_tolerance_rad;
  EXPECT_GT(shortfall, 1.0);
  EXPECT_NEAR(host_vector(near_out.reward)[0] - host_vector(out.reward)[0], 2.0 * (2 - shortfall), 1e-9);
  FleetState again = near.f.save_state();  // regrasp and release the same way: no second award
  near.f.step(actions_view(gripper(1), 1, 7), near_out);
  near.f.step(actions_view(gripper(-1), 1, 7), near_out);
  c.f.restore_state(again);
  c.f.step(actions_view(gripper(1), 1, 7), out);
  c.f.step(actions_view(gripper(-1), 1, 7), out);
  EXPECT_NEAR(host_vector(near_out.reward)[0], host_vector(out.reward)[0], 1e-9);

  // w_time costs every step until the success, that one included: a step held and a
  // successful release, with and without it.
  real_of(c.s, 0, tr_place_yaw) = jaws + 0.03;
  k.w_near_miss = 0;
  k.w_time = 0.3;
  PickPlaceCase timed = pick_place_case(k);
  StepResult timed_out(1, timed.f.obs_dim());
  c.f.restore_state(c.s);
  timed.f.restore_state(c.s);
  for (const double g : {1.0, -1.0}) {
    c.f.step(actions_view(gripper(g), 1, 7), out);
    timed.f.step(actions_view(gripper(g), 1, 7), timed_out);
    EXPECT_NEAR(host_vector(timed_out.reward)[0] - host_vector(out.reward)[0], -0.3, 1e-9) << g;
  }
  EXPECT_EQ(host_vector(timed_out.episode_success)[0], 1);
}

// A friction grip: a 1 kg part held against gravity needs 9.81 N; a grip of 2 x 0.5 x 5 N
// lets it slip (it drops and is lost, the episode fails), one of 2 x 0.5 x 20 N holds it.
TEST(Skills, PickPlaceGripSlipsUnderLoad) {
  PickPlaceConfig k;
  k.grip_friction = 0.5;
  for (const double force : {5.0, 20.0}) {
    k.grip_force_n = force;
    PickPlaceCase c = pick_place_case(k);
    set3(c.s, 0, tr_goal_x, c.x + v3(0.2, 0, 0));
    c.f.restore_state(c.s);
    StepResult out(1, c.f.obs_dim());
    c.f.step(actions_view(gripper(1), 1, 7), out);  // grasp
    EXPECT_EQ(int_of(c.f.save_state(), 0, ti_attached), 1) << force;
    c.f.step(actions_view(gripper(1), 1, 7), out);  // hold still
    if (force == 5.0) {
      FleetState a = c.f.save_state();
      EXPECT_EQ(int_of(a, 0, ti_dropped), 1);
      EXPECT_EQ(int_of(a, 0, ti_attached), 0);
      EXPECT_LT(host_vector(out.reward)[0], -k.w_drop);
      // The part is lost: closing on it again grasps nothing; the time limit ends a failure.
      int_of(a, 0, ti_step) = c.f.config().common.episode_steps - 1;
      c.f.restore_state(a);
      c.f.step(actions_view(gripper(1), 1, 7), out);
      EXPECT_EQ(host_vector(out.truncated)[0], 1);
      EXPECT_EQ(host_vector(out.episode_success)[0], 0);
      EXPECT_EQ(host_rows(out.episode_misses), (std::vector<double>{0, 1, 0, 0, 0, 0}));
      // A curriculum's scale of 2.5 makes the same grip hold: 2 x 0.5 x 5 x 2.5 > 9.81 N.
      c.f.set_tolerance_scale(2.5);
      c.f.restore_state(c.s);
      c.f.step(actions_view(gripper(1), 1, 7), out);
      c.f.step(actions_view(gripper(1), 1, 7), out);
      EXPECT_EQ(int_of(c.f.save_state(), 0, ti_attached), 1);
    } else {
      EXPECT_EQ(host_vector(out.episode_done)[0], 0);
      EXPECT_EQ(int_of(c.f.save_state(), 0, ti_attached), 1);
    }
  }
}


class SkillsAllKinds : public ::testing::TestWithParam<SkillKind> {};

TEST_P(SkillsAllKinds, RandomisationDependsOnlyOnSeedGidEpisode) {
  auto cfg = config_for("ur5", GetParam());
  cfg.common.episode_steps = 4;
  const auto model = shipped_model("ur5");
  Fleet big(model, cfg, 42, 0, 8), part(model, cfg, 42, 3, 3), other_seed(model, cfg, 43, 0, 8);
  StepResult ob, op;
  for (int t = 0; t < 10; ++t) {
    const FleetState sb = slice_state(big.save_state(), 3, 3), sp = part.save_state();
    ASSERT_EQ(sb.q, sp.q) << t;
    ASSERT_EQ(sb.qd, sp.qd) << t;
    ASSERT_EQ(sb.task_real, sp.task_real) << t;
    ASSERT_EQ(sb.task_int, sp.task_int) << t;
    big.step(actions_view(gid_actions(0, 8, big.act_dim(), t), 8, big.act_dim()), ob);
    part.step(actions_view(gid_actions(3, 3, part.act_dim(), t), 3, part.act_dim()), op);
    const auto rb = host_vector(ob.reward), rp = host_vector(op.reward);
    for (int r = 0; r < 3; ++r) ASSERT_EQ(rb[static_cast<std::size_t>(3 + r)], rp[static_cast<std::size_t>(r)]);
  }
  EXPECT_EQ(big.save_state().task_int[ti_episode], 2);  // 10 steps of 4-step episodes
  EXPECT_NE(big.save_state().task_real, other_seed.save_state().task_real);
}

TEST_P(SkillsAllKinds, SaveRestoreSliceContinueBitwise) {
  auto cfg = config_for("planar2", GetParam());
  cfg.common.episode_steps = 7;
  const auto model = shipped_model("planar2");
  Fleet a(model, cfg, 5, 100, 6);
  StepResult out;
  for (int t = 0; t < 9; ++t) a.step(actions_view(gid_actions(100, 6, a.act_dim(), t), 6, a.act_dim()), out);
  const FleetState saved = a.save_state();
  // Two fleets that hold robots [100, 102) and [102, 106) continue from slices.
  Fleet b(model, cfg, 5, 100, 2), c(model, cfg, 5, 102, 4);
  b.restore_state(slice_state(saved, 0, 2));
  c.restore_state(slice_state(saved, 2, 4));
  FleetState joined = slice_state(saved, 0, 2);
  append_state(joined, slice_state(saved, 2, 4));
  EXPECT_EQ(joined.q, saved.q);
  EXPECT_EQ(joined.task_real, saved.task_real);
  EXPECT_EQ(joined.task_int, saved.task_int);
  StepResult ob, oc;
  for (int t = 9; t < 25; ++t) {
    a.step(actions_view(gid_actions(100, 6, a.act_dim(), t), 6, a.act_dim()), out);
    b.step(actions_view(gid_actions(100, 2, b.act_dim(), t), 2, b.act_dim()), ob);
    c.step(actions_view(gid_actions(102, 4, c.act_dim(), t), 4, c.act_dim()), oc);
    auto ra = host_vector(out.reward), rb = host_vector(ob.reward), rc = host_vector(oc.reward);
    rb.insert(rb.end(), rc.begin(), rc.end());
    ASSERT_EQ(ra, rb) << t;
    auto da = host_vector(out.episode_done), db = host_vector(ob.episode_done), dc = host_vector(oc.episode_done);
    db.insert(db.end(), dc.begin(), dc.end());
    ASSERT_EQ(da, db) << t;
  }
  FleetState end = b.save_state();
  append_state(end, c.save_state());
  const FleetState end_a = a.save_state();
  EXPECT_EQ(end.q, end_a.q);
  EXPECT_EQ(end.qd, end_a.qd);
  EXPECT_EQ(end.task_real, end_a.task_real);
  EXPECT_EQ(end.task_int, end_a.task_int);
}

// On CPU backends the step advances robots' dynamics in lane groups (groups where a robot holds
// a part, pick_place's robots 2 and 9 here, robot by robot). A fleet of 11 robots, some inactive at each step, against each
// robot alone in its own fleet (its lane group padded with copies of it): every robot's state
// bitwise the same, an inactive robot's unchanged.
TEST_P(SkillsAllKinds, LaneGroupsStepEachRobotAsAlone) {
  auto cfg = config_for("ur5", GetParam());
  cfg.common.episode_steps = 6;
  const auto model = shipped_model("ur5");
  constexpr int robots = 11;
  Fleet all(model, cfg, 9, 20, robots);
  std::vector<Fleet> alone;
  for (int r = 0; r < robots; ++r) alone.emplace_back(model, cfg, 9, 20 + r, 1);
  if (GetParam() == SkillKind::pick_place) {  // robots 2 and 9 start holding their parts
    FleetState s = all.save_state();
    for (int r : {2, 9}) {
      int_of(s, r, ti_attached) = 1;
      FleetState own = alone[static_cast<std::size_t>(r)].save_state();
      int_of(own, 0, ti_attached) = 1;
      alone[static_cast<std::size_t>(r)].restore_state(own);
    }
    all.restore_state(s);
  }
  StepResult out, one;
  for (int t = 0; t < 14; ++t) {
    std::vector<int> active(robots);
    for (int r = 0; r < robots; ++r) active[static_cast<std::size_t>(r)] = (r * 7 + t) % 4 != 0 ? 1 : 0;
    const FleetState before = all.save_state();
    all.step(actions_view(gid_actions(20, robots, all.act_dim(), t), robots, all.act_dim()),
             to_view(active, "test::active"), out);
    const FleetState after = all.save_state();
    for (int r = 0; r < robots; ++r) {
      const FleetState mine = slice_state(after, r, 1);
      const auto at = static_cast<std::size_t>(r);
      if (active[at] == 0) {
        const FleetState kept = slice_state(before, r, 1);
        EXPECT_EQ(mine.q, kept.q) << "robot " << r << ", step " << t;
        EXPECT_EQ(mine.qd, kept.qd) << "robot " << r << ", step " << t;
        EXPECT_EQ(mine.task_real, kept.task_real) << "robot " << r << ", step " << t;
        EXPECT_EQ(mine.task_int, kept.task_int) << "robot " << r << ", step " << t;
        continue;
      }
      Fleet& f = alone[at];
      f.step(actions_view(gid_actions(20 + r, 1, f.act_dim(), t), 1, f.act_dim()), one);
      const FleetState own = f.save_state();
      ASSERT_EQ(mine.q, own.q) << "robot " << r << ", step " << t;
      ASSERT_EQ(mine.qd, own.qd) << "robot " << r << ", step " << t;
      ASSERT_EQ(mine.task_real, own.task_real) << "robot " << r << ", step " << t;
      ASSERT_EQ(mine.task_int, own.task_int) << "robot " << r << ", step " << t;
      ASSERT_EQ(host_vector(out.reward)[at], host_vector(one.reward)[0]) << "robot " << r << ", step " << t;
      ASSERT_EQ(host_vector(out.episode_done)[at], host_vector(one.episode_done)[0]) << "robot " << r << ", step " << t;
    }
  }
}

// The observation a step leaves in next_obs is bitwise what observe() returns after it: for
// robots that go on, for those whose episode ended and were reset (4-step episodes), with
// and without sensing noise (a noisy reading of the new state), in a partial lane group.
TEST_P(SkillsAllKinds, StepWritesTheObservationObserveWould) {
  for (const double noise : {0.0, 0.001}) {
    auto cfg = config_for("ur5", GetParam());
    cfg.common.episode_steps = 4;
    cfg.common.randomise.joint_noise_rad = noise;
    cfg.common.randomise.joint_velocity_noise_rad_s = 10 * noise;
    constexpr int robots = 11;
    Fleet f(shipped_model("ur5"), cfg, 3, 50, robots);
    View<Real**> next("test::next_obs", robots, f.obs_dim()), observed("test::obs", robots, f.obs_dim());
    StepResult out;
    int resets = 0;
    for (int t = 0; t < 10; ++t) {
      Kokkos::deep_copy(next, -7.0);
      f.step(actions_view(gid_actions(50, robots, f.act_dim(), t), robots, f.act_dim()), out, next);
      f.observe(observed);
      ASSERT_EQ(host_rows(next), host_rows(observed)) << "noise " << noise << ", step " << t;
      for (int d : host_vector(out.episode_done)) resets += d;
    }
    EXPECT_EQ(resets, 2 * robots);  // episodes ended at steps 4 and 8
  }
  auto cfg = config_for("planar2", GetParam());
  Fleet f(shipped_model("planar2"), cfg, 3, 0, 4);
  StepResult out;
  View<Real**> small("test::next_obs", 3, f.obs_dim());
  EXPECT_THROW(f.step(actions_view(gid_actions(0, 4, f.act_dim(), 0), 4, f.act_dim()), out, small), Error);
  EXPECT_THROW(f.step(actions_view(gid_actions(0, 4, f.act_dim(), 0), 4, f.act_dim()), View<const int*>(), out, 4, small),
               Error);  // the masked step checks it too
}

INSTANTIATE_TEST_SUITE_P(Kinds, SkillsAllKinds,
                         ::testing::Values(SkillKind::reach, SkillKind::weld, SkillKind::pick_place));

TEST(Skills, NonFiniteStateThrowsNamingTheRobot) {
  auto cfg = config_for("planar2", SkillKind::reach);
  Fleet f(shipped_model("planar2"), cfg, 1, 40, 4);
  FleetState s = f.save_state();
  // A restored state is untrusted: a NaN is refused as a bad checkpoint, naming the robot.
  FleetState bad = s;
  bad.qd[static_cast<std::size_t>(2 * 2 + 1)] = std::nan("");
  try {
    f.restore_state(bad);
    ADD_FAILURE() << "a NaN velocity was restored";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::bad_checkpoint);
    EXPECT_NE(std::string(e.what()).find("robot 42"), std::string::npos) << e.what();
  }
  // A finite state that blows up in the step is reported naming the robot.
  s.qd[static_cast<std::size_t>(2 * 2 + 1)] = 1e308;
  f.restore_state(s);
  StepResult out;
  try {
    f.step(actions_view(std::vector<double>(8, 0.0), 4, 2), out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("robot 42"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kollektiv::skills
