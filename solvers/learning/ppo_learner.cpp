// PPO learner: acting, bootstrapped GAE, global advantage normalisation, minibatches over
// global samples, exact gradient combination, norm clipping, Adam, learning-rate decay.
#include "solvers/learning/ppo_learner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <tuple>

#include "solvers/core/error.hpp"
#include "solvers/core/exact_sum.hpp"
#include "solvers/core/philox.hpp"
#include "solvers/learning/exact_views.hpp"
#include "solvers/learning/gae.hpp"

namespace kollektiv::learning {

namespace {

void from_vector(const std::vector<double>& values, View<Real*> v, std::int64_t offset = 0) {
  HostView<const double*> src(values.data(), values.size());
  Kokkos::deep_copy(Kokkos::subview(v, Kokkos::make_pair(offset, offset + static_cast<std::int64_t>(values.size()))),
                    src);
}

// dst(i, :) = src(rows(i), :) for i < n.
template <class T>
void gather_rows(View<const T**> src, View<const int*> rows, int n, int cols, View<T**> dst) {
  Kokkos::parallel_for(
      "learning::gather_rows", Kokkos::RangePolicy<ExecSpace>(0, n), KOKKOS_LAMBDA(const int i) {
        for (int c = 0; c < cols; ++c) dst(i, c) = src(rows(i), c);
      });
}

// A minibatch: the rollout's rows `rows(i)`, i < n, with their advantages and returns.
void gather_minibatch(View<const int*> rows, int n, int obs_dim, int act_dim, const Rollout& ro,
                      View<const Real*> advantage, View<const Real*> returns, const PpoBatch& batch) {
  const auto r_obs = ro.obs;
  const auto r_act = ro.actions;
  const auto r_lp = ro.log_prob, r_v = ro.value;
  const auto obs = batch.obs;
  const auto actions = batch.actions;
  const auto lp = batch.old_log_prob, adv = batch.advantage, ret = batch.returns, v = batch.old_value;
  Kokkos::parallel_for(
      "learning::gather_minibatch", Kokkos::RangePolicy<ExecSpace>(0, n), KOKKOS_LAMBDA(const int i) {
        const int s = rows(i);
        for (int c = 0; c < obs_dim; ++c) obs(i, c) = r_obs(s, c);
        for (int c = 0; c < act_dim; ++c) actions(i, c) = r_act(s, c);
        lp(i) = r_lp(s);
        adv(i) = advantage(s);
        ret(i) = returns(s);
        v(i) = r_v(s);
      });
}


}  // namespace

Rollout::Rollout(const LearnerConfig& cfg, int horizon_steps, int robot_count)
    : horizon(horizon_steps),
      robots(robot_count),
      gid("learning::rollout_gid", robot_count),
      obs("learning::rollout_obs", horizon_steps * robot_count, cfg.obs_dim),
      actions("learning::rollout_actions", horizon_steps * robot_count, cfg.act_dim),
      log_prob("learning::rollout_log_prob", horizon_steps * robot_count),
      value("learning::rollout_value", horizon_steps * robot_count),
      reward("learning::rollout_reward", horizon_steps * robot_count),
      terminated("learning::rollout_terminated", horizon_steps * robot_count),
      truncated("learning::rollout_truncated", horizon_steps * robot_count),
      final_obs("learning::rollout_final_obs", horizon_steps * robot_count, cfg.obs_dim),
      last_obs("learning::rollout_last_obs", robot_count, cfg.obs_dim) {}

PpoLearner::PpoLearner(const LearnerConfig& cfg, comm::Collective& collective)
    : cfg_(cfg),
      collective_(&collective),
      policy_(cfg.obs_dim, cfg.policy_hidden, cfg.act_dim, 0),
      normalizer_(cfg.obs_dim, cfg.observation_clip) {
  std::vector<int> widths{cfg.obs_dim};
  widths.insert(widths.end(), cfg.value_hidden.begin(), cfg.value_hidden.end());
  widths.push_back(1);
  value_ = Mlp(widths, policy_.end_offset());
  n_params_ = value_.end_offset();
  if (cfg.epochs < 1 || cfg.minibatches < 1 || cfg.robots_per_block < 1 || cfg.total_updates < 1)
    throw std::invalid_argument("learning::PpoLearner: epochs, minibatches, robots_per_block, total_updates >= 1");
  params_ = View<Real*>("learning::parameters", n_params_);
  net_params_ = View<NetReal*>("learning::net_parameters", n_params_);
  grad_ = View<Real*>("learning::gradient", n_params_);
  policy_.initialize(params_, cfg.seed, cfg.init_log_std);
  value_.initialize(params_, cfg.seed, 1.0);
  refresh_net_parameters();
  adam_ = Adam(n_params_, cfg.adam);
}

void PpoLearner::refresh_net_parameters() { convert_parameters<NetReal>(params_, net_params_); }

void PpoLearner::set_parameters(const std::vector<double>& values) {
  if (values.size() != static_cast<std::size_t>(n_params_))
    throw std::invalid_argument("learning::PpoLearner::set_parameters: wrong parameter count");
  from_vector(values, params_);
  refresh_net_parameters();
}

void PpoLearner::restore_normalizer(const NormalizerState& state) { normalizer_.restore(state); }

void PpoLearner::refit_inputs(const InputRefit& r) {
  const auto dim = static_cast<std::size_t>(cfg_.obs_dim);
  std::vector<double> mean(dim, 0.0), var(dim, 1.0);  // raw observations
  if (cfg_.normalize_observations) {
    mean = normalizer_.mean();
    var = normalizer_.variance();
  }
  std::vector<double> from_mean(dim, 0.0), from_var(dim, 1.0);
  for (std::size_t k = 0; k < r.columns.size(); ++k) {
    from_mean[static_cast<std::size_t>(r.columns[k])] = r.mean[k];
    from_var[static_cast<std::size_t>(r.columns[k])] = r.variance[k];
  }
  refit(r, from_mean, from_var, mean, var);
  if (cfg_.normalize_observations && normalizer_.count() == 0) pending_refit_ = r;
}

void PpoLearner::refit(const InputRefit& r, const std::vector<double>& from_mean, const std::vector<double>& from_var,
                       const std::vector<double>& to_mean, const std::vector<double>& to_var) {
  constexpr double floor = 1e-8;  // the normaliser's variance floor
  std::vector<double> p = to_vector(params_);
  for (const Mlp* net : {r.policy ? &policy_.mean_net() : nullptr, r.value ? static_cast<const Mlp*>(&value_) : nullptr}) {
    if (net == nullptr) continue;
    const DenseLayer& l = net->layers().front();
    for (int j : r.columns) {
      const auto f = static_cast<std::size_t>(j);
      const double s_from = std::sqrt(from_var[f] + floor), s_to = std::sqrt(to_var[f] + floor);
      for (int i = 0; i < l.out; ++i) {
        double& w = p[static_cast<std::size_t>(l.weight_offset + static_cast<std::int64_t>(j) * l.out + i)];
        p[static_cast<std::size_t>(l.bias_offset + i)] += w * (to_mean[f] - from_mean[f]) / s_from;
        w *= s_to / s_from;
      }
    }
  }
  set_parameters(p);
}

void PpoLearner::reserve_segments(int segments) {
  if (segments <= static_cast<int>(partial_.extent(0))) return;
  partial_ = View<Real**>("learning::gradient_partial", std::max(segments, 2 * static_cast<int>(partial_.extent(0))),
                          n_params_ + stat_count);
}

void PpoLearner::reserve(int rows) {
  if (rows <= capacity_) return;
  capacity_ = std::max(rows, 2 * capacity_);
  policy_work_ = policy_.mean_net().make_work<NetReal>(capacity_);
  value_work_ = value_.make_work<NetReal>(capacity_);
  norm_obs_ = View<NetReal**>("learning::normalized_obs", capacity_, cfg_.obs_dim);
  d_mean_ = View<NetReal**>("learning::d_mean", capacity_, cfg_.act_dim);
  d_log_std_ = View<Real**>("learning::d_log_std", capacity_, cfg_.act_dim);
  d_value_ = View<NetReal**>("learning::d_value", capacity_, 1);
  stats_ = View<Real**>("learning::sample_stats", capacity_, static_cast<int>(stat_count));
  scratch_log_prob_ = View<Real*>("learning::scratch_log_prob", capacity_);
  step_actions_ = View<Real**>("learning::step_actions", capacity_, cfg_.act_dim);
  step_value_ = View<Real*>("learning::step_value", capacity_);
}

void PpoLearner::normalize(View<const Real**> raw, int rows, View<NetReal**> out) const {
  if (cfg_.normalize_observations) {
    normalizer_.normalize(raw, rows, out);
  } else {
    const int dim = cfg_.obs_dim;
    Kokkos::parallel_for(
        "learning::copy_obs", Kokkos::RangePolicy<ExecSpace>(0, rows), KOKKOS_LAMBDA(const int r) {
          for (int f = 0; f < dim; ++f) out(r, f) = static_cast<NetReal>(raw(r, f));
        });
  }
}

void PpoLearner::act(View<const Real**> raw_obs, View<const std::int64_t*> gid, int rows, std::uint64_t step,
                     bool explore, View<Real**> actions, View<Real*> log_prob, View<Real*> value) {
  reserve(rows);
  normalize(raw_obs, rows, norm_obs_);
  if (explore && cfg_.normalize_observations) normalizer_.observe(raw_obs, rows);
  policy_.act(params_, net_params_, norm_obs_, rows, gid, step, cfg_.seed, !explore, policy_work_, actions, log_prob);
  value_.forward<NetReal>(net_params_, norm_obs_, rows, value_work_);
  const auto v = value_work_.output();
  Kokkos::parallel_for(
      "learning::copy_value", Kokkos::RangePolicy<ExecSpace>(0, rows), KOKKOS_LAMBDA(const int r) { value(r) = v(r, 0); });
}

void PpoLearner::act(View<const Real**> raw_obs, std::uint64_t step, int t, Rollout& rollout) {
  const int n = rollout.robots, first = t * n;
  reserve(n);
  const auto actions = step_actions_;
  const auto value = step_value_;
  act(raw_obs, rollout.gid, n, step, true, actions, scratch_log_prob_, value);
  const auto obs = norm_obs_;
  const auto lp = scratch_log_prob_;
  const auto r_obs = rollout.obs;
  const auto r_act = rollout.actions;
  const auto r_lp = rollout.log_prob, r_v = rollout.value;
  const int obs_dim = cfg_.obs_dim, act_dim = cfg_.act_dim;
  Kokkos::parallel_for(
      "learning::store_step", Kokkos::RangePolicy<ExecSpace>(0, n), KOKKOS_LAMBDA(const int r) {
        for (int f = 0; f < obs_dim; ++f) r_obs(first + r, f) = obs(r, f);
        for (int k = 0; k < act_dim; ++k) r_act(first + r, k) = actions(r, k);
        r_lp(first + r) = lp(r);
        r_v(first + r) = value(r);
      });
}

void PpoLearner::value_of(View<const Real**> raw_obs, int rows, View<Real*> value) {
  reserve(rows);
  normalize(raw_obs, rows, norm_obs_);
  value_.forward<NetReal>(net_params_, norm_obs_, rows, value_work_);
  const auto v = value_work_.output();
  Kokkos::parallel_for(
      "learning::copy_value", Kokkos::RangePolicy<ExecSpace>(0, rows), KOKKOS_LAMBDA(const int r) { value(r) = v(r, 0); });
}

// sum x_i^2 in a fixed order: eight interleaved partial sums (x_i into lane i mod 8, i
// ascending), then added pairwise. The same figure on every rank, which all hold the same
// gradient; vectorised (one chain of dependent adds over every parameter was 2% of a reach
// training run).
double sum_of_squares(const std::vector<double>& x) {
  constexpr std::size_t lanes = 8;
  double lane[lanes] = {};
  std::size_t i = 0;
  for (; i + lanes <= x.size(); i += lanes)
    for (std::size_t l = 0; l < lanes; ++l) lane[l] += x[i + l] * x[i + l];
  for (; i < x.size(); ++i) lane[i % lanes] += x[i] * x[i];
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

double scheduled_learning_rate(const LearnerConfig& cfg, std::int64_t updates) {
  if (!cfg.anneal_learning_rate) return cfg.learning_rate;
  const double frac = 1.0 - static_cast<double>(updates) / static_cast<double>(cfg.total_updates);
  return cfg.learning_rate * std::max(frac, 0.0);
}

double PpoLearner::learning_rate() const { return scheduled_learning_rate(cfg_, updates_); }

PpoGradient PpoLearner::loss_gradient(const PpoBatch& batch) {
  const int rows = batch.rows;
  reserve(rows);
  reserve_segments(batch.segments.count);
  const Mlp& mean_net = policy_.mean_net();
  mean_net.forward<NetReal>(net_params_, batch.obs, rows, policy_work_);
  value_.forward<NetReal>(net_params_, batch.obs, rows, value_work_);

  PpoSamples samples;
  samples.rows = rows;
  samples.mean = policy_work_.output();
  samples.value = value_work_.output();
  samples.actions = batch.actions;
  samples.old_log_prob = batch.old_log_prob;
  samples.advantage = batch.advantage;
  samples.returns = batch.returns;
  samples.old_value = batch.old_value;
  const PpoSampleGradients out{d_mean_, d_log_std_, d_value_, stats_};
  const double weight = 1.0 / static_cast<double>(std::max<std::int64_t>(batch.global_rows, 1));
  ppo_loss_terms(cfg_.loss, samples, params_, policy_.log_std_offset(), cfg_.act_dim, weight, out);

  // Every column of partial_ is written for each segment: the mean net's parameters, the
  // log-stds, the value net's parameters, the statistics.
  mean_net.backward<NetReal>(net_params_, batch.obs, rows, d_mean_, batch.segments, policy_work_, partial_);
  segment_column_sums(d_log_std_, cfg_.act_dim, batch.segments, partial_, policy_.log_std_offset());
  value_.backward<NetReal>(net_params_, batch.obs, rows, d_value_, batch.segments, value_work_, partial_);
  segment_column_sums(stats_, stat_count, batch.segments, partial_, n_params_);

  std::vector<double> all = fixed_sum_.sum(*collective_, partial_, batch.segments.count,
                                           static_cast<int>(n_params_) + stat_count, batch.global_rows);
  PpoGradient g;
  g.policy_loss = all[n_params_ + stat_policy_loss];
  g.value_loss = all[n_params_ + stat_value_loss];
  g.approx_kl = all[n_params_ + stat_approx_kl];
  g.clip_fraction = all[n_params_ + stat_clipped];
  all.resize(n_params_);
  // The entropy is state-independent: H = sum_k (log_std_k + const), dH/dlog_std_k = 1.
  const auto ls = to_vector(Kokkos::subview(params_, Kokkos::make_pair(policy_.log_std_offset(), policy_.end_offset())));
  g.entropy = GaussianPolicy::entropy(ls);
  for (int k = 0; k < cfg_.act_dim; ++k) all[policy_.log_std_offset() + k] -= cfg_.entropy_coef;
  g.loss = g.policy_loss + cfg_.loss.value_coef * g.value_loss - cfg_.entropy_coef * g.entropy;
  g.gradient = std::move(all);
  return g;
}

void PpoLearner::check_blocks_whole(HostView<const std::int64_t*> block_of, int robots) const {
  // Each rank's [lowest, highest] block; blocks of two ranks may not overlap, or a segment
  // would be split and the sums would depend on the rank count. Agreed on every rank.
  std::vector<std::int64_t> range{std::numeric_limits<std::int64_t>::max(), -1};  // empty on a rank without robots
  for (int r = 0; r < robots; ++r) {
    const std::int64_t block = block_of(r);
    range[0] = std::min(range[0], block);
    range[1] = std::max(range[1], block);
  }
  const std::vector<std::int64_t> all = comm::all_gather(*collective_, range);
  bool split = false;
  for (std::size_t a = 0; a + 1 < all.size(); a += 2)
    for (std::size_t b = a + 2; b + 1 < all.size(); b += 2)
      if (all[a] <= all[b + 1] && all[b] <= all[a + 1]) split = true;
  if (split)
    throw std::invalid_argument("learning::PpoLearner: a block of robots_per_block robots spans two ranks");
}

PpoStats PpoLearner::update(const Rollout& ro) {
  const int horizon = ro.horizon, robots = ro.robots, n = horizon * robots;
  const int obs_dim = cfg_.obs_dim, act_dim = cfg_.act_dim;
  reserve(std::max(n, 1));

  // Bootstrap values, with the statistics the rollout was normalised with.
  View<Real*> last_value("learning::last_value", robots);
  if (robots > 0) value_of(ro.last_obs, robots, last_value);
  View<Real*> truncation_value("learning::truncation_value", n);
  {
    auto flags = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ro.truncated);
    std::vector<int> rows;
    for (int s = 0; s < n; ++s)
      if (flags(s) != 0) rows.push_back(s);
    if (!rows.empty()) {
      const int k = static_cast<int>(rows.size());
      const auto idx = to_view(rows, "learning::indices");
      View<Real**> final_obs("learning::final_obs", k, obs_dim);
      View<Real*> values("learning::final_values", k);
      gather_rows<Real>(ro.final_obs, idx, k, obs_dim, final_obs);
      value_of(final_obs, k, values);
      Kokkos::parallel_for(
          "learning::scatter_truncation_value", Kokkos::RangePolicy<ExecSpace>(0, k),
          KOKKOS_LAMBDA(const int i) { truncation_value(idx(i)) = values(i); });
    }
  }

  PpoStats stats;
  const comm::Traffic before = collective_->traffic();
  View<Real*> advantage("learning::advantage", n), returns("learning::returns", n);
  compute_gae(GaeInputs{horizon, robots, ro.reward, ro.value, ro.terminated, ro.truncated, truncation_value, last_value},
              cfg_.gamma, cfg_.gae_lambda, advantage, returns);

  // The rows that hold data (all of them unless the rollout gives lengths).
  std::vector<std::uint8_t> valid(static_cast<std::size_t>(n), 1);
  if (ro.length.extent(0) > 0) {
    const auto length = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ro.length);
    for (int s = 0; s < n; ++s) valid[static_cast<std::size_t>(s)] = s / robots < length(s % robots) ? 1 : 0;
    const auto mask = to_view(std::vector<int>(valid.begin(), valid.end()), "learning::valid");
    Kokkos::parallel_for(
        "learning::mask_advantage", Kokkos::RangePolicy<ExecSpace>(0, n), KOKKOS_LAMBDA(const int s) {
          if (mask(s) == 0) advantage(s) = returns(s) = 0;
        });
  }
  const auto n_valid = static_cast<std::int64_t>(std::count(valid.begin(), valid.end(), std::uint8_t{1}));
  const std::int64_t n_global = comm::sum(*collective_, n_valid);
  if (cfg_.normalize_advantages && n_global > 1) {
    std::vector<ExactSum> sum{exact_total(advantage, n)};
    comm::sum_exact(*collective_, sum);
    const double mean = sum[0].to_double() / static_cast<double>(n_global);
    View<Real*> squares("learning::advantage_squares", n);
    const auto mask = to_view(std::vector<int>(valid.begin(), valid.end()), "learning::valid");
    Kokkos::parallel_for(
        "learning::advantage_squares", Kokkos::RangePolicy<ExecSpace>(0, n), KOKKOS_LAMBDA(const int s) {
          squares(s) = mask(s) != 0 ? (advantage(s) - mean) * (advantage(s) - mean) : 0;
        });
    std::vector<ExactSum> sq{exact_total(squares, n)};
    comm::sum_exact(*collective_, sq);
    const double std_dev = std::sqrt(sq[0].to_double() / static_cast<double>(n_global - 1));
    const double scale = 1.0 / (std_dev + 1e-8);
    Kokkos::parallel_for(
        "learning::normalize_advantage", Kokkos::RangePolicy<ExecSpace>(0, n),
        KOKKOS_LAMBDA(const int s) { advantage(s) = (advantage(s) - mean) * scale; });
  }

