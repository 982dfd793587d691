// GAE: one thread per robot walks its steps backwards.
#include "solvers/learning/gae.hpp"

namespace kollektiv::learning {

void compute_gae(const GaeInputs& in, double gamma, double lambda, View<Real*> advantage, View<Real*> returns) {
  const int horizon = in.horizon, robots = in.robots;
  const auto reward = in.reward, value = in.value, trunc_value = in.truncation_value, last_value = in.last_value;
  const auto terminated = in.terminated, truncated = in.truncated;
  Kokkos::parallel_for(
      "learning::gae", Kokkos::RangePolicy<ExecSpace>(0, robots), KOKKOS_LAMBDA(const int r) {
        Real next_advantage = 0;
        for (int t = horizon - 1; t >= 0; --t) {
          const int s = t * robots + r;
          const bool ended = terminated(s) != 0 || truncated(s) != 0;
          Real v_next;
          if (terminated(s) != 0) v_next = 0;
          else if (truncated(s) != 0) v_next = trunc_value(s);
          else v_next = t + 1 < horizon ? value(s + robots) : last_value(r);
          const Real delta = reward(s) + gamma * v_next - value(s);
          const Real a = delta + gamma * lambda * (ended ? Real(0) : next_advantage);
          advantage(s) = a;
          returns(s) = a + value(s);
          next_advantage = a;
        }
      });
}

}  // namespace kollektiv::learning
