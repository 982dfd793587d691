// Skill transfer: the observation and action layouts of the skills, and which parameters a
// transfer copies (by layer, observation segment and action segment), refuses, or leaves.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "solvers/core/error.hpp"
#include "solvers/core/segment.hpp"
#include "solvers/learning/layer_names.hpp"
#include "solvers/learning/policy_transfer.hpp"
#include "solvers/skills/fleet.hpp"

namespace kollektiv {
namespace {

using learning::NormalizerTransfer;
using learning::PpoLearner;
using learning::TransferRequest;
using skills::SkillKind;

learning::LearnerConfig config(SkillKind kind, int dof, std::vector<int> hidden, std::uint64_t seed) {
  learning::LearnerConfig c;
  c.obs_dim = layout_width(skills::observation_layout(kind, dof));
  c.act_dim = layout_width(skills::action_layout(kind, dof));
  c.policy_hidden = hidden;
  c.value_hidden = hidden;
  c.seed = seed;
  return c;
}

// A policy file's contents from a learner whose parameters are 1000 + their index (so that a
// copied value names where it came from) and a normaliser with statistics.
learning::TransferSource source_of(SkillKind kind, int dof, std::vector<int> hidden) {
  const auto local = comm::make_local_collective();
  PpoLearner l(config(kind, dof, hidden, 99), *local);
  std::vector<double> p(static_cast<std::size_t>(l.parameter_count()));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = 1000.0 + static_cast<double>(i);
  l.set_parameters(p);
  learning::TransferSource s;
  s.name = "source.h5";
  s.policy = l.export_policy();
  s.policy.normalizer.count = 500;
  s.policy.normalizer.mean.assign(static_cast<std::size_t>(l.config().obs_dim), 0.25);
  s.policy.normalizer.m2.assign(static_cast<std::size_t>(l.config().obs_dim), 125.0);
  s.observations = skills::observation_layout(kind, dof);
  s.actions = skills::action_layout(kind, dof);
  return s;
}

TEST(Segments, LayoutsMatchTheFleetAndReadBack) {
  for (SkillKind kind : {SkillKind::reach, SkillKind::weld, SkillKind::pick_place}) {
    const SegmentLayout obs = skills::observation_layout(kind, 6);
    EXPECT_EQ(layout_width(obs), 3 * 6 + 3 + (kind == SkillKind::reach ? 3 : 14) + 1);
    EXPECT_EQ(obs.front(), (Segment{"joint_angles", 12}));
    EXPECT_EQ(obs.back(), (Segment{"episode_time", 1}));
    EXPECT_EQ(parse_layout(layout_text(obs)), obs);
    EXPECT_EQ(layout_width(skills::action_layout(kind, 6)), kind == SkillKind::pick_place ? 7 : 6);
  }
  EXPECT_EQ(layout_text({{"a", 2}, {"b_1", 1}}), "a:2,b_1:1");
  for (const char* bad : {"", "a", "a:", ":2", "a:0", "A:2", "a:2,", "a:2,,b:1", "a:x", "a:12345678"})
    EXPECT_TRUE(parse_layout(bad).empty()) << bad;
}

TEST(Transfer, TheSameSkillCopiesEveryParameterAndTheNormalizer) {
  const auto src = source_of(SkillKind::reach, 2, {8, 8});
  const auto local = comm::make_local_collective();
  const PpoLearner to(config(SkillKind::reach, 2, {8, 8}, 1), *local);
  const auto r = learning::plan_transfer(src, to, src.observations, src.actions, TransferRequest{});
  // The learner's parameters are the policy's (mean net, log-stds) then the value net's.
  std::vector<double> expected = src.policy.parameters;
  expected.insert(expected.end(), src.policy.value_parameters.begin(), src.policy.value_parameters.end());
  EXPECT_EQ(r.parameters, expected);
  EXPECT_EQ(r.copied, to.parameter_count());
  EXPECT_TRUE(r.normalizer_taken);
  EXPECT_EQ(r.normalizer.count, 500);
  // fresh: the same parameters, no statistics.
  TransferRequest fresh;
  fresh.normalizer = NormalizerTransfer::fresh;
  EXPECT_FALSE(learning::plan_transfer(src, to, src.observations, src.actions, fresh).normalizer_taken);
}

TEST(Transfer, ReachIntoWeldCopiesTheSharedObservationSegmentsOnly) {
  const auto src = source_of(SkillKind::reach, 6, {8, 8});
  const auto local = comm::make_local_collective();
  const PpoLearner to(config(SkillKind::weld, 6, {8, 8}, 1), *local);
  const auto obs = skills::observation_layout(SkillKind::weld, 6);
  const auto act = skills::action_layout(SkillKind::weld, 6);
  const auto r = learning::plan_transfer(src, to, obs, act, TransferRequest{});
  const std::vector<double> before = to_vector(to.parameters());
  const auto& layer0 = to.policy().mean_net().layers()[0];
  // Weld's inputs: joint_angles 0-11, joint_velocities 12-17, tool_position 18-20 (reach's
  // 0-20 too), seam_offset 21-23, seam_tangent 24-26, goal_offset 27-29 (reach's 21-23), ...,
  // work and travel angle errors 33-34, episode_time 35 (reach's 24).
  const auto w = [&](const std::vector<double>& p, int j, int i) { return p[layer0.weight_offset + j * 8 + i]; };
  const auto src_w = [&](int j, int i) { return src.policy.parameters[static_cast<std::size_t>(j * 8 + i)]; };
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j <= 20; ++j) EXPECT_EQ(w(r.parameters, j, i), src_w(j, i));
    for (int j = 21; j <= 26; ++j) EXPECT_EQ(w(r.parameters, j, i), w(before, j, i)) << "seam inputs stay fresh";
    for (int j = 27; j <= 29; ++j) EXPECT_EQ(w(r.parameters, j, i), src_w(j - 6, i)) << "goal_offset";
    for (int j = 30; j <= 34; ++j) EXPECT_EQ(w(r.parameters, j, i), w(before, j, i));
    EXPECT_EQ(w(r.parameters, 35, i), src_w(24, i)) << "episode_time";
  }
  // Different observations: the normaliser starts fresh, and `take` is refused.
  EXPECT_FALSE(r.normalizer_taken);
  TransferRequest take;
  take.normalizer = NormalizerTransfer::take;
  EXPECT_THROW(learning::plan_transfer(src, to, obs, act, take), Error);
}