  const auto gid = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ro.gid);
  HostView<std::int64_t*> block("learning::block", robots);
  if (ro.block.extent(0) > 0) {
    Kokkos::deep_copy(block, Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ro.block));
  } else {
    for (int r = 0; r < robots; ++r) block(r) = gid(r) / cfg_.robots_per_block;
  }
  check_blocks_whole(block, robots);  // collective: every rank, also one without robots
  const double lr = learning_rate();
  const int n_mb = cfg_.minibatches;
  stats.learning_rate = lr;
  PpoBatch batch;
  batch.obs = View<NetReal**>("learning::mb_obs", std::max(n, 1), obs_dim);
  batch.actions = View<Real**>("learning::mb_actions", std::max(n, 1), act_dim);
  batch.old_log_prob = View<Real*>("learning::mb_log_prob", std::max(n, 1));
  batch.advantage = View<Real*>("learning::mb_advantage", std::max(n, 1));
  batch.returns = View<Real*>("learning::mb_returns", std::max(n, 1));
  batch.old_value = View<Real*>("learning::mb_value", std::max(n, 1));

  // A minibatch's rows are ordered by (block, t, gid): each block is one segment, in a fixed
  // order. The robots in (block, gid) order, once per update, and where each block starts.
  std::vector<int> by_block(static_cast<std::size_t>(robots));
  std::iota(by_block.begin(), by_block.end(), 0);
  std::sort(by_block.begin(), by_block.end(),
            [&](int a, int b) { return std::make_tuple(block(a), gid(a), a) < std::make_tuple(block(b), gid(b), b); });
  std::vector<std::size_t> block_start;
  for (std::size_t i = 0; i < by_block.size(); ++i)
    if (i == 0 || block(by_block[i]) != block(by_block[i - 1])) block_start.push_back(i);
  block_start.push_back(by_block.size());
  std::vector<std::int64_t> block_gid(by_block.size());  // gid of the robots in that order
  for (std::size_t i = 0; i < by_block.size(); ++i) block_gid[i] = gid(by_block[i]);
  std::vector<int> block_minibatch(by_block.size());  // a block's minibatches at one t

  // An epoch's rows (n at most) and its minibatches' segment offsets (each minibatch's
  // leading 0, then the end of each of its non-empty segments: at most one per block and row),
  // and their host copies.
  const std::size_t blocks = block_start.size() - 1;
  const std::size_t offsets = static_cast<std::size_t>(n_mb) + std::min(static_cast<std::size_t>(n_mb) * blocks,
                                                                         static_cast<std::size_t>(n));
  View<int*> epoch_rows(Kokkos::view_alloc(Kokkos::WithoutInitializing, "learning::epoch_rows"), std::max(n, 1));
  View<int*> epoch_offsets(Kokkos::view_alloc(Kokkos::WithoutInitializing, "learning::epoch_offsets"), offsets);
  const auto rows_host = Kokkos::create_mirror_view(epoch_rows);  // the same Views on host backends
  const auto offsets_host = Kokkos::create_mirror_view(epoch_offsets);

  for (int epoch = 0; epoch < cfg_.epochs; ++epoch) {
    // Minibatch of global sample (gid, t): a pure function of the seed, the update, the
    // epoch and the sample, so every rank agrees without communication.
    const std::uint64_t round = static_cast<std::uint64_t>(updates_) * cfg_.epochs + epoch;
    std::vector<std::vector<int>> mb_rows(n_mb), mb_offsets(n_mb, std::vector<int>{0});
    for (std::size_t blk = 0; blk + 1 < block_start.size(); ++blk) {
      const std::size_t first = block_start[blk], count = block_start[blk + 1] - first;
      for (int t = 0; t < horizon; ++t) {
        const std::uint64_t counter = round * static_cast<std::uint64_t>(horizon) + static_cast<std::uint64_t>(t);
        // The block's draws first, in a loop of their own that the compiler vectorises (the
        // Philox rounds were 2% of a training run one sample at a time), then the rows.
        for (std::size_t i = 0; i < count; ++i) {
          const double u = rng::uniform0(rng::draw(cfg_.seed, rng::Stream::minibatch_shuffle,
                                                   static_cast<std::uint64_t>(block_gid[first + i]), counter));
          const int m = static_cast<int>(u * n_mb);
          block_minibatch[i] = m < n_mb - 1 ? m : n_mb - 1;
        }
        for (std::size_t i = 0; i < count; ++i) {
          const int s = t * robots + by_block[first + i];
          if (valid[static_cast<std::size_t>(s)] != 0) mb_rows[block_minibatch[i]].push_back(s);
        }
      }
      for (int b = 0; b < n_mb; ++b) {
        const int size = static_cast<int>(mb_rows[b].size());
        if (size > mb_offsets[b].back()) mb_offsets[b].push_back(size);  // the block's segment
      }
    }
    std::vector<std::int64_t> global_size(n_mb);
    for (int b = 0; b < n_mb; ++b) global_size[b] = static_cast<std::int64_t>(mb_rows[b].size());
    collective_->sum(global_size);

    // The epoch's rows and segment offsets, minibatch after minibatch, reach the kernels'
    // memory in one copy each, not in a View allocated per minibatch.
    std::vector<int> first_row{0}, first_offset{0};
    for (int b = 0; b < n_mb; ++b) {
      first_row.push_back(first_row.back() + static_cast<int>(mb_rows[b].size()));
      first_offset.push_back(first_offset.back() + static_cast<int>(mb_offsets[b].size()));
    }
    for (int b = 0; b < n_mb; ++b) {
      std::copy(mb_rows[b].begin(), mb_rows[b].end(), rows_host.data() + first_row[b]);
      std::copy(mb_offsets[b].begin(), mb_offsets[b].end(), offsets_host.data() + first_offset[b]);
    }
    const auto used_rows = Kokkos::make_pair(0, first_row.back());
    const auto used_offsets = Kokkos::make_pair(0, first_offset.back());
    Kokkos::deep_copy(Kokkos::subview(epoch_rows, used_rows), Kokkos::subview(rows_host, used_rows));
    Kokkos::deep_copy(Kokkos::subview(epoch_offsets, used_offsets), Kokkos::subview(offsets_host, used_offsets));

    for (int b = 0; b < n_mb; ++b) {
      if (global_size[b] == 0) continue;  // the same decision on every rank
      const int k = static_cast<int>(mb_rows[b].size());
      gather_minibatch(Kokkos::subview(epoch_rows, Kokkos::make_pair(first_row[b], first_row[b + 1])), k, obs_dim,
                       act_dim, ro, advantage, returns, batch);
      batch.rows = k;
      batch.segments.begin = Kokkos::subview(epoch_offsets, Kokkos::make_pair(first_offset[b], first_offset[b + 1]));
      batch.segments.count = static_cast<int>(mb_offsets[b].size()) - 1;
      batch.global_rows = global_size[b];

      PpoGradient g = loss_gradient(batch);
      const double norm = std::sqrt(sum_of_squares(g.gradient));
      // The same figures on every rank, so every rank stops here together, before a
      // non-finite step reaches the parameters. The loss is checked too: a NaN advantage or
      // value fails the clip comparisons and leaves a zero, finite gradient behind.
      if (!std::isfinite(norm) || !std::isfinite(g.loss))
        throw Error("learning: the loss or its gradient is not finite at update " + std::to_string(updates_ + 1) +
                    ", epoch " + std::to_string(epoch + 1) + ", minibatch " + std::to_string(b + 1) +
                    " (a non-finite reward, observation or loss); the parameters were left unchanged. Restart "
                    "from the last checkpoint with a lower ppo.learning_rate or ppo.max_grad_norm, or check the "
                    "skill's rewards");
      if (cfg_.max_grad_norm > 0 && norm > cfg_.max_grad_norm) {
        const double c = cfg_.max_grad_norm / (norm + 1e-6);
        for (double& x : g.gradient) x *= c;
      }
      from_vector(g.gradient, grad_);
      adam_.step(params_, grad_, lr);
      refresh_net_parameters();

      stats.policy_loss += g.policy_loss;
      stats.value_loss += g.value_loss;
      stats.approx_kl += g.approx_kl;
      stats.clip_fraction += g.clip_fraction;
      stats.entropy += g.entropy;
      stats.grad_norm += norm;
      ++stats.minibatches;
    }
  }
  if (stats.minibatches > 0) {
    const double c = 1.0 / static_cast<double>(stats.minibatches);
    stats.policy_loss *= c;
    stats.value_loss *= c;
    stats.approx_kl *= c;
    stats.clip_fraction *= c;
    stats.entropy *= c;
    stats.grad_norm *= c;
  }
  if (cfg_.normalize_observations && pending_refit_.columns.empty()) {
    normalizer_.commit(*collective_);
  } else if (cfg_.normalize_observations) {  // the first commit after a transfer
    const std::vector<double> mean = normalizer_.mean(), var = normalizer_.variance();
    normalizer_.commit(*collective_);
    refit(pending_refit_, mean, var, normalizer_.mean(), normalizer_.variance());
    pending_refit_ = InputRefit{};
  }
  stats.communication_s = collective_->traffic().seconds - before.seconds;
  stats.bytes_sent = collective_->traffic().bytes_sent - before.bytes_sent;
  ++updates_;
  return stats;
}

