// Gaussian policy: sampling with counter-based noise, log-probabilities, entropy.
#include "solvers/learning/gaussian_policy.hpp"

#include "solvers/core/philox.hpp"

namespace kollektiv::learning {

GaussianPolicy::GaussianPolicy(int obs_dim, const std::vector<int>& hidden, int act_dim, std::int64_t base_offset) {
  std::vector<int> widths{obs_dim};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(act_dim);
  mean_ = Mlp(widths, base_offset);
}

void GaussianPolicy::initialize(View<Real*> params, std::uint64_t seed, double init_log_std) const {
  mean_.initialize(params, seed, 0.01);
  Kokkos::deep_copy(Kokkos::subview(params, Kokkos::make_pair(log_std_offset(), end_offset())), init_log_std);
}

View<Real**> gaussian_scales(View<const Real*> params, std::int64_t log_std_offset, int act_dim) {
  const View<Real**> scale("learning::gaussian_scales", act_dim, 2);
  Kokkos::parallel_for(
      "learning::gaussian_scales", Kokkos::RangePolicy<ExecSpace>(0, act_dim), KOKKOS_LAMBDA(const int k) {
        scale(k, 0) = math::exp(params(log_std_offset + k));
        scale(k, 1) = math::exp(-params(log_std_offset + k));
      });
  return scale;
}

void GaussianPolicy::act(View<const Real*> params, View<const NetReal*> net_params, View<const NetReal**> obs,
                         int rows, View<const std::int64_t*> gid, std::uint64_t step, std::uint64_t seed,
                         bool deterministic, MlpWork<NetReal>& work, View<Real**> actions,
                         View<Real*> log_prob) const {
  mean_.forward(net_params, obs, rows, work);
  const auto mean = work.output();
  const int k_dim = act_dim();
  const std::int64_t ls = log_std_offset();
  const View<Real**> scale = gaussian_scales(params, ls, k_dim);
  Kokkos::parallel_for(
      "learning::policy_sample", Kokkos::RangePolicy<ExecSpace>(0, rows), KOKKOS_LAMBDA(const int r) {
        double lp = 0;
        for (int k = 0; k < k_dim; ++k) {
          const double log_std = params(ls + k);
          double noise = 0;
          if (!deterministic) {
            const std::uint64_t counter = step * static_cast<std::uint64_t>(k_dim) + static_cast<std::uint64_t>(k);
            noise = rng::normal(rng::draw(seed, rng::Stream::policy_noise, static_cast<std::uint64_t>(gid(r)), counter));
          }
          const double a = mean(r, k) + scale(k, 0) * noise;
          actions(r, k) = a;
          lp += gaussian_log_prob(a, mean(r, k), log_std, scale(k, 1));
        }
        log_prob(r) = lp;
      });
}

double GaussianPolicy::entropy(const std::vector<double>& log_std) {
  double h = 0;
  for (double s : log_std) h += gaussian_entropy(s);
  return h;
}

}  // namespace kollektiv::learning
