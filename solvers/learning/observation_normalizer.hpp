// ObservationNormalizer: running per-feature mean and variance of raw observations,
// identical on every rank. During a rollout observe() accumulates, per feature, exact sums
// of (x - mean) and (x - mean)^2 around the committed mean (shifting keeps the variance
// free of cancellation); commit() adds them over the ranks and merges them into the
// running statistics with Chan's parallel formula, so the result depends only on the set
// of observations committed, never on the rank count. Normalised x = clip((x - mean) /
// sqrt(var + 1e-8), -clip, clip).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "solvers/comm/collective.hpp"
#include "solvers/core/exact_sum.hpp"
#include "solvers/core/kokkos_types.hpp"

namespace kollektiv::learning {

struct NormalizerState {
  double count = 0;
  std::vector<double> mean;
  std::vector<double> m2;  // sum of squared deviations from the mean
};

class ObservationNormalizer {
 public:
  ObservationNormalizer() = default;
  ObservationNormalizer(int dim, double clip);

  int dim() const { return dim_; }
  double count() const { return state_.count; }
  std::vector<double> mean() const { return state_.mean; }
  std::vector<double> variance() const;  // population variance; 1 before any data

  // Adds rows [0, rows) of raw ([rows][dim]) to this rank's pending sums.
  void observe(View<const Real**> raw, int rows);
  // Merges every rank's pending sums into the statistics (collective).
  void commit(comm::Collective& collective);
  // out = normalised raw, with the committed statistics (T: float or double).
  template <class T>
  void normalize(View<const Real**> raw, int rows, View<T**> out) const;

  NormalizerState state() const { return state_; }
  // Why `state` cannot be this normaliser's (lengths other than dim(), a negative or
  // non-finite count or m2, a non-finite mean), or "".
  std::string state_problem(const NormalizerState& state) const;
  // Also drops pending sums. std::invalid_argument if state_problem(state) is not "".
  void restore(const NormalizerState& state);

 private:
  void refresh_device();

  int dim_ = 0;
  double clip_ = 10.0;
  NormalizerState state_;
  std::int64_t pending_rows_ = 0;
  View<ExactSum*> pending_;  // [2 * dim]: sum (x - mean), then sum (x - mean)^2
  View<Real*> mean_d_, inv_std_d_;
};

}  // namespace kollektiv::learning
