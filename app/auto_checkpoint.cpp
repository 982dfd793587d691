// Young/Daly automatic checkpoint interval (see auto_checkpoint.hpp).
#include "app/auto_checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::app {

AutoCheckpoint::AutoCheckpoint(MPI_Comm comm, double node_mtbf_s)
    : comm_(comm), nodes_(comm::node_count(comm)), job_mtbf_s_(node_mtbf_s / nodes_),
      last_write_end_(std::chrono::steady_clock::now()) {}

bool AutoCheckpoint::due() { return ++passes_ >= passes_per_interval_; }

bool AutoCheckpoint::written(double seconds) {
  const bool first = interval_s_ == 0.0;
  const auto now = std::chrono::steady_clock::now();
  const double since_last_s = std::chrono::duration<double>(now - last_write_end_).count();
  // The write time and the wall time per pass since the last write (this write excluded),
  // each of the slowest rank. A write with no pass before it (the final one right after a
  // scheduled one) keeps the pass time known.
  std::vector<double> seen = {seconds, passes_ > 0 ? (since_last_s - seconds) / static_cast<double>(passes_) : 0.0};
  comm::allreduce_max(comm_, seen);
  write_s_ = seen[0];
  if (seen[1] > 0.0) pass_s_ = seen[1];
  // A write too fast for the clock still gives a positive interval.
  interval_s_ = std::sqrt(2.0 * std::max(write_s_, 1e-6) * job_mtbf_s_);
  const double passes = pass_s_ > 0.0 ? std::floor(interval_s_ / pass_s_) : 1.0;
  passes_per_interval_ = static_cast<std::int64_t>(std::clamp(passes, 1.0, 1e15));
  passes_ = 0;
  last_write_end_ = now;
  return first;
}

}  // namespace kollektiv::app
