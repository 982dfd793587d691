// Timing driver (not a test): wall time (the fastest of `repeats`) and achieved GFLOP/s of
// one PPO update (5 epochs x 8 minibatches, 512 robots x 32 steps, 2x64 tanh policy and
// value MLPs) on one rank, against OpenBLAS sgemm (the networks run in float) on one core doing only the matrix
// products of the same update, on the same shapes: per exact-summation segment (the rows of
// one robot block in a minibatch) and layer, x W, x^T delta and delta W^T. Each update is
// followed by one pass of the products; the fastest of each over the repeats is reported.
// Usage: learning_timing [obs_dim=13] [act_dim=2] [robots_per_block=64] [repeats=3] [hidden=64]
// (the defaults are inputs/train_reach.yaml's: the 2-link arm's 13 observations)
// FLOPs counted: 2 per multiply-add of the dense layers (forward, weight gradient, and the
// backpropagated input gradient of every layer but the first), for both networks.
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "solvers/core/philox.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/comm/mpi_collective.hpp"

#ifdef KOLLEKTIV_HAVE_CBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_config();
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
// True if /proc/cpuinfo lists `flag` (e.g. "avx512f").
bool cpu_has(const std::string& flag) {
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("flags", 0) == 0) return (line + " ").find(" " + flag + " ") != std::string::npos;
  return false;
}

// OpenBLAS chooses its kernels when it is loaded. Debian 12's 0.3.21 does not recognise CPUs
// newer than it (Sapphire Rapids) and falls back to its SSE3 kernels (Prescott), 4x slower
// than its AVX-512 ones there: unless OPENBLAS_CORETYPE is set, the program runs itself again
// with the kernels of the CPU's widest vector instructions, so that the reference is at its best.
void exec_with_best_openblas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const char* core = cpu_has("avx512f") ? "SkylakeX" : cpu_has("avx2") ? "Haswell" : nullptr;
  if (core == nullptr) return;
  setenv("OPENBLAS_CORETYPE", core, 1);
  setenv("OPENBLAS_NUM_THREADS", "1", 0);  // the products run on one thread; no idle workers beside the update
  execv("/proc/self/exe", argv);  // returns only if it failed: then go on with the kernels loaded
}

// C = op(A) op(B), row-major, in float.
void sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.f, a, lda, b,
              ldb, 0.f, c, ldc);
}

