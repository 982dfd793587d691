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
std::int64_t& int_of(FleetState& s, int robot, int column) {
  return s.task_int[static_cast<std::size_t>(robot * task_int_count + column)];
}
Vec3 v3(double x, double y, double z) { return Vec3{x, y, z}; }

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
  EXPECT_EQ(Fleet(ur5, config_for("ur5", SkillKind::weld), 1, 0, 2).obs_dim(), 3 * 6 + 3 + 12 + 1);
  Fleet pick(ur5, config_for("ur5", SkillKind::pick_place), 1, 0, 2);
  EXPECT_EQ(pick.obs_dim(), 3 * 6 + 3 + 7 + 1);
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
  set3(s, 0, tr_goal_x, x - (4.6 * vdt + 0.5 * vdt) * t0);
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

// Actions that depend only on (gid, step): what a policy would do for the same robot.
std::vector<double> gid_actions(std::int64_t offset, int robots, int act_dim, int step) {
  std::vector<double> a;
  for (int r = 0; r < robots; ++r)
    for (int k = 0; k < act_dim; ++k) a.push_back(std::sin(0.7 * static_cast<double>(offset + r) + 1.3 * step + k));
  return a;
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
