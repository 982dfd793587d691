// How much memory a rank may use: the node's available memory shared by the ranks on it,
// the smallest share over all ranks (so that every rank reaches the same verdict on a deck
// or a run that would not fit). Collective.
#pragma once

#include <mpi.h>

namespace kollektiv::app {

// Bytes per rank (0 if the node's available memory cannot be read: then nothing is checked).
double memory_per_rank_bytes(MPI_Comm comm);

}  // namespace kollektiv::app
