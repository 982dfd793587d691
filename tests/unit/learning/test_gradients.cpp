// Finite-difference checks (central differences): dense+tanh and linear layers wrt
// parameters and inputs (double kernels), the float kernels against the double ones, the
// Gaussian log-probability wrt mean and log-std, and the full PPO loss wrt every parameter
// of the policy and value networks (float networks, as trained).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "solvers/core/philox.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "tests/test_collectives.hpp"

namespace kl = kollektiv::learning;
using kollektiv::Real;
using kollektiv::View;

namespace {

double noise(std::uint64_t id, std::uint64_t counter) {
  return kollektiv::rng::normal(kollektiv::rng::draw(7, kollektiv::rng::Stream::test, id, counter));
}

View<Real**> random_matrix(int rows, int cols, std::uint64_t id, double scale = 1.0) {
  View<Real**> m("test::matrix", rows, cols);
  auto h = Kokkos::create_mirror_view(m);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) h(r, c) = scale * noise(id, static_cast<std::uint64_t>(r * cols + c));
  Kokkos::deep_copy(m, h);
  return m;
}

// max |a - b| / max |b|: the relative error of a gradient vector.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / scale;
}

template <class T>
View<T**> converted(View<Real**> m) {
  View<T**> out("test::converted", m.extent(0), m.extent(1));
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  auto o = Kokkos::create_mirror_view(out);
  for (std::size_t r = 0; r < m.extent(0); ++r)
    for (std::size_t c = 0; c < m.extent(1); ++c) o(r, c) = static_cast<T>(h(r, c));
  Kokkos::deep_copy(out, o);
  return out;
}

// All elements of a matrix, row by row, as doubles.
template <class T>
std::vector<double> flat(View<T**> m) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m);
  std::vector<double> v;
  for (std::size_t r = 0; r < h.extent(0); ++r)
    for (std::size_t c = 0; c < h.extent(1); ++c) v.push_back(h(r, c));
  return v;
}

// The gradient from the partials of segments [s0, s1): column sums in double.
std::vector<double> summed(View<Real**> partial, int s0, int s1, std::int64_t first, std::int64_t end) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
  std::vector<double> g;
  for (std::int64_t p = first; p < end; ++p) {
    double sum = 0;
    for (int s = s0; s < s1; ++s) sum += h(s, p);
    g.push_back(sum);
  }
  return g;
}

// L = sum_{r,i} c(r,i) y(r,i) for a network's outputs y; dL/dy = c.
double weighted_output(const kl::Mlp& net, View<Real*> params, View<Real**> x, int rows, View<Real**> c,
                       kl::MlpWork<Real>& work) {
  net.forward<Real>(params, x, rows, work);
  auto y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), work.output());
  auto ch = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), c);
  double sum = 0;
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < net.output_dim(); ++i) sum += ch(r, i) * y(r, i);
  return sum;
}

void check_network(const std::vector<int>& widths) {
  const int rows = 13;  // one full block of 12 rows and a partial one
  const kl::Mlp net(widths, 3);  // a non-zero base offset, as for the value net
  View<Real*> params("test::params", net.end_offset());
  net.initialize(params, 11, 1.0);
  {  // non-zero biases so that every term is exercised
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params);
    for (const auto& l : net.layers())
      for (int i = 0; i < l.out; ++i) h(l.bias_offset + i) = 0.3 * noise(99, static_cast<std::uint64_t>(l.bias_offset + i));
    Kokkos::deep_copy(params, h);
  }
  auto x = random_matrix(rows, net.input_dim(), 1);
  auto c = random_matrix(rows, net.output_dim(), 2);
  auto work = net.make_work<Real>(rows);

  View<Real**> partial("test::partial", rows, net.end_offset());
  View<Real**> dx("test::dx", rows, net.input_dim());
  net.forward<Real>(params, x, rows, work);
  net.backward<Real>(params, x, rows, c, kl::segments_per_row(rows), work, partial, dx);
  const std::vector<double> gradient = summed(partial, 0, rows, net.base_offset(), net.end_offset());
  auto dxh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), dx);

  const double h = 1e-6;
  std::vector<double> analytic, numeric;
  auto ph = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), params);
  for (std::int64_t p = net.base_offset(); p < net.end_offset(); ++p) {
    const double keep = ph(p);
    ph(p) = keep + h;
    Kokkos::deep_copy(params, ph);
    const double plus = weighted_output(net, params, x, rows, c, work);
    ph(p) = keep - h;
    Kokkos::deep_copy(params, ph);
    const double minus = weighted_output(net, params, x, rows, c, work);
    ph(p) = keep;
    Kokkos::deep_copy(params, ph);
    numeric.push_back((plus - minus) / (2 * h));
    analytic.push_back(gradient[p - net.base_offset()]);
  }
  EXPECT_LT(relative_error(analytic, numeric), 1e-6) << "parameter gradient";

  analytic.clear();
  numeric.clear();
  auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < net.input_dim(); ++j) {
      const double keep = xh(r, j);
      xh(r, j) = keep + h;
      Kokkos::deep_copy(x, xh);
      const double plus = weighted_output(net, params, x, rows, c, work);
      xh(r, j) = keep - h;
      Kokkos::deep_copy(x, xh);
      const double minus = weighted_output(net, params, x, rows, c, work);
      xh(r, j) = keep;
      Kokkos::deep_copy(x, xh);
      numeric.push_back((plus - minus) / (2 * h));
      analytic.push_back(dxh(r, j));
    }
  EXPECT_LT(relative_error(analytic, numeric), 1e-6) << "input gradient";
}

}  // namespace

