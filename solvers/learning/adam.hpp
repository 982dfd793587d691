// Adam (Kingma & Ba) with bias correction over the flat parameter array:
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,  t = t + 1
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
#pragma once

#include <cstdint>

#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::learning {

struct AdamConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-5;
};

class Adam {
 public:
  Adam() = default;
  Adam(std::int64_t size, const AdamConfig& cfg);

  void step(View<Real*> params, View<const Real*> grad, double learning_rate);

  std::int64_t steps() const { return steps_; }
  View<Real*> first_moment() const { return m_; }
  View<Real*> second_moment() const { return v_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }

 private:
  AdamConfig cfg_;
  View<Real*> m_, v_;
  std::int64_t steps_ = 0;
};

}  // namespace kollektiv::learning
