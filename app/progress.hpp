// Progress lines on stdout (rank 0): simulated time, wall rate, ETA, and a few KPIs.
#pragma once

#include <chrono>
#include <string>

namespace kollektiv::app {

class Progress {
 public:
  Progress(double start_time_s, double end_time_s, bool print);
  // One line for the report at simulated time `time_s`; `kpis` is appended as given.
  void report(double time_s, const std::string& kpis);

 private:
  double start_time_s_;
  double end_time_s_;
  bool print_;
  std::chrono::steady_clock::time_point wall_start_;
};

std::string format_duration(double seconds);  // "1h02m03s", "45.2s"

// When the next report or checkpoint is due: the first multiple of `interval` strictly after
// `t`, or `end` if that comes first or `interval` is 0 (none). Always > t for t < end when
// end / interval <= 1e9 (the deck's limit), so a run loop built on it always advances; the
// multiples are the same products k · interval whatever the time restarted from.
double next_multiple_after(double t, double interval, double end);

}  // namespace kollektiv::app