TEST(LearningGradients, LinearOutputLayer) { check_network({4, 3}); }
TEST(LearningGradients, DenseTanhThenLinear) { check_network({3, 5, 2}); }
TEST(LearningGradients, TwoTanhLayers) { check_network({4, 6, 5, 3}); }
// Widths past one vector tile (8 doubles with AVX2, 16 with AVX-512), with leftover columns
// and inputs.
TEST(LearningGradients, WideLayersWithRemainders) { check_network({5, 20, 9, 3}); }
// Weight-gradient tiles of 12 inputs (AVX-512 builds) followed by a tile of 6 (26 = 2 x 12 +
// 2, 40 = 3 x 12 + 4), whole output tiles with leftovers, and a leftover-only layer.
TEST(LearningGradients, WideGradientTilesThenNarrowOnes) { check_network({26, 40, 20, 3}); }
// A bias row past one pass of 8 vectors with leftover columns (40 = 32 + 8), and a narrow
// last layer (3 outputs) whose 40 inputs go in groups of 4, 4 and 2 vectors.
TEST(LearningGradients, BiasPassesAndNarrowInputGroups) { check_network({10, 40, 3}); }

// The float kernels (vector tiles, fast tanh) against the double ones on the trained
// shapes (13 -> 64 -> 64 -> 2), with segments of several rows: outputs, parameter and
// input gradients agree to float precision.
TEST(LearningGradients, FloatKernelsMatchDouble) {
  const int rows = 37;
  const kl::Mlp net({13, 64, 64, 2}, 0);
  View<Real*> params("test::params", net.end_offset());
  net.initialize(params, 5, 1.0);
  View<float*> params_f("test::params_f", net.end_offset());
  kl::convert_parameters<float>(params, params_f);
  auto x = random_matrix(rows, net.input_dim(), 3);
  auto c = random_matrix(rows, net.output_dim(), 4);
  const kl::Segments segments = kl::segments_from_offsets({0, 5, 17, 18, 37});

  auto work = net.make_work<Real>(rows);
  View<Real**> partial("test::partial", segments.count, net.end_offset());
  View<Real**> dx("test::dx", rows, net.input_dim());
  net.forward<Real>(params, x, rows, work);
  net.backward<Real>(params, x, rows, c, segments, work, partial, dx);

  auto work_f = net.make_work<float>(rows);
  View<Real**> partial_f("test::partial_f", segments.count, net.end_offset());
  View<float**> dx_f("test::dx_f", rows, net.input_dim());
  const auto x_f = converted<float>(x);
  net.forward<float>(params_f, x_f, rows, work_f);
  net.backward<float>(params_f, x_f, rows, converted<float>(c), segments, work_f, partial_f, dx_f);

  EXPECT_LT(relative_error(flat(work_f.output()), flat(work.output())), 1e-5) << "outputs";
  for (int s = 0; s < segments.count; ++s) {
    const auto g = summed(partial, s, s + 1, 0, net.end_offset());
    const auto g_f = summed(partial_f, s, s + 1, 0, net.end_offset());
    EXPECT_LT(relative_error(g_f, g), 1e-4) << "parameter gradient of segment " << s;
  }
  EXPECT_LT(relative_error(flat(dx_f), flat(dx)), 1e-4) << "input gradient";
}

