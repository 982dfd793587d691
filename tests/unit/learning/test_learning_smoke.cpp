// Learning smoke test: a contextual 1-D bandit. Each step a robot sees a target x drawn
// uniformly in [-1, 1] and is paid -(a - x)^2 for its action a; every step ends an episode.
// The initial policy (mean ~ 0, sigma 1) earns about -(1/3 + 1); PPO must bring the
// deterministic policy's mean return above -0.05.
#include <gtest/gtest.h>
#include <mpi.h>

#include "solvers/core/philox.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "tests/test_collectives.hpp"

namespace kl = kollektiv::learning;
using kollektiv::Real;
using kollektiv::View;

namespace {

double target(std::int64_t gid, std::uint64_t step) {
  return 2 * kollektiv::rng::uniform0(kollektiv::rng::draw(5, kollektiv::rng::Stream::test, gid, step)) - 1;
}

// Mean reward of the deterministic policy on a fixed set of 256 targets.
double evaluate(kl::PpoLearner& learner) {
  const int n = 256;
  View<Real**> obs("test::obs", n, 1), actions("test::actions", n, 1);
  View<Real*> lp("test::lp", n), v("test::v", n);
  View<std::int64_t*> gid("test::gid", n);
  auto oh = Kokkos::create_mirror_view(obs);
  for (int i = 0; i < n; ++i) oh(i, 0) = -1 + (2.0 * i + 1) / n;
  Kokkos::deep_copy(obs, oh);
  learner.act(obs, gid, n, 0, false, actions, lp, v);
  auto ah = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), actions);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum -= (ah(i, 0) - oh(i, 0)) * (ah(i, 0) - oh(i, 0));
  return sum / n;
}

}  // namespace

TEST(LearningSmoke, BanditImproves) {
  kl::LearnerConfig cfg;
  cfg.obs_dim = 1;
  cfg.act_dim = 1;
  cfg.policy_hidden = {16, 16};
  cfg.value_hidden = {16, 16};
  cfg.learning_rate = 3e-3;
  cfg.total_updates = 40;
  cfg.epochs = 4;
  cfg.minibatches = 4;
  cfg.seed = 3;
  kl::PpoLearner learner(cfg, kollektiv::testing::self());
  const int robots = 64, horizon = 8;
  kl::Rollout ro(cfg, horizon, robots);
  auto gid = Kokkos::create_mirror_view(ro.gid);
  for (int r = 0; r < robots; ++r) gid(r) = r;
  Kokkos::deep_copy(ro.gid, gid);

  const double before = evaluate(learner);
  View<Real**> obs("test::obs", robots, 1);
  auto oh = Kokkos::create_mirror_view(obs);
  auto reward = Kokkos::create_mirror_view(ro.reward);
  double first_return = 0, last_return = 0;
  for (int it = 0; it < cfg.total_updates; ++it) {
    double sum = 0;
    for (int t = 0; t < horizon; ++t) {
      const std::uint64_t step = static_cast<std::uint64_t>(it) * horizon + t;
      for (int r = 0; r < robots; ++r) oh(r, 0) = target(r, step);
      Kokkos::deep_copy(obs, oh);
      learner.act(obs, step, t, ro);
      auto act = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ro.actions);
      for (int r = 0; r < robots; ++r) {
        const double a = act(t * robots + r, 0);
        reward(t * robots + r) = -(a - oh(r, 0)) * (a - oh(r, 0));
        sum += reward(t * robots + r);
      }
    }
    Kokkos::deep_copy(ro.reward, reward);
    Kokkos::deep_copy(ro.terminated, 1);
    const kl::PpoStats s = learner.update(ro);
    EXPECT_GT(s.minibatches, 0);
    const double mean_return = sum / (robots * horizon);
    if (it == 0) first_return = mean_return;
    last_return = mean_return;
  }
  const double after = evaluate(learner);
  EXPECT_LT(before, -0.2);
  EXPECT_GT(after, -0.05);
  EXPECT_GT(last_return, first_return + 0.5);  // the sampling policy too: less noise, right mean
}
