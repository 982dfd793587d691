// Analytic checks of the factory model on one rank: M/M/1, Little's law, a fixed-time line
// computed by hand, scrap, breakdowns (only_when_busy and always) and source blocking.
#include <gtest/gtest.h>
#include <mpi.h>

#include "tests/unit/factory/factory_test_models.hpp"

namespace kollektiv::factory {
namespace {

using testing::line;
using testing::model_of;
using testing::station;
using testing::value;

constexpr std::uint64_t seed = 20240607;

TEST(FactoryModels, MM1QueueMatchesTheory) {
  // Poisson arrivals every 2 s on average, exponential service of mean 1 s: rho = 0.5,
  // L = rho / (1 - rho) = 1, W = 1 / (mu - lambda) = 2 s. The standard error of the time
  // average of L over T seconds is about sqrt(24 / T): 0.0035 at T = 2e6 (3% is 8 sigma).
  const auto model = model_of({{line(ArrivalKind::poisson, 2.0, {station(Distribution::exponential, 1.0, 0, 1.0)})}});
  Factory f(model, seed, MPI_COMM_SELF);
  EXPECT_EQ(f.lookahead_s(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(f.advance(2.0e6, {}), 2.0e6);
  const KpiReport r = f.report();
  EXPECT_NEAR(value(r.station, "wip", 0), 1.0, 0.03);
  EXPECT_NEAR(value(r.line, "wip", 0), 1.0, 0.03);
  EXPECT_NEAR(value(r.station, "utilisation", 0), 0.5, 0.01);
  EXPECT_NEAR(value(r.line, "throughput", 0), 1800.0, 0.01 * 1800.0);
  EXPECT_NEAR(value(r.line, "lead_time", 0), 2.0, 0.06);
  EXPECT_EQ(value(r.line, "yield", 0), 1.0);
  EXPECT_EQ(value(r.line, "bottleneck", 0), 0.0);
}

TEST(FactoryModels, LittlesLawOnALineWithBreakdownsAndFiniteBuffers) {
  std::vector<StationConfig> stations;
  for (int i = 0; i < 10; ++i) {
    StationConfig s = station(Distribution::exponential, 0.8 + 0.03 * i, 3 + i % 4, 2.0 + 0.5 * (i % 3));
    s.breakdown.enabled = true;
    s.breakdown.mtbf_s = 300.0 + 20.0 * i;
    s.breakdown.mttr_s = 15.0;
    s.breakdown.only_when_busy = i % 2 == 0;
    stations.push_back(s);
  }
  Factory f(model_of({{line(ArrivalKind::poisson, 1.2, stations)}}), seed, MPI_COMM_SELF);
  EXPECT_EQ(f.lookahead_s(), 2.0);
  f.advance(5.0e5, {});
  const KpiReport r = f.report();
  const double wip = value(r.line, "wip", 0);
  const double throughput_per_s = value(r.line, "throughput", 0) / 3600.0;
  const double lead = value(r.line, "lead_time", 0);
  EXPECT_GT(wip, 5.0);
  EXPECT_NEAR(wip, throughput_per_s * lead, 0.01 * wip);
  EXPECT_EQ(value(r.line, "scrapped", 0), 0.0);
  // Blocking happens with these buffers, and every station breaks down.
  double blocked = 0.0;
  for (std::size_t g = 0; g < 10; ++g) {
    blocked += value(r.station, "blocked_fraction", g);
    EXPECT_GT(value(r.station, "down_fraction", g), 0.0);
    const double sum = value(r.station, "busy_fraction", g) + value(r.station, "blocked_fraction", g) +
                       value(r.station, "starved_fraction", g) + value(r.station, "down_fraction", g);
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
  EXPECT_GT(blocked, 0.0);
}

TEST(FactoryModels, FixedTimeLineIsExactlyAsComputedByHand) {
  // Source every 1 s into a buffer of 1 at A (1 s), conveyor 1 s, kanban of 2 at B (2 s).
  // Part k arrives at k+1. A sends parts 0, 1 at 2, 3 (credits 2 -> 0); B takes part 0 at 3,
  // its credit reaches A at 4, just in time for part 2 (credit before service end). B is busy
  // from t = 3 on, so exits are at 5, 7, 9, ..., and each credit reaches A 1 s after B
  // starts a part. A: starved [0,1), busy [1,5), then blocked [5,6), busy [6,7), blocked
  // [7,8), ...: busy 4 + 4997 s, blocked 4998 s by T = 10000.
  auto a = station(Distribution::fixed, 1.0, 1, 1.0);
  auto b = station(Distribution::fixed, 2.0, 2, 1.0);
  Factory f(model_of({{line(ArrivalKind::fixed, 1.0, {a, b})}}), seed, MPI_COMM_SELF);
  const double T = 10000.0;
  f.advance(T, {});
  const KpiReport r = f.report();
  // Exits at 5 + 2k < T: k = 0..4997.
  EXPECT_EQ(value(r.line, "sink_count", 0), 4998.0);
  EXPECT_DOUBLE_EQ(value(r.line, "throughput", 0), 4998.0 / T * 3600.0);
  EXPECT_DOUBLE_EQ(value(r.station, "busy_fraction", 0), 5001.0 / T);
  EXPECT_DOUBLE_EQ(value(r.station, "blocked_fraction", 0), 4998.0 / T);
  EXPECT_DOUBLE_EQ(value(r.station, "starved_fraction", 0), 1.0 / T);
  EXPECT_DOUBLE_EQ(value(r.station, "busy_fraction", 1), (T - 3.0) / T);
  EXPECT_DOUBLE_EQ(value(r.station, "blocked_fraction", 1), 0.0);
  EXPECT_EQ(value(r.line, "bottleneck", 0), 1.0);
  // Every part takes 1 s at A, 1 s on the conveyor, 2 s at B, plus waiting: lead time of
  // part k (entry at the time A takes it) is constant in steady state.
  EXPECT_GT(value(r.line, "lead_time", 0), 4.0);
  EXPECT_DOUBLE_EQ(value(r.line, "oee", 0), 4998.0 * 2.0 / T);
  EXPECT_DOUBLE_EQ(value(r.station, "oee", 1), value(r.station, "processed", 1) * 2.0 / T);
}

TEST(FactoryModels, ScrapLeavesTheLineWithTheConfiguredProbability) {
  auto a = station(Distribution::uniform, 0.0, 0, 1.0);
  a.process.min_s = 0.5;
  a.process.max_s = 1.5;
  a.scrap_probability = 0.1;
  auto b = station(Distribution::fixed, 0.5, 0, 1.0);
  b.scrap_probability = 0.2;
  Factory f(model_of({{line(ArrivalKind::fixed, 2.0, {a, b})}}), seed, MPI_COMM_SELF);
  f.advance(2.0e5, {});
  const KpiReport r = f.report();
  const double processed_a = value(r.station, "processed", 0), scrapped_a = value(r.station, "scrapped", 0);
  const double scrapped_b = value(r.station, "scrapped", 1);
  EXPECT_NEAR(scrapped_a / processed_a, 0.1, 0.01);
  EXPECT_NEAR(scrapped_b / value(r.station, "processed", 1), 0.2, 0.01);
  EXPECT_EQ(value(r.station, "good", 0) + scrapped_a, processed_a);
  // Every good part of A reaches B (unlimited buffer); at most a few are still on the way.
  EXPECT_LE(value(r.station, "processed", 1), value(r.station, "good", 0));
  EXPECT_GE(value(r.station, "processed", 1), value(r.station, "good", 0) - 2.0);
  EXPECT_EQ(value(r.line, "scrapped", 0), scrapped_a + scrapped_b);
  const double sink = value(r.line, "sink_count", 0);
  EXPECT_DOUBLE_EQ(value(r.line, "yield", 0), sink / (sink + scrapped_a + scrapped_b));
  EXPECT_NEAR(value(r.line, "yield", 0), 0.9 * 0.8, 0.01);
  EXPECT_DOUBLE_EQ(value(r.station, "quality", 0), value(r.station, "good", 0) / processed_a);
  EXPECT_NEAR(value(r.station, "ideal_cycle", 0), 1.0, 1e-15);
}

TEST(FactoryModels, BreakdownsOnlyWhenBusyCountBusyTimeOnly) {
  const auto breakdown_model = [](bool only_when_busy, double interval_s) {
    auto s = station(Distribution::fixed, 1.0, 0, 1.0);
    s.breakdown.enabled = true;
    s.breakdown.mtbf_s = 50.0;
    s.breakdown.mttr_s = 5.0;
    s.breakdown.only_when_busy = only_when_busy;
    return model_of({{line(ArrivalKind::fixed, interval_s, {s})}});
  };
  {  // Never busy: an only_when_busy station never fails, an always-on one does.
    Factory idle_busy_only(breakdown_model(true, 1.0e9), seed, MPI_COMM_SELF);
    Factory idle_always(breakdown_model(false, 1.0e9), seed, MPI_COMM_SELF);
    idle_busy_only.advance(1.0e4, {});
    idle_always.advance(1.0e4, {});
    EXPECT_EQ(value(idle_busy_only.report().station, "down_fraction", 0), 0.0);
    EXPECT_GT(value(idle_always.report().station, "down_fraction", 0), 0.05);
  }
  // Busy 1 s of every 4 s: failures come once per 50 s of busy time, so the down fraction
  // is 0.25 * 5 / 50 = 0.025 (about 20000 failures: 1% standard error).
  Factory busy_only(breakdown_model(true, 4.0), seed, MPI_COMM_SELF);
  busy_only.advance(4.0e6, {});
  const KpiReport r = busy_only.report();
  EXPECT_NEAR(value(r.station, "busy_fraction", 0), 0.25, 0.001);
  EXPECT_NEAR(value(r.station, "down_fraction", 0), 0.025, 0.05 * 0.025);
  EXPECT_DOUBLE_EQ(value(r.station, "availability", 0), 1.0 - value(r.station, "down_fraction", 0));
  // Always on: the clock runs while up, so availability = mtbf / (mtbf + mttr).
  Factory always(breakdown_model(false, 4.0), seed, MPI_COMM_SELF);
  always.advance(4.0e6, {});
  EXPECT_NEAR(value(always.report().station, "availability", 0), 50.0 / 55.0, 0.005);
  // Preempt-resume: every part still gets exactly 1 s of service, so the throughput is the
  // arrival rate while the station keeps up.
  EXPECT_NEAR(value(r.line, "throughput", 0), 900.0, 1.0);
}

TEST(FactoryModels, SourceBlocksWhenTheFirstBufferIsFull) {
  // Parts come every 1 s, the station needs 2 s, the first buffer holds 2: the source waits,
  // so only one part per 2 s enters and the line never holds more than 3 parts.
  const double T = 1.0e4;
  Factory blocked(model_of({{line(ArrivalKind::fixed, 1.0, {station(Distribution::fixed, 2.0, 2, 1.0)})}}), seed,
                  MPI_COMM_SELF);
  blocked.advance(T, {});
  const KpiReport r = blocked.report();
  EXPECT_LE(value(r.line, "entered", 0), T / 2.0 + 3.0);
  EXPECT_GE(value(r.line, "entered", 0), T / 2.0 - 3.0);
  EXPECT_LE(value(r.line, "wip", 0), 3.0);
  EXPECT_GT(value(r.line, "wip", 0), 2.9);
  EXPECT_NEAR(value(r.line, "lead_time", 0), 6.0, 0.01);  // 2 waiting ahead + own 2 s
  // With an unlimited buffer every arrival enters and the queue grows without bound.
  Factory open(model_of({{line(ArrivalKind::fixed, 1.0, {station(Distribution::fixed, 2.0, 0, 1.0)})}}), seed,
               MPI_COMM_SELF);
  open.advance(T, {});
  EXPECT_EQ(value(open.report().line, "entered", 0), T - 1.0);  // arrivals at 1 .. T-1
}

}  // namespace
}  // namespace kollektiv::factory
