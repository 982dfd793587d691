// Gathering a spread KPI report onto rank 0 (see kpi_report.hpp).
#include "solvers/factory/kpi_report.hpp"

#include <utility>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::factory {

KpiReport gather_to_root(MPI_Comm comm, KpiReport report) {
  for (auto* columns : {&report.station, &report.line})
    for (KpiColumn& c : *columns) c.values = comm::gather_to_root(comm, c.values);
  report.stations.first = 0;
  report.lines.first = 0;
  return report;
}

}  // namespace kollektiv::factory
