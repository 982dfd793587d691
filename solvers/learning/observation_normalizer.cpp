// Running observation statistics merged exactly across ranks.
#include "solvers/learning/observation_normalizer.hpp"

#include <cmath>
#include <stdexcept>

#include "solvers/learning/exact_views.hpp"

namespace kollektiv::learning {

namespace {
constexpr double variance_floor = 1e-8;
}

ObservationNormalizer::ObservationNormalizer(int dim, double clip)
    : dim_(dim),
      clip_(clip),
      pending_("learning::normalizer_pending", 2 * dim),
      mean_d_("learning::normalizer_mean", dim),
      inv_std_d_("learning::normalizer_inv_std", dim) {
  state_.mean.assign(dim, 0.0);
  state_.m2.assign(dim, 0.0);
  refresh_device();
}

std::vector<double> ObservationNormalizer::variance() const {
  std::vector<double> var(dim_, 1.0);
  if (state_.count > 0)
    for (int f = 0; f < dim_; ++f) var[f] = state_.m2[f] / state_.count;
  return var;
}

void ObservationNormalizer::observe(View<const Real**> raw, int rows) {
  const auto pending = pending_;
  const auto mean = mean_d_;
  const int dim = dim_;
  Kokkos::parallel_for(
      "learning::normalizer_observe", Kokkos::RangePolicy<ExecSpace>(0, dim), KOKKOS_LAMBDA(const int f) {
        ExactSum s1 = pending(f), s2 = pending(dim + f);
        for (int r = 0; r < rows; ++r) {
          const double d = raw(r, f) - mean(f);
          s1.add(d);
          s2.add(d * d);
        }
        pending(f) = s1;
        pending(dim + f) = s2;
      });
  pending_rows_ += rows;
}

void ObservationNormalizer::commit(comm::Collective& collective) {
  std::vector<double> sums = combine_exact(collective, pending_);
  const double n_b = static_cast<double>(comm::sum(collective, pending_rows_));
  Kokkos::deep_copy(pending_, ExactSum());
  pending_rows_ = 0;
  if (n_b == 0) return;
  const double n_a = state_.count, n = n_a + n_b;
  for (int f = 0; f < dim_; ++f) {
    const double s1 = sums[f], s2 = sums[dim_ + f];
    const double shift = s1 / n_b;              // batch mean minus the old mean
    const double m2_b = s2 - s1 * shift;        // batch sum of squares about its own mean
    state_.mean[f] += s1 / n;
    state_.m2[f] += (m2_b > 0 ? m2_b : 0.0) + shift * shift * n_a * n_b / n;
  }
  state_.count = n;
  refresh_device();
}

template <class T>
void ObservationNormalizer::normalize(View<const Real**> raw, int rows, View<T**> out) const {
  const auto mean = mean_d_, inv_std = inv_std_d_;
  const int dim = dim_;
  const double clip = clip_;
  Kokkos::parallel_for(
      "learning::normalize", Kokkos::RangePolicy<ExecSpace>(0, rows), KOKKOS_LAMBDA(const int r) {
        for (int f = 0; f < dim; ++f) {
          const double z = (raw(r, f) - mean(f)) * inv_std(f);
          out(r, f) = static_cast<T>(z < -clip ? -clip : (z > clip ? clip : z));
        }
      });
}
template void ObservationNormalizer::normalize<float>(View<const Real**>, int, View<float**>) const;
template void ObservationNormalizer::normalize<double>(View<const Real**>, int, View<double**>) const;

std::string ObservationNormalizer::state_problem(const NormalizerState& state) const {
  const auto dim = static_cast<std::size_t>(dim_);
  if (state.mean.size() != dim || state.m2.size() != dim)
    return "the observation normaliser holds " + std::to_string(state.mean.size()) + " means and " +
           std::to_string(state.m2.size()) + " sums of squares, the observation has " + std::to_string(dim_) +
           " features";
  if (!(state.count >= 0.0) || !std::isfinite(state.count)) return "the observation normaliser's count is not a count";
  for (std::size_t f = 0; f < dim; ++f) {
    if (!std::isfinite(state.mean[f]) || !(state.m2[f] >= 0.0) || !std::isfinite(state.m2[f]))
      return "the observation normaliser's statistics of feature " + std::to_string(f) + " are not finite";
  }
  return std::string();
}

void ObservationNormalizer::restore(const NormalizerState& state) {
  const std::string problem = state_problem(state);
  if (!problem.empty()) throw std::invalid_argument("learning::ObservationNormalizer::restore: " + problem);
  state_ = state;
  Kokkos::deep_copy(pending_, ExactSum());
  pending_rows_ = 0;
  refresh_device();
}

void ObservationNormalizer::refresh_device() {
  auto mean = Kokkos::create_mirror_view(mean_d_);
  auto inv_std = Kokkos::create_mirror_view(inv_std_d_);
  const auto var = variance();
  for (int f = 0; f < dim_; ++f) {
    mean(f) = state_.mean[f];
    inv_std(f) = 1.0 / std::sqrt(var[f] + variance_floor);
  }
  Kokkos::deep_copy(mean_d_, mean);
  Kokkos::deep_copy(inv_std_d_, inv_std);
}

}  // namespace kollektiv::learning
