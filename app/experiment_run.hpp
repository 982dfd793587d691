// Digital-twin experiments: a factory deck's `experiment` block run as replications of
// scenarios inside one MPI job (see experiment_run.cpp).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>

#include "app/cli.hpp"
#include "io/deck.hpp"

namespace kollektiv::app {

// `task_deck(scenario, replication)` gives the deck of one replication (the scenario's
// overrides and the replication's seed applied); it must not communicate.
using TaskDeck = std::function<io::Deck(std::size_t scenario, std::int64_t replication)>;

// Runs every scenario × replication of `deck.experiment` (each a factory run to
// run.end_time_s without history or checkpoints), spread over groups of ranks; rank 0
// writes OUTPUT/experiment.h5 and prints a table of each KPI's mean and confidence interval
// per scenario. Returns the exit code.
int run_experiment(MPI_Comm comm, const io::Deck& deck, const TaskDeck& task_deck, const CliOptions& cli);

}  // namespace kollektiv::app
