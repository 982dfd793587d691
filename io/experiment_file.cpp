// experiment.h5 (layout in experiment_file.hpp).
#include "io/experiment_file.hpp"

#include <hdf5.h>


#include "build_info.hpp"
#include "io/hdf5_file.hpp"

namespace kollektiv::io {


void write_experiment(const std::string& path, const ExperimentResults& r) {
  h5::write_new_file(path, [&](hid_t file) {
    h5::write_attribute(file, "replications", r.replications);
    h5::write_attribute(file, "confidence", r.confidence);
    h5::write_attribute(file, "first_seed", static_cast<std::uint64_t>(r.first_seed));
    h5::write_attribute(file, "deck", r.deck);
    h5::write_attribute(file, "build_info", std::string(build_info::summary));
    std::vector<std::string> names;
    for (const ScenarioResults& s : r.scenarios) {
      names.push_back(s.name);
      const std::string g = "scenarios/" + s.name + "/";
      const auto kpis = static_cast<hsize_t>(s.kpi_names.size());
      h5::write_strings(file, g + "kpi_names", s.kpi_names);
      h5::write_array(file, g + "values", s.values, {kpis, static_cast<hsize_t>(r.replications)});
      h5::write_array(file, g + "mean", s.mean);
      h5::write_array(file, g + "half_width", s.half_width);
      h5::write_array(file, g + "std_dev", s.std_dev);
      std::string overrides;
      for (const std::string& o : s.overrides) overrides += o + "\n";
      h5::Handle group = h5::checked(H5Gopen2(file, ("scenarios/" + s.name).c_str(), H5P_DEFAULT),
                                     "cannot open the group of scenario " + s.name);
      h5::write_attribute(group.get(), "overrides", overrides);
    }
    h5::write_strings(file, "scenario_names", names);
  });
}

}  // namespace kollektiv::io
