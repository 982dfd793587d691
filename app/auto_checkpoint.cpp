// Young/Daly automatic checkpoint interval (see auto_checkpoint.hpp).
#include "app/auto_checkpoint.hpp"

#include <algorithm>
#include <cmath>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::app {

AutoCheckpoint::AutoCheckpoint(MPI_Comm comm, double node_mtbf_s)
    : comm_(comm), nodes_(comm::node_count(comm)), job_mtbf_s_(node_mtbf_s / nodes_),
      last_write_end_(std::chrono::steady_clock::now()) {}

bool AutoCheckpoint::due() const {
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_write_end_).count();
  return comm::allreduce_max(comm_, since) >= interval_s_;
}

bool AutoCheckpoint::written(double seconds) {
  const bool first = interval_s_ == 0.0;
  write_s_ = comm::allreduce_max(comm_, seconds);
  // A write too fast for the clock still gives a positive interval.
  interval_s_ = std::sqrt(2.0 * std::max(write_s_, 1e-6) * job_mtbf_s_);
  last_write_end_ = std::chrono::steady_clock::now();
  return first;
}

}  // namespace kollektiv::app