LearnerState PpoLearner::state() const {
  LearnerState s;
  s.parameters = to_vector(params_);
  s.adam_m = to_vector(adam_.first_moment());
  s.adam_v = to_vector(adam_.second_moment());
  s.adam_steps = adam_.steps();
  s.updates = updates_;
  s.normalizer = normalizer_.state();
  return s;
}

namespace {

// "" if every value is finite (and >= 0 when `non_negative`), else what is wrong with `name`.
std::string values_problem(const std::vector<double>& values, const char* name, bool non_negative = false) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i]) || (non_negative && values[i] < 0.0))
      return std::string(name) + " " + std::to_string(i) + " is " + std::to_string(values[i]);
  }
  return std::string();
}

}  // namespace

std::string PpoLearner::restore_problem(const LearnerState& s) const {
  const auto n = static_cast<std::size_t>(n_params_);
  if (s.parameters.size() != n || s.adam_m.size() != n || s.adam_v.size() != n)
    return "the learner state holds " + std::to_string(s.parameters.size()) + " parameters and " +
           std::to_string(s.adam_m.size()) + "/" + std::to_string(s.adam_v.size()) +
           " Adam moments, the networks have " + std::to_string(n);
  constexpr std::int64_t most_counted = std::int64_t{1} << 53;  // incremented: far from the int64 limit
  if (s.adam_steps < 0 || s.updates < 0 || s.adam_steps > most_counted || s.updates > most_counted)
    return "the learner's counters are out of range";
  for (const std::string& p : {values_problem(s.parameters, "parameter"), values_problem(s.adam_m, "Adam first moment"),
                               values_problem(s.adam_v, "Adam second moment", true),
                               normalizer_.state_problem(s.normalizer)})
    if (!p.empty()) return p;
  return std::string();
}

