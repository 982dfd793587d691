// Plain, validated `run` block of a deck: how long, how often to report and checkpoint.
#pragma once

#include <cstdint>
#include <string>

namespace kollektiv {

struct RunConfig {
  std::uint64_t seed = 1;              // key of every random draw
  double end_time_s = 8.0 * 3600.0;    // simulated time at which the run ends
  double report_interval_s = 600.0;    // simulated time between history rows / progress lines
  std::string output_dir = "output";   // relative to the working directory
  double checkpoint_interval_s = 0.0;  // simulated time between checkpoints; 0: only at the end
  // `auto` (checkpoint_interval_s: auto, or training.checkpoint_every: auto): a checkpoint
  // after the pass at which Young/Daly's interval sqrt(2 C M) of wall time has passed since the
  // last one, C the measured write time, M = node_mtbf_s / nodes of the job.
  bool checkpoint_auto = false;
  double node_mtbf_s = 0.0;  // mean time between failures of one node, wall seconds (auto only)
  int checkpoint_keep = 3;             // how many checkpoints to keep
  double history_publish_s = 1.0;      // wall time a history row may wait for readers; 0: none
};

}  // namespace kollektiv