// A row's outputs and input gradient do not depend on which rows share its batch (the
// kernels take rows in blocks: tiles of 6, narrow layers 16 at a time): each row alone, and
// the rows from 5 on, against the whole batch, bitwise, in float. Shapes: the trained one
// (13 -> 64 -> 64 -> 2: whole tiles, then a narrow layer) and one with leftover columns
// beside whole tiles (40 = 32 + 8), over 37 rows (a partial block of each size).
TEST(LearningGradients, RowResultsDoNotDependOnTheBatch) {
  for (const std::vector<int>& widths : {std::vector<int>{13, 64, 64, 2}, std::vector<int>{13, 40, 3}}) {
    const int rows = 37;
    const kl::Mlp net(widths, 0);
    View<Real*> params("test::params", net.end_offset());
    net.initialize(params, 5, 1.0);
    View<float*> params_f("test::params_f", net.end_offset());
    kl::convert_parameters<float>(params, params_f);
    const auto x = converted<float>(random_matrix(rows, net.input_dim(), 3));
    const auto dy = converted<float>(random_matrix(rows, net.output_dim(), 4));
    // Outputs and input gradients of rows [first, first + n), as doubles row by row.
    const auto run = [&](int first, int n) {
      const auto part = [&](View<float**> m) {
        View<float**> p("test::part", n, m.extent(1));
        Kokkos::deep_copy(p, Kokkos::subview(m, Kokkos::make_pair(first, first + n), Kokkos::ALL()));
        return p;
      };
      auto work = net.make_work<float>(n);
      const kl::Segments segments = kl::segments_from_offsets({0, n});
      View<Real**> partial("test::partial", segments.count, net.end_offset());
      View<float**> dx("test::dx", n, net.input_dim());
      const auto xp = part(x);
      net.forward<float>(params_f, xp, n, work);
      net.backward<float>(params_f, xp, n, part(dy), segments, work, partial, dx);
      return std::make_pair(flat(work.output()), flat(dx));
    };
    const auto whole = run(0, rows);
    const int out = net.output_dim(), in = net.input_dim();
    const auto expect_rows = [&](const std::pair<std::vector<double>, std::vector<double>>& got, int first) {
      const int n = static_cast<int>(got.first.size()) / out;
      for (int i = 0; i < n * out; ++i)
        ASSERT_EQ(got.first[i], whole.first[first * out + i]) << "output of row " << first + i / out;
      for (int i = 0; i < n * in; ++i)
        ASSERT_EQ(got.second[i], whole.second[first * in + i]) << "input gradient of row " << first + i / in;
    };
    for (int r = 0; r < rows; ++r) expect_rows(run(r, 1), r);
    expect_rows(run(5, rows - 5), 5);
  }
}

TEST(LearningGradients, GaussianLogProb) {
  const double h = 1e-6;
  for (int i = 0; i < 20; ++i) {
    const double a = noise(5, i), mu = 0.5 * noise(6, i), log_std = 0.5 * noise(8, i);
    double d_mu, d_ls;
    kl::gaussian_log_prob_grad_inv_std(a, mu, std::exp(-log_std), d_mu, d_ls);
    const double fd_mu = (kl::gaussian_log_prob(a, mu + h, log_std) - kl::gaussian_log_prob(a, mu - h, log_std)) / (2 * h);
    const double fd_ls = (kl::gaussian_log_prob(a, mu, log_std + h) - kl::gaussian_log_prob(a, mu, log_std - h)) / (2 * h);
    EXPECT_NEAR(d_mu, fd_mu, 1e-6 * std::max(1.0, std::fabs(fd_mu)));
    EXPECT_NEAR(d_ls, fd_ls, 1e-6 * std::max(1.0, std::fabs(fd_ls)));
  }
  // Normalised density: the log-prob of the mean with unit std is -log(2 pi) / 2.
  EXPECT_DOUBLE_EQ(kl::gaussian_log_prob(0.3, 0.3, 0.0), -kl::half_log_two_pi);
}

