// PPO clipped surrogate and clipped value loss, one thread per sample.
#include "solvers/learning/ppo_loss.hpp"

#include "solvers/learning/gaussian_policy.hpp"

namespace kollektiv::learning {

void ppo_loss_terms(const PpoLossConfig& cfg, const PpoSamples& in, View<const Real*> params,
                    std::int64_t log_std_offset, int act_dim, double weight, const PpoSampleGradients& out) {
  const double clip = cfg.clip, value_clip = cfg.value_clip, value_coef = cfg.value_coef;
  const auto mean = in.mean, value = in.value;
  const auto actions = in.actions;
  const auto old_log_prob = in.old_log_prob, advantage = in.advantage, returns = in.returns,
             old_value = in.old_value;
  const auto d_mean = out.d_mean, d_value = out.d_value;
  const auto d_log_std = out.d_log_std, stats = out.stats;
  const auto scale = gaussian_scales(params, log_std_offset, act_dim);  // (k, 1): exp(-log_std_k)
  Kokkos::parallel_for(
      "learning::ppo_loss", Kokkos::RangePolicy<ExecSpace>(0, in.rows), KOKKOS_LAMBDA(const int r) {
        double log_prob = 0;
        for (int k = 0; k < act_dim; ++k)
          log_prob += gaussian_log_prob(actions(r, k), mean(r, k), params(log_std_offset + k), scale(k, 1));
        const double log_ratio = log_prob - old_log_prob(r);
        const double ratio = math::exp(log_ratio);
        const double a = advantage(r);
        const double clipped_ratio = ratio < 1 - clip ? 1 - clip : (ratio > 1 + clip ? 1 + clip : ratio);
        const double surrogate = ratio * a, clipped_surrogate = clipped_ratio * a;
        const bool unclipped_active = surrogate <= clipped_surrogate;
        const double policy_loss = -(unclipped_active ? surrogate : clipped_surrogate);
        const double d_log_prob = unclipped_active ? -a * ratio : 0.0;  // dpolicy/dlog_prob
        for (int k = 0; k < act_dim; ++k) {
          double g_mu, g_ls;
          gaussian_log_prob_grad_inv_std(actions(r, k), mean(r, k), scale(k, 1), g_mu, g_ls);
          d_mean(r, k) = static_cast<NetReal>(weight * d_log_prob * g_mu);
          d_log_std(r, k) = weight * d_log_prob * g_ls;
        }

        const double v = value(r, 0), target = returns(r);
        const double unclipped_error = (v - target) * (v - target);
        double value_loss, d_v;
        if (value_clip > 0) {
          const double dv = v - old_value(r);
          const double v_clipped = old_value(r) + (dv < -value_clip ? -value_clip : (dv > value_clip ? value_clip : dv));
          const double clipped_error = (v_clipped - target) * (v_clipped - target);
          // When the clipped error wins, v_clipped is constant in v (v - v_old outside the
          // clip range, otherwise the two errors are equal and the first branch is taken).
          value_loss = 0.5 * (unclipped_error >= clipped_error ? unclipped_error : clipped_error);
          d_v = unclipped_error >= clipped_error ? v - target : 0.0;
        } else {
          value_loss = 0.5 * unclipped_error;
          d_v = v - target;
        }
        d_value(r, 0) = static_cast<NetReal>(weight * value_coef * d_v);

        stats(r, stat_policy_loss) = weight * policy_loss;
        stats(r, stat_value_loss) = weight * value_loss;
        stats(r, stat_approx_kl) = weight * ((ratio - 1) - log_ratio);
        stats(r, stat_clipped) = weight * (math::fabs(ratio - 1) > clip ? 1.0 : 0.0);
      });
}

}  // namespace kollektiv::learning
