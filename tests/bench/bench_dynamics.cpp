// Robot-steps per second per core of the batched dynamics step (ABA + semi-implicit Euler,
// gravity, damping, armature, effort saturation, limit spring-dampers) for each shipped
// model at N = 1, 64, 4096, 65536, next to MuJoCo's mj_step on the equivalent MJCF (same
// timestep and integrator, contacts and limits off), measured in the same run. Prints
// counted FLOPs per step, the fraction of one core's peak, and one RESULT line per case with
// the ratio to MuJoCo at the same N and to MuJoCo's best rate at any N.
#include <benchmark/benchmark.h>
#include <mujoco/mujoco.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "solvers/dynamics/arm_batch.hpp"
#include "solvers/dynamics/lanes.hpp"
#include "tests/bench/dynamics_bench_support.hpp"
#include "tests/unit/dynamics/mjcf_writer.hpp"
#include "tests/unit/dynamics/mujoco_model.hpp"

namespace kd = kollektiv::dynamics;
namespace kt = kollektiv::testing;

namespace {

constexpr double kDt = 1e-3;          // s, both engines
constexpr int kMaxMujocoData = 4096;  // mjData instances kept; beyond, robots share them round-robin
const char* const kModels[] = {"planar2", "ur5", "panda"};
const int kSizes[] = {1, 64, 4096, 65536};

std::map<std::string, double> g_rate;  // "engine/model/n" -> robot-steps per second

std::string key(const std::string& engine, const std::string& model, int n) {
  return engine + "/" + model + "/" + std::to_string(n);
}

// Peak double-precision FLOP/s of one core: clock (from /proc/cpuinfo) x 32 (two 512-bit
// FMA pipes x 8 doubles x 2) where AVX-512F is present (server cores with one 512-bit pipe
// reach half that: the fraction printed is then a lower bound), x 16 (two 256-bit pipes) with
// AVX2+FMA, else x 4 (SSE2, two pipes).
double peak_flops_per_core(std::string& how) {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  double mhz = 0;
  bool avx512 = false, avx2 = false, fma = false;
  while (std::getline(info, line)) {
    if (mhz == 0 && line.rfind("cpu MHz", 0) == 0) mhz = std::stod(line.substr(line.find(':') + 1));
    if (line.rfind("flags", 0) == 0) {
      avx512 = avx512 || line.find(" avx512f") != std::string::npos;
      avx2 = avx2 || line.find(" avx2") != std::string::npos;
      fma = fma || line.find(" fma") != std::string::npos;
    }
  }
  if (mhz == 0) mhz = 2000;
  const double per_cycle = avx512 ? 32 : (avx2 && fma) ? 16 : 4;
  how = std::to_string(static_cast<int>(mhz)) + " MHz x " + std::to_string(static_cast<int>(per_cycle)) + " flop/cycle";
  return mhz * 1e6 * per_cycle;
}

void bm_kollektiv(benchmark::State& state, const std::string& name) {
  const int robots = static_cast<int>(state.range(0));
  const kd::RobotModel model = kt::load_shipped_model(name);
  kd::ArmBatch batch(model, robots);
  const int n = batch.dof();
  const std::vector<double> q0 = kt::start_positions(model, robots);
  auto q = Kokkos::create_mirror_view(batch.q());
  for (int r = 0; r < robots; ++r)
    for (int i = 0; i < n; ++i) q(r, i) = q0[static_cast<std::size_t>(r) * n + i];
  Kokkos::deep_copy(batch.q(), q);
  kd::StepParams sp;
  sp.dt_s = kDt;
  batch.step(sp);  // warm-up, as for MuJoCo
  double seconds = 0;
  std::int64_t steps = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    batch.step(sp);  // includes the error-flag reduction a real caller pays
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    steps += robots;
  }
  state.counters["robot_steps_per_s"] = benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
  g_rate[key("kollektiv", name, robots)] = steps / seconds;
}

void bm_mujoco(benchmark::State& state, const std::string& name) {
  const int robots = static_cast<int>(state.range(0));
  const kd::RobotModel model = kt::load_shipped_model(name);
  kt::MjModelPtr m = kt::load_mjcf(kt::mjcf_from_model(model, kDt, "Euler"));
  const int n = m->nq;
  const int instances = std::min(robots, kMaxMujocoData);
  const std::vector<double> q0 = kt::start_positions(model, instances);
  std::vector<kt::MjDataPtr> data;
  for (int r = 0; r < instances; ++r) {
    data.emplace_back(mj_makeData(m.get()));
    for (int i = 0; i < n; ++i) data.back()->qpos[i] = q0[static_cast<std::size_t>(r) * n + i];
    mj_step(m.get(), data.back().get());  // warm-up: first touch of mjData's arena is not stepping
  }
  double seconds = 0;
  std::int64_t steps = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < robots; ++r) mj_step(m.get(), data[r % instances].get());
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    steps += robots;
  }
  state.counters["robot_steps_per_s"] = benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
  g_rate[key("mujoco", name, robots)] = steps / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  {
    benchmark::Initialize(&argc, argv);
    for (const char* name : kModels) {
      for (int n : kSizes) {
        benchmark::RegisterBenchmark(("kollektiv_step/" + std::string(name)).c_str(), bm_kollektiv, std::string(name))
            ->Arg(n)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("mujoco_mj_step/" + std::string(name)).c_str(), bm_mujoco, std::string(name))
            ->Arg(n)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
    benchmark::RunSpecifiedBenchmarks();
    std::string how;
    const double peak = peak_flops_per_core(how);
    std::printf("\nKokkos backend %s, one core, %d robots per lane group; MuJoCo %s (mj_step, Euler, dt = %g s, "
                "contacts off); MuJoCo keeps at most %d mjData, robots beyond share them round-robin.\n",
                kollektiv::exec_space_name(), kollektiv::dynamics::kLanes, mj_versionString(), kDt, kMaxMujocoData);
    std::printf("Peak of one core assumed: %s = %.3g GFLOP/s\n", how.c_str(), peak * 1e-9);
    for (const char* name : kModels) {
      const int dof = static_cast<int>(kt::load_shipped_model(name).joints.size());
      const double flops = kt::flops_per_step(dof);
      std::printf("FLOPS model=%s joints=%d flops_per_step=%.0f (counted)\n", name, dof, flops);
      // MuJoCo's best per-core rate at any N measured: its rate at large N falls because its
      // mjData arenas miss cache, which is not its real speed, so the fair ratio is against this.
      double mujoco_best = 0;
      int mujoco_best_n = 0;
      for (int n : kSizes) {
        const auto j = g_rate.find(key("mujoco", name, n));
        if (j != g_rate.end() && j->second > mujoco_best) {
          mujoco_best = j->second;
          mujoco_best_n = n;
        }
      }
      for (int n : kSizes) {
        const auto k = g_rate.find(key("kollektiv", name, n)), j = g_rate.find(key("mujoco", name, n));
        if (k == g_rate.end() || j == g_rate.end()) continue;  // filtered out
        std::printf("RESULT model=%s n=%d kollektiv_steps_per_s=%.4g mujoco_steps_per_s=%.4g ratio=%.3g "
                    "mujoco_best_steps_per_s=%.4g mujoco_best_n=%d ratio_to_best=%.3g gflops=%.3g peak_fraction=%.4f\n",
                    name, n, k->second, j->second, k->second / j->second, mujoco_best, mujoco_best_n,
                    k->second / mujoco_best, k->second * flops * 1e-9, k->second * flops / peak);
      }
    }
    benchmark::Shutdown();
  }
  Kokkos::finalize();
  return 0;
}
