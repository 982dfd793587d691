// Small statistics for experiment reports: the Student t quantile and a mean with its
// confidence interval over independent replications.
#pragma once

#include <vector>

namespace kollektiv::stats {

// The regularized incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1].
double incomplete_beta(double a, double b, double x);

// P(T <= t) for Student's t with `dof` > 0 degrees of freedom.
double student_t_cdf(double t, double dof);

// The p-quantile of Student's t with `dof` > 0 degrees of freedom, p in (0, 1); to about
// 1e-12 relative (bisection on student_t_cdf).
double student_t_quantile(double p, double dof);

// Mean and the half-width of its two-sided `confidence` interval over `values` (n >= 2
// independent replications): t_{(1 + confidence) / 2, n - 1} × s / sqrt(n), s the sample
// standard deviation. NaN values are left out (n counts the others); fewer than 2 give NaN.
struct Interval {
  double mean = 0, half_width = 0, std_dev = 0;
  long long n = 0;
};
Interval confidence_interval(const std::vector<double>& values, double confidence);

}  // namespace kollektiv::stats
