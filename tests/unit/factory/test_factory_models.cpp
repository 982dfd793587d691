// Analytic checks of the factory model on one rank: M/M/1; a tandem of M/M/1 stations with
// conveyors (Jackson: utilisations and lead time) and always-on breakdowns (availability =
// mtbf / (mtbf + mttr)), each inside a 99.9 % batch-means interval computed from the run;
// state fractions that partition time on a line with breakdowns and finite buffers; a
// fixed-time line computed by hand, scrap, breakdowns (only_when_busy and always) and
// source blocking.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "tests/unit/factory/factory_test_models.hpp"

namespace kollektiv::factory {
namespace {

using testing::line;
using testing::route;
using testing::to_sink;
using testing::model_of;
using testing::station;
using testing::value;

constexpr std::uint64_t seed = 20240607;

// Batch means. After a warm-up that is discarded, the run is cut into batch_count batches
// of equal simulated time, far longer than the models' correlation times, so the batch
// averages are close to independent and normal; the interval is mean +- t * s / sqrt(K)
// with Student's t at 99.9 % (two-sided) for K - 1 degrees of freedom.
constexpr int batch_count = 20;
constexpr double student_t_999 = 3.883;  // t_{0.9995, 19}

struct Interval {
  double mean = 0.0;
  double half_width = 0.0;
};

// report() is cumulative from t = 0, so a batch's sums are differences of cumulative sums
// (time averages times the time reached). Row k of the result is sums(report) at
// warmup_s + k * batch_s, k = 0 .. batch_count.
std::vector<std::vector<double>> cumulative_sums(Factory& f, double warmup_s, double batch_s,
                                                 const std::function<std::vector<double>(const KpiReport&)>& sums) {
  std::vector<std::vector<double>> rows;
  for (int k = 0; k <= batch_count; ++k) {
    const double t = warmup_s + k * batch_s;
    EXPECT_EQ(f.advance(t, {}), t);
    rows.push_back(sums(f.report()));
  }
  return rows;
}

// The interval of estimate(difference of rows k+1 and k) over the batches.
Interval batch_means(const std::vector<std::vector<double>>& rows,
                     const std::function<double(const std::vector<double>&)>& estimate) {
  std::vector<double> x;
  for (std::size_t k = 0; k + 1 < rows.size(); ++k) {
    std::vector<double> d(rows[k].size());
    for (std::size_t j = 0; j < d.size(); ++j) d[j] = rows[k + 1][j] - rows[k][j];
    x.push_back(estimate(d));
  }
  const double n = static_cast<double>(x.size());
  double mean = 0.0, squares = 0.0;
  for (double v : x) mean += v / n;
  for (double v : x) squares += (v - mean) * (v - mean);
  return {mean, student_t_999 * std::sqrt(squares / (n - 1.0) / n)};
}

// The theory is inside the interval, and the interval is narrow enough (below
// max_relative of the theory) for that to mean something.
void expect_covers(const Interval& i, double theory, double max_relative, const std::string& what) {
  std::printf("%s: %.5f +- %.5f (99.9 %%), theory %.5f\n", what.c_str(), i.mean, i.half_width, theory);
  EXPECT_LE(std::abs(i.mean - theory), i.half_width)
      << what << ": " << i.mean << " +- " << i.half_width << " misses the theory " << theory;
  EXPECT_LT(i.half_width, max_relative * theory) << what << ": interval too wide to test anything";
}

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

TEST(FactoryModels, TandemOfMM1StationsMatchesJackson) {
  // Poisson arrivals at lambda = 1/s into three exponential stations of mean 0.5, 0.7 and
  // 0.4 s with unlimited buffers, conveyors of 2 s and 3 s between them: by Burke's theorem
  // each station is an M/M/1 queue (a constant conveyor delay keeps a Poisson stream
  // Poisson), so utilisation_i = lambda / mu_i and the mean time in the line (from entering
  // station 0's buffer to leaving the last station; the last station's conveyor leads to the
  // sink and adds nothing) is sum 1 / (mu_i - lambda) + 2 + 3 = 1 + 7/3 + 2/3 + 5 = 9 s.
  const double lambda = 1.0;
  const std::vector<double> mean_s = {0.5, 0.7, 0.4};
  const std::vector<double> conveyor_s = {2.0, 3.0, 5.0};
  std::vector<StationConfig> stations;
  double lead_theory_s = conveyor_s[0] + conveyor_s[1];
  for (std::size_t i = 0; i < mean_s.size(); ++i) {
    stations.push_back(station(Distribution::exponential, mean_s[i], 0, conveyor_s[i]));
    lead_theory_s += 1.0 / (1.0 / mean_s[i] - lambda);
  }
  Factory f(model_of({{line(ArrivalKind::poisson, 1.0 / lambda, stations)}}), seed, MPI_COMM_SELF);
  EXPECT_EQ(f.lookahead_s(), 2.0);
  // Per batch: each station's busy time, and the sink's lead-time sum and count.
  const double batch_s = 5.0e4;
  const auto c = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    std::vector<double> sums;
    for (std::size_t g = 0; g < 3; ++g) sums.push_back(value(r.station, "utilisation", g) * r.time_s);
    const double sink = value(r.line, "sink_count", 0);
    sums.push_back(sink * value(r.line, "lead_time", 0));
    sums.push_back(sink);
    return sums;
  });
  for (std::size_t i = 0; i < mean_s.size(); ++i) {
    const auto utilisation = batch_means(c, [&](const std::vector<double>& d) { return d[i] / batch_s; });
    expect_covers(utilisation, lambda * mean_s[i], 0.015, "utilisation of station " + std::to_string(i));
  }
  const auto lead = batch_means(c, [](const std::vector<double>& d) { return d[3] / d[4]; });
  expect_covers(lead, lead_theory_s, 0.02, "lead time (s)");
}

