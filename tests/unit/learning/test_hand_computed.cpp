// Hand-computed checks: GAE with terminations and time-limit truncation, the clipped PPO
// loss and its gradients, three Adam steps, and the normaliser's merge of batches.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "solvers/comm/fixed_point_sum.hpp"
#include "solvers/core/philox.hpp"
#include "solvers/learning/adam.hpp"
#include "solvers/learning/gae.hpp"
#include "solvers/learning/gaussian_policy.hpp"
#include "solvers/learning/observation_normalizer.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/learning/ppo_loss.hpp"
#include "solvers/learning/segment_sums.hpp"
#include "tests/test_collectives.hpp"

namespace kl = kollektiv::learning;
using kollektiv::Real;
using kollektiv::View;

namespace {

template <class T>
View<T*> make(const std::vector<T>& values) {
  View<T*> v("test::values", values.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < values.size(); ++i) h(i) = values[i];
  Kokkos::deep_copy(v, h);
  return v;
}

template <class T = Real>
View<T**> column(const std::vector<double>& values) {
  View<T**> v("test::column", values.size(), 1);
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < values.size(); ++i) h(i, 0) = values[i];
  Kokkos::deep_copy(v, h);
  return v;
}

}  // namespace

TEST(LearningHand, Gae) {
  // gamma = 0.9, lambda = 0.5, horizon 3, two robots; rows s = t * 2 + r.
  // Robot 0 runs through: rewards 1, 2, 3; values 0.5, 1, 1.5; V(last obs) = 2.
  //   t=2: delta = 3 + 0.9*2   - 1.5 = 3.3    A = 3.3
  //   t=1: delta = 2 + 0.9*1.5 - 1   = 2.35   A = 2.35 + 0.45*3.3   = 3.835
  //   t=0: delta = 1 + 0.9*1   - 0.5 = 1.4    A = 1.4  + 0.45*3.835 = 3.12575
  // Robot 1: rewards 1, 1, 1; values 1, 2, 3; terminated after t=0, truncated after t=1
  // with V(final obs) = 4; V(last obs) = 5.
  //   t=2: delta = 1 + 0.9*5 - 3 = 2.5        A = 2.5
  //   t=1: delta = 1 + 0.9*4 - 2 = 2.6        A = 2.6 (episode ended: no A_{t+1})
  //   t=0: delta = 1 + 0     - 1 = 0          A = 0
  // returns = A + V.
  kl::GaeInputs in;
  in.horizon = 3;
  in.robots = 2;
  in.reward = make<Real>({1, 1, 2, 1, 3, 1});
  in.value = make<Real>({0.5, 1, 1, 2, 1.5, 3});
  in.terminated = make<int>({0, 1, 0, 0, 0, 0});
  in.truncated = make<int>({0, 0, 0, 1, 0, 0});
  in.truncation_value = make<Real>({0, 0, 0, 4, 0, 0});
  in.last_value = make<Real>({2, 5});
  View<Real*> adv("test::adv", 6), ret("test::ret", 6);
  kl::compute_gae(in, 0.9, 0.5, adv, ret);
  auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), adv);
  auto r = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ret);
  const double expect_a[6] = {3.12575, 0, 3.835, 2.6, 3.3, 2.5};
  const double expect_r[6] = {3.62575, 1, 4.835, 4.6, 4.8, 5.5};
  for (int s = 0; s < 6; ++s) {
    EXPECT_NEAR(a(s), expect_a[s], 1e-12) << s;
    EXPECT_NEAR(r(s), expect_r[s], 1e-12) << s;
  }
}