TEST(LearningGradients, FullPpoLoss) {
  kl::LearnerConfig cfg;
  cfg.obs_dim = 3;
  cfg.act_dim = 2;
  cfg.policy_hidden = {5, 4};
  cfg.value_hidden = {6};
  cfg.entropy_coef = 0.01;
  cfg.loss.value_coef = 0.7;
  cfg.init_log_std = -0.3;
  kl::PpoLearner learner(cfg, kollektiv::testing::self());
  // Larger output weights than the default init so that every gradient is well above noise.
  std::vector<double> p;
  {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), learner.parameters());
    for (std::size_t i = 0; i < h.extent(0); ++i) p.push_back(h(i) + 0.3 * noise(77, i));
    learner.set_parameters(p);
  }

  const int rows = 16;
  kl::PpoBatch b;
  b.rows = rows;
  // Fresh normaliser statistics (mean 0, variance 1): the networks see the raw values.
  const auto raw_obs = random_matrix(rows, cfg.obs_dim, 10);
  b.obs = converted<kl::NetReal>(raw_obs);
  b.actions = random_matrix(rows, cfg.act_dim, 11);
  b.old_log_prob = View<Real*>("test::old_log_prob", rows);
  b.advantage = View<Real*>("test::advantage", rows);
  b.returns = View<Real*>("test::returns", rows);
  b.old_value = View<Real*>("test::old_value", rows);
  // Old log-probs and values near the current ones: most samples inside the clip ranges,
  // every fourth far outside (its clipped branch active), none near a kink.
  View<Real*> lp("test::lp", rows), v("test::v", rows);
  {
    View<std::int64_t*> gid("test::gid", rows);
    View<Real**> act_out("test::act", rows, cfg.act_dim);
    learner.act(raw_obs, gid, rows, 0, false, act_out, lp, v);
  }
  {
    // Log-probs of the given actions at the current parameters.
    const kl::Mlp& net = learner.policy().mean_net();
    auto work = net.make_work<Real>(rows);
    net.forward<Real>(learner.parameters(), raw_obs, rows, work);
    auto mean = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), work.output());
    auto act = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b.actions);
    auto vh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
    auto olp = Kokkos::create_mirror_view(b.old_log_prob);
    auto adv = Kokkos::create_mirror_view(b.advantage);
    auto ret = Kokkos::create_mirror_view(b.returns);
    auto ov = Kokkos::create_mirror_view(b.old_value);
    for (int r = 0; r < rows; ++r) {
      double logp = 0;
      for (int k = 0; k < cfg.act_dim; ++k) logp += kl::gaussian_log_prob(act(r, k), mean(r, k), cfg.init_log_std);
      const bool far = r % 4 == 0;
      olp(r) = logp + (far ? 0.6 : 0.08) * (r % 2 == 0 ? 1 : -1);
      adv(r) = noise(12, r);
      ret(r) = vh(r) + noise(13, r);
      ov(r) = vh(r) + (far ? 0.5 : 0.05) * (r % 3 == 0 ? 1 : -1);
    }
    Kokkos::deep_copy(b.old_log_prob, olp);
    Kokkos::deep_copy(b.advantage, adv);
    Kokkos::deep_copy(b.returns, ret);
    Kokkos::deep_copy(b.old_value, ov);
  }
  b.segments = kl::segments_per_row(rows);
  b.global_rows = rows;

  const kl::PpoGradient g = learner.loss_gradient(b);
  EXPECT_GT(g.clip_fraction, 0.0);
  EXPECT_LT(g.clip_fraction, 1.0);
  // The networks run in float: steps of 1e-3 keep the loss's rounding (~1e-7) well below
  // the differences, and the tolerance reflects float precision, not a loose check.
  const double h = 1e-3;
  std::vector<double> numeric;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    learner.set_parameters(p);
    const double plus = learner.loss_gradient(b).loss;
    p[i] = keep - h;
    learner.set_parameters(p);
    const double minus = learner.loss_gradient(b).loss;
    p[i] = keep;
    learner.set_parameters(p);
    numeric.push_back((plus - minus) / (2 * h));
  }
  const double error = relative_error(g.gradient, numeric);
  std::printf("FullPpoLoss relative error %.3g\n", error);
  EXPECT_LT(error, 5e-4);  // 5e-5 measured
  // Every part of the parameter vector gets a non-trivial gradient.
  const auto& pol = learner.policy();
  EXPECT_NE(g.gradient[pol.log_std_offset()], 0.0);
  EXPECT_NE(g.gradient[learner.value_net().base_offset()], 0.0);
}
