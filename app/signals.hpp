// SIGTERM and SIGUSR1 (Slurm's warning signal) ask the run to checkpoint and stop. The
// handler only sets a flag; StopPoll agrees on it across ranks at points that every rank
// reaches in the same order (after each factory window, after each training iteration).
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>

namespace kollektiv::app {

// Installed first thing in main(), before MPI and the deck, so that a signal during set-up
// or a long restart is kept for the run loop instead of killing the process.
void install_stop_signal_handlers();
bool stop_signal_received();      // this rank saw a signal
const char* stop_signal_name();   // "SIGTERM", "SIGUSR1" or "none"

// Whether any rank saw a stop signal, agreed on every rank within about `period_s` of wall
// time (or at the next call, if calls are further apart). poll() must be called the same
// number of times on every rank. It is collective only every `every_` calls: after each
// collective, `every_` is set from the slowest rank's wall time per call so that the next
// collective comes about `period_s` later. Cheap windows (microseconds) thus cost one
// allreduce per period, and an expensive one (seconds) is followed by a check at once.
// poll_now() is collective at every call, for the points after long collective work (a
// report, a checkpoint write): a signal that came meanwhile is honoured right after it.
class StopPoll {
 public:
  explicit StopPoll(MPI_Comm comm, double period_s = 0.25);
  bool poll();      // true once every rank knows of a signal (then stays true)
  bool poll_now();  // the same, agreeing at this call; keeps the pace of poll()
  bool stopped() const { return stopped_; }

 private:
  void agree(bool set_pace);
  MPI_Comm comm_;
  double period_s_;
  std::int64_t every_ = 1;  // calls between collectives, the same on every rank
  std::int64_t calls_ = 0;  // since the last collective
  std::chrono::steady_clock::time_point since_;
  bool stopped_ = false;
};

}  // namespace kollektiv::app