TEST(LearningHand, ClippedLoss) {
  // One action dimension, mean 0, log_std 0 (sigma 1), action 0.5, clip 0.2, value clip 0.2,
  // value_coef 0.5, weight 1. log pi = -0.125 - log(2 pi)/2; dlogpi/dmu = 0.5,
  // dlogpi/dlog_std = 0.25 - 1 = -0.75.
  //  s0: ratio 1.5, A =  2: min(3, 1.2*2 = 2.4) = 2.4 (clipped) -> loss -2.4, grads 0, clipped
  //  s1: ratio 0.5, A =  2: min(1, 0.8*2 = 1.6) = 1   -> loss -1, dL/dlogpi = -A*ratio = -1
  //      -> d_mean = -0.5, d_log_std = 0.75; |ratio - 1| > 0.2: counted as clipped
  //  s2: ratio 1.5, A = -1: min(-1.5, -1.2) = -1.5     -> loss 1.5, dL/dlogpi = 1.5
  //      -> d_mean = 0.75, d_log_std = -1.125
  //  s3: ratio 1.1, A =  1: inside the range           -> loss -1.1, dL/dlogpi = -1.1
  //      -> d_mean = -0.55, d_log_std = 0.825; not clipped
  // Values (v, v_old, R): s0 (1, 0.5, 2): v_clip = 0.7, errors 1 and 1.69 -> 0.845, d_v = 0
  //                       s1 (1, 0.5, 0): v_clip = 0.7, errors 1 and 0.49 -> 0.5, d_v = 0.5*1
  //                       s2 (1, 0.9, 3): inside, error 4 -> 2, d_v = 0.5*(1 - 3) = -1
  //                       s3 (1, 1.0, 1): 0, 0
  const double logp = -0.125 - kl::half_log_two_pi;
  const std::vector<double> ratio{1.5, 0.5, 1.5, 1.1};
  std::vector<double> old_lp;
  for (double q : ratio) old_lp.push_back(logp - std::log(q));
  kl::PpoSamples in;
  in.rows = 4;
  in.mean = column<kl::NetReal>({0, 0, 0, 0});  // network outputs, in network precision
  in.value = column<kl::NetReal>({1, 1, 1, 1});
  in.actions = column({0.5, 0.5, 0.5, 0.5});
  in.old_log_prob = make<Real>(old_lp);
  in.advantage = make<Real>({2, 2, -1, 1});
  in.returns = make<Real>({2, 0, 3, 1});
  in.old_value = make<Real>({0.5, 0.5, 0.9, 1.0});
  const auto params = make<Real>({0.0});
  kl::PpoSampleGradients out{View<kl::NetReal**>("test::dm", 4, 1), View<Real**>("test::dls", 4, 1),
                             View<kl::NetReal**>("test::dv", 4, 1), View<Real**>("test::stats", 4, kl::stat_count)};
  kl::ppo_loss_terms(kl::PpoLossConfig{0.2, 0.2, 0.5}, in, params, 0, 1, 1.0, out);
  auto dm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out.d_mean);
  auto dls = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out.d_log_std);
  auto dv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out.d_value);
  auto st = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out.stats);
  const double e_loss[4] = {-2.4, -1, 1.5, -1.1}, e_dm[4] = {0, -0.5, 0.75, -0.55},
               e_dls[4] = {0, 0.75, -1.125, 0.825}, e_clip[4] = {1, 1, 1, 0}, e_vl[4] = {0.845, 0.5, 2, 0},
               e_dv[4] = {0, 0.5, -1, 0};
  for (int s = 0; s < 4; ++s) {
    EXPECT_NEAR(st(s, kl::stat_policy_loss), e_loss[s], 1e-12) << s;
    EXPECT_NEAR(dm(s, 0), e_dm[s], 1e-7) << s;  // rounded to float for the backward pass
    EXPECT_NEAR(dls(s, 0), e_dls[s], 1e-12) << s;
    EXPECT_EQ(st(s, kl::stat_clipped), e_clip[s]) << s;
    EXPECT_NEAR(st(s, kl::stat_value_loss), e_vl[s], 1e-12) << s;
    EXPECT_NEAR(dv(s, 0), e_dv[s], 1e-7) << s;
    // approx KL = (ratio - 1) - log ratio
    EXPECT_NEAR(st(s, kl::stat_approx_kl), ratio[s] - 1 - std::log(ratio[s]), 1e-12) << s;
  }
}

