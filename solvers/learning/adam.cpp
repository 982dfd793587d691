// Adam step kernel; bias corrections computed once on the host.
#include "solvers/learning/adam.hpp"

#include <cmath>

#include "solvers/core/math.hpp"

namespace kollektiv::learning {

Adam::Adam(std::int64_t size, const AdamConfig& cfg)
    : cfg_(cfg), m_("learning::adam_m", size), v_("learning::adam_v", size) {}

void Adam::step(View<Real*> params, View<const Real*> grad, double learning_rate) {
  ++steps_;
  const double b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.epsilon;
  const double inv_correction1 = 1 / (1 - std::pow(b1, static_cast<double>(steps_)));
  const double inv_correction2 = 1 / (1 - std::pow(b2, static_cast<double>(steps_)));
  const auto m = m_, v = v_;
  // A 64-bit index, the policy's own: with an int the host compilers kept the step scalar.
  Kokkos::parallel_for(
      "learning::adam", Kokkos::RangePolicy<ExecSpace>(0, params.extent(0)), KOKKOS_LAMBDA(const std::int64_t i) {
        const double g = grad(i);
        m(i) = b1 * m(i) + (1 - b1) * g;
        v(i) = b2 * v(i) + (1 - b2) * g * g;
        const double m_hat = m(i) * inv_correction1, v_hat = v(i) * inv_correction2;
        params(i) -= learning_rate * m_hat / (math::sqrt(v_hat) + eps);
      });
}

}  // namespace kollektiv::learning
