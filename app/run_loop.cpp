// The shared run loop (see run_loop.hpp).
#include "app/run_loop.hpp"

#include <chrono>
#include <iomanip>
#include <iostream>

#include "solvers/core/error.hpp"

namespace kollektiv::app {

namespace {

// Writes a checkpoint, timed for the automatic interval; prints that interval once.
void write_timed(Workload& work, bool root, AutoCheckpoint* automatic) {
  const auto start = std::chrono::steady_clock::now();
  work.write_checkpoint();
  if (automatic == nullptr) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (automatic->written(seconds) && root)
    std::cout << std::setprecision(3) << "checkpoint interval (auto): sqrt(2 C M) = " << automatic->interval_s()
              << " s of wall time, C = " << automatic->write_s() << " s (the checkpoint at " << work.position()
              << "), M = node_mtbf_s / nodes = " << automatic->job_mtbf_s() * automatic->nodes() << " / "
              << automatic->nodes() << " = " << automatic->job_mtbf_s() << " s" << std::setprecision(6) << std::endl;
}

}  // namespace

int run_passes(Workload& work, StopPoll& stop, bool root, AutoCheckpoint* automatic) {
  const auto write = [&] { write_timed(work, root, automatic); };
  while (!work.finished()) {
    work.pass(stop);
    const bool automatic_due = automatic != nullptr && automatic->due();  // counts every pass
    if (work.checkpoints() && !work.finished() && (work.checkpoint_due() || automatic_due)) write();
    if (stop.poll_now() && !work.finished()) {  // at the end: just finish
      if (!work.checkpoints()) {
        if (root)
          std::cout << "stopped by " << stop_signal_name() << " at " << work.position()
                    << ", which writes no checkpoint; run it again with --overwrite (exit 4)" << std::endl;
        return static_cast<int>(ExitCode::stopped);
      }
      if (!work.at_last_checkpoint()) write();
      if (root)
        std::cout << "stopped by " << stop_signal_name() << " at " << work.position()
                  << " after writing a checkpoint; restart with --restart latest (exit 4)" << std::endl;
      return static_cast<int>(ExitCode::stopped);
    }
  }
  if (work.checkpoints() && !work.at_last_checkpoint()) write();
  return 0;
}

}  // namespace kollektiv::app
