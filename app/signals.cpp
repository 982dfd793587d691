// Async-signal-safe stop flag and its agreement across ranks.
#include "app/signals.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <vector>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::app {

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_stop_signal(int signo) { g_signal = signo; }
}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

bool stop_signal_received() { return g_signal != 0; }

const char* stop_signal_name() {
  switch (g_signal) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "none";
  }
}

StopPoll::StopPoll(MPI_Comm comm, double period_s)
    : comm_(comm), period_s_(period_s), since_(std::chrono::steady_clock::now()) {}

bool StopPoll::poll() {
  if (stopped_) return true;
  if (++calls_ >= every_) agree(true);
  return stopped_;
}

bool StopPoll::poll_now() {
  if (!stopped_) agree(false);
  return stopped_;
}

void StopPoll::agree(bool set_pace) {
  const auto now = std::chrono::steady_clock::now();
  // One allreduce: the flag, and the slowest rank's wall time since the last collective.
  std::vector<double> seen = {stop_signal_received() ? 1.0 : 0.0, std::chrono::duration<double>(now - since_).count()};
  comm::allreduce_max(comm_, seen);
  stopped_ = seen[0] > 0.0;
  if (set_pace) {
    const double per_call_s = seen[1] / static_cast<double>(calls_);
    constexpr double most_calls = 1 << 20;
    every_ = static_cast<std::int64_t>(std::clamp(std::floor(period_s_ / std::max(per_call_s, 1e-9)), 1.0, most_calls));
  }
  calls_ = 0;
  since_ = now;
}

}  // namespace kollektiv::app
