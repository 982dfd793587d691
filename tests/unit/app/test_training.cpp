// Training runs without a deck: the checkpoint adapter (fleet and learner state written at
// one split, read back at another), the fingerprint, and the run loop itself on the world
// communicator against the same run on rank 0 alone (bitwise equal checkpoints, also after
// a restart onto the other communicator). Bodies hold at any rank count.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/training_run.hpp"
#include "io/checkpoint.hpp"
#include "io/policy_io.hpp"
#include "io/robot_model_io.hpp"
#include "io/training_checkpoint.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/comm/decomposition.hpp"
#include "solvers/skills/fleet.hpp"
#include "tests/test_collectives.hpp"

namespace kollektiv {
namespace {

namespace fs = std::filesystem;

int rank() { return comm::rank_of(MPI_COMM_WORLD); }
int ranks() { return comm::size_of(MPI_COMM_WORLD); }

// A fresh directory name, the same on every rank (rank 0's pid).
std::string fresh_dir(const std::string& name) {
  std::string dir;
  if (rank() == 0) {
    dir = (fs::temp_directory_path() / ("kollektiv_test_training_" + std::to_string(::getpid()) + "_" + name)).string();
    fs::remove_all(dir);
  }
  return comm::broadcast(MPI_COMM_WORLD, dir);
}

io::TrainingConfig small_config() {
  io::TrainingConfig c;
  c.enabled = true;
  c.robot = io::read_robot_model(std::string(KOLLEKTIV_SOURCE_DIR) + "/inputs/robots/planar2.yaml");
  c.skill.kind = skills::SkillKind::reach;
  c.skill.common.initial_q = {-0.6, 1.2};
  c.skill.common.episode_steps = 12;  // episodes end inside rollouts
  c.skill.reach.target_box = {{0.3, -1.2, 0.0}, {1.5, 1.2, 0.0}};
  c.robots = 20;  // blocks of 8, 8, 4: at 4 ranks one rank owns none
  c.horizon = 8;
  c.iterations = 3;
  c.learner.policy_hidden = {16, 16};
  c.learner.value_hidden = {16, 16};
  c.learner.epochs = 2;
  c.learner.minibatches = 2;
  c.learner.robots_per_block = 8;
  c.learner.anneal_learning_rate = false;  // so that a split run equals a straight one
  c.learner.learning_rate = 1e-3;
  return c;
}

// Every robot of the config, stepped `steps` times with fixed actions: the reference state.
skills::FleetState stepped_state(const io::TrainingConfig& c, std::int64_t begin, int count, int steps) {
  skills::Fleet fleet(c.robot, c.skill, 7, begin, count);
  fleet.reset_all();
  View<Real**> actions("test::actions", count, fleet.act_dim());
  auto h = Kokkos::create_mirror_view(actions);
  for (int r = 0; r < count; ++r)
    for (int k = 0; k < fleet.act_dim(); ++k) h(r, k) = 0.3 * ((r + k) % 3 - 1);
  Kokkos::deep_copy(actions, h);
  skills::StepResult out(count, fleet.obs_dim());
  for (int s = 0; s < steps; ++s) fleet.step(actions, out);
  return fleet.save_state();
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

TEST(TrainingCheckpoint, RoundTripOnAnotherSplit) {
  const io::TrainingConfig c = small_config();
  const std::int64_t n = 13;
  const skills::FleetState all = stepped_state(c, 0, static_cast<int>(n), 15);  // mid-episode 2
  const comm::Range mine = comm::Decomposition(n, rank(), ranks()).local();
  const skills::FleetState local = skills::slice_state(all, mine.begin, mine.size());

  learning::LearnerConfig lc = c.learner;
  lc.obs_dim = 13;
  lc.act_dim = 2;
  learning::PpoLearner learner(lc, kollektiv::testing::world());
  learning::LearnerState state = learner.state();
  state.adam_steps = 17;
  state.updates = 5;
  state.normalizer.count = 42;
  for (std::size_t i = 0; i < state.adam_m.size(); ++i) state.adam_m[i] = 1e-3 * static_cast<double>(i);

  const std::string dir = fresh_dir("adapter");
  {
    io::CheckpointWriter writer(MPI_COMM_WORLD, dir, 0);
    io::write_training_state(writer, local, mine.begin, n, state);
    writer.commit(1);
  }
  // Read back with the ranks in reverse order and an uneven split.
  const comm::Range other = comm::Decomposition(n, ranks() - 1 - rank(), ranks()).local();
  io::CheckpointReader reader(MPI_COMM_WORLD, dir + "/" + io::checkpoint_file_name(0));
  const skills::FleetState back = io::read_fleet_state(reader, other.begin, other.size(), n, all.dof);
  const learning::LearnerState lback = io::read_learner_state(reader, learner.parameter_count(), lc.obs_dim);
  reader.verify();
  const skills::FleetState expected = skills::slice_state(all, other.begin, other.size());
  EXPECT_TRUE(same_bits(back.q, expected.q));
  EXPECT_TRUE(same_bits(back.qd, expected.qd));
  EXPECT_TRUE(same_bits(back.task_real, expected.task_real));
  EXPECT_TRUE(same_bits(back.task_int, expected.task_int));
  EXPECT_TRUE(same_bits(lback.parameters, state.parameters));
  EXPECT_TRUE(same_bits(lback.adam_m, state.adam_m));
  EXPECT_TRUE(same_bits(lback.adam_v, state.adam_v));
  EXPECT_EQ(lback.adam_steps, 17);
  EXPECT_EQ(lback.updates, 5);
  EXPECT_EQ(lback.normalizer.count, 42);
  EXPECT_TRUE(same_bits(lback.normalizer.mean, state.normalizer.mean));
  EXPECT_TRUE(same_bits(lback.normalizer.m2, state.normalizer.m2));

  // A checkpoint of another size is refused on every rank alike.
  io::CheckpointReader again(MPI_COMM_WORLD, dir + "/" + io::checkpoint_file_name(0));
  EXPECT_THROW(io::read_fleet_state(again, 0, rank() == 0 ? n + 1 : 0, n + 1, all.dof), Error);
  EXPECT_THROW(io::read_learner_state(again, learner.parameter_count() + 1, lc.obs_dim), Error);
}

TEST(TrainingCheckpoint, FingerprintCoversTheSystemNotTheRunLength) {
  const io::TrainingConfig c = small_config();
  const std::uint64_t f = io::training_fingerprint(c, 1);
  io::TrainingConfig longer = c;
  longer.iterations = 100;
  longer.checkpoint_every = 5;
  longer.learner.total_updates = 100;
  EXPECT_EQ(io::training_fingerprint(longer, 1), f);
  EXPECT_NE(io::training_fingerprint(c, 2), f);
  io::TrainingConfig other = c;
  other.skill.reach.tolerance_m = 0.04;
  EXPECT_NE(io::training_fingerprint(other, 1), f);
  other = c;
  other.robot.joints[1].mass *= 1.01;
  EXPECT_NE(io::training_fingerprint(other, 1), f);
  other = c;
  other.learner.policy_hidden = {16, 17};
  EXPECT_NE(io::training_fingerprint(other, 1), f);
}

app::TrainingInputs inputs_for(const io::TrainingConfig& c, const std::string& out) {
  app::TrainingInputs in;
  in.training = c;
  in.run.seed = 5;
  in.run.output_dir = out;
  in.deck_file = "test_training.cpp";
  in.deck_text = "training: {}  # built in C++\n";
  in.resolved_yaml = in.deck_text;
  return in;
}

std::string latest_checkpoint(const std::string& out) {
  std::string name;
  if (rank() == 0) {
    std::ifstream in(out + "/checkpoints/latest");
    std::getline(in, name);
  }
  return out + "/checkpoints/" + comm::broadcast(MPI_COMM_WORLD, name);
}

// The datasets of two checkpoints, compared on rank 0.
void expect_same_checkpoints(const std::string& a, const std::string& b) {
  if (rank() != 0) return;
  io::CheckpointReader ra(MPI_COMM_SELF, a), rb(MPI_COMM_SELF, b);
  for (const char* d : {"fleet/q", "fleet/qd", "fleet/task_real", "learner/parameters", "learner/adam_m",
                        "learner/adam_v", "learner/normalizer_mean", "learner/normalizer_m2",
                        "learner/normalizer_count"})
    EXPECT_TRUE(same_bits(ra.read_all<double>(d), rb.read_all<double>(d))) << d << ": " << a << " vs " << b;
  for (const char* d : {"fleet/task_int", "learner/counters"})
    EXPECT_TRUE(same_bits(ra.read_all<std::int64_t>(d), rb.read_all<std::int64_t>(d))) << d;
  EXPECT_EQ(ra.attribute_int("iteration"), rb.attribute_int("iteration"));
  const double sa = ra.attribute_double("last_mean_return"), sb = rb.attribute_double("last_mean_return");
  EXPECT_EQ(std::memcmp(&sa, &sb, sizeof sa), 0) << "last_mean_return " << sa << " vs " << sb;
}

// Rank 0 alone (MPI_COMM_SELF there; the other ranks wait).
template <class F>
void on_rank0_alone(F&& f) {
  if (rank() == 0) f(MPI_COMM_SELF);
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(TrainingRun, SameBitsOnAnyRankCountAndAcrossRestarts) {
  const io::TrainingConfig c = small_config();
  const app::CliOptions fresh;
  app::CliOptions restart;
  restart.restart = "latest";

  const std::string world = fresh_dir("world"), alone = fresh_dir("alone"), split = fresh_dir("split");
  const app::TrainingInputs in_world = inputs_for(c, world);
  EXPECT_EQ(app::run_training(MPI_COMM_WORLD, in_world, fresh), 0);
  const app::TrainingInputs in_alone = inputs_for(c, alone);
  on_rank0_alone([&](MPI_Comm self) { EXPECT_EQ(app::run_training(self, in_alone, fresh), 0); });
  expect_same_checkpoints(latest_checkpoint(world), latest_checkpoint(alone));

  // One iteration alone, then the rest on all ranks from its checkpoint.
  io::TrainingConfig first = c;
  first.iterations = 1;
  const app::TrainingInputs in_first = inputs_for(first, split), in_rest = inputs_for(c, split);
  on_rank0_alone([&](MPI_Comm self) { EXPECT_EQ(app::run_training(self, in_first, fresh), 0); });
  EXPECT_EQ(app::run_training(MPI_COMM_WORLD, in_rest, restart), 0);
  expect_same_checkpoints(latest_checkpoint(world), latest_checkpoint(split));

  // The exported policy loads into an evaluation run.
  io::TrainingConfig eval = c;
  eval.policy_file = world + "/policy.h5";
  eval.eval_episodes = 2;
  const std::string evaluated = fresh_dir("eval");
  EXPECT_EQ(app::run_training(MPI_COMM_WORLD, inputs_for(eval, evaluated), fresh), 0);
  const learning::PolicyExport p = io::read_policy(MPI_COMM_WORLD, eval.policy_file, "reach");
  EXPECT_EQ(p.widths, (std::vector<int>{13, 16, 16, 2}));
  EXPECT_THROW(io::read_policy(MPI_COMM_WORLD, eval.policy_file, "weld"), Error);
  if (rank() == 0 && !HasFailure())
    for (const auto& d : {world, alone, split, evaluated}) fs::remove_all(d);
}

}  // namespace
}  // namespace kollektiv
