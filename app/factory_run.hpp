// A factory-flow run: the main loop of reports, history rows, checkpoints and signals.
#pragma once

#include <mpi.h>

#include "app/cli.hpp"
#include "io/deck.hpp"

namespace kollektiv::app {

// Runs the deck's factory to run.end_time_s (or from a checkpoint). Returns 0 when done,
// 4 when a signal stopped it after a checkpoint. Throws Error for bad input/checkpoints.
int run_factory(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli);

}  // namespace kollektiv::app