TEST(LearningHand, AdamThreeSteps) {
  // p0 = 1, lr 0.1, b1 0.9, b2 0.999, eps 1e-8, gradients 0.1, -0.2, 0.3.
  // t=1: m = 0.01,    v = 1e-5,          m^ = 0.1,        v^ = 0.01       -> p = 0.90000001
  // t=2: m = -0.011,  v = 4.999e-5,      m^ = -0.011/0.19, v^ = 4.999e-5/0.001999
  //      step = 0.1 * -0.0578947 / 0.158138 = -0.0366104    -> p = 0.9366104
  // t=3: m = 0.0201,  v = 1.3994001e-4,  m^ = 0.0201/0.271, v^ = 1.3994001e-4/0.002997001
  //      step = 0.1 * 0.0741697 / 0.216087 = 0.0343241      -> p = 0.9022863
  kl::Adam adam(1, kl::AdamConfig{0.9, 0.999, 1e-8});
  View<Real*> p = make<Real>({1.0});
  const double expected[3] = {0.90000001, 0.9366103604, 0.9022862539};
  const double grads[3] = {0.1, -0.2, 0.3};
  for (int t = 0; t < 3; ++t) {
    adam.step(p, make<Real>({grads[t]}), 0.1);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), p);
    EXPECT_NEAR(h(0), expected[t], 1e-9) << t;
  }
  EXPECT_EQ(adam.steps(), 3);
}

TEST(LearningHand, NormalizerMergeEqualsSinglePass) {
  const int dim = 3, rows = 300;
  std::vector<double> data(rows * dim);
  for (int i = 0; i < rows * dim; ++i)  // a large offset: the variance must not cancel
    data[i] = 1000.0 * (i % dim) + (1 + i % dim) * kollektiv::rng::normal(kollektiv::rng::draw(3, kollektiv::rng::Stream::test, i, 0));
  auto rows_view = [&](int first, int count) {
    View<Real**> v("test::obs", count, dim);
    auto h = Kokkos::create_mirror_view(v);
    for (int r = 0; r < count; ++r)
      for (int f = 0; f < dim; ++f) h(r, f) = data[(first + r) * dim + f];
    Kokkos::deep_copy(v, h);
    return v;
  };
  kl::ObservationNormalizer once(dim, 10), merged(dim, 10);
  once.observe(rows_view(0, rows), rows);
  once.commit(kollektiv::testing::self());
  merged.observe(rows_view(0, 50), 50);
  merged.commit(kollektiv::testing::self());
  merged.observe(rows_view(50, 70), 70);  // two observes before one commit
  merged.observe(rows_view(120, 100), 100);
  merged.commit(kollektiv::testing::self());
  merged.observe(rows_view(220, 80), 80);
  merged.commit(kollektiv::testing::self());

  for (int f = 0; f < dim; ++f) {  // two-pass reference
    double mean = 0, m2 = 0;
    for (int r = 0; r < rows; ++r) mean += data[r * dim + f];
    mean /= rows;
    for (int r = 0; r < rows; ++r) m2 += (data[r * dim + f] - mean) * (data[r * dim + f] - mean);
    const double var = m2 / rows;
    EXPECT_NEAR(once.mean()[f], mean, 1e-12 * std::fabs(mean) + 1e-14);
    EXPECT_NEAR(merged.mean()[f], mean, 1e-12 * std::fabs(mean) + 1e-14);
    // The first commit shifts by the initial mean 0, 1000x the spread: about
    // (1000)^2 * 1e-16 of cancellation, so 1e-9 relative.
    EXPECT_NEAR(once.variance()[f], var, 1e-9 * var);
    EXPECT_NEAR(merged.variance()[f], var, 1e-9 * var);
  }
  EXPECT_EQ(merged.count(), rows);
  // Normalised values are clipped to the range.
  View<Real**> out("test::out", 1, dim);
  auto extreme = rows_view(0, 1);
  auto eh = Kokkos::create_mirror_view(extreme);
  for (int f = 0; f < dim; ++f) eh(0, f) = 1e9;
  Kokkos::deep_copy(extreme, eh);
  merged.normalize(extreme, 1, out);
  auto oh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  for (int f = 0; f < dim; ++f) EXPECT_EQ(oh(0, f), 10.0);
}

namespace {

// partial[g][c] from host rows, in the default layout or another one (CUDA's is left).
template <class Layout = View<Real**>::array_layout>
Kokkos::View<Real**, Layout, kollektiv::MemSpace> partial_of(const std::vector<std::vector<double>>& rows) {
  Kokkos::View<Real**, Layout, kollektiv::MemSpace> v("test::partial", rows.size(), rows.front().size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t g = 0; g < rows.size(); ++g)
    for (std::size_t c = 0; c < rows[g].size(); ++c) h(g, c) = rows[g][c];
  Kokkos::deep_copy(v, h);
  return v;
}

}  // namespace

