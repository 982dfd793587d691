// Per-sample PPO loss terms and their gradients, in double from the networks' outputs (the loss is the sum over a minibatch of
// these terms; weight = 1 / global minibatch size turns the sum into the mean):
//   ratio  = exp(logp - logp_old)
//   policy = -min(ratio A, clip(ratio, 1 - clip, 1 + clip) A)
//   value  = 0.5 max((v - R)^2, (v_old + clip(v - v_old, -vclip, vclip) - R)^2)   (vclip > 0)
//            0.5 (v - R)^2                                                       (vclip <= 0)
//   loss   = policy + value_coef * value        (- entropy_coef * H, added by the caller)
// Where a clipped branch is active its gradient is zero, as in autodiff of min/max/clamp.
#pragma once

#include <cstdint>

#include "solvers/core/kokkos_types.hpp"
#include "solvers/learning/mlp.hpp"

namespace kollektiv::learning {

struct PpoLossConfig {
  double clip = 0.2;
  double value_clip = 0.2;
  double value_coef = 0.5;
};

// Columns of the per-sample statistics, each already multiplied by the weight.
enum PpoStat : int { stat_policy_loss = 0, stat_value_loss = 1, stat_approx_kl = 2, stat_clipped = 3, stat_count = 4 };

struct PpoSamples {
  int rows = 0;
  View<const NetReal**> mean;        // policy mean [rows][act]
  View<const NetReal**> value;       // value net output [rows][1]
  View<const Real**> actions;        // [rows][act]
  View<const Real*> old_log_prob;    // [rows]
  View<const Real*> advantage;       // normalised advantages [rows]
  View<const Real*> returns;         // [rows]
  View<const Real*> old_value;       // [rows]
};

struct PpoSampleGradients {
  View<NetReal**> d_mean;  // dLoss/dmean [rows][act], fed to the network's backward pass
  View<Real**> d_log_std;  // per-sample dLoss/dlog_std [rows][act]
  View<NetReal**> d_value; // dLoss/dv [rows][1]
  View<Real**> stats;      // [rows][stat_count]
};

void ppo_loss_terms(const PpoLossConfig& cfg, const PpoSamples& in, View<const Real*> params,
                    std::int64_t log_std_offset, int act_dim, double weight, const PpoSampleGradients& out);

}  // namespace kollektiv::learning
