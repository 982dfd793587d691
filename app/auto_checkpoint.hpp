// Automatic checkpoints (run.checkpoint_interval_s: auto, training.checkpoint_every: auto):
// checkpoints Young/Daly's interval of wall time apart,
//
//   tau = sqrt(2 C M)     C: the last checkpoint's measured write time (slowest rank),
//                         M: the job's mean time between failures = node_mtbf_s / nodes.
//
// It minimises the expected time lost per failure (the write time plus half an interval
// redone) to first order when C << M. The interval is turned into a number of passes (report
// intervals, iterations) at each write, from the slowest rank's wall time per pass since the
// previous write, so that deciding whether a pass ends with a checkpoint needs no
// communication: one small allreduce per write agrees on C and the pass time. The first
// checkpoint follows the first pass, which measures C; every later write (scheduled, on a
// stop signal, final) measures both again.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>

namespace kollektiv::app {

class AutoCheckpoint {
 public:
  // Collective (counts the job's nodes).
  AutoCheckpoint(MPI_Comm comm, double node_mtbf_s);

  int nodes() const { return nodes_; }
  double job_mtbf_s() const { return job_mtbf_s_; }
  double interval_s() const { return interval_s_; }  // 0 until a write was measured
  double write_s() const { return write_s_; }        // C: the last write, slowest rank

  // Called once after every pass: true when the passes since the last write take the
  // interval (the same on every rank; the first pass is always due).
  bool due();
  // Collective: this rank took `seconds` to write the checkpoint that just ended. Returns true
  // for the first measurement of the run (the caller prints the interval then).
  bool written(double seconds);

 private:
  MPI_Comm comm_;
  int nodes_ = 1;
  double job_mtbf_s_ = 0.0;
  double write_s_ = 0.0;
  double interval_s_ = 0.0;
  double pass_s_ = 0.0;              // wall time per pass, slowest rank, at the last write
  std::int64_t passes_ = 0;          // passes since the last write
  std::int64_t passes_per_interval_ = 1;
  std::chrono::steady_clock::time_point last_write_end_;
};

}  // namespace kollektiv::app
