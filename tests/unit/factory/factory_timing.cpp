// Timing driver (not a test): events per second of the factory simulation on one rank for
// a 5-station line with Poisson arrivals, exponential service, finite buffers and
// breakdowns. Usage: factory_timing [simulated_seconds] [lines]. Compare against the
// target of 5 million events per second per core.
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "solvers/factory/factory.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  Kokkos::initialize(argc, argv);
  {
    using namespace kollektiv::factory;
    const double t_end = argc > 1 ? std::atof(argv[1]) : 2.0e6;
    const int lines = argc > 2 ? std::atoi(argv[2]) : 1;
    FactoryModelConfig model;
    model.factories.emplace_back();
    for (int l = 0; l < lines; ++l) {
      LineConfig line;
      line.source.kind = ArrivalKind::poisson;
      line.source.interval_s = 1.25;
      for (int i = 0; i < 5; ++i) {
        StationConfig s;
        s.process.distribution = Distribution::exponential;
        s.process.mean_s = 1.0;
        s.buffer_capacity = 10;
        s.conveyor_time_s = 5.0;
        s.breakdown.enabled = true;
        s.breakdown.mtbf_s = 600.0;
        s.breakdown.mttr_s = 30.0;
        line.stations.push_back(s);
      }
      model.factories[0].lines.push_back(line);
    }
    Factory f(model, 42, MPI_COMM_WORLD);
    const auto start = std::chrono::steady_clock::now();
    f.advance(t_end);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const KpiReport r = f.report();
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const double events = static_cast<double>(f.events_processed());
    std::printf("rank %d: %d line(s) x 5 stations, %.3g s simulated, %.4g events in %.3f s: %.3g events/s "
                "(target 5e6/s/core)\n",
                rank, lines, t_end, events, wall, events / wall);
    if (rank == 0)
      std::printf("line 0 throughput %.1f parts/h, wip %.2f, lead %.2f s\n",
                  KpiReport::find(r.line, "throughput")->values[0], KpiReport::find(r.line, "wip")->values[0],
                  KpiReport::find(r.line, "lead_time")->values[0]);
  }
  Kokkos::finalize();
  MPI_Finalize();
  return 0;
}