TEST(FactoryModels, MMcStationMatchesErlangC) {
  // Poisson arrivals at lambda = 2.1/s into one station of c = 3 exponential machines of
  // mean 1 s (mu = 1/s) sharing an unlimited buffer: an M/M/c queue with offered load
  // a = lambda / mu = 2.1 and utilisation rho = a / c = 0.7. Erlang C gives the probability
  // of waiting C = (a^c / c!) (c / (c - a)) / (sum_{k<c} a^k / k! + (a^c / c!) (c / (c - a)))
  // and the mean wait Wq = C / (c mu - lambda); the mean time in the line is Wq + 1/mu (the
  // station hands parts straight to the sink) and the mean number of parts in it lambda
  // times that (Little).
  const double lambda = 2.1, mu = 1.0;
  const int c = 3;
  const double a = lambda / mu;
  double below = 0.0, term = 1.0;  // sum_{k<c} a^k / k!, and a^k / k!
  for (int k = 0; k < c; ++k) {
    below += term;
    term *= a / (k + 1);
  }
  const double waiting = term * c / (c - a);
  const double erlang_c = waiting / (below + waiting);
  const double wq_s = erlang_c / (c * mu - lambda);
  auto s = station(Distribution::exponential, 1.0 / mu, 0, 1.0);
  s.servers = c;
  Factory f(model_of({{line(ArrivalKind::poisson, 1.0 / lambda, {s})}}), seed, MPI_COMM_SELF);
  EXPECT_NEAR(value(f.report().station, "ideal_cycle", 0), 1.0 / (mu * c), 1e-15);  // c machines: mean / c
  const double batch_s = 5.0e4;
  const auto sums = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    const double sink = value(r.line, "sink_count", 0);
    return std::vector<double>{value(r.station, "utilisation", 0) * r.time_s, sink * value(r.line, "lead_time", 0),
                               sink, value(r.station, "wip", 0) * r.time_s};
  });
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[0] / batch_s; }), lambda / (c * mu),
                0.01, "utilisation (M/M/3)");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[1] / d[2] - 1.0 / mu; }), wq_s, 0.05,
                "mean wait in the buffer (M/M/3, Erlang C), s");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[3] / batch_s; }),
                lambda * (wq_s + 1.0 / mu), 0.03, "parts at the station (M/M/3, Little)");
  // Nothing blocks or breaks down: busy and starved machines partition the time.
  const KpiReport r = f.report();
  EXPECT_NEAR(value(r.station, "busy_fraction", 0) + value(r.station, "starved_fraction", 0), 1.0, 1e-12);
}

TEST(FactoryModels, ReworkLoopMatchesJacksonsBernoulliFeedback) {
  // Poisson arrivals at lambda = 0.4/s into one exponential station of mean 1 s whose
  // inspection sends a part back to the end of its buffer with probability p = 0.3 (as
  // often as it fails: max_rework 1000 is never reached). A Jackson network of one node
  // with Bernoulli feedback: the station sees lambda / (1 - p) = 4/7 per second, so its
  // utilisation is 4/7, the mean number of parts at it rho / (1 - rho) = 4/3 and the mean
  // time in the system (Little) 1 / ((1 - p) mu - lambda) = 10/3 s; a part is reworked
  // p / (1 - p) = 3/7 times on average.
  const double lambda = 0.4, mu = 1.0, p = 0.3;
  auto s = station(Distribution::exponential, 1.0 / mu, 0, 1.0);
  s.rework_probability = p;
  s.max_rework = 1000;
  Factory f(model_of({{line(ArrivalKind::poisson, 1.0 / lambda, {s})}}), seed, MPI_COMM_SELF);
  const double batch_s = 1.0e5;
  const auto sums = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    const double sink = value(r.line, "sink_count", 0);
    return std::vector<double>{value(r.station, "utilisation", 0) * r.time_s, sink * value(r.line, "lead_time", 0),
                               sink, value(r.station, "reworked", 0)};
  });
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[0] / batch_s; }),
                lambda / ((1.0 - p) * mu), 0.015, "utilisation with rework");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[1] / d[2]; }),
                1.0 / ((1.0 - p) * mu - lambda), 0.03, "time in the system with rework (Jackson), s");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[3] / d[2]; }), p / (1.0 - p), 0.03,
                "reworks per part");
  EXPECT_EQ(value(f.report().line, "scrapped", 0), 0.0);
}

