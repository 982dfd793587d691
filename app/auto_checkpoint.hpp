// Automatic checkpoints (run.checkpoint_interval_s: auto, training.checkpoint_every: auto):
// a checkpoint after the first pass at which Young/Daly's interval has passed in wall time
// since the last one ended,
//
//   tau = sqrt(2 C M)     C: the last checkpoint's measured write time (slowest rank),
//                         M: the job's mean time between failures = node_mtbf_s / nodes.
//
// It minimises the expected time lost per failure (the write time plus half an interval
// redone) to first order when C << M. The first checkpoint follows the first pass, which
// measures C; every later write (scheduled, on a stop signal, final) measures it again.
// Decisions are agreed on every rank (the slowest rank's clock).
#pragma once

#include <mpi.h>

#include <chrono>

namespace kollektiv::app {

class AutoCheckpoint {
 public:
  // Collective (counts the job's nodes).
  AutoCheckpoint(MPI_Comm comm, double node_mtbf_s);

  int nodes() const { return nodes_; }
  double job_mtbf_s() const { return job_mtbf_s_; }
  double interval_s() const { return interval_s_; }  // 0 until a write was measured
  double write_s() const { return write_s_; }        // C: the last write, slowest rank

  // Collective: true if the interval has passed since the last write (or none was measured).
  bool due() const;
  // Collective: this rank took `seconds` to write the checkpoint that just ended. Returns true
  // for the first measurement of the run (the caller prints the interval then).
  bool written(double seconds);

 private:
  MPI_Comm comm_;
  int nodes_ = 1;
  double job_mtbf_s_ = 0.0;
  double write_s_ = 0.0;
  double interval_s_ = 0.0;
  std::chrono::steady_clock::time_point last_write_end_;
};

}  // namespace kollektiv::app
