// The factory's part of a checkpoint: FactoryState as global arrays indexed by station
// global id (per-station fields) or by part/credit in gid order (the FIFOs), so that any
// number of ranks can read back its own contiguous range.
#pragma once

#include <cstdint>

#include "io/checkpoint.hpp"
#include "solvers/factory/factory.hpp"

namespace kollektiv::io {

// Collective: writes the local stations' state under "factory/".
void write_factory_state(CheckpointWriter& writer, const factory::Factory& factory);

// Collective: reads this rank's stations (factory.local_stations()) and restores the
// factory to the checkpoint's "time_s". Error(bad_checkpoint) if the arrays do not fit.
void read_factory_state(CheckpointReader& reader, factory::Factory& factory);

// A hash of everything that defines the simulated model (structure, distributions,
// capacities, breakdowns) and the seed: a checkpoint only continues the same model.
std::uint64_t factory_fingerprint(const factory::FactoryModelConfig& config, std::uint64_t seed);

}  // namespace kollektiv::io
