// experiment.h5 (layout in experiment_file.hpp).
#include "io/experiment_file.hpp"

#include <hdf5.h>

#include <cstdio>

#include "build_info.hpp"
#include "io/hdf5_file.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::io {


void write_experiment(const std::string& path, const ExperimentResults& r) {
  const std::string temporary = path + ".new";
  {
    h5::Handle fapl = h5::file_access(false);
    h5::Handle file = h5::checked(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                                  "cannot create experiment file '" + temporary + "'");
    h5::write_attribute(file.get(), "replications", r.replications);
    h5::write_attribute(file.get(), "confidence", r.confidence);
    h5::write_attribute(file.get(), "first_seed", static_cast<std::uint64_t>(r.first_seed));
    h5::write_attribute(file.get(), "deck", r.deck);
    h5::write_attribute(file.get(), "build_info", std::string(build_info::summary));
    std::vector<std::string> names;
    for (const ScenarioResults& s : r.scenarios) {
      names.push_back(s.name);
      const std::string g = "scenarios/" + s.name + "/";
      const auto kpis = static_cast<hsize_t>(s.kpi_names.size());
      h5::write_strings(file.get(), g + "kpi_names", s.kpi_names);
      h5::write_array<double>(file.get(), g + "values", s.values, {kpis, static_cast<hsize_t>(r.replications)});
      h5::write_array<double>(file.get(), g + "mean", s.mean, {kpis});
      h5::write_array<double>(file.get(), g + "half_width", s.half_width, {kpis});
      h5::write_array<double>(file.get(), g + "std_dev", s.std_dev, {kpis});
      std::string overrides;
      for (const std::string& o : s.overrides) overrides += o + "\n";
      h5::Handle group = h5::checked(H5Gopen2(file.get(), ("scenarios/" + s.name).c_str(), H5P_DEFAULT),
                                     "cannot open the group of scenario " + s.name);
      h5::write_attribute(group.get(), "overrides", overrides);
    }
    h5::write_strings(file.get(), "scenario_names", names);
    h5::check_status(file.close(), "cannot close experiment file '" + temporary + "'");
  }
  require(std::rename(temporary.c_str(), path.c_str()) == 0, "cannot rename '" + temporary + "' to '" + path + "'");
}

}  // namespace kollektiv::io
