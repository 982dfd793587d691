// GaussianPolicy: a diagonal Gaussian over actions whose mean is an Mlp of the (normalised)
// observation and whose log standard deviations are state-independent parameters stored
// right after the mean network in the same flat array. Action noise is keyed by
// (seed, policy_noise, robot global id, step * act_dim + k), never by rank.
#pragma once

#include <cstdint>
#include <vector>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/core/math.hpp"
#include "solvers/learning/mlp.hpp"

namespace kollektiv::learning {

inline constexpr double half_log_two_pi = 0.91893853320467274178;  // log(2 pi) / 2

// log N(a; mu, exp(log_std)^2) for one action dimension; the first form takes
// inv_std = exp(-log_std), which kernels over many samples compute once per dimension.
KOKKOS_INLINE_FUNCTION double gaussian_log_prob(double a, double mu, double log_std, double inv_std) {
  const double z = (a - mu) * inv_std;
  return -0.5 * z * z - log_std - half_log_two_pi;
}
KOKKOS_INLINE_FUNCTION double gaussian_log_prob(double a, double mu, double log_std) {
  return gaussian_log_prob(a, mu, log_std, math::exp(-log_std));
}

// Its derivatives with respect to mu and log_std, given inv_std = exp(-log_std).
KOKKOS_INLINE_FUNCTION void gaussian_log_prob_grad_inv_std(double a, double mu, double inv_std, double& d_mu,
                                                           double& d_log_std) {
  const double z = (a - mu) * inv_std;
  d_mu = z * inv_std;
  d_log_std = z * z - 1;
}

// The standard deviations of the act_dim log-stds at params(log_std_offset + k):
// scale(k, 0) = exp(log_std_k), scale(k, 1) = exp(-log_std_k), once per dimension for kernels
// over many samples (sampling, the PPO loss).
View<Real**> gaussian_scales(View<const Real*> params, std::int64_t log_std_offset, int act_dim);

// Differential entropy of one dimension; d/dlog_std = 1.
KOKKOS_INLINE_FUNCTION double gaussian_entropy(double log_std) { return 0.5 + half_log_two_pi + log_std; }

class GaussianPolicy {
 public:
  GaussianPolicy() = default;
  // Mean network obs_dim -> hidden... -> act_dim, then act_dim log-stds; from base_offset.
  GaussianPolicy(int obs_dim, const std::vector<int>& hidden, int act_dim, std::int64_t base_offset);

  const Mlp& mean_net() const { return mean_; }
  int obs_dim() const { return mean_.input_dim(); }
  int act_dim() const { return mean_.output_dim(); }
  std::int64_t log_std_offset() const { return mean_.end_offset(); }
  std::int64_t base_offset() const { return mean_.base_offset(); }
  std::int64_t end_offset() const { return log_std_offset() + act_dim(); }
  std::int64_t parameter_count() const { return end_offset() - base_offset(); }

  // Mean weights with output gain 0.01 (near-zero initial actions), log-stds = init_log_std.
  void initialize(View<Real*> params, std::uint64_t seed, double init_log_std) const;

  // For rows r < rows of normalised obs: actions a = mean + exp(log_std) * noise (noise = 0
  // when deterministic) and their log-probabilities under the policy. The mean network runs
  // on net_params (the NetReal copy of params); log-stds and sampling use params.
  void act(View<const Real*> params, View<const NetReal*> net_params, View<const NetReal**> obs, int rows,
           View<const std::int64_t*> gid, std::uint64_t step, std::uint64_t seed, bool deterministic,
           MlpWork<NetReal>& work, View<Real**> actions, View<Real*> log_prob) const;

  // Summed entropy over the action dimensions (state-independent), from host log-stds.
  static double entropy(const std::vector<double>& log_std);

 private:
  Mlp mean_;
};

}  // namespace kollektiv::learning
