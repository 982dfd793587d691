// The run loops' schedule: the next report or checkpoint time is always strictly later than
// the current time, on the same grid of multiples whatever time a run restarted from, so a
// loop built on it makes progress in simulated time on every pass (a restart with a shorter
// report interval once computed a report time before the restart time and spun forever).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "app/progress.hpp"

namespace kollektiv::app {
namespace {

TEST(RunSchedule, NextReportIsTheFirstMultipleAfterNow) {
  EXPECT_EQ(next_multiple_after(0.0, 600.0, 28800.0), 600.0);
  EXPECT_EQ(next_multiple_after(599.0, 600.0, 28800.0), 600.0);
  EXPECT_EQ(next_multiple_after(600.0, 600.0, 28800.0), 1200.0);
  EXPECT_EQ(next_multiple_after(28500.0, 600.0, 28800.0), 28800.0);
  EXPECT_EQ(next_multiple_after(28700.0, 7000.0, 28800.0), 28800.0);  // the end comes first
  EXPECT_EQ(next_multiple_after(100.0, 0.0, 28800.0), 28800.0);       // no interval: the end
}

// The case that spun: run to 6000 s with 600 s reports, restart with 300 s reports. The
// next report must be 6300 s, not (rows + 1) · 300 = 3300 s.
TEST(RunSchedule, ARestartWithAShorterIntervalContinuesAfterTheRestartTime) {
  EXPECT_EQ(next_multiple_after(6000.0, 300.0, 28800.0), 6300.0);
  EXPECT_EQ(next_multiple_after(6000.0, 7.0, 28800.0), 6006.0);
}

// Every time a run can be at is followed by a strictly later one, on the grid k · interval
// that an uninterrupted run walks (so a restarted run reports at the same times).
TEST(RunSchedule, AlwaysAdvancesOnTheSameGrid) {
  const std::vector<double> intervals = {0.1, 0.3, 1.0 / 3.0, 7.0, 600.0, 1e-3, 12345.678};
  for (double interval : intervals) {
    const double end = interval * 1e6;
    double t = 0.0;
    std::int64_t k = 0;
    for (int step = 0; step < 2000 && t < end; ++step) {
      const double next = next_multiple_after(t, interval, end);
      ASSERT_GT(next, t) << interval << " at " << t;
      ++k;
      ASSERT_EQ(next, static_cast<double>(k) * interval) << interval;
      // A restart from any time between two grid points goes on to the same next one.
      const double between = t + 0.5 * (next - t);
      ASSERT_EQ(next_multiple_after(between, interval, end), next) << interval << " from " << between;
      t = next;
    }
  }
  // Far out, where t / interval rounds: still strictly later, still a multiple.
  const double interval = 0.1;
  for (double t : {1e8 - 0.1, 1e8, 1e8 + 0.05, 3.3e8 + 0.3}) {
    const double next = next_multiple_after(t, interval, 1e9);
    EXPECT_GT(next, t);
    EXPECT_LE(next - t, interval * (1 + 1e-6));
  }
}

}  // namespace
}  // namespace kollektiv::app
