// Timing driver (not a test): wall time and achieved GFLOP/s of one PPO update (5 epochs x
// 8 minibatches, 512 robots x 32 steps, 2x64 tanh policy and value MLPs) on one rank,
// against OpenBLAS sgemm (the networks run in float) on one core for the matrix shapes of
// the same update.
// Usage: learning_timing [obs_dim=13] [act_dim=2] [robots_per_block=64] [repeats=3]
// (the defaults are inputs/train_reach.yaml's: the 2-link arm's 13 observations)
// FLOPs counted: 2 per multiply-add of the dense layers (forward, weight gradient, and the
// backpropagated input gradient of every layer but the first), for both networks.
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "solvers/core/philox.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/comm/mpi_collective.hpp"

#ifdef KOLLEKTIV_HAVE_CBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace kl = kollektiv::learning;
using kollektiv::Real;
using kollektiv::View;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double flops_per_sample(const kl::Mlp& net) {
  double f = 0;
  for (std::size_t l = 0; l < net.layers().size(); ++l) {
    const double w = static_cast<double>(net.layers()[l].in) * net.layers()[l].out;
    f += 2 * w + 2 * w + (l > 0 ? 2 * w : 0);
  }
  return f;
}

#ifdef KOLLEKTIV_HAVE_CBLAS
// GFLOP/s of C[m][n] = A[m][k] B[k][n] in float on one thread, best of a few repetitions.
double sgemm_rate(int m, int n, int k) {
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f), b(static_cast<std::size_t>(k) * n, 0.25f),
      c(static_cast<std::size_t>(m) * n);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const int inner = std::max(1, static_cast<int>(2e8 / (2.0 * m * n * k)));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    best = std::max(best, 2.0 * m * n * k * inner / seconds_since(t0) / 1e9);
  }
  return best;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  Kokkos::initialize(argc, argv);
  {
    const int obs_dim = argc > 1 ? std::atoi(argv[1]) : 13;
    const int act_dim = argc > 2 ? std::atoi(argv[2]) : 2;
    const int block = argc > 3 ? std::atoi(argv[3]) : 64;
    const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
    const int robots = 512, horizon = 32;
    kl::LearnerConfig cfg;
    cfg.obs_dim = obs_dim;
    cfg.act_dim = act_dim;
    cfg.epochs = 5;
    cfg.minibatches = 8;
    cfg.total_updates = 1000;
    cfg.robots_per_block = block;
    const auto world = kollektiv::comm::make_mpi_collective(MPI_COMM_WORLD);
    kl::PpoLearner learner(cfg, *world);
    kl::Rollout ro(cfg, horizon, robots);
    auto gid = Kokkos::create_mirror_view(ro.gid);
    for (int r = 0; r < robots; ++r) gid(r) = r;
    Kokkos::deep_copy(ro.gid, gid);
    View<Real**> obs("timing::obs", robots, obs_dim);
    auto oh = Kokkos::create_mirror_view(obs);
    auto reward = Kokkos::create_mirror_view(ro.reward);
    double act_s = 0, update_s = 0;
    for (int it = 0; it < repeats + 1; ++it) {  // the first iteration warms up
      auto t0 = std::chrono::steady_clock::now();
      for (int t = 0; t < horizon; ++t) {
        for (int r = 0; r < robots; ++r)
          for (int f = 0; f < obs_dim; ++f)
            oh(r, f) = kollektiv::rng::normal(kollektiv::rng::draw(1, kollektiv::rng::Stream::test, r, it * 10000 + t * 100 + f));
        Kokkos::deep_copy(obs, oh);
        learner.act(obs, static_cast<std::uint64_t>(it) * horizon + t, t, ro);
        for (int r = 0; r < robots; ++r) reward(t * robots + r) = oh(r, 0);
      }
      Kokkos::deep_copy(ro.reward, reward);
      Kokkos::deep_copy(ro.last_obs, 0.1);
      Kokkos::fence();
      const double a = seconds_since(t0);
      t0 = std::chrono::steady_clock::now();
      learner.update(ro);
      Kokkos::fence();
      const double u = seconds_since(t0);
      if (it > 0) {
        act_s += a;
        update_s += u;
      }
    }
    act_s /= repeats;
    update_s /= repeats;
    const double samples = static_cast<double>(robots) * horizon;
    const double flops = samples * cfg.epochs *
                         (flops_per_sample(learner.policy().mean_net()) + flops_per_sample(learner.value_net()));
    std::printf("learning_timing: backend %s, obs %d, act %d, 2x64 tanh policy and value, %d robots x %d steps, "
                "%d epochs x %d minibatches, robots_per_block %d\n",
                kollektiv::exec_space_name(), obs_dim, act_dim, robots, horizon, cfg.epochs, cfg.minibatches, block);
    std::printf("  update: %.3f s, %.2f GFLOP (dense layers), %.2f GFLOP/s; acting: %.4f s per rollout "
                "(%.0f policy+value inferences/s)\n",
                update_s, flops / 1e9, flops / update_s / 1e9, act_s, samples / act_s);
#ifdef KOLLEKTIV_HAVE_CBLAS
    openblas_set_num_threads(1);
    std::printf("  OpenBLAS sgemm, 1 thread: %.2f GFLOP/s (64x64 += 64x2048 * 2048x64, weight-gradient shape), "
                "%.2f GFLOP/s (2048x64 = 2048x64 * 64x64, forward shape), %.2f GFLOP/s (1024^3)\n",
                sgemm_rate(64, 64, 2048), sgemm_rate(2048, 64, 64), sgemm_rate(1024, 1024, 1024));
#endif
  }
  Kokkos::finalize();
  MPI_Finalize();
  return 0;
}
