// The output directory's life: refuse to overwrite results by accident, clear them when
// asked, create it only after the deck was found valid. Collective; rank 0 touches disk.
#pragma once

#include <mpi.h>

#include <string>

namespace kollektiv::app {

struct OutputPaths {
  std::string dir;
  std::string history;      // DIR/history.h5
  std::string checkpoints;  // DIR/checkpoints
  std::string finished;     // DIR/finished: written when a run ends with exit 0
};

OutputPaths output_paths(const std::string& dir);

// Fresh run: DIR must not exist unless `overwrite`: then history.h5, the checkpoint files
// (ckpt_*.h5, latest) and `finished` are removed, and nothing else; if DIR/checkpoints
// holds anything else the run is refused and nothing is removed.
// Restart: DIR may exist; `finished` stays until the checkpoint is accepted (clear_finished).
// Throws Error(bad_input) on every rank alike.
void prepare_output_dir(MPI_Comm comm, const OutputPaths& paths, bool restart, bool overwrite);

// Removes DIR/finished (rank 0): a restart calls it once its checkpoint is accepted, so that
// a refused restart leaves a finished run's marker alone. Throws Error(failure) on every rank.
void clear_finished(MPI_Comm comm, const OutputPaths& paths);

// The run in DIR ended with exit 0: rank 0 writes DIR/finished (one line: the deck and the
// UTC time). Job scripts trust it over a launcher's exit status, which can be 0 for a job
// step whose tasks never started (Slurm 22.05's srun after a failed step launch).
void mark_finished(MPI_Comm comm, const OutputPaths& paths, const std::string& deck);

}  // namespace kollektiv::app
