// Determinism across rank counts: a global rollout of 11 robots split over the ranks with
// Decomposition gives bitwise the same statistics, parameters, Adam moments and normaliser
// as the whole rollout on one rank (MPI_COMM_SELF), for robot blocks of 1, 3 and 6 where
// the decomposition keeps them whole, and is refused on every rank where it does not.
// Also: state()/restore() continues bitwise on another rank count, and export/import of a
// policy reproduces its actions.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "solvers/comm/decomposition.hpp"
#include "solvers/core/error.hpp"
#include "solvers/core/philox.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "tests/test_collectives.hpp"

namespace kl = kollektiv::learning;
using kollektiv::Real;
using kollektiv::View;
namespace rng = kollektiv::rng;

namespace {

constexpr int global_robots = 11, horizon = 6, obs_dim = 3, act_dim = 2;

kl::LearnerConfig config(int robots_per_block) {
  kl::LearnerConfig cfg;
  cfg.obs_dim = obs_dim;
  cfg.act_dim = act_dim;
  cfg.policy_hidden = {8, 8};
  cfg.value_hidden = {8, 8};
  cfg.epochs = 3;
  cfg.minibatches = 4;
  cfg.total_updates = 10;
  cfg.entropy_coef = 0.01;
  cfg.learning_rate = 1e-2;
  cfg.seed = 9;
  cfg.robots_per_block = robots_per_block;
  return cfg;
}

// This rank's robots of the global_robots, as the training run splits them.
kollektiv::comm::Range my_robots() {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return kollektiv::comm::Decomposition(global_robots, rank, size).local();
}

double draw(std::uint64_t gid, std::uint64_t counter) {
  return rng::normal(rng::draw(21, rng::Stream::test, gid, counter));
}

// One iteration of a synthetic environment for robots [begin, end): observations, rewards,
// terminations and truncations are pure functions of (gid, iteration, t).
kl::PpoStats iterate(kl::PpoLearner& learner, std::int64_t begin, std::int64_t end, int iteration) {
  const int n = static_cast<int>(end - begin);
  kl::Rollout ro(learner.config(), horizon, n);
  auto gid = Kokkos::create_mirror_view(ro.gid);
  for (int r = 0; r < n; ++r) gid(r) = begin + r;
  Kokkos::deep_copy(ro.gid, gid);
  auto raw = [&](int t, std::uint64_t salt) {
    View<Real**> obs("test::obs", n, obs_dim);
    auto h = Kokkos::create_mirror_view(obs);
    for (int r = 0; r < n; ++r)
      for (int f = 0; f < obs_dim; ++f)
        h(r, f) = 2.0 + 3.0 * draw(gid(r), salt + 100000 * iteration + 100 * t + f);
    Kokkos::deep_copy(obs, h);
    return obs;
  };
  auto reward = Kokkos::create_mirror_view(ro.reward);
  auto term = Kokkos::create_mirror_view(ro.terminated);
  auto trunc = Kokkos::create_mirror_view(ro.truncated);
  for (int t = 0; t < horizon; ++t) {
    learner.act(raw(t, 0), static_cast<std::uint64_t>(iteration) * horizon + t, t, ro);
    for (int r = 0; r < n; ++r) {
      const int s = t * n + r;
      reward(s) = draw(gid(r), 7000000 + 100 * iteration + t);
      const double u = rng::uniform0(rng::draw(21, rng::Stream::test, gid(r), 9000000 + 100 * iteration + t));
      term(s) = u < 0.1;
      trunc(s) = u > 0.85;
    }
  }
  Kokkos::deep_copy(ro.reward, reward);
  Kokkos::deep_copy(ro.terminated, term);
  Kokkos::deep_copy(ro.truncated, trunc);
  // Final observations for every row (only truncated rows are read) and the last ones.
  View<Real**> final_obs = ro.final_obs;
  for (int t = 0; t < horizon; ++t) {
    auto f = raw(t, 5000000);
    Kokkos::deep_copy(Kokkos::subview(final_obs, Kokkos::make_pair(t * n, (t + 1) * n), Kokkos::ALL()), f);
  }
  Kokkos::deep_copy(ro.last_obs, raw(horizon, 0));
  return learner.update(ro);
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_same_state(const kl::LearnerState& a, const kl::LearnerState& b) {
  EXPECT_TRUE(same_bits(a.parameters, b.parameters));
  EXPECT_TRUE(same_bits(a.adam_m, b.adam_m));
  EXPECT_TRUE(same_bits(a.adam_v, b.adam_v));
  EXPECT_EQ(a.adam_steps, b.adam_steps);
  EXPECT_EQ(a.updates, b.updates);
  EXPECT_TRUE(same_bits(a.normalizer.count, b.normalizer.count));
  EXPECT_TRUE(same_bits(a.normalizer.mean, b.normalizer.mean));
  EXPECT_TRUE(same_bits(a.normalizer.m2, b.normalizer.m2));
}

void expect_same_stats(const kl::PpoStats& a, const kl::PpoStats& b) {
  EXPECT_TRUE(same_bits(a.policy_loss, b.policy_loss));
  EXPECT_TRUE(same_bits(a.value_loss, b.value_loss));
  EXPECT_TRUE(same_bits(a.approx_kl, b.approx_kl));
  EXPECT_TRUE(same_bits(a.clip_fraction, b.clip_fraction));
  EXPECT_TRUE(same_bits(a.entropy, b.entropy));
  EXPECT_TRUE(same_bits(a.grad_norm, b.grad_norm));
  EXPECT_TRUE(same_bits(a.learning_rate, b.learning_rate));
  EXPECT_EQ(a.minibatches, b.minibatches);
}

void check_split(int robots_per_block) {
  const kollektiv::comm::Range mine = my_robots();
  kl::PpoLearner split(config(robots_per_block), kollektiv::testing::world());
  kl::PpoLearner whole(config(robots_per_block), kollektiv::testing::self());
  for (int it = 0; it < 3; ++it) {
    const kl::PpoStats a = iterate(split, mine.begin, mine.end, it);
    const kl::PpoStats b = iterate(whole, 0, global_robots, it);
    expect_same_stats(a, b);
    expect_same_state(split.state(), whole.state());
    EXPECT_GT(a.minibatches, 0);
    EXPECT_GT(a.clip_fraction + a.approx_kl, 0.0);  // the policy really moved
  }
}

// Whether Decomposition keeps every block of `block` robots on one rank at this size.
bool blocks_whole(int block) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const kollektiv::comm::Decomposition dec(global_robots, 0, size);
  for (int q = 1; q < size; ++q)
    if (dec.range_of(q).begin % block != 0) return false;
  return true;
}

// Blocks of 3: whole at 1, 2 and 4 ranks (11 = 6 + 5 = 3 + 3 + 3 + 2), split at 3 ranks
// (4 + 4 + 3), where the learner must refuse on every rank. Blocks of 6: split at 4 ranks.
void check_blocks(int block) {
  if (blocks_whole(block)) {
    check_split(block);
  } else {
    const kollektiv::comm::Range mine = my_robots();
    kl::PpoLearner learner(config(block), kollektiv::testing::world());
    EXPECT_THROW(iterate(learner, mine.begin, mine.end, 0), std::invalid_argument);
  }
}

}  // namespace

