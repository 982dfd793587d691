// A recorded production episode of a robot cell as a small HDF5 file (one per episode,
// written by the rank that owns the cell; postprocess/plot_episode.py draws it):
//   attributes  skill, skill_kind, robot, station, start_s, part_id, service_count,
//               control_dt_s, surface_normal (weld: the seam plane's normal), build_info
//   points   [steps + 1][robots][dof + 2][3]  base, joint origins and tool point, m
//   task     [robots][task_real_count]        the task at the start (goal, seam, part, ...)
//   length, success [robots] (int), quality [robots]
#pragma once

#include <array>
#include <string>

#include "solvers/cells/cell_skill.hpp"

namespace kollektiv::io {

struct EpisodeLabels {
  std::string skill, skill_kind, robot, station;
  std::array<double, 3> surface_normal{0, 0, 1};
};

// Writes `r` to `path` through PATH.new renamed into place (one process, no MPI).
void write_episode(const std::string& path, const cells::EpisodeRecording& r, const EpisodeLabels& labels);

}  // namespace kollektiv::io
