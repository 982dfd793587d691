// experiment.h5: the results of a digital-twin experiment (app/experiment_run.cpp).
//
//   /                       attributes: replications, confidence, first_seed, deck, build_info
//   /scenarios/<name>/      attribute overrides (the scenario's "key=value" lines)
//     kpi_names  [kpis]           strings, e.g. "factories/plant/throughput"
//     values     [kpis][replications]  each replication's value (replication r: seed first_seed + r)
//     mean, half_width, std_dev   [kpis]  the interval is mean ± half_width at `confidence`
//   /scenario_names [scenarios]   strings, in deck order
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kollektiv::io {

struct ScenarioResults {
  std::string name;
  std::vector<std::string> overrides;
  std::vector<std::string> kpi_names;
  std::vector<double> values;  // [kpi][replication]
  std::vector<double> mean, half_width, std_dev;
};

struct ExperimentResults {
  std::int64_t replications = 0;
  double confidence = 0.95;
  std::uint64_t first_seed = 1;
  std::string deck;
  std::vector<ScenarioResults> scenarios;
};

// Writes `results` to `path` (one process, no MPI), through PATH.new renamed into place.
void write_experiment(const std::string& path, const ExperimentResults& results);

}  // namespace kollektiv::io