TEST(FactoryModels, ReworkIsBoundedThenScraps) {
  // Fixed 1 s services, parts every 4 s, inspection failing half the time, at most two
  // reworks: a part is scrapped when it fails three inspections in a row, p^3 = 1/8 of the
  // parts; the others leave good. A finite buffer of 2 upstream: a part that comes back
  // keeps its place, so the FIFO never exceeds it (the restore check would refuse it).
  auto a = station(Distribution::fixed, 0.5, 0, 1.0);
  auto b = station(Distribution::fixed, 1.0, 2, 1.0);
  b.rework_probability = 0.5;
  b.max_rework = 2;
  Factory f(model_of({{line(ArrivalKind::fixed, 4.0, {a, b})}}), seed, MPI_COMM_SELF);
  f.advance(4.0e5, {});
  const KpiReport r = f.report();
  const double parts = value(r.line, "entered", 0);
  const double scrapped = value(r.station, "scrapped", 1);
  EXPECT_NEAR(scrapped / parts, 0.125, 4.0 * std::sqrt(0.125 * 0.875 / parts));
  EXPECT_NEAR(value(r.line, "sink_count", 0) + scrapped, parts, 3.0);  // a few still in the line
  // Inspections: processed = parts' first passes + reworks; each fails with p = 1/2.
  const double processed = value(r.station, "processed", 1);
  EXPECT_NEAR(value(r.station, "reworked", 1) + scrapped, 0.5 * processed, 4.0 * std::sqrt(0.25 * processed));
  EXPECT_NEAR(processed, parts * (1.0 + 0.5 + 0.25), 4.0 * std::sqrt(processed));
  EXPECT_EQ(value(r.station, "quality", 1), value(r.station, "good", 1) / processed);
  Factory g(model_of({{line(ArrivalKind::fixed, 4.0, {a, b})}}), seed, MPI_COMM_SELF);
  g.advance(1.0e3, {});
  const FactoryState st = g.save();
  EXPECT_LE(st.part_count[1], 2);
}

TEST(FactoryModels, ProductMixTypeTimesAndChangeovers) {
  // Poisson arrivals at lambda = 0.4/s of two part types, a (70 %) and b (30 %), into one
  // machine that takes exponential 1 s for a and 2 s for b, and 0.5 s to change over between
  // them. Types are independent from part to part, so consecutive parts differ with
  // probability 2 * 0.7 * 0.3 = 0.42, and the machine is busy lambda * (0.7 * 1 + 0.3 * 2 +
  // 0.42 * 0.5) = 0.604 of the time. Sink counts and lead times per type add up to the line's.
  const double lambda = 0.4;
  auto s = station(Distribution::exponential, 1.0, 0, 1.0);
  s.process_by_type = {testing::type_process(1, Distribution::exponential, 2.0)};
  s.changeover_s = 0.5;
  LineConfig l = line(ArrivalKind::poisson, 1.0 / lambda, {s});
  l.source.mix = {{0, 7.0}, {1, 3.0}};  // shares are normalised
  FactoryModelConfig model = model_of({{l}});
  model.part_types = {"a", "b"};
  Factory f(model, seed, MPI_COMM_SELF);
  EXPECT_DOUBLE_EQ(value(f.report().station, "ideal_cycle", 0), 0.7 * 1.0 + 0.3 * 2.0);  // over the mix
  const double batch_s = 5.0e4;
  const auto sums = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    return std::vector<double>{value(r.station, "utilisation", 0) * r.time_s, value(r.station, "changeovers", 0),
                               value(r.station, "processed", 0), value(r.line, "sink_count.a", 0),
                               value(r.line, "sink_count", 0)};
  });
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[0] / batch_s; }),
                lambda * (0.7 * 1.0 + 0.3 * 2.0 + 0.42 * 0.5), 0.02, "utilisation with a mix and changeovers");
  expect_covers(batch_means(sums, [](const std::vector<double>& d) { return d[1] / d[2]; }), 0.42, 0.03,
                "changeovers per part");
  expect_covers(batch_means(sums, [](const std::vector<double>& d) { return d[3] / d[4]; }), 0.7, 0.02,
                "share of type a");
  const KpiReport r = f.report();
  const double a = value(r.line, "sink_count.a", 0), b = value(r.line, "sink_count.b", 0);
  EXPECT_EQ(a + b, value(r.line, "sink_count", 0));
  EXPECT_NEAR((a * value(r.line, "lead_time.a", 0) + b * value(r.line, "lead_time.b", 0)) / (a + b),
              value(r.line, "lead_time", 0), 1e-9 * value(r.line, "lead_time", 0));
  EXPECT_GT(value(r.line, "lead_time.b", 0), value(r.line, "lead_time.a", 0));  // b takes twice as long
  EXPECT_EQ(value(r.factory, "sink_count.b", 0), b);
}

