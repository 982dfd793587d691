// PpoLearner: one per skill. Owns the flat parameter array [policy mean MLP | log-stds |
// value MLP], the Adam moments, the observation normaliser and the update counter, and
// runs PPO updates whose combined gradients have the same bits for any number of ranks:
// minibatches are drawn per global sample (robot gid, step t) from the counter-based
// generator, each rank contributes its own samples, and per-parameter sums are
// reproducible (segments of one robot block summed in a fixed order, then added as
// integers on a grid all ranks agree on; see segment_sums.hpp). The networks run in
// NetReal (float) on a copy of the double parameters that Adam updates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "solvers/comm/collective.hpp"
#include "solvers/comm/fixed_point_sum.hpp"
#include "solvers/core/kokkos_types.hpp"
#include "solvers/learning/adam.hpp"
#include "solvers/learning/gaussian_policy.hpp"
#include "solvers/learning/mlp.hpp"
#include "solvers/learning/observation_normalizer.hpp"
#include "solvers/learning/ppo_loss.hpp"
#include "solvers/learning/segment_sums.hpp"

namespace kollektiv::learning {

struct LearnerConfig {
  int obs_dim = 1;
  int act_dim = 1;
  std::vector<int> policy_hidden{64, 64};
  std::vector<int> value_hidden{64, 64};
  double gamma = 0.99;
  double gae_lambda = 0.95;
  PpoLossConfig loss;  // clip, value clip, value coefficient
  double entropy_coef = 0.0;
  double max_grad_norm = 0.5;  // global norm over all parameters; <= 0 disables clipping
  double learning_rate = 3e-4;
  bool anneal_learning_rate = true;  // linear decay to 0 over total_updates
  std::int64_t total_updates = 1;
  int epochs = 5;
  int minibatches = 8;
  bool normalize_advantages = true;  // global mean and (unbiased) std over the rollout
  bool normalize_observations = true;
  double observation_clip = 10.0;
  double init_log_std = 0.0;
  AdamConfig adam;
  std::uint64_t seed = 1;
  // Robots gid / robots_per_block form one exact-summation segment. Any block must lie on
  // one rank (1 always does); larger blocks make the exact sums cheaper.
  int robots_per_block = 1;
};

// The learning rate of update number `updates` + 1: constant, or decaying linearly to 0 over
// total_updates.
double scheduled_learning_rate(const LearnerConfig& cfg, std::int64_t updates);

// sum x_i^2 in a fixed order (eight interleaved partial sums, then a pairwise tree), the
// gradient norm's square.
double sum_of_squares(const std::vector<double>& x);

// What one rollout of `horizon` steps of this rank's `robots` robots leaves for update().
// Rows are s = t * robots + r.
struct Rollout {
  Rollout() = default;
  Rollout(const LearnerConfig& cfg, int horizon, int robots);
  int horizon = 0;
  int robots = 0;
  View<std::int64_t*> gid;   // [robots] global robot ids
  // [robots] the exact-summation segment of each robot: robots with the same block id are
  // summed together in a fixed order, and a block must lie on one rank. Empty (the default):
  // gid / robots_per_block.
  View<std::int64_t*> block;
  View<NetReal**> obs;       // normalised observations the policy saw [rows][obs]
  View<Real**> actions;      // [rows][act]
  View<Real*> log_prob;      // log pi_old(a | obs)
  View<Real*> value;         // V_old(obs)
  View<Real*> reward;        // reward of step t
  View<int*> terminated;     // episode ended after t in a terminal state
  View<int*> truncated;      // episode was cut by the time limit after t
  View<Real**> final_obs;    // raw observation that ended a truncated episode [rows][obs]
  View<Real**> last_obs;     // raw observation after the last step [robots][obs]
  // [robots] how many of the robot's first steps hold data; empty (the default): all of them.
  // Rows t >= length(r) are left out of the update. Each robot's last step holding data must
  // end its episode (terminated or truncated), as a robot cell's episode does, so that GAE
  // never reaches into the rows left out.
  View<int*> length;
};

// A minibatch for loss_gradient(): rows ordered in segments (see segment_sums.hpp).
struct PpoBatch {
  int rows = 0;
  View<NetReal**> obs;
  View<Real**> actions;
  View<Real*> old_log_prob, advantage, returns, old_value;
  Segments segments;
  std::int64_t global_rows = 1;  // the minibatch's size over all ranks; the loss is the mean
};

struct PpoGradient {
  std::vector<double> gradient;  // dLoss/dparameters, same bits on every rank
  double loss = 0, policy_loss = 0, value_loss = 0, entropy = 0, approx_kl = 0, clip_fraction = 0;
};

// Means over the minibatches of one update.
struct PpoStats {
  double policy_loss = 0, value_loss = 0, entropy = 0, approx_kl = 0, clip_fraction = 0;
  double grad_norm = 0;  // before clipping
  double learning_rate = 0;
  std::int64_t minibatches = 0;
  double communication_s = 0;  // wall time in the update's collectives (waiting included)
  std::int64_t bytes_sent = 0;  // payload this rank sent in them
};

struct LearnerState {
  std::vector<double> parameters, adam_m, adam_v;
  std::int64_t adam_steps = 0;
  std::int64_t updates = 0;
  NormalizerState normalizer;
};

struct PolicyExport {
  std::vector<int> widths;         // obs_dim, hidden..., act_dim
  std::vector<double> parameters;  // mean MLP then log-stds
  // The value network (what a transfer can start a critic from; evaluation ignores it).
  std::vector<int> value_widths;   // obs_dim, hidden..., 1; empty in files of format 1
  std::vector<double> value_parameters;
  NormalizerState normalizer;
  bool normalize_observations = true;
  double observation_clip = 10.0;
};

// After a skill transfer: the observation statistics that the first layers' copied input
// weights were trained with (see policy_transfer.hpp).
struct InputRefit {
  std::vector<int> columns;                 // the features whose weights were copied
  std::vector<double> mean, variance;       // the source's statistics of each (normalised space)
  bool policy = false, value = false;       // which networks' first layers hold copied weights
};

class PpoLearner {
 public:
  // `collective` spans the ranks that hold this learner's robots (a one-rank collective for
  // a replica whose robots live on one rank); it must outlive the learner.
  PpoLearner(const LearnerConfig& cfg, comm::Collective& collective);