// FixedPointSum: within 2^-shift of the column's largest term of the exact sum, the same
// bits for any order of the segments, zeros and non-finite terms handled.
TEST(LearningHand, FixedPointSumIsOrderIndependentAndAccurate) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> rows;
  for (int g = 0; g < 7; ++g) {
    const double u = kollektiv::rng::normal(kollektiv::rng::draw(9, kollektiv::rng::Stream::test, g, 0));
    rows.push_back({u, 1e300 * u, 1e-300 * u, g == 3 ? 1.0 : 1e-17, 0.0, g == 5 ? inf : u, g == 2 ? NAN : u,
                    (g % 2 == 0 ? 1 : -1) * 0.1});
  }
  const std::int64_t global_rows = 2048;  // shift = 61 - 11 = 50
  kollektiv::comm::FixedPointSum sum;
  auto& self = kollektiv::testing::self();
  const std::vector<double> a = sum.sum(self, partial_of(rows), 7, 8, global_rows);
  std::vector<std::vector<double>> reversed(rows.rbegin(), rows.rend());
  const std::vector<double> b = sum.sum(self, partial_of(reversed), 7, 8, global_rows);
  // Column-major partials, as a CUDA build holds them, give the same bits.
  const std::vector<double> left = sum.sum(self, partial_of<Kokkos::LayoutLeft>(rows), 7, 8, global_rows);
  for (int c = 0; c < 8; ++c) {
    if (std::isnan(a[c])) {
      EXPECT_TRUE(std::isnan(b[c])) << c;
      EXPECT_TRUE(std::isnan(left[c])) << c;
    } else {
      EXPECT_EQ(a[c], b[c]) << "column " << c << " depends on the order of the segments";
      EXPECT_EQ(a[c], left[c]) << "column " << c << " depends on the partials' layout";
    }
  }
  for (int c : {0, 1, 2, 3, 7}) {
    kollektiv::ExactSum exact;
    double largest = 0;
    for (const auto& r : rows) {
      exact.add(r[c]);
      largest = std::max(largest, std::fabs(r[c]));
    }
    EXPECT_NEAR(a[c], exact.to_double(), 7 * std::ldexp(largest, -50)) << "column " << c;
  }
  EXPECT_EQ(a[3], 1.0);                             // terms below the column's grid drop out
  EXPECT_EQ(a[4], 0.0);                             // an all-zero column
  EXPECT_TRUE(std::isnan(a[5]));                    // inf anywhere: NaN
  EXPECT_TRUE(std::isnan(a[6]));                    // NaN anywhere: NaN
  EXPECT_NEAR(a[7], 0.1, 1e-15);                    // 4 x 0.1 - 3 x 0.1, no cancellation loss
}

// Columns past the first chunk of 64 (the kernels take columns in chunks on CPU backends): an
// all-zero column, inf and NaN columns and finite ones at the chunks' ends, in both layouts.
TEST(LearningHand, FixedPointSumChunksOfColumns) {
  const double inf = std::numeric_limits<double>::infinity();
  constexpr int columns = 130, segments = 5;
  std::vector<std::vector<double>> rows(segments, std::vector<double>(columns));
  for (int g = 0; g < segments; ++g)
    for (int c = 0; c < columns; ++c)
      rows[g][c] = c == 65 ? 0.0 : (c + 1) * kollektiv::rng::normal(kollektiv::rng::draw(4, kollektiv::rng::Stream::test, g, c));
  rows[3][100] = -inf;
  rows[1][127] = NAN;
  kollektiv::comm::FixedPointSum sum;
  auto& self = kollektiv::testing::self();
  const std::vector<double> right = sum.sum(self, partial_of(rows), segments, columns, 1024);
  const std::vector<double> left = sum.sum(self, partial_of<Kokkos::LayoutLeft>(rows), segments, columns, 1024);
  for (int c = 0; c < columns; ++c) {
    if (c == 100 || c == 127) {
      EXPECT_TRUE(std::isnan(right[c]) && std::isnan(left[c])) << "column " << c;
      continue;
    }
    EXPECT_EQ(right[c], left[c]) << "column " << c;
    kollektiv::ExactSum exact;
    double largest = 0;
    for (const auto& r : rows) {
      exact.add(r[c]);
      largest = std::max(largest, std::fabs(r[c]));
    }
    EXPECT_NEAR(right[c], exact.to_double(), 2 * segments * std::ldexp(largest, -51)) << "column " << c;  // shift 51
  }
  EXPECT_EQ(right[65], 0.0);
}

