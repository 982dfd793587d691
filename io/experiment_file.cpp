// experiment.h5 (layout in experiment_file.hpp).
#include "io/experiment_file.hpp"

#include <hdf5.h>

#include <cstdio>

#include "build_info.hpp"
#include "io/hdf5_file.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::io {

namespace {

void write_strings(hid_t at, const std::string& path, const std::vector<std::string>& values) {
  h5::Handle type = h5::checked(H5Tcopy(H5T_C_S1), "cannot create a string type");
  h5::check_status(H5Tset_size(type.get(), H5T_VARIABLE), "cannot make a string type variable");
  h5::check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot set a string's character set");
  const hsize_t dims = values.size();
  h5::Handle space = h5::checked(H5Screate_simple(1, &dims, nullptr), "cannot create a dataspace");
  h5::Handle lcpl = h5::create_intermediate_groups();
  h5::Handle set = h5::checked(H5Dcreate2(at, path.c_str(), type.get(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                               "cannot create '" + path + "'");
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  if (!pointers.empty())
    h5::check_status(H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
                     "cannot write '" + path + "'");
}

void write_doubles(hid_t at, const std::string& path, const std::vector<double>& values, std::vector<hsize_t> dims) {
  h5::Handle space = h5::checked(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                                 "cannot create a dataspace");
  h5::Handle lcpl = h5::create_intermediate_groups();
  h5::Handle set = h5::checked(
      H5Dcreate2(at, path.c_str(), H5T_NATIVE_DOUBLE, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
      "cannot create '" + path + "'");
  if (!values.empty())
    h5::check_status(H5Dwrite(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                     "cannot write '" + path + "'");
}

}  // namespace

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
      write_strings(file.get(), g + "kpi_names", s.kpi_names);
      write_doubles(file.get(), g + "values", s.values, {kpis, static_cast<hsize_t>(r.replications)});
      write_doubles(file.get(), g + "mean", s.mean, {kpis});
      write_doubles(file.get(), g + "half_width", s.half_width, {kpis});
      write_doubles(file.get(), g + "std_dev", s.std_dev, {kpis});
      std::string overrides;
      for (const std::string& o : s.overrides) overrides += o + "\n";
      h5::Handle group = h5::checked(H5Gopen2(file.get(), ("scenarios/" + s.name).c_str(), H5P_DEFAULT),
                                     "cannot open the group of scenario " + s.name);
      h5::write_attribute(group.get(), "overrides", overrides);
    }
    write_strings(file.get(), "scenario_names", names);
    h5::check_status(file.close(), "cannot close experiment file '" + temporary + "'");
  }
  require(std::rename(temporary.c_str(), path.c_str()) == 0, "cannot rename '" + temporary + "' to '" + path + "'");
}

}  // namespace kollektiv::io