TEST(Transfer, PickPlaceKeepsItsGripperFreshAndNamedLayersMustFit) {
  const auto src = source_of(SkillKind::reach, 6, {8, 8});
  const auto local = comm::make_local_collective();
  const PpoLearner to(config(SkillKind::pick_place, 6, {8, 8}, 1), *local);
  const auto obs = skills::observation_layout(SkillKind::pick_place, 6);
  const auto act = skills::action_layout(SkillKind::pick_place, 6);
  const std::vector<double> before = to_vector(to.parameters());
  const auto r = learning::plan_transfer(src, to, obs, act, TransferRequest{});
  const auto& out = to.policy().mean_net().layers()[2];
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 6; ++i) EXPECT_EQ(r.parameters[out.weight_offset + j * 7 + i], src.policy.parameters[25 * 8 + 8 + 72 + j * 6 + i]);
    EXPECT_EQ(r.parameters[out.weight_offset + j * 7 + 6], before[out.weight_offset + j * 7 + 6]) << "gripper";
  }
  EXPECT_EQ(r.parameters[to.policy().log_std_offset() + 6], before[to.policy().log_std_offset() + 6]);
  // Named on their own, layers with nothing in common or another width are refused.
  const auto refused = [&](std::vector<std::string> layers, std::vector<int> hidden, const std::string& message) {
    const PpoLearner other(config(SkillKind::pick_place, 2, hidden, 1), *local);
    TransferRequest q;
    q.layers = layers;
    try {
      learning::plan_transfer(src, other, skills::observation_layout(SkillKind::pick_place, 2),
                              skills::action_layout(SkillKind::pick_place, 2), q);
      ADD_FAILURE() << "accepted " << layers.front();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  refused({"policy.output"}, {8, 8}, "policy.2: no action in common");
  refused({"policy.log_std"}, {8, 8}, "policy.log_std: no action in common");
  refused({"policy.1"}, {8, 4}, "policy.1 maps 8 → 8 in source.h5, 8 → 4 here; hidden widths must be equal");
  refused({"value.2"}, {8, 8, 8}, "value.2 is the output layer of its value network (25-8-8-1) but a hidden layer");
  refused({"policy.9"}, {8, 8}, "expected policy, policy.<k> (k < 3)");
  // A whole network with nothing in common on a layer starts that layer fresh.
  TransferRequest whole;
  whole.layers = {"policy"};
  const PpoLearner two(config(SkillKind::pick_place, 2, {8, 8}, 1), *local);
  const auto partial = learning::plan_transfer(src, two, skills::observation_layout(SkillKind::pick_place, 2),
                                               skills::action_layout(SkillKind::pick_place, 2), whole);
  EXPECT_EQ(partial.report[2], "policy.2 (8 → 3): fresh, no action in common");
  EXPECT_EQ(learning::parse_layer_name("value.output", 3, 3).has_value(), true);
  EXPECT_FALSE(learning::parse_layer_name("normalizer", 3, 3).has_value());
}

TEST(Transfer, AFileWithoutLayoutsNeedsTheSameWidthsAndNamesItsMissingValueNetwork) {
  auto src = source_of(SkillKind::reach, 2, {8, 8});
  src.observations.clear();  // format 1
  src.actions.clear();
  src.policy.value_widths.clear();
  src.policy.value_parameters.clear();
  const auto local = comm::make_local_collective();
  const PpoLearner same(config(SkillKind::reach, 2, {8, 8}, 1), *local);
  const auto obs = skills::observation_layout(SkillKind::reach, 2);
  const auto act = skills::action_layout(SkillKind::reach, 2);
  EXPECT_THROW(learning::plan_transfer(src, same, obs, act, TransferRequest{}), Error) << "value network";
  TransferRequest policy_only;
  policy_only.layers = {"policy"};
  const auto r = learning::plan_transfer(src, same, obs, act, policy_only);
  EXPECT_EQ(r.copied, static_cast<std::int64_t>(src.policy.parameters.size()));
  EXPECT_FALSE(r.normalizer_taken) << "no layout: the observation cannot be known to be the same";
  const PpoLearner weld(config(SkillKind::weld, 2, {8, 8}, 1), *local);
  EXPECT_THROW(learning::plan_transfer(src, weld, skills::observation_layout(SkillKind::weld, 2),
                                       skills::action_layout(SkillKind::weld, 2), policy_only),
               Error);
}

TEST(Transfer, ShrinkBlendsTheCopiedParametersWithTheFreshOnes) {
  const auto src = source_of(SkillKind::reach, 2, {8, 8});
  const auto local = comm::make_local_collective();
  const PpoLearner to(config(SkillKind::reach, 2, {8, 8}, 1), *local);
  const std::vector<double> fresh = to_vector(to.parameters());
  TransferRequest half;
  half.shrink = 0.25;
  const auto r = learning::plan_transfer(src, to, src.observations, src.actions, half);
  std::vector<double> copied = src.policy.parameters;
  copied.insert(copied.end(), src.policy.value_parameters.begin(), src.policy.value_parameters.end());
  for (std::size_t i = 0; i < fresh.size(); ++i) EXPECT_EQ(r.parameters[i], 0.25 * copied[i] + 0.75 * fresh[i]) << i;
}

// V(x) of raw observations x: rows of 0.2 * (k - 2) + 0.1 * feature around 0.3.
std::vector<double> values_of(PpoLearner& l, int rows) {
  const int dim = l.config().obs_dim;
  View<Real**> raw("test::raw", rows, dim);
  auto h = Kokkos::create_mirror_view(raw);
  for (int r = 0; r < rows; ++r)
    for (int f = 0; f < dim; ++f) h(r, f) = 0.3 + 0.2 * (r - 2) + 0.01 * f;
  Kokkos::deep_copy(raw, h);
  View<Real*> v("test::v", rows);
  l.value_of(raw, rows, v);
  return to_vector(v);
}

TEST(Transfer, RefittedInputsComputeTheSameFunctionOfTheRawObservation) {
  const auto local = comm::make_local_collective();
  learning::LearnerConfig c = config(SkillKind::reach, 2, {8, 8}, 99);
  PpoLearner source(c, *local);
  learning::NormalizerState stats;
  stats.count = 500;
  stats.mean.assign(static_cast<std::size_t>(c.obs_dim), 0.3);
  stats.m2.assign(static_cast<std::size_t>(c.obs_dim), 500 * 0.04);  // variance 0.04
  source.restore_normalizer(stats);
  learning::TransferSource src;
  src.name = "source.h5";
  src.policy = source.export_policy();
  src.observations = skills::observation_layout(SkillKind::reach, 2);
  src.actions = skills::action_layout(SkillKind::reach, 2);
  const std::vector<double> expected = values_of(source, 5);

  // The normaliser starts fresh: the copied inputs are refitted to raw observations.
  c.seed = 1;
  c.learning_rate = 1e-12;  // an update that leaves the weights as they are
  c.epochs = 1;
  c.minibatches = 1;
  PpoLearner to(c, *local);
  TransferRequest fresh;
  fresh.normalizer = NormalizerTransfer::fresh;
  const auto r = learning::plan_transfer(src, to, src.observations, src.actions, fresh);
  ASSERT_EQ(r.refit.columns.size(), static_cast<std::size_t>(c.obs_dim));
  EXPECT_TRUE(r.refit.policy && r.refit.value);
  EXPECT_DOUBLE_EQ(r.refit.variance[0], 0.04);
  to.set_parameters(r.parameters);
  to.refit_inputs(r.refit);
  std::vector<double> got = values_of(to, 5);
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(got[k], expected[k], 1e-4 * (1 + std::abs(expected[k]))) << k;

  // The first committed statistics (of other observations) refit them again.
  const int robots = 8, horizon = 4;
  learning::Rollout ro(to.config(), horizon, robots);
  View<Real**> obs("test::obs", robots, c.obs_dim);
  auto oh = Kokkos::create_mirror_view(obs);
  for (int t = 0; t < horizon; ++t) {
    for (int q = 0; q < robots; ++q)
      for (int f = 0; f < c.obs_dim; ++f) oh(q, f) = -0.5 + 0.3 * q + 0.2 * t + 0.05 * f;
    Kokkos::deep_copy(obs, oh);
    to.act(obs, static_cast<std::uint64_t>(t), t, ro);
  }
  Kokkos::deep_copy(ro.terminated, 1);
  to.update(ro);
  ASSERT_GT(to.normalizer().count(), 0);
  got = values_of(to, 5);
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(got[k], expected[k], 1e-3 * (1 + std::abs(expected[k]))) << k;
}

}  // namespace
}  // namespace kollektiv
