// The run loop every kind of run shares (factory, training, evaluation): passes of work
// until the end, a checkpoint when one is due, a stop signal honoured with a checkpoint and
// exit 4, a final checkpoint. What a pass does is the run's own (a Workload); the sequence,
// the stop policy and the messages are here once.
//
//   start or restart ─► pass ─► [checkpoint when due] ─► [stop? checkpoint, exit 4] ─► … ─► final checkpoint
#pragma once

#include <string>

#include "app/auto_checkpoint.hpp"
#include "app/signals.hpp"

namespace kollektiv::app {

class Workload {
 public:
  virtual ~Workload() = default;
  virtual bool finished() const = 0;
  // One pass of work and its output (history row, progress line). Collective. It may end
  // early when `stop` has been requested (Factory::advance checks at window boundaries).
  virtual void pass(StopPoll& stop) = 0;
  virtual bool checkpoint_due() const = 0;     // after this pass (not at the end: the final one follows)
  virtual bool checkpoints() const { return true; }  // false: the run keeps none (an evaluation)
  virtual bool at_last_checkpoint() const = 0;  // the newest checkpoint is of the current position
  virtual void write_checkpoint() = 0;          // collective
  virtual std::string position() const = 0;     // "t=1h00m00s", "iteration 12": for messages
};

// Runs `work` to its end. Returns 0, or ExitCode::stopped after a stop signal (agreed on
// every rank after each pass and its checkpoint, so a signal that came during a checkpoint
// write is honoured at once). Prints the messages on the root rank. With `automatic`, a
// checkpoint is also due when its Young/Daly interval has passed; every write is timed for it.
int run_passes(Workload& work, StopPoll& stop, bool root, AutoCheckpoint* automatic = nullptr);

}  // namespace kollektiv::app
