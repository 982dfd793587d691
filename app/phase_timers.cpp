// Phase timing: Kokkos profiling regions and the min/mean/max table (see phase_timers.hpp).
#include "app/phase_timers.hpp"

#include <Kokkos_Core.hpp>
#include <cstdio>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::app {

Region::Region(const char* name) { Kokkos::Profiling::pushRegion(std::string("kollektiv::") + name); }

Region::~Region() { Kokkos::Profiling::popRegion(); }

PhaseScope::PhaseScope(const char* name, double& seconds)
    : region_(name), seconds_(seconds), start_(std::chrono::steady_clock::now()) {}

PhaseScope::~PhaseScope() {
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void print_phase_table(MPI_Comm comm, const std::vector<std::pair<std::string, double>>& phases, double total_s) {
  std::vector<double> mine;
  for (const auto& p : phases) mine.push_back(p.second);
  mine.push_back(total_s);
  const auto n = static_cast<int>(mine.size());
  std::vector<double> lo(mine.size()), hi(mine.size()), sum(mine.size());
  MPI_Reduce(mine.data(), lo.data(), n, MPI_DOUBLE, MPI_MIN, 0, comm);
  MPI_Reduce(mine.data(), hi.data(), n, MPI_DOUBLE, MPI_MAX, 0, comm);
  MPI_Reduce(mine.data(), sum.data(), n, MPI_DOUBLE, MPI_SUM, 0, comm);
  if (comm::rank_of(comm) != 0) return;
  const double ranks = comm::size_of(comm);
  const double total_mean = sum.back() / ranks;
  std::printf("%-14s %10s %10s %10s %7s   (wall seconds over %d ranks)\n", "phase", "min_s", "mean_s", "max_s", "share",
              static_cast<int>(ranks));
  for (int i = 0; i < n; ++i) {
    const char* name = i + 1 < n ? phases[static_cast<std::size_t>(i)].first.c_str() : "total";
    const double mean = sum[static_cast<std::size_t>(i)] / ranks;
    std::printf("%-14s %10.3f %10.3f %10.3f %6.1f%%\n", name, lo[static_cast<std::size_t>(i)], mean,
                hi[static_cast<std::size_t>(i)], total_mean > 0 ? 100.0 * mean / total_mean : 0.0);
  }
  std::fflush(stdout);
}

}  // namespace kollektiv::app
