// The factory's part of a checkpoint: FactoryState as global arrays indexed by station
// global id (per-station fields) or by part/credit in gid order (the FIFOs), so that any
// number of ranks can read back its own contiguous range.
#pragma once

#include <cstdint>

#include "io/checkpoint.hpp"
#include "solvers/factory/factory.hpp"

namespace kollektiv::io {

// Local stations per piece of a checkpoint's factory state: the per-station arrays of that
// many stations (about 1.5 MB) are packed, checksummed while in cache, and written, then the
// next piece reuses their memory, so a rank never holds a packed copy of all its stations.
inline constexpr std::int64_t checkpoint_piece_stations = 4096;

// Collective: writes the local stations' state under "factory/", `stations_per_piece` (>= 1)
// at a time; the file is the same for any piece size.
void write_factory_state(CheckpointWriter& writer, const factory::Factory& factory,
                         std::int64_t stations_per_piece = checkpoint_piece_stations);

// What a checkpoint holds for this rank's stations, read but not yet restored: apply it
// with factory.restore(time_s, state) once the reader's checksums are verified (see
// load_newest_valid), which also checks every value against the model.
struct FactorySnapshot {
  double time_s = 0.0;
  factory::FactoryState state;
};

// Collective: reads this rank's stations (factory.local_stations()). Error(bad_checkpoint)
// if the arrays do not fit the factory or a FIFO length is out of range.
FactorySnapshot read_factory_state(CheckpointReader& reader, const factory::Factory& factory);

// A hash of everything that defines the simulated model (structure, distributions,
// capacities, breakdowns) and the seed: a checkpoint only continues the same model.
std::uint64_t factory_fingerprint(const factory::FactoryModelConfig& config, std::uint64_t seed);

}  // namespace kollektiv::io
