// Student t quantiles against published table values, and the replication interval.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "solvers/core/statistics.hpp"

namespace kollektiv {
namespace {

TEST(Statistics, StudentTQuantilesMatchTables) {
  // Two-sided 95% and 99% critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
  EXPECT_NEAR(stats::student_t_quantile(0.975, 1), 12.706, 5e-4);
  EXPECT_NEAR(stats::student_t_quantile(0.975, 2), 4.303, 5e-4);
  EXPECT_NEAR(stats::student_t_quantile(0.975, 9), 2.262, 5e-4);
  EXPECT_NEAR(stats::student_t_quantile(0.975, 29), 2.045, 5e-4);
  EXPECT_NEAR(stats::student_t_quantile(0.995, 30), 2.750, 5e-4);
  EXPECT_NEAR(stats::student_t_quantile(0.975, 1e7), 1.959964, 1e-5);  // the normal limit
  EXPECT_NEAR(stats::student_t_quantile(0.025, 9), -2.262, 5e-4);
  EXPECT_DOUBLE_EQ(stats::student_t_quantile(0.5, 4), 0.0);
  EXPECT_TRUE(std::isnan(stats::student_t_quantile(1.0, 4)));
}

TEST(Statistics, CdfIsTheQuantilesInverse) {
  for (double dof : {1.0, 3.0, 17.0, 200.0})
    for (double p : {0.6, 0.9, 0.975, 0.999}) EXPECT_NEAR(stats::student_t_cdf(stats::student_t_quantile(p, dof), dof), p, 1e-12);
  EXPECT_NEAR(stats::incomplete_beta(2, 3, 0.4), 0.5248, 1e-12);  // 1 - sum_{k<2} C(4,k) .4^k .6^(4-k)
}

TEST(Statistics, ConfidenceIntervalOfReplications) {
  const std::vector<double> v{1, 2, 3, 4, 5, std::nan("")};
  const stats::Interval i = stats::confidence_interval(v, 0.95);
  EXPECT_EQ(i.n, 5);
  EXPECT_DOUBLE_EQ(i.mean, 3.0);
  EXPECT_NEAR(i.std_dev, std::sqrt(2.5), 1e-15);
  EXPECT_NEAR(i.half_width, 2.776445 * std::sqrt(2.5) / std::sqrt(5.0), 1e-6);
  EXPECT_TRUE(std::isnan(stats::confidence_interval({1.0}, 0.95).half_width));
}

}  // namespace
}  // namespace kollektiv
