// Robot-steps per second of the batched arm step (semi-implicit Euler, gravity, damping,
// effort saturation, limit spring-dampers: bench_dynamics' case) on the Kokkos backend this
// build runs on, from N = 4096 to 2^20 robots, and the state after a fixed number of steps
// for comparison with another backend's (jobs/device_check.sh compares a GPU build's with
// the CPU build's). It needs neither MuJoCo nor Google Benchmark, so it builds wherever the
// project does.
//
//   dynamics_rate [--model ur5] [--sizes 4096,65536,1048576] [--seconds 0.5]
//                 [--state FILE [--state-robots 4096] [--state-steps 200]]
//
// Prints one RESULT line per size: robot-steps/s and the GFLOP/s of the counted work.
// FILE gets one line per robot: q then qd, each value with 17 significant digits.
#include <Kokkos_Core.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "solvers/dynamics/arm_batch.hpp"
#include "tests/bench/dynamics_bench_support.hpp"

namespace kd = kollektiv::dynamics;
namespace kt = kollektiv::testing;

namespace {

constexpr double kDt = 1e-3;  // s, as in bench_dynamics

struct Options {
  std::string model = "ur5";
  std::vector<int> sizes = {4096, 16384, 65536, 262144, 1048576};
  double seconds = 0.5;  // timed stepping per size, at least
  std::string state_file;
  int state_robots = 4096;
  int state_steps = 200;
};

int positive_int(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 1 || value > (1L << 30))
    throw std::invalid_argument(flag + ": expected a positive integer up to 2^30, got '" + text + "'");
  return static_cast<int>(value);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(flag + ": expected a value after it");
    const std::string value = argv[++i];
    if (flag == "--model") {
      o.model = value;
    } else if (flag == "--sizes") {
      o.sizes.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) o.sizes.push_back(positive_int(flag, item));
    } else if (flag == "--seconds") {
      o.seconds = std::atof(value.c_str());
      if (!(o.seconds > 0)) throw std::invalid_argument("--seconds: expected a positive number, got '" + value + "'");
    } else if (flag == "--state") {
      o.state_file = value;
    } else if (flag == "--state-robots") {
      o.state_robots = positive_int(flag, value);
    } else if (flag == "--state-steps") {
      o.state_steps = positive_int(flag, value);
    } else {
      throw std::invalid_argument("unknown option " + flag +
                                  " (expected --model, --sizes, --seconds, --state, --state-robots, --state-steps)");
    }
  }
  return o;
}

// A batch of `robots` at bench_dynamics' start state: positions inside the limits, at rest,
// no actuator torque (the arms fall under gravity into their limits).
kd::ArmBatch start_batch(const kd::RobotModel& model, int robots) {
  kd::ArmBatch batch(model, robots);
  const int n = batch.dof();
  const std::vector<double> q0 = kt::start_positions(model, robots);
  auto q = Kokkos::create_mirror_view(batch.q());
  for (int r = 0; r < robots; ++r)
    for (int i = 0; i < n; ++i) q(r, i) = q0[static_cast<std::size_t>(r) * n + i];
  Kokkos::deep_copy(batch.q(), q);
  return batch;
}

void write_state(const kd::ArmBatch& batch, const std::string& path) {
  const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), batch.q());
  const auto qd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), batch.qd());
  std::ofstream out(path);
  out << std::setprecision(17);
  for (int r = 0; r < batch.size(); ++r) {
    for (int i = 0; i < batch.dof(); ++i) out << q(r, i) << ' ';
    for (int i = 0; i < batch.dof(); ++i) out << qd(r, i) << (i + 1 < batch.dof() ? ' ' : '\n');
  }
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::initialize(argc, argv);
  int rc = 0;
  try {
    const Options o = parse(argc, argv);
    const kd::RobotModel model = kt::load_shipped_model(o.model);
    kd::StepParams sp;
    sp.dt_s = kDt;
    const double flops = kt::flops_per_step(static_cast<int>(model.joints.size()));
    for (int robots : o.sizes) {
      kd::ArmBatch batch = start_batch(model, robots);
      batch.step(sp);  // warm-up: first touch, kernel load
      std::int64_t steps = 0;
      double seconds = 0;
      const auto t0 = std::chrono::steady_clock::now();
      while (seconds < o.seconds) {
        batch.step(sp);  // fences and reads the error flags, as a real caller does
        ++steps;
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      const double rate = static_cast<double>(steps) * robots / seconds;
      std::printf("RESULT bench=dynamics_rate backend=%s model=%s n=%d steps=%lld robot_steps_per_s=%.4g gflops=%.4g\n",
                  kollektiv::exec_space_name(), o.model.c_str(), robots, static_cast<long long>(steps), rate,
                  rate * flops * 1e-9);
      std::fflush(stdout);
    }
    if (!o.state_file.empty()) {
      kd::ArmBatch batch = start_batch(model, o.state_robots);
      for (int s = 0; s < o.state_steps; ++s) batch.step(sp);
      write_state(batch, o.state_file);
      std::printf("dynamics_rate: %d robots after %d steps written to %s\n", o.state_robots, o.state_steps,
                  o.state_file.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dynamics_rate: %s\n", e.what());
    rc = 2;
  }
  Kokkos::finalize();
  return rc;
}