TEST(FactoryModels, AlwaysOnBreakdownsGiveMtbfOverMtbfPlusMttr) {
  // One station, Poisson arrivals every 4 s, exponential service of 1 s, failures with
  // mtbf 40 s and repairs with mttr 10 s, the failure clock running whenever the station is
  // up (busy, idle or blocked) and restarting after each repair. Up and down periods are
  // then independent Exp(mtbf) and Exp(mttr), an alternating renewal process whatever the
  // load: availability = mtbf / (mtbf + mttr) = 0.8. Preempt-resume gives every part
  // exactly its service time, so the busy (processing) fraction is lambda * E[S] = 0.25
  // (the station keeps up: 0.25 < availability).
  auto s = station(Distribution::exponential, 1.0, 0, 1.0);
  s.breakdown.enabled = true;
  s.breakdown.mtbf_s = 40.0;
  s.breakdown.mttr_s = 10.0;
  s.breakdown.only_when_busy = false;
  Factory f(model_of({{line(ArrivalKind::poisson, 4.0, {s})}}), seed, MPI_COMM_SELF);
  const double batch_s = 1.0e5;
  const auto c = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    return std::vector<double>{value(r.station, "availability", 0) * r.time_s,
                               value(r.station, "busy_fraction", 0) * r.time_s};
  });
  const auto availability = batch_means(c, [&](const std::vector<double>& d) { return d[0] / batch_s; });
  expect_covers(availability, 40.0 / (40.0 + 10.0), 0.015, "availability");
  const auto busy = batch_means(c, [&](const std::vector<double>& d) { return d[1] / batch_s; });
  expect_covers(busy, 1.0 / 4.0, 0.02, "busy fraction");
}

