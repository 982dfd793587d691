// Progress reporting.
#include "app/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace kollektiv::app {

Progress::Progress(double start_time_s, double end_time_s, bool print)
    : start_time_s_(start_time_s), end_time_s_(end_time_s), print_(print),
      wall_start_(std::chrono::steady_clock::now()) {}

std::string format_duration(double seconds) {
  char buffer[64];
  if (!std::isfinite(seconds)) return "?";
  if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  } else {
    const long s = std::lround(seconds);
    if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%ldh%02ldm%02lds", s / 3600, (s / 60) % 60, s % 60);
    else std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
  }
  return buffer;
}

void Progress::report(double time_s, const std::string& kpis) {
  if (!print_) return;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  const double done = time_s - start_time_s_;
  const double rate = wall > 0 ? done / wall : 0.0;  // simulated seconds per wall second
  const double eta = rate > 0 ? (end_time_s_ - time_s) / rate : NAN;
  const double percent = end_time_s_ > 0 ? 100.0 * time_s / end_time_s_ : 100.0;
  char head[160];
  std::snprintf(head, sizeof head, "t=%s (%5.1f%%)  rate %.4g sim-s/s  wall %s  ETA %s", format_duration(time_s).c_str(),
                percent, rate, format_duration(wall).c_str(), format_duration(eta).c_str());
  std::cout << head << "  " << kpis << std::endl;
}

double next_multiple_after(double t, double interval, double end) {
  if (!(interval > 0.0)) return end;
  double k = std::floor(t / interval) + 1.0;
  while (k > 1.0 && (k - 1.0) * interval > t) k -= 1.0;  // the quotient rounded up
  while (k * interval <= t) k += 1.0;                     // or down
  return std::min(end, k * interval);
}

}  // namespace kollektiv::app
