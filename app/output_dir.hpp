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
};

OutputPaths output_paths(const std::string& dir);

// Fresh run: DIR must not exist unless `overwrite`: then history.h5 and the checkpoint
// files (ckpt_*.h5, latest) are removed, and nothing else; if DIR/checkpoints holds
// anything else the run is refused and nothing is removed.
// Restart: DIR may exist. Throws Error(bad_input) on every rank alike.
void prepare_output_dir(MPI_Comm comm, const OutputPaths& paths, bool restart, bool overwrite);

}  // namespace kollektiv::app
