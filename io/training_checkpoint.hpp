// The training run's part of a checkpoint: the fleet's robots as global arrays by robot
// gid ("fleet/..."), so any rank count reads back its own contiguous gid range, and the
// learner's state ("learner/..."), which is the same on every rank and written once. A run
// of several skills keeps each under its own `prefix` ("skills/<name>/"); every function is
// collective over all ranks of the writer or reader, also those that hold none of the
// skill's robots (they write and read nothing), and `shared_rank` is the rank whose copy of
// the arrays every holder shares is written.
#pragma once

#include <cstdint>

#include "io/checkpoint.hpp"
#include "io/training_config.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/skills/fleet_state.hpp"

namespace kollektiv::io {

// Collective: this rank's robots [gid_begin, gid_begin + local.robot_count()) of `robots`.
void write_fleet_state(CheckpointWriter& writer, const skills::FleetState& local, std::int64_t gid_begin,
                       std::int64_t robots, const std::string& prefix = "");

// Collective: writes this rank's robots [gid_begin, gid_begin + local.robot_count()) of
// `robots` in total (the ranks' ranges must partition [0, robots)), and `learner`, which
// must be the same on every rank (rank 0's copy is written).
void write_training_state(CheckpointWriter& writer, const skills::FleetState& local, std::int64_t gid_begin,
                          std::int64_t robots, const learning::LearnerState& learner, const std::string& prefix = "",
                          int shared_rank = 0);

// Collective: `learner` ("learner/..." under `prefix`), the same on every rank (rank
// `shared_rank`'s copy is written).
void write_learner_state(CheckpointWriter& writer, const learning::LearnerState& learner, const std::string& prefix = "",
                         int shared_rank = 0);

// Collective: robots [gid_begin, gid_begin + count) of a checkpoint of `robots` robots of
// `dof` joints. Error(bad_checkpoint) if the arrays do not fit.
skills::FleetState read_fleet_state(CheckpointReader& reader, std::int64_t gid_begin, std::int64_t count,
                                    std::int64_t robots, int dof, const std::string& prefix = "");

// Collective: the learner state, the same on every rank. Error(bad_checkpoint) if its sizes
// are not `parameters` parameters and `obs_dim` normalised features.
learning::LearnerState read_learner_state(CheckpointReader& reader, std::int64_t parameters, int obs_dim,
                                          const std::string& prefix = "");

// Collective: the replicas of a skill with one replica per site ("replicas/..." as [site]
// rows, each rank writing its sites, which are contiguous and in order) and the sharing
// state ("sharing/...").
void write_replica_states(CheckpointWriter& writer, const training::UnitState& unit, const std::string& prefix = "",
                          int shared_rank = 0);

// Collective: sites [first_site, first_site + local_sites) of `sites`. Error(bad_checkpoint)
// if the arrays do not fit.
training::UnitState read_replica_states(CheckpointReader& reader, int first_site, int local_sites, int sites,
                                        std::int64_t parameters, int obs_dim, const std::string& prefix = "");

// A hash of everything that defines the trained system: robot model, skill settings,
// learner settings (not the run length: iterations, total_updates) and the seed; for a run
// of several skills, their names and each one's hash. A checkpoint only continues the same
// system.
std::uint64_t training_fingerprint(const TrainingConfig& config, std::uint64_t seed);

}  // namespace kollektiv::io