  // Acting on raw observations of `rows` robots: normalised obs, action, log-prob, value.
  // explore: sample with noise keyed by (gid, step) and add obs to the normaliser's
  // pending statistics; otherwise the mean action and no statistics.
  void act(View<const Real**> raw_obs, View<const std::int64_t*> gid, int rows, std::uint64_t step, bool explore,
           View<Real**> actions, View<Real*> log_prob, View<Real*> value);
  // act() for step t of a rollout, writing obs, actions, log_prob and value rows of t.
  void act(View<const Real**> raw_obs, std::uint64_t step, int t, Rollout& rollout);
  // V of raw observations.
  void value_of(View<const Real**> raw_obs, int rows, View<Real*> value);
  // What the networks read: raw observations normalised with the committed statistics.
  void normalize(View<const Real**> raw, int rows, View<NetReal**> out) const;

  PpoStats update(const Rollout& rollout);
  // Loss and combined gradient of one minibatch at the current parameters (collective).
  PpoGradient loss_gradient(const PpoBatch& batch);
  double learning_rate() const;

  LearnerState state() const;
  // Why `state` cannot be restored into this learner (array lengths, non-finite parameters
  // or moments, negative second moments or counters, the normaliser), or "".
  std::string restore_problem(const LearnerState& state) const;
  // Error(bad_checkpoint) with restore_problem(state) if there is one.
  void restore(const LearnerState& state);
  PolicyExport export_policy() const;
  // Why `policy` cannot be imported (layer widths, parameter and normaliser lengths,
  // non-finite values), or "".
  std::string import_problem(const PolicyExport& policy) const;
  // Error(bad_input) with import_problem(policy) if there is one.
  void import_policy(const PolicyExport& policy);

  View<const Real*> parameters() const { return params_; }
  // Replaces all parameters (policy, log-stds, value), e.g. in tests or from a transfer.
  void set_parameters(const std::vector<double>& values);
  // Replaces the normaliser's statistics (std::invalid_argument if they do not fit).
  void restore_normalizer(const NormalizerState& state);
  // Re-expresses the copied first-layer weights of `refit.columns` for this learner's
  // normalisation: W'(j, i) = W(j, i) s_to / s_from, b'(i) = b(i) + Σ_j W(j, i) (μ_to − μ_from) / s_from
  // (s = sqrt(variance + 1e-8)), so that the layers compute the same function of the raw
  // observation as in the run they came from; now (to the current statistics) and, with
  // normalised observations, once more when update() first commits statistics.
  void refit_inputs(const InputRefit& refit);
  std::int64_t parameter_count() const { return n_params_; }
  std::int64_t updates() const { return updates_; }
  const GaussianPolicy& policy() const { return policy_; }
  const Mlp& value_net() const { return value_; }
  const ObservationNormalizer& normalizer() const { return normalizer_; }
  const LearnerConfig& config() const { return cfg_; }

 private:
  void reserve(int rows);
  void check_blocks_whole(HostView<const std::int64_t*> block, int robots) const;
  void refresh_net_parameters();  // net_params_ = params_ in NetReal
  void reserve_segments(int segments);

  // W and b of the first layers for `columns`, from statistics (from_*) to (to_*).
  void refit(const InputRefit& refit, const std::vector<double>& from_mean, const std::vector<double>& from_var,
             const std::vector<double>& to_mean, const std::vector<double>& to_var);

  LearnerConfig cfg_;
  comm::Collective* collective_;
  InputRefit pending_refit_;  // applied at the first commit of statistics after a transfer
  GaussianPolicy policy_;
  Mlp value_;
  std::int64_t n_params_ = 0;
  View<Real*> params_;
  View<NetReal*> net_params_;
  View<Real*> grad_;
  View<Real**> partial_;  // [segment][n_params gradient sums, then stat_count statistics]
  comm::FixedPointSum fixed_sum_;
  Adam adam_;
  ObservationNormalizer normalizer_;
  std::int64_t updates_ = 0;

  // Scratch sized for `capacity_` rows.
  int capacity_ = 0;
  MlpWork<NetReal> policy_work_, value_work_;
  View<NetReal**> norm_obs_, d_mean_, d_value_;
  View<Real**> d_log_std_, stats_;
  View<Real*> scratch_log_prob_, step_value_;
  View<Real**> step_actions_;
};

}  // namespace kollektiv::learning
