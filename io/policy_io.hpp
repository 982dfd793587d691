// Exported policies: one small HDF5 file holding the frozen Gaussian policy (layer widths,
// mean-MLP parameters then log-stds) and the observation normaliser it was trained with,
// so that an evaluation run can load it. Datasets: widths (int64), parameters (float64),
// normalizer/mean, normalizer/m2 (float64). Root attributes: format ("kollektiv-policy"),
// format_version (1), skill, normalize_observations (0/1), observation_clip,
// normalizer_count, build_info, deck.
#pragma once

#include <mpi.h>

#include <string>

#include "solvers/learning/ppo_learner.hpp"

namespace kollektiv::io {

inline constexpr const char* policy_format = "kollektiv-policy";

// Collective: rank 0 writes `path` (parent directories created, an existing file
// replaced); the same Error on every rank if that fails.
void write_policy(MPI_Comm comm, const std::string& path, const learning::PolicyExport& policy,
                  const std::string& skill, const std::string& deck_text);

// Collective: every rank reads `path`. Error(bad_input) on every rank if it is missing, not
// a policy file, or for another skill than `skill` (empty: any).
learning::PolicyExport read_policy(MPI_Comm comm, const std::string& path, const std::string& skill = "");

}  // namespace kollektiv::io
