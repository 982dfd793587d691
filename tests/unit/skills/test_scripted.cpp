// Scripted controllers (damped-least-squares resolved-rate control through the pd_delta
// action) that solve every skill on the shipped arms: evidence that the defaults are
// learnable and the rules reward what they should.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "tests/unit/skills/skills_test_support.hpp"

namespace kollektiv::skills {
namespace {

using dynamics::Vec3;
using testing::clip_norm;

struct Stats {
  int episodes = 0, successes = 0;
  double quality = 0;
  double success_rate() const { return episodes ? static_cast<double>(successes) / episodes : 0; }
  double mean_quality() const { return episodes ? quality / episodes : 0; }
};

Vec3 at(const FleetState& s, int r, int column) {
  const double* v = s.task_real.data() + r * task_real_count + column;
  return {v[0], v[1], v[2]};
}
double real(const FleetState& s, int r, int column) { return s.task_real[static_cast<std::size_t>(r * task_real_count + column)]; }
std::int64_t integer(const FleetState& s, int r, int column) {
  return s.task_int[static_cast<std::size_t>(r * task_int_count + column)];
}

// pd_delta actions for joint velocities qd_des: the PD loop with target lead delta runs at
// qd = kp delta / kd; half a period of lead is lost to the motion within the step.
void velocity_actions(const Fleet& f, const std::vector<double>& qd_des, double* a) {
  const auto& sp = f.step_params();
  const double dt = f.config().common.control_dt_s;
  for (int j = 0; j < f.dof(); ++j) {
    const double delta = qd_des[static_cast<std::size_t>(j)] * (sp.kd[j] / sp.kp[j] + 0.5 * dt);
    a[j] = std::fmax(-1.0, std::fmin(1.0, delta / f.config().common.action_scale));
  }
}

// Seam point and tangent, written independently of the kernels.
void seam_at(const Vec3& p0, const Vec3& t0, const Vec3& n, double kappa, double arc, Vec3& pos, Vec3& tan) {
  const Vec3 b0 = dynamics::cross(n, t0);
  if (kappa == 0) {
    pos = p0 + arc * t0;
    tan = t0;
  } else {
    pos = p0 + (std::sin(kappa * arc) / kappa) * t0 + ((1 - std::cos(kappa * arc)) / kappa) * b0;
    tan = std::cos(kappa * arc) * t0 + std::sin(kappa * arc) * b0;
  }
}

// Runs until every robot finished its first episode; statistics of those episodes.
Stats run_first_episodes(Fleet& f) {
  const int n = f.size(), dof = f.dof(), na = f.act_dim();
  const auto& m = f.model();
  const SkillConfig& cfg = f.config();
  Vec3 normal{cfg.weld.surface_normal[0], cfg.weld.surface_normal[1], cfg.weld.surface_normal[2]};
  normal = (1 / std::sqrt(dynamics::dot(normal, normal))) * normal;
  std::vector<int> finished(static_cast<std::size_t>(n), 0);
  Stats stats;
  StepResult out;
  for (int step = 0; step < cfg.common.episode_steps + 1 && stats.episodes < n; ++step) {
    const FleetState s = f.save_state();
    std::vector<double> a(static_cast<std::size_t>(n * na), 0.0);
    for (int r = 0; r < n; ++r) {
      const double* q = s.q.data() + r * dof;
      const dynamics::ChainPose pose = testing::pose_of(m, s.q, r);
      const Vec3 x = pose.tool_pos;
      Vec3 v{0, 0, 0};
      double* ar = a.data() + r * na;
      if (cfg.kind == SkillKind::reach) {
        v = clip_norm(5.0 * (at(s, r, tr_goal_x) - x), 1.5);
      } else if (cfg.kind == SkillKind::weld) {
        const double vt = cfg.weld.travel_speed_m_s, dt = cfg.common.control_dt_s;
        const double len = real(s, r, tr_length), kappa = real(s, r, tr_curvature);
        const double arc = std::fmin(len, vt * dt * static_cast<double>(integer(s, r, ti_step) + 1));
        Vec3 ref, tan;
        seam_at(at(s, r, tr_goal_x), at(s, r, tr_dir_x), normal, kappa, arc, ref, tan);
        ref = ref + cfg.weld.standoff_m * normal;
        v = vt * tan + 5.0 * (ref - x);
      } else {
        const bool held = integer(s, r, ti_attached) != 0;
        const Vec3 place = at(s, r, tr_goal_x);
        if (!held) {
          const Vec3 part = at(s, r, tr_part_x);
          v = clip_norm(6.0 * (part - x), 1.0);
          ar[dof] = std::sqrt(dynamics::dot(part - x, part - x)) < 0.01 ? 1.0 : -1.0;
        } else {
          const Vec3 part = x + pose.tool_rot * at(s, r, tr_grip_x);
          v = clip_norm(6.0 * (place - part), 1.0);
          ar[dof] = std::sqrt(dynamics::dot(place - part, place - part)) < 0.005 ? -1.0 : 1.0;
        }
      }
      velocity_actions(f, testing::dls_velocity(m, q, v), ar);
    }
    f.step(testing::actions_view(a, n, na), out);
    const auto done = testing::host_vector(out.episode_done), success = testing::host_vector(out.episode_success),
               quality = testing::host_vector(out.episode_quality);
    for (int r = 0; r < n; ++r)
      if (done[static_cast<std::size_t>(r)] != 0 && !finished[static_cast<std::size_t>(r)]) {
        finished[static_cast<std::size_t>(r)] = 1;
        ++stats.episodes;
        stats.successes += success[static_cast<std::size_t>(r)] != 0 ? 1 : 0;
        stats.quality += quality[static_cast<std::size_t>(r)];
      }
  }
  return stats;
}

struct Case {
  const char* arm;
  SkillKind kind;
  int robots;
};

class Scripted : public ::testing::TestWithParam<Case> {};

TEST_P(Scripted, SolvesTheSkill) {
  const Case c = GetParam();
  const SkillConfig cfg = testing::config_for(c.arm, c.kind);
  Fleet f(testing::shipped_model(c.arm), cfg, 2024, 1000, c.robots);
  const Stats s = run_first_episodes(f);
  std::printf("scripted %s %s: %d episodes, success %.3f, quality %.3f\n", c.arm,
              c.kind == SkillKind::reach ? "reach" : (c.kind == SkillKind::weld ? "weld" : "pick_place"), s.episodes,
              s.success_rate(), s.mean_quality());
  ASSERT_EQ(s.episodes, c.robots);
  if (c.kind == SkillKind::weld) {
    EXPECT_GE(s.mean_quality(), 0.9);
    EXPECT_GE(s.success_rate(), 0.8);
  } else {
    EXPECT_GE(s.success_rate(), 0.95);
  }
}

INSTANTIATE_TEST_SUITE_P(Arms, Scripted,
                         ::testing::Values(Case{"planar2", SkillKind::reach, 32}, Case{"ur5", SkillKind::reach, 16},
                                           Case{"panda", SkillKind::reach, 8}, Case{"planar2", SkillKind::weld, 16},
                                           Case{"ur5", SkillKind::weld, 16}, Case{"planar2", SkillKind::pick_place, 16},
                                           Case{"ur5", SkillKind::pick_place, 16}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.arm) + "_" +
                                  (i.param.kind == SkillKind::reach ? "reach"
                                                                    : (i.param.kind == SkillKind::weld ? "weld" : "pick_place"));
                         });

}  // namespace
}  // namespace kollektiv::skills
