// KpiReport: named KPI columns, generic so that io::History can write them without knowing
// the factory. Every value is a double (counts are exact below 2^53).
#pragma once

#include <string>
#include <vector>

namespace kollektiv::factory {

struct KpiColumn {
  std::string name;            // e.g. "throughput"
  std::string unit;            // e.g. "1/h", "s", "1" (fraction), "parts"
  std::vector<double> values;  // one per station (gid order), line or factory
};

struct KpiReport {
  double time_s = 0.0;  // simulated time the KPIs are cumulative to (from t = 0)
  std::vector<KpiColumn> station, line, factory;

  // The column called `name` in `columns`, or nullptr.
  static const KpiColumn* find(const std::vector<KpiColumn>& columns, const std::string& name) {
    for (const KpiColumn& c : columns)
      if (c.name == name) return &c;
    return nullptr;
  }
};

}  // namespace kollektiv::factory
