// Exported policies: one small HDF5 file holding the frozen Gaussian policy (layer widths,
// mean-MLP parameters then log-stds), its value network and the observation normaliser it
// was trained with, so that an evaluation run can load it and another skill can start from
// it (skill transfer); a directory of them is a skill library (`kollektiv --list-skills`).
// Datasets: widths (int64), parameters (float64), value/widths, value/parameters,
// normalizer/mean, normalizer/m2 (float64). Root attributes: format ("kollektiv-policy"),
// format_version (2), skill, robot, dof, observation_layout and action_layout
// ("name:width,..."), site, started_from, seed, iterations, env_steps, normalize_observations (0/1),
// observation_clip, normalizer_count, build_info, deck. Files of format 1 (no value
// network, layouts or provenance) are still read.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "solvers/core/segment.hpp"
#include "solvers/learning/ppo_learner.hpp"

namespace kollektiv::io {

inline constexpr const char* policy_format = "kollektiv-policy";

// What a policy was trained for and by which run.
struct PolicyInfo {
  std::int64_t format_version = 2;
  std::string skill;  // reach, weld, pick_place
  std::string robot;  // the robot model's name
  std::int64_t dof = 0;
  SegmentLayout observations, actions;  // empty in format 1
  std::string site;                     // the site whose replica it is; "" for all the skill's sites
  std::string started_from;             // the policy file its training started from (transfer), or ""
  std::int64_t seed = 0, iterations = 0, env_steps = 0;
  std::string deck, build_info;
};

struct PolicyFile {
  learning::PolicyExport policy;
  PolicyInfo info;
};

// Collective: rank 0 writes `path` (parent directories created, an existing file
// replaced); the same Error on every rank if that fails.
void write_policy(MPI_Comm comm, const std::string& path, const learning::PolicyExport& policy,
                  const PolicyInfo& info);

// Collective: every rank reads `path`. Error(bad_input) on every rank if it is missing, not
// a policy file, or for another skill than `skill` (empty: any).
PolicyFile read_policy_file(MPI_Comm comm, const std::string& path, const std::string& skill = "");
inline learning::PolicyExport read_policy(MPI_Comm comm, const std::string& path, const std::string& skill = "") {
  return read_policy_file(comm, path, skill).policy;
}

// The policy files in `dir` (*.h5 that are kollektiv policies, sorted by name; others are
// skipped), read on this process alone. Error(bad_input) if `dir` is not a directory.
std::vector<std::pair<std::string, PolicyFile>> list_policies(const std::string& dir);
// `kollektiv --list-skills DIR`: one line per policy (file, skill, robot, layers, site,
// env-steps, seed); the text that is printed.
std::string skill_library_table(const std::string& dir);

}  // namespace kollektiv::io