// Seconds of the update's matrix products alone: `passes` passes over `rows` rows in
// segments of `segment_rows`, each segment and layer of both networks x W, x^T delta and
// (but the first layer) delta W^T, with beta = 0 as a plain call would. One timing.
double products_seconds(const std::vector<const kl::Mlp*>& nets, int rows, int segment_rows, int passes) {
  int widest = 1;
  for (const kl::Mlp* net : nets)
    for (const auto& l : net->layers()) widest = std::max({widest, l.in, l.out});
  const std::size_t n = static_cast<std::size_t>(rows) * widest;
  std::vector<float> x(n, 0.5f), y(n), d(n), w(static_cast<std::size_t>(widest) * widest, 0.01f), g(w.size());
  const auto t0 = std::chrono::steady_clock::now();
  for (int p = 0; p < passes; ++p)
    for (const kl::Mlp* net : nets)
      for (int r0 = 0; r0 < rows; r0 += segment_rows) {
        const int m = std::min(segment_rows, rows - r0);
        for (std::size_t l = 0; l < net->layers().size(); ++l) {
          const auto& L = net->layers()[l];
          const float* in = x.data() + static_cast<std::size_t>(r0) * L.in;
          float* out = y.data() + static_cast<std::size_t>(r0) * L.out;
          sgemm(false, false, m, L.out, L.in, in, L.in, w.data(), L.out, out, L.out);
          sgemm(true, false, L.in, L.out, m, in, L.in, out, L.out, g.data(), L.out);
          if (l > 0)
            sgemm(false, true, m, L.in, L.out, out, L.out, w.data(), L.out, d.data() + static_cast<std::size_t>(r0) * L.in,
                  L.in);
        }
      }
  return seconds_since(t0);
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef KOLLEKTIV_HAVE_CBLAS
  exec_with_best_openblas_kernels(argv);
#endif
  MPI_Init(&argc, &argv);
  Kokkos::initialize(argc, argv);
  {
    const int obs_dim = argc > 1 ? std::atoi(argv[1]) : 13;
    const int act_dim = argc > 2 ? std::atoi(argv[2]) : 2;
    const int block = argc > 3 ? std::atoi(argv[3]) : 64;
    const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
    const int hidden = argc > 5 ? std::atoi(argv[5]) : 64;
    const int robots = 512, horizon = 32;
    kl::LearnerConfig cfg;
    cfg.obs_dim = obs_dim;
    cfg.act_dim = act_dim;
    cfg.epochs = 5;
    cfg.minibatches = 8;
    cfg.total_updates = 1000;
    cfg.robots_per_block = block;
    cfg.policy_hidden = {hidden, hidden};
    cfg.value_hidden = {hidden, hidden};
    const auto world = kollektiv::comm::make_mpi_collective(MPI_COMM_WORLD);
    kl::PpoLearner learner(cfg, *world);
    kl::Rollout ro(cfg, horizon, robots);
    auto gid = Kokkos::create_mirror_view(ro.gid);
    for (int r = 0; r < robots; ++r) gid(r) = r;
    Kokkos::deep_copy(ro.gid, gid);
    View<Real**> obs("timing::obs", robots, obs_dim);
    auto oh = Kokkos::create_mirror_view(obs);
    auto reward = Kokkos::create_mirror_view(ro.reward);
#ifdef KOLLEKTIV_HAVE_CBLAS
    openblas_set_num_threads(1);
    const int mb_rows = robots * horizon / cfg.minibatches, segment_rows = mb_rows / (robots / block);
    const std::vector<const kl::Mlp*> nets{&learner.policy().mean_net(), &learner.value_net()};
    double bare = 0;
#endif
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
      if (it > 0) {  // the fastest of the repeats
        act_s = it == 1 ? a : std::min(act_s, a);
        update_s = it == 1 ? u : std::min(update_s, u);
      }
#ifdef KOLLEKTIV_HAVE_CBLAS
      // The products right after each update, so that both see the machine in the same state
      // (a VM's speed may drift between two separate series); the fastest of the repeats too.
      const double p = products_seconds(nets, mb_rows, segment_rows, cfg.epochs * cfg.minibatches);
      if (it > 0) bare = it == 1 ? p : std::min(bare, p);
#endif
    }
    const double samples = static_cast<double>(robots) * horizon;
    const double flops = samples * cfg.epochs *
                         (flops_per_sample(learner.policy().mean_net()) + flops_per_sample(learner.value_net()));
    std::printf("learning_timing: backend %s, obs %d, act %d, 2x%d tanh policy and value, %d robots x %d steps, "
                "%d epochs x %d minibatches, robots_per_block %d\n",
                kollektiv::exec_space_name(), obs_dim, act_dim, hidden, robots, horizon, cfg.epochs, cfg.minibatches, block);
    std::printf("  update: %.3f s, %.2f GFLOP (dense layers), %.2f GFLOP/s; acting: %.4f s per rollout "
                "(%.0f policy+value inferences/s)\n",
                update_s, flops / 1e9, flops / update_s / 1e9, act_s, samples / act_s);
#ifdef KOLLEKTIV_HAVE_CBLAS
    {
      std::printf("  the same products alone (%s, one thread, segments of %d rows): %.3f s, %.2f GFLOP/s\n"
                  "RESULT bench=update update_gflops=%.3g gemm_gflops=%.3g fraction=%.3f\n",
                  openblas_get_config(), segment_rows, bare, flops / bare / 1e9, flops / update_s / 1e9,
                  flops / bare / 1e9, bare / update_s);
    }
#endif
  }
  Kokkos::finalize();
  MPI_Finalize();
  return 0;
}
