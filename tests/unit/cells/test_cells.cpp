// Robot cells: a cell with a frozen policy runs exactly the episodes the training fleet
// runs for the same keys; outcomes follow the deck's thresholds; rework repeats a part.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "solvers/cells/cell_skill.hpp"
#include "solvers/comm/collective.hpp"
#include "solvers/core/error.hpp"
#include "tests/unit/skills/skills_test_support.hpp"

namespace kollektiv {
namespace {

struct EpisodeResult {
  int length = 0;
  bool success = false;
  double quality = 0, ret = 0;
};

// Episode 0 of training robots 0..n-1, deterministic policy.
std::vector<EpisodeResult> training_episodes(const cells::CellSkillConfig& c, learning::PpoLearner& learner, int n) {
  skills::Fleet fleet(c.robot, c.skill, c.seed, 0, n);
  fleet.reset_all(false);
  std::vector<EpisodeResult> out(static_cast<std::size_t>(n));
  std::vector<bool> seen(static_cast<std::size_t>(n), false);
  View<Real**> obs("obs", n, fleet.obs_dim()), act("act", n, fleet.act_dim());
  View<Real*> lp("lp", n), v("v", n);
  std::vector<std::int64_t> gids(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) gids[static_cast<std::size_t>(r)] = r;
  const auto gid = to_view(gids, "gid");
  skills::StepResult res(n, fleet.obs_dim());
  for (int t = 0; t < c.skill.common.episode_steps; ++t) {
    fleet.observe(obs);
    learner.act(obs, gid, n, static_cast<std::uint64_t>(t), false, act, lp, v);
    fleet.step(act, res);
    const auto done = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res.episode_done);
    const auto len = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res.episode_length);
    const auto suc = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res.episode_success);
    const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res.episode_quality);
    const auto ret = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), res.episode_return);
    for (int r = 0; r < n; ++r)
      if (done(r) != 0 && !seen[static_cast<std::size_t>(r)]) {
        seen[static_cast<std::size_t>(r)] = true;
        out[static_cast<std::size_t>(r)] = {len(r), suc(r) != 0, q(r), ret(r)};
      }
  }
  return out;
}

cells::CellSkillConfig reach_config(bool learn) {
  cells::CellSkillConfig c;
  c.name = "fasten";
  c.robot = testing::shipped_model("planar2");
  c.skill = testing::config_for("planar2", skills::SkillKind::reach);
  c.skill.common.episode_steps = 60;
  c.learner.policy_hidden = {16, 16};
  c.learner.value_hidden = {16, 16};
  c.learner.init_log_std = -0.5;
  c.learn = learn;
  c.seed = 7;
  return c;
}

// Requests for stations 0..n-1 (one robot each, the first station of their line) whose parts
// have ids 0..n-1: the keys of training robots 0..n-1's first episodes.
std::vector<factory::ServiceRequest> requests_for(int n, double t) {
  std::vector<factory::ServiceRequest> q;
  for (int g = 0; g < n; ++g) q.push_back(factory::ServiceRequest{g, 0, factory::Part{g, 0.0}, t, {}});
  return q;
}

std::vector<cells::CellStation> stations(int n, const factory::CellConfig& cell) {
  std::vector<cells::CellStation> s;
  for (int g = 0; g < n; ++g) s.push_back(cells::CellStation{g, 0, 0, cell});
  return s;
}

TEST(Cells, FrozenCellEpisodesAreTheTrainingFleetsEpisodes) {
  const int n = 12;
  const cells::CellSkillConfig c = reach_config(false);
  factory::CellConfig cell;
  cell.enabled = true;
  cell.handling_s = 3.0;
  cell.good_quality = 0.0;
  auto local = comm::make_local_collective();
  cells::CellSkill skill(c, stations(n, cell), *local);
  learning::PpoLearner reference(skill.learner(0).config(), *local);  // same seed: same parameters
  const std::vector<EpisodeResult> expected = training_episodes(c, reference, n);

  skill.begin_interval(0.0, 600.0, 1);
  // Two passes with different groupings: the batch a request runs in changes nothing.
  std::vector<factory::ServiceRequest> q = requests_for(n, 10.0);
  std::vector<factory::ServiceRequest*> first, second;
  for (int g = 0; g < n; ++g) (g % 3 == 0 ? first : second).push_back(&q[static_cast<std::size_t>(g)]);
  skill.resolve(first);
  skill.resolve(second);
  const cells::CellUpdate u = skill.end_interval();
  ExactSum ret;
  int successes = 0;
  for (int g = 0; g < n; ++g) {
    const EpisodeResult& e = expected[static_cast<std::size_t>(g)];
    EXPECT_EQ(q[static_cast<std::size_t>(g)].outcome.duration_s, 3.0 + e.length * c.skill.common.control_dt_s) << g;
    EXPECT_EQ(q[static_cast<std::size_t>(g)].outcome.good, e.success) << g;
    ret.add(e.ret);
    successes += e.success ? 1 : 0;
  }
  EXPECT_EQ(u.figures.parts, n);
  EXPECT_EQ(u.figures.episodes, n);
  EXPECT_EQ(u.figures.successes, successes);
  EXPECT_EQ(u.figures.mean_return, ret.to_double() / n);
  EXPECT_FALSE(u.updated);
  EXPECT_EQ(skill.learner(0).updates(), 0);
}

