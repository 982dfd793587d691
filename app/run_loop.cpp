// The shared run loop (see run_loop.hpp).
#include "app/run_loop.hpp"

#include <iostream>

#include "solvers/core/error.hpp"

namespace kollektiv::app {

int run_passes(Workload& work, StopPoll& stop, bool root) {
  while (!work.finished()) {
    work.pass(stop);
    if (work.checkpoints() && work.checkpoint_due() && !work.finished()) work.write_checkpoint();
    if (stop.poll_now() && !work.finished()) {  // at the end: just finish
      if (!work.checkpoints()) {
        if (root)
          std::cout << "stopped by " << stop_signal_name() << " at " << work.position()
                    << ", which writes no checkpoint; run it again with --overwrite (exit 4)" << std::endl;
        return static_cast<int>(ExitCode::stopped);
      }
      if (!work.at_last_checkpoint()) work.write_checkpoint();
      if (root)
        std::cout << "stopped by " << stop_signal_name() << " at " << work.position()
                  << " after writing a checkpoint; restart with --restart latest (exit 4)" << std::endl;
      return static_cast<int>(ExitCode::stopped);
    }
  }
  if (work.checkpoints() && !work.at_last_checkpoint()) work.write_checkpoint();
  return 0;
}

}  // namespace kollektiv::app