// Columns of subnormal partials (their exponent is found on the value scaled by 2^64): the
// grid is far finer than 2^-1074 there, so the sums are exact; and a column mixing both.
TEST(LearningHand, FixedPointSumOfSubnormals) {
  const double tiny = std::numeric_limits<double>::denorm_min();
  const std::vector<std::vector<double>> rows{{3 * tiny, 1e-310, -tiny, 1e-300},
                                              {tiny, -2e-311, 5e-324, 1e-310},
                                              {7 * tiny, 4e-312, 2 * tiny, 0.0}};
  kollektiv::comm::FixedPointSum sum;
  const std::vector<double> got = sum.sum(kollektiv::testing::self(), partial_of(rows), 3, 4, 3);
  for (int c = 0; c < 4; ++c) {
    kollektiv::ExactSum exact;
    for (const auto& r : rows) exact.add(r[c]);
    if (c < 3) {
      EXPECT_EQ(got[c], exact.to_double()) << "column " << c;
    } else {  // normal and subnormal terms: the grid of the largest, 2^-59 of it (3 terms: shift 59)
      EXPECT_NEAR(got[c], exact.to_double(), 3 * std::ldexp(1e-300, -58)) << "column " << c;
    }
  }
  EXPECT_EQ(got[0], 11 * tiny);
}

// The gradient norm's sum of squares: eight interleaved partial sums, then a pairwise tree.
// 2^54 + 1 + ... + 1 (seven ones) is 2^54 added in order (each 1 rounds away) but 2^54 + 4 in
// this order, and a tail past the last whole group of eight lands in its lane.
TEST(LearningHand, SumOfSquaresInLanes) {
  std::vector<double> x{std::ldexp(1.0, 27), 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(kl::sum_of_squares(x), std::ldexp(1.0, 54) + 4);
  x.push_back(3);  // lane 0: 2^54 + 9
  EXPECT_EQ(kl::sum_of_squares(x), std::ldexp(1.0, 54) + 12);
  EXPECT_EQ(kl::sum_of_squares({}), 0.0);
  EXPECT_EQ(kl::sum_of_squares({-2.0, 0.5}), 4.25);
}

// segment_column_sums reads and writes element by element: a LayoutLeft values and partial
// View (CUDA's default) give the same sums, at an offset, as the default layout.
TEST(LearningHand, SegmentColumnSumsAcceptEitherLayout) {
  std::vector<std::vector<double>> values;
  for (int r = 0; r < 6; ++r) values.push_back({0.5 * r, -1.0 * r * r, 1e-3 + r, 7.0});
  const kl::Segments segments = kl::segments_from_offsets({0, 2, 5, 6});
  const auto run = [&](auto v, auto partial) {
    kl::segment_column_sums(v, 4, segments, partial, 1);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
    std::vector<double> out;
    for (int g = 0; g < 3; ++g)
      for (int c = 0; c < 5; ++c) out.push_back(h(g, c));
    return out;
  };
  using Left = Kokkos::View<Real**, Kokkos::LayoutLeft, kollektiv::MemSpace>;
  const std::vector<double> right = run(partial_of(values), View<Real**>("test::partial_right", 3, 5));
  const std::vector<double> left = run(partial_of<Kokkos::LayoutLeft>(values), Left("test::partial_left", 3, 5));
  EXPECT_EQ(right, left);
  EXPECT_EQ(right[0 * 5 + 1], 0.5);                  // segment 0, column 0: rows 0 and 1
  EXPECT_EQ(right[1 * 5 + 2], -(4.0 + 9.0 + 16.0));  // segment 1, column 1: rows 2..4
  EXPECT_EQ(right[2 * 5 + 4], 7.0);                  // segment 2, column 3: row 5
  EXPECT_EQ(right[0], 0.0);                          // column 0 is below the offset: untouched
}
