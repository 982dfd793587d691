// Finite-difference checks (central differences, double): dense+tanh and linear layers wrt
// parameters and inputs, the Gaussian log-probability wrt mean and log-std, and the full
// PPO loss wrt every parameter of the policy and value networks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "solvers/core/philox.hpp"
#include "solvers/learning/ppo_learner.hpp"

namespace kl = kollektiv::learning;
using kollektiv::ExactSum;
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

// L = sum_{r,i} c(r,i) y(r,i) for a network's outputs y; dL/dy = c.
double weighted_output(const kl::Mlp& net, View<Real*> params, View<Real**> x, int rows, View<Real**> c,
                       kl::MlpWork& work) {
  net.forward(params, x, rows, work);
  auto y = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), work.output());
  auto ch = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), c);
  double sum = 0;
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < net.output_dim(); ++i) sum += ch(r, i) * y(r, i);
  return sum;
}

void check_network(const std::vector<int>& widths) {
  const int rows = 7;
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
  auto work = net.make_work(rows, 3);  // 3-segment chunks: 7 rows take three passes

  View<ExactSum*> grad("test::grad", net.end_offset());
  View<Real**> dx("test::dx", rows, net.input_dim());
  net.forward(params, x, rows, work);
  net.backward(params, x, rows, c, kl::segments_per_row(rows), work, grad, dx);
  auto gh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), grad);
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
    analytic.push_back(gh(p).to_double());
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

TEST(LearningGradients, GaussianLogProb) {
  const double h = 1e-6;
  for (int i = 0; i < 20; ++i) {
    const double a = noise(5, i), mu = 0.5 * noise(6, i), log_std = 0.5 * noise(8, i);
    double d_mu, d_ls;
    kl::gaussian_log_prob_grad(a, mu, log_std, d_mu, d_ls);
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
  kl::PpoLearner learner(cfg, MPI_COMM_SELF);
  // Larger output weights than the default init so that every gradient is well above noise.
  {
    auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), learner.parameters());
    for (std::size_t i = 0; i < p.extent(0); ++i) p(i) += 0.3 * noise(77, i);
    Kokkos::deep_copy(learner.parameters(), p);
  }

  const int rows = 16;
  kl::PpoBatch b;
  b.rows = rows;
  b.obs = random_matrix(rows, cfg.obs_dim, 10);
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
    learner.act(b.obs, gid, rows, 0, false, act_out, lp, v);
  }
  {
    // Log-probs of the given actions at the current parameters.
    const kl::Mlp& net = learner.policy().mean_net();
    auto work = net.make_work(rows);
    net.forward(learner.parameters(), b.obs, rows, work);
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
  b.weight = 1.0 / rows;

  const kl::PpoGradient g = learner.loss_gradient(b);
  EXPECT_GT(g.clip_fraction, 0.0);
  EXPECT_LT(g.clip_fraction, 1.0);
  auto p = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), learner.parameters());
  const double h = 1e-6;
  std::vector<double> numeric;
  for (std::size_t i = 0; i < p.extent(0); ++i) {
    const double keep = p(i);
    p(i) = keep + h;
    Kokkos::deep_copy(learner.parameters(), p);
    const double plus = learner.loss_gradient(b).loss;
    p(i) = keep - h;
    Kokkos::deep_copy(learner.parameters(), p);
    const double minus = learner.loss_gradient(b).loss;
    p(i) = keep;
    Kokkos::deep_copy(learner.parameters(), p);
    numeric.push_back((plus - minus) / (2 * h));
  }
  EXPECT_LT(relative_error(g.gradient, numeric), 1e-6);
  // Every part of the parameter vector gets a non-trivial gradient.
  const auto& pol = learner.policy();
  EXPECT_NE(g.gradient[pol.log_std_offset()], 0.0);
  EXPECT_NE(g.gradient[learner.value_net().base_offset()], 0.0);
}