TEST(FactoryModels, StateFractionsPartitionTimeOnALineWithBreakdownsAndFiniteBuffers) {
  // No closed form here: the busy, blocked, starved and down fractions of every station
  // partition the time, blocking happens with these buffers and every station breaks down.
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
  f.advance(1.0e5, {});
  const KpiReport r = f.report();
  EXPECT_EQ(value(r.line, "scrapped", 0), 0.0);
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

TEST(FactoryModels, ShiftCalendarPausesServicesAndGivesThePlannedTime) {
  // A calendar of 100 s with working periods [0, 30) and [40, 90): off shift [30, 40) and
  // [90, 100), 20 % of the time. Parts arrive at 100 k (k >= 1, fixed source), at the start
  // of a period; a fixed service of 45 s runs for 30 s, pauses for the break, and ends 15 s
  // after the break at 100 k + 55 (preempt-resume). By T = 10000: 99 parts, each busy 45 s.
  auto a = station(Distribution::fixed, 45.0, 0, 1.0);
  a.shifts.enabled = true;
  a.shifts.period_s = 100.0;
  a.shifts.working = {{0.0, 30.0}, {40.0, 90.0}};
  Factory f(model_of({{line(ArrivalKind::fixed, 100.0, {a})}}), seed, MPI_COMM_SELF);
  const double T = 10000.0;
  f.advance(T, {});
  const KpiReport r = f.report();
  EXPECT_EQ(value(r.line, "sink_count", 0), 99.0);
  EXPECT_EQ(value(r.line, "lead_time", 0), 55.0);
  EXPECT_EQ(value(r.station, "off_shift_fraction", 0), 0.2);
  EXPECT_DOUBLE_EQ(value(r.station, "busy_fraction", 0), 99.0 * 45.0 / T);
  EXPECT_DOUBLE_EQ(value(r.station, "starved_fraction", 0), (T - 2000.0 - 99.0 * 45.0) / T);
  EXPECT_EQ(value(r.station, "down_fraction", 0), 0.0);
  // OEE over the planned production time (8000 s): a station off shift is neither starved
  // nor down, and its availability is 1.
  EXPECT_EQ(value(r.station, "availability", 0), 1.0);
  EXPECT_DOUBLE_EQ(value(r.station, "performance", 0), 99.0 * 45.0 / 8000.0);
  EXPECT_DOUBLE_EQ(value(r.station, "oee", 0), 99.0 * 45.0 / 8000.0);
  EXPECT_DOUBLE_EQ(value(r.line, "oee", 0), 99.0 * 45.0 / 8000.0);
}

TEST(FactoryModels, NightShiftRunsAcrossThePeriodsEnd) {
  // The factory works 22:00 to 06:00 (a period running past midnight): at t = 0 it is on
  // shift until 6 h, then off until 22 h. Planned time: 8 of every 24 hours.
  auto a = station(Distribution::exponential, 30.0, 0, 1.0);
  FactoryModelConfig model = model_of({{line(ArrivalKind::poisson, 120.0, {a})}});
  ShiftCalendar& night = model.factories[0].shifts;
  night.enabled = true;
  night.period_s = 86400.0;
  night.working = {{79200.0, 108000.0}};
  EXPECT_EQ(night.first_change(), -1);
  EXPECT_EQ(night.change_time(-1), 21600.0);
  EXPECT_EQ(night.change_time(0), 79200.0);
  EXPECT_EQ(night.change_time(1), 108000.0);
  Factory f(model, seed, MPI_COMM_SELF);
  f.advance(3 * 86400.0, {});
  const KpiReport r = f.report();
  EXPECT_DOUBLE_EQ(value(r.station, "off_shift_fraction", 0), 2.0 / 3.0);
  // Parts arrive around the clock (one per 120 s); off shift they wait. Each night's shift
  // clears the day's parts (it could do 960), and the shift that starts at 22:00 on the
  // third day has 2 hours to work at full speed (240 parts of 30 s): about 1620 + 240 parts
  // by T, and the station busy about that many times 30 s, all of it on shift.
  EXPECT_NEAR(value(r.line, "sink_count", 0), 1860.0, 150.0);
  EXPECT_NEAR(value(r.station, "busy_fraction", 0), 1860.0 * 30.0 / (3 * 86400.0), 0.02);
  EXPECT_DOUBLE_EQ(value(r.station, "busy_fraction", 0) + value(r.station, "starved_fraction", 0), 1.0 / 3.0);
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

// ---- Routing: splits, merges, assembly, disassembly, rework at an earlier station ----

TEST(FactoryModels, SplitAndMergeMatchJackson) {
  // Poisson arrivals at lambda = 1/s into S0 (exponential, mean 0.2 s), which splits its parts
  // by probability 1 : 3 to A (mean 0.5 s) and B (mean 0.3 s); both send to M (mean 0.5 s),
  // the line's last station. Splitting a Poisson stream by independent draws gives independent
  // Poisson streams (lambda/4, 3 lambda/4), M/M/1 departures are Poisson (Burke), conveyors
  // delay them and the merge superposes them: every station is an M/M/1 queue, so
  // utilisations are lambda_i / mu_i, and the mean time in the line is W0 + 1 + (W_A / 4 +
  // 3 W_B / 4) + 1 + W_M with W = 1 / (mu - lambda_i) and 1 s conveyors.
  const double lambda = 1.0;
  auto s0 = station(Distribution::exponential, 0.2, 0, 1.0);
  s0.next = {route(0, 1), route(0, 2)};
  s0.next[0].share = 1.0;
  s0.next[1].share = 3.0;
  auto a = station(Distribution::exponential, 0.5, 0, 1.0);
  a.next = {route(0, 3)};
  auto b = station(Distribution::exponential, 0.3, 0, 1.0);
  b.next = {route(0, 3)};
  auto m = station(Distribution::exponential, 0.5, 0, 1.0);
  Factory f(model_of({{line(ArrivalKind::poisson, 1.0 / lambda, {s0, a, b, m})}}), seed, MPI_COMM_SELF);
  const auto w = [](double mean_s, double rate) { return 1.0 / (1.0 / mean_s - rate); };
  const double lead = w(0.2, lambda) + 1.0 + 0.25 * w(0.5, 0.25 * lambda) + 0.75 * w(0.3, 0.75 * lambda) + 1.0 +
                      w(0.5, lambda);
  const double batch_s = 5.0e4;
  const auto sums = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    const double sink = value(r.line, "sink_count", 0);
    return std::vector<double>{value(r.station, "processed", 1), value(r.station, "processed", 0),
                               value(r.station, "utilisation", 3) * r.time_s, sink * value(r.line, "lead_time", 0),
                               sink, value(r.station, "utilisation", 2) * r.time_s};
  });
  expect_covers(batch_means(sums, [](const std::vector<double>& d) { return d[0] / d[1]; }), 0.25, 0.03,
                "share of the split to A");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[5] / batch_s; }), 0.75 * lambda * 0.3,
                0.02, "utilisation of B");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[2] / batch_s; }), lambda * 0.5, 0.015,
                "utilisation of the merge");
  expect_covers(batch_means(sums, [](const std::vector<double>& d) { return d[3] / d[4]; }), lead, 0.02,
                "time in the line through a split and a merge (Jackson), s");
}