TEST(Cells, ReworkRepeatsTheTaskThenScraps) {
  const int n = 6;
  cells::CellSkillConfig c = reach_config(false);
  c.skill.common.episode_steps = 5;  // too short to succeed: every attempt fails
  factory::CellConfig cell;
  cell.enabled = true;
  cell.robots = 2;
  cell.good_quality = 0.0;
  cell.rework_quality = 0.0;  // every failure is worth another attempt
  cell.max_rework = 2;
  auto local = comm::make_local_collective();
  cells::CellSkill skill(c, stations(n, cell), *local);
  skill.begin_interval(0.0, 600.0, 1);
  std::vector<factory::ServiceRequest> q = requests_for(n, 0.0);
  std::vector<factory::ServiceRequest*> all;
  for (auto& r : q) all.push_back(&r);
  skill.resolve(all);
  const cells::CellUpdate u = skill.end_interval();
  for (const auto& r : q) {
    EXPECT_FALSE(r.outcome.good);
    EXPECT_DOUBLE_EQ(r.outcome.duration_s, 3 * 5 * c.skill.common.control_dt_s);  // three attempts of 5 steps
  }
  EXPECT_EQ(u.figures.reworks, 2 * n);
  EXPECT_EQ(u.figures.scrapped, n);
  EXPECT_EQ(u.figures.episodes, 3 * 2 * n);
}

TEST(Cells, LearningCellsUpdateFromTheirEpisodesAndRefuseOtherIntervals) {
  const int n = 8;
  const cells::CellSkillConfig c = reach_config(true);
  factory::CellConfig cell;
  cell.enabled = true;
  auto local = comm::make_local_collective();
  cells::CellSkill skill(c, stations(n, cell), *local);
  const std::vector<double> before = to_vector(skill.learner(0).parameters());
  skill.begin_interval(600.0, 1200.0, 2);
  std::vector<factory::ServiceRequest> q = requests_for(n, 700.0);
  std::vector<factory::ServiceRequest*> all;
  for (auto& r : q) all.push_back(&r);
  skill.resolve(all);
  std::vector<factory::ServiceRequest> late = requests_for(1, 1200.0);
  std::vector<factory::ServiceRequest*> outside{&late[0]};
  EXPECT_THROW(skill.resolve(outside), Error);  // a policy version belongs to its interval
  const cells::CellUpdate u = skill.end_interval();
  EXPECT_TRUE(u.updated);
  EXPECT_EQ(skill.learner(0).updates(), 1);
  EXPECT_NE(to_vector(skill.learner(0).parameters()), before);
  EXPECT_GT(u.figures.steps, 0);
}

// Two factories (sites), one cell each; one interval of episodes at both, then a round.
std::vector<learning::LearnerState> after_one_round(const training::SharingConfig& sharing) {
  cells::CellSkillConfig c = reach_config(true);
  c.sites = 2;
  c.sharing = sharing;
  factory::CellConfig cell;
  cell.enabled = true;
  cell.robots = 2;
  std::vector<cells::CellStation> st{cells::CellStation{0, 0, 0, cell}, cells::CellStation{1, 1, 0, cell}};
  auto local = comm::make_local_collective();
  cells::CellSkill skill(c, st, *local);
  EXPECT_EQ(skill.replicas(), 2);
  skill.begin_interval(0.0, 600.0, 1);
  std::vector<factory::ServiceRequest> q = requests_for(2, 5.0);
  std::vector<factory::ServiceRequest*> all{&q[0], &q[1]};
  skill.resolve(all);
  const cells::CellUpdate u = skill.end_interval();
  EXPECT_TRUE(u.updated);
  EXPECT_TRUE(u.shared);
  EXPECT_EQ(u.rounds, 1);
  std::vector<learning::LearnerState> s;
  for (int r = 0; r < 2; ++r) s.push_back(skill.learner(r).state());
  return s;
}

TEST(Cells, FactoriesShareByGossipAndFederatedRounds) {
  training::SharingConfig gossip;
  gossip.mode = training::SharingMode::gossip;
  const auto g = after_one_round(gossip);
  EXPECT_EQ(g[0].parameters, g[1].parameters);  // partners average everything
  EXPECT_EQ(g[0].adam_m, g[1].adam_m);

  training::SharingConfig fed;
  fed.mode = training::SharingMode::federated;
  fed.federated.local_updates = 1;
  fed.federated.participation = 1.0;
  fed.federated.private_layers = {"value"};
  const auto f = after_one_round(fed);
  cells::CellSkillConfig c = reach_config(true);
  auto local = comm::make_local_collective();
  const learning::PpoLearner probe(cells::CellSkill(c, {}, *local).learner(0).config(), *local);
  const auto policy_end = static_cast<std::size_t>(probe.policy().end_offset());
  const std::vector<double> a(f[0].parameters.begin(), f[0].parameters.begin() + static_cast<std::ptrdiff_t>(policy_end));
  const std::vector<double> b(f[1].parameters.begin(), f[1].parameters.begin() + static_cast<std::ptrdiff_t>(policy_end));
  EXPECT_EQ(a, b);                            // the policy is averaged
  EXPECT_NE(f[0].parameters, f[1].parameters);  // the private value networks are not
  EXPECT_NE(f[0].adam_m, f[1].adam_m);          // nor the Adam moments
}

}  // namespace
}  // namespace kollektiv
