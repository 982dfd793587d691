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
  int checkpoint_keep = 3;             // how many checkpoints to keep
};

}  // namespace kollektiv