TEST(FactoryModels, ReworkAtAnEarlierStationMatchesJackson) {
  // Poisson arrivals at lambda = 0.5/s into S1 (exponential, mean 0.5 s), then S2 (mean 0.4
  // s), whose inspection sends a part back to S1 with probability p = 1/4 (as often as it
  // fails), on a route of 2 s; S1 -> S2 takes 1 s. A Jackson network: each station sees
  // lambda / (1 - p) = 2/3 per second, and a part passes 1 / (1 - p) times through S1, the
  // conveyor and S2, and travels back p / (1 - p) times: mean time in the line
  // (W1 + 1 + W2) / (1 - p) + 2 p / (1 - p), W_i = 1 / (mu_i - lambda / (1 - p)).
  const double lambda = 0.5, p = 0.25, visits = lambda / (1.0 - p);
  auto s1 = station(Distribution::exponential, 0.5, 0, 1.0);
  auto s2 = station(Distribution::exponential, 0.4, 0, 2.0);
  s2.rework_probability = p;
  s2.max_rework = 32767;
  s2.rework_elsewhere = true;
  s2.rework_to = route(0, 0, 2.0);
  Factory f(model_of({{line(ArrivalKind::poisson, 1.0 / lambda, {s1, s2})}}), seed, MPI_COMM_SELF);
  const auto w = [&](double mean_s) { return 1.0 / (1.0 / mean_s - visits); };
  const double lead = (w(0.5) + 1.0 + w(0.4)) / (1.0 - p) + 2.0 * p / (1.0 - p);
  const double batch_s = 1.0e5;
  const auto sums = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    const double sink = value(r.line, "sink_count", 0);
    return std::vector<double>{value(r.station, "utilisation", 0) * r.time_s,
                               value(r.station, "utilisation", 1) * r.time_s, sink * value(r.line, "lead_time", 0),
                               sink, value(r.station, "reworked", 1)};
  });
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[0] / batch_s; }), visits * 0.5, 0.015,
                "utilisation of the rework station");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[1] / batch_s; }), visits * 0.4, 0.015,
                "utilisation of the inspecting station");
  expect_covers(batch_means(sums, [](const std::vector<double>& d) { return d[2] / d[3]; }), lead, 0.03,
                "time in the line with rework at an earlier station (Jackson), s");
  expect_covers(batch_means(sums, [](const std::vector<double>& d) { return d[4] / d[3]; }), p / (1.0 - p), 0.03,
                "reworks per part");
  EXPECT_EQ(value(f.report().line, "scrapped", 0), 0.0);
}

TEST(FactoryModels, AssemblyThroughputIsThatOfTheSlowestInput) {
  // Line 0: Poisson parts every 1 s into A (fixed 3 s): A is the slowest input, 1/3 part/s
  // (its source waits at A's full buffer). Line 1: the assembly station (exponential, mean
  // 0.5 s) takes one part of its own source (Poisson, every 2 s: 0.5/s) and one from A. Its
  // throughput is min(1/3, 0.5) = 1/3 part/s: the faster input's buffer stays full, so the
  // station waits only for A; each product joins one component.
  auto a = station(Distribution::fixed, 3.0, 4, 5.0);
  a.next = {route(1, 0, 5.0)};
  auto join = station(Distribution::exponential, 0.5, 10, 1.0);
  join.assembly = true;
  Factory f(model_of({{line(ArrivalKind::poisson, 1.0, {a}), line(ArrivalKind::poisson, 2.0, {join})}}), seed,
            MPI_COMM_SELF);
  const double batch_s = 2.0e4;
  const auto sums = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    return std::vector<double>{value(r.line, "sink_count", 1), value(r.station, "joined", 1),
                               value(r.station, "utilisation", 1) * r.time_s};
  });
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[0] / batch_s; }), 1.0 / 3.0, 0.01,
                "assembly throughput (the slowest input), parts/s");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[2] / batch_s; }), 0.5 / 3.0, 0.03,
                "assembly utilisation");
  const KpiReport r = f.report();
  // Every service joined exactly one component: the genealogy has a record per service
  // started, each [time, product, component], the product from line 1, the component from 0.
  const FactoryState st = f.save();
  ASSERT_EQ(st.genealogy_width[1], 3);
  const std::int64_t records = st.genealogy_count[1] / 3;
  EXPECT_EQ(static_cast<double>(records), value(r.station, "joined", 1));
  EXPECT_GE(records, value(r.station, "processed", 1));
  EXPECT_LE(records, value(r.station, "processed", 1) + 1);
  for (std::int64_t k = 0; k < records; ++k) {
    EXPECT_EQ(st.genealogy[static_cast<std::size_t>(3 * k + 1)] >> 40, 1);
    EXPECT_EQ(st.genealogy[static_cast<std::size_t>(3 * k + 2)] >> 40, 0);
  }
}