TEST(LearningParallel, BitwiseIdenticalToOneRankBlocksOfOne) { check_split(1); }
TEST(LearningParallel, BitwiseIdenticalToOneRankOrRefusedBlocksOfThree) { check_blocks(3); }
TEST(LearningParallel, BitwiseIdenticalToOneRankOrRefusedBlocksOfSix) { check_blocks(6); }

// A NaN in the value network makes values, advantages and the loss NaN: every rank stops
// with one clear error before the parameters change.
TEST(LearningParallel, NonFiniteGradientStopsEveryRankWithAnError) {
  const kollektiv::comm::Range mine = my_robots();
  kl::PpoLearner learner(config(1), kollektiv::testing::world());
  const auto bias = learner.value_net().layers().back().bias_offset;
  std::vector<double> p = learner.state().parameters;
  p[static_cast<std::size_t>(bias)] = std::numeric_limits<double>::quiet_NaN();
  learner.set_parameters(p);
  try {
    iterate(learner, mine.begin, mine.end, 0);
    ADD_FAILURE() << "no error for a NaN gradient";
  } catch (const kollektiv::Error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss or its gradient is not finite at update 1, epoch 1, minibatch 1"),
              std::string::npos)
        << e.what();
  }
  const std::vector<double> after = learner.state().parameters;
  EXPECT_TRUE(same_bits(after, p)) << "the parameters changed";
}

TEST(LearningParallel, RestoreContinuesBitwise) {
  const kollektiv::comm::Range mine = my_robots();
  kl::PpoLearner first(config(1), kollektiv::testing::world());
  iterate(first, mine.begin, mine.end, 0);
  // The restart runs on one rank per process: a different rank count than `first`.
  kl::PpoLearner restarted(config(1), kollektiv::testing::self());
  restarted.restore(first.state());
  const kl::PpoStats a = iterate(first, mine.begin, mine.end, 1);
  const kl::PpoStats b = iterate(restarted, 0, global_robots, 1);
  expect_same_stats(a, b);
  expect_same_state(first.state(), restarted.state());

  // Export/import: a fresh learner acts exactly as the trained one.
  kl::PpoLearner evaluator(config(1), kollektiv::testing::self());
  evaluator.import_policy(first.export_policy());
  const int n = 4;
  View<Real**> obs("test::obs", n, obs_dim), a1("test::a1", n, act_dim), a2("test::a2", n, act_dim);
  View<Real*> lp("test::lp", n), v("test::v", n);
  View<std::int64_t*> gid("test::gid", n);
  Kokkos::deep_copy(obs, 1.5);
  first.act(obs, gid, n, 0, false, a1, lp, v);
  evaluator.act(obs, gid, n, 0, false, a2, lp, v);
  auto h1 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a1);
  auto h2 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a2);
  EXPECT_EQ(std::memcmp(h1.data(), h2.data(), sizeof(double) * n * act_dim), 0);
}