void PpoLearner::restore(const LearnerState& s) {
  const std::string problem = restore_problem(s);
  if (!problem.empty()) throw Error("learner state: " + problem, ExitCode::bad_checkpoint);
  from_vector(s.parameters, params_);
  from_vector(s.adam_m, adam_.first_moment());
  from_vector(s.adam_v, adam_.second_moment());
  adam_.set_steps(s.adam_steps);
  updates_ = s.updates;
  normalizer_.restore(s.normalizer);
  refresh_net_parameters();
}

PolicyExport PpoLearner::export_policy() const {
  PolicyExport p;
  p.widths = policy_.mean_net().widths();
  const auto all = to_vector(params_);
  p.parameters.assign(all.begin() + policy_.base_offset(), all.begin() + policy_.end_offset());
  p.value_widths = value_.widths();
  p.value_parameters.assign(all.begin() + value_.base_offset(), all.begin() + value_.end_offset());
  p.normalizer = normalizer_.state();
  p.normalize_observations = cfg_.normalize_observations;
  p.observation_clip = cfg_.observation_clip;
  return p;
}

std::string PpoLearner::import_problem(const PolicyExport& p) const {
  const auto widths_text = [](const std::vector<int>& w) {
    std::string t;
    for (int x : w) t += (t.empty() ? "" : "-") + std::to_string(x);
    return t;
  };
  if (p.widths != policy_.mean_net().widths())
    return "the policy's layers are " + widths_text(p.widths) + ", this run's policy network is " +
           widths_text(policy_.mean_net().widths()) + " (observations-hidden-actions)";
  if (p.parameters.size() != static_cast<std::size_t>(policy_.parameter_count()))
    return "the policy holds " + std::to_string(p.parameters.size()) + " parameters, its layers need " +
           std::to_string(policy_.parameter_count());
  const std::string values = values_problem(p.parameters, "parameter");
  if (!values.empty()) return values;
  return normalizer_.state_problem(p.normalizer);
}

void PpoLearner::import_policy(const PolicyExport& p) {
  const std::string problem = import_problem(p);
  if (!problem.empty()) throw Error(problem, ExitCode::bad_input);
  from_vector(p.parameters, params_, policy_.base_offset());
  normalizer_.restore(p.normalizer);
  refresh_net_parameters();
}

}  // namespace kollektiv::learning