TEST(FactoryModels, RoundRobinAndShortestQueueSplits) {
  // Round robin: parts every 1 s to three stations in turn: each gets a third, to one part.
  auto split = station(Distribution::fixed, 0.5, 0, 1.0);
  split.next = {route(0, 1), route(0, 2), route(0, 3)};
  split.route = RoutePolicy::round_robin;
  auto leaf = station(Distribution::fixed, 0.5, 0, 1.0);
  leaf.next = {to_sink()};
  Factory rr(model_of({{line(ArrivalKind::fixed, 1.0, {split, leaf, leaf, leaf})}}), seed, MPI_COMM_SELF);
  rr.advance(3000.5, {});
  const KpiReport r = rr.report();
  for (std::size_t k = 1; k <= 3; ++k) EXPECT_NEAR(value(r.station, "processed", k), 1000.0, 1.0) << k;
  EXPECT_NEAR(value(r.line, "sink_count", 0), 2999.0, 1.0);
  // Shortest queue: a fast (mean 1 s) and a slow (mean 3 s) station behind a split fed at
  // 0.9/s, kanban of 3 each. Sending to the shorter queue keeps the slow one from becoming
  // the line's limit: the line keeps up with the arrivals (capacity 1 + 1/3 per s), and the
  // fast station takes more than its share under random routing (1/2) would give.
  auto sq = station(Distribution::exponential, 0.1, 0, 1.0);
  sq.next = {route(0, 1), route(0, 2)};
  sq.route = RoutePolicy::shortest_queue;
  auto fast = station(Distribution::exponential, 1.0, 3, 1.0);
  fast.next = {to_sink()};
  auto slow = station(Distribution::exponential, 3.0, 3, 1.0);
  slow.next = {to_sink()};
  Factory jsq(model_of({{line(ArrivalKind::poisson, 1.0 / 0.9, {sq, fast, slow})}}), seed, MPI_COMM_SELF);
  jsq.advance(2.0e5, {});
  const KpiReport q = jsq.report();
  const double entered = value(q.line, "entered", 0), fast_share = value(q.station, "processed", 1) / entered;
  EXPECT_GT(value(q.line, "sink_count", 0), entered - 20.0);
  EXPECT_GT(fast_share, 0.65);
  EXPECT_LT(value(q.station, "blocked_fraction", 0), 0.2);
  // Random routing 1 : 1 instead: the slow station gets 0.45/s > 1/3 and limits the line.
  sq.route = RoutePolicy::probability;
  Factory coin(model_of({{line(ArrivalKind::poisson, 1.0 / 0.9, {sq, fast, slow})}}), seed, MPI_COMM_SELF);
  coin.advance(2.0e5, {});
  EXPECT_LT(value(coin.report().line, "throughput", 0), 0.8 * 3600.0);
}

TEST(FactoryModels, TypeRoutesAndDisassembly) {
  // Two types 30/70; a split by type sends type 0 to A and type 1 to B; B disassembles each
  // part into two pieces, one to the sink and one to C.
  FactoryModelConfig model;
  auto split = station(Distribution::fixed, 0.2, 0, 1.0);
  split.next = {route(0, 1), route(0, 2)};
  split.next[0].types = {0};
  split.route = RoutePolicy::type;
  auto a = station(Distribution::fixed, 0.2, 0, 1.0);
  a.next = {to_sink()};
  auto b = station(Distribution::fixed, 0.2, 0, 1.0);
  b.disassembly = true;
  b.next = {to_sink(), route(0, 3)};
  auto c = station(Distribution::fixed, 0.2, 0, 1.0);
  auto l = line(ArrivalKind::poisson, 1.0, {split, a, b, c});
  l.source.mix = {TypeShare{0, 0.3}, TypeShare{1, 0.7}};
  model = model_of({{l}});
  model.part_types = {"x", "y"};
  Factory f(model, seed, MPI_COMM_SELF);
  f.advance(1.0e5, {});
  const KpiReport r = f.report();
  const double parts = value(r.line, "entered", 0);  // the pieces made at B enter the line there
  const double x = value(r.station, "processed", 1), y = value(r.station, "processed", 2);
  EXPECT_NEAR(x / (x + y), 0.3, 4.0 * std::sqrt(0.21 / (x + y)));
  EXPECT_EQ(value(r.station, "pieces", 2), y);
  EXPECT_NEAR(value(r.station, "processed", 3), y, 2.0);  // a piece or two still on the way to C
  EXPECT_NEAR(parts, x + 2.0 * y, 3.0);
  // Every x leaves at A, every y as two pieces (at B and after C), typed as their part.
  EXPECT_NEAR(value(r.line, "sink_count.x", 0), x, 1.0);
  EXPECT_NEAR(value(r.line, "sink_count.y", 0), 2.0 * y, 2.0);
  const FactoryState st = f.save();
  ASSERT_EQ(st.genealogy_width[2], 3);
  for (std::size_t k = 0; k < static_cast<std::size_t>(st.genealogy_count[2]); k += 3)
    EXPECT_EQ(st.genealogy[k + 2], st.genealogy[k + 1] | (std::int64_t{1} << 56));
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

// A pool of `robots` at station 0 of line 0, with call and travel times.
PoolConfig pool_at_line0(std::int64_t robots, double call_s) {
  PoolConfig p;
  p.name = "arms";
  p.robots = robots;
  p.home.line_copy = 0;
  p.call_time_s = call_s;
  return p;
}
StationConfig borrowing(StationConfig s, double travel_s) {
  s.robots_from.enabled = true;
  s.robots_from.pool = "arms";
  s.robots_from.travel_time_s = travel_s;
  return s;
}

TEST(FactoryModels, RobotPoolMatchesErlangC) {
  // Two lines, each with Poisson parts at lambda / 2 into one station of many machines
  // (more than ever wait) whose services each need a robot from a pool of R = 2 at line 0's
  // station. A part's call reaches the pool after the call time c, the pool sends its robots
  // to the calls in their order, a robot travels T there, serves an exponential service
  // (mean 1/mu) and travels T back. With c and T small the pool is an M/M/R queue of the
  // calls with a robot holding time h = 1/mu + 2T: Erlang C's wait Wq = C h / (R - a),
  // a = lambda h. A part's time in the line is c + Wq + T + 1/mu, its call's wait c + Wq + T,
  // and the pool's robots are away for lambda h / R of their time (Little, exact for any c, T).
  const double lambda = 1.2, mu = 1.0, c_s = 1e-3, travel_s = 1e-3;
  const int R = 2;
  const double h = 1.0 / mu + 2.0 * travel_s, a = lambda * h;
  double below = 0.0, term = 1.0;
  for (int k = 0; k < R; ++k) {
    below += term;
    term *= a / (k + 1);
  }
  const double waiting = term * R / (R - a);
  const double wq_s = waiting / (below + waiting) * h / (R - a);
  auto s = borrowing(station(Distribution::exponential, 1.0 / mu, 0, 1.0), travel_s);
  s.servers = 64;
  FactoryModelConfig model = model_of({{line(ArrivalKind::poisson, 2.0 / lambda, {s}),
                                        line(ArrivalKind::poisson, 2.0 / lambda, {s})}});
  model.factories[0].pools = {pool_at_line0(R, c_s)};
  Factory f(model, seed, MPI_COMM_SELF);
  EXPECT_EQ(f.lookahead_s(), 1e-3);
  const double batch_s = 5.0e4;
  const auto sums = cumulative_sums(f, 1.0e3, batch_s, [](const KpiReport& r) {
    const double sink = value(r.factory, "sink_count", 0);
    return std::vector<double>{sink * value(r.factory, "lead_time", 0), sink,
                               value(r.station, "pool_utilisation", 0) * r.time_s};
  });
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[0] / d[1] - 1.0 / mu - c_s - travel_s; }),
                wq_s, 0.05, "wait for a robot of the pool (M/M/2, Erlang C), s");
  expect_covers(batch_means(sums, [&](const std::vector<double>& d) { return d[2] / batch_s; }), a / R, 0.01,
                "pool utilisation (Little)");
  const KpiReport r = f.report();
  for (std::size_t k = 0; k < 2; ++k) {
    EXPECT_NEAR(value(r.station, "robot_wait", k), c_s + wq_s + travel_s, 0.03 * wq_s) << k;
    EXPECT_EQ(value(r.station, "blocked_fraction", k), 0.0);
  }
  EXPECT_EQ(value(r.station, "pool_utilisation", 1), 0.0);  // no pool at line 1
}

