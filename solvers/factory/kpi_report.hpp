// KpiReport: named KPI columns, generic so that io::History can write them without knowing
// the factory. Every value is a double (counts are exact below 2^53).
//
// A report is spread over the ranks like the stations: each rank holds the station and line
// columns of its own block (its stations, and the lines whose first station it holds), and
// the blocks follow each other in rank order. Factory columns are whole on every rank. No
// rank ever holds every station's values, so that a report of 10^8 stations fits; a small
// model can be gathered whole onto rank 0 with gather_to_root().
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kollektiv::factory {

struct KpiColumn {
  std::string name;            // e.g. "throughput"
  std::string unit;            // e.g. "1/h", "s", "1" (fraction), "parts"
  std::vector<double> values;  // one per station (gid order), line or factory of the block
};

// Where a rank's block of station or line columns lies in the whole column.
struct KpiBlock {
  std::int64_t first = 0;  // global index of the block's first value
  std::int64_t total = 0;  // values in the whole column (all ranks)
};

struct KpiReport {
  double time_s = 0.0;  // simulated time the KPIs are cumulative to (from t = 0)
  std::vector<KpiColumn> station, line, factory;
  KpiBlock stations, lines;  // this rank's share of `station` and `line`; factories are whole

  // The column called `name` in `columns`, or nullptr.
  static const KpiColumn* find(const std::vector<KpiColumn>& columns, const std::string& name) {
    for (const KpiColumn& c : columns)
      if (c.name == name) return &c;
    return nullptr;
  }
};

// The report with whole station and line columns on rank 0 (empty ones elsewhere, blocks
// {0, total} everywhere): for small models, in tests and experiment summaries. Collective.
KpiReport gather_to_root(MPI_Comm comm, KpiReport report);

}  // namespace kollektiv::factory
