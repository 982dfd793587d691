// Generalised advantage estimation over a rollout of `horizon` steps of `robots` robots,
// arrays indexed s = t * robots + r. An episode that ends after step t is either
// terminated (no bootstrap) or truncated by a time limit (bootstrap with the value of the
// final observation, truncation_value(s)); a running episode at the rollout end
// bootstraps with last_value(r). Advantages never flow across an episode end:
//   v_next = terminated ? 0 : truncated ? truncation_value(s) : V(s_{t+1})
//   delta  = reward + gamma * v_next - value
//   A_t    = delta + gamma * lambda * (ended ? 0 : A_{t+1}),   returns = A + value.
#pragma once

#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::learning {

struct GaeInputs {
  int horizon = 0;
  int robots = 0;
  View<const Real*> reward;            // [horizon * robots]
  View<const Real*> value;             // V(s_t) recorded when acting
  View<const int*> terminated;         // 1 if the episode ended in a terminal state after t
  View<const int*> truncated;          // 1 if it was cut by a time limit after t
  View<const Real*> truncation_value;  // V(final observation), read where truncated
  View<const Real*> last_value;        // [robots] V of the observation after the last step
};

void compute_gae(const GaeInputs& in, double gamma, double lambda, View<Real*> advantage, View<Real*> returns);

}  // namespace kollektiv::learning