// A robot cell whose every service takes 3 s and is good.
struct ThreeSecondCells : CellProcess {
  void resolve(std::vector<ServiceRequest>& requests) override {
    for (ServiceRequest& r : requests) r.outcome = Outcome{3.0, true, false};
  }
};

TEST(FactoryModels, RobotPoolServesCallsInOrderWithWholeTeamsByHand) {
  // Two robot cells of two robots each, one per line, borrow from a pool of 3 robots at the
  // first (call 1 s, travel 2 s); a part arrives at each cell every 20 s (t = 20 k). Both calls
  // reach the pool at 20 k + 1, cell 0's first (the lower client): its team arrives at
  // 20 k + 3, works until 20 k + 6 (the part leaves: lead time 6 s) and is home at 20 k + 8.
  // Only then are 2 robots free for cell 1: there at 20 k + 10, done at 20 k + 13 (lead time
  // 13 s), home at 20 k + 15. Two robots are out for 14 s of every 20.
  auto cell = station(Distribution::fixed, 3.0, 0, 1.0);
  cell.cell.enabled = true;
  cell.cell.robots = 2;
  cell.cell.ideal_cycle_s = 3.0;
  cell = borrowing(cell, 2.0);
  FactoryModelConfig model = model_of({{line(ArrivalKind::fixed, 20.0, {cell}), line(ArrivalKind::fixed, 20.0, {cell})}});
  model.factories[0].pools = {pool_at_line0(3, 1.0)};
  ThreeSecondCells cells;
  Factory f(model, seed, MPI_COMM_SELF);
  f.set_cells(&cells);
  const int n = 500;
  f.advance(20.0 * n, {});
  const KpiReport r = f.report();
  EXPECT_EQ(value(r.line, "lead_time", 0), 6.0);
  EXPECT_EQ(value(r.line, "lead_time", 1), 13.0);
  EXPECT_EQ(value(r.station, "robot_wait", 0), 3.0);
  EXPECT_EQ(value(r.station, "robot_wait", 1), 10.0);
  EXPECT_EQ(value(r.line, "sink_count", 0), n - 1.0);  // the part of t = 20 n is still waiting
  EXPECT_DOUBLE_EQ(value(r.station, "pool_utilisation", 0), 2.0 * 14.0 * (n - 1) / (3.0 * 20.0 * n));
  // With only 2 robots in the pool the teams cannot overlap either, and a pool of 1 cannot
  // serve a cell of 2 at all: the deck refuses it (ModelIndex::route_problems).
  model.factories[0].pools[0].robots = 1;
  const auto problems = ModelIndex(model).route_problems();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].second.find("at least the 2 robots"), std::string::npos) << problems[0].second;
}

}  // namespace
}  // namespace kollektiv::factory
