// Policy export and import through serial HDF5 (the file is small: one copy of the policy).
#include "io/policy_io.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <vector>

#include "build_info.hpp"
#include "io/hdf5_file.hpp"
#include "solvers/comm/collectives.hpp"

namespace kollektiv::io {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t policy_format_version = 1;
constexpr std::int64_t max_width = 1 << 20;  // any layer, observation or action width

template <class T>
void write_dataset(hid_t file, const std::string& name, const std::vector<T>& values) {
  const hsize_t dims = values.size();
  h5::Handle lcpl = h5::create_intermediate_groups();
  h5::Handle space = h5::checked(H5Screate_simple(1, &dims, nullptr), "cannot create a dataspace");
  h5::Handle set = h5::checked(
      H5Dcreate2(file, name.c_str(), h5::native_type<T>(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
      "cannot create dataset " + name);
  if (!values.empty())
    h5::check_status(H5Dwrite(set.get(), h5::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                     "cannot write dataset " + name);
}

template <class T>
std::vector<T> read_dataset(hid_t file, const std::string& path, const std::string& name) {
  if (!h5::path_exists(file, name))
    throw Error("policy file " + path + " has no dataset '" + name + "'", ExitCode::bad_input);
  h5::Handle set = h5::checked(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "cannot open " + name, ExitCode::bad_input);
  const std::vector<hsize_t> dims = h5::dims_of(set.get());
  if (dims.size() != 1) throw Error("policy file " + path + ": '" + name + "' is not 1-D", ExitCode::bad_input);
  if (dims[0] > static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max()) ||
      !h5::stored_as(set.get(), h5::native_type<T>()))
    throw Error("policy file " + path + ": '" + name + "' is not a dataset of the expected type", ExitCode::bad_input);
  h5::check_stored(file, set.get(), "policy file " + path + ": '" + name + "'", static_cast<std::int64_t>(dims[0]),
                   ExitCode::bad_input);
  std::vector<T> values(dims[0]);
  if (!values.empty())
    h5::check_status(H5Dread(set.get(), h5::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                     "cannot read " + name + " from policy file " + path, ExitCode::bad_input);
  return values;
}

}  // namespace

void write_policy(MPI_Comm comm, const std::string& path, const learning::PolicyExport& policy,
                  const std::string& skill, const std::string& deck_text) {
  h5::QuietErrors quiet;
  collectively(comm, [&] {
    if (comm::rank_of(comm) != 0) return;
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) throw Error("cannot create directory " + parent.string() + " for the policy: " + ec.message());
    h5::Handle fapl = h5::file_access(false);
    h5::Handle file = h5::checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                                  "cannot create policy file " + path);
    h5::write_attribute(file.get(), "format", std::string(policy_format));
    h5::write_attribute(file.get(), "format_version", policy_format_version);
    h5::write_attribute(file.get(), "skill", skill);
    h5::write_attribute(file.get(), "normalize_observations",
                        static_cast<std::int64_t>(policy.normalize_observations ? 1 : 0));
    h5::write_attribute(file.get(), "observation_clip", policy.observation_clip);
    h5::write_attribute(file.get(), "normalizer_count", policy.normalizer.count);
    h5::write_attribute(file.get(), "build_info", std::string(build_info::summary));
    h5::write_attribute(file.get(), "deck", deck_text);
    write_dataset(file.get(), "widths", std::vector<std::int64_t>(policy.widths.begin(), policy.widths.end()));
    write_dataset(file.get(), "parameters", policy.parameters);
    write_dataset(file.get(), "normalizer/mean", policy.normalizer.mean);
    write_dataset(file.get(), "normalizer/m2", policy.normalizer.m2);
    h5::check_status(file.close(), "cannot close policy file " + path);
  });
}

learning::PolicyExport read_policy(MPI_Comm comm, const std::string& path, const std::string& skill) {
  h5::QuietErrors quiet;
  learning::PolicyExport policy;
  collectively(comm, [&] {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error("policy file " + path + " does not exist", ExitCode::bad_input);
    h5::Handle fapl = h5::file_access(false);
    h5::Handle file = h5::checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()),
                                  "cannot open policy file " + path, ExitCode::bad_input);
    const auto format = h5::read_attribute_string(file.get(), "format", ExitCode::bad_input);
    if (format != policy_format)
      throw Error(path + " is not a kollektiv policy file (format '" + format + "')", ExitCode::bad_input);
    const std::string stored_skill = h5::read_attribute_string(file.get(), "skill", ExitCode::bad_input);
    if (!skill.empty() && stored_skill != skill)
      throw Error("policy file " + path + " holds a '" + stored_skill + "' policy, the deck trains '" + skill + "'",
                  ExitCode::bad_input);
    policy.normalize_observations = h5::read_attribute_int(file.get(), "normalize_observations", ExitCode::bad_input) != 0;
    policy.observation_clip = h5::read_attribute_double(file.get(), "observation_clip", ExitCode::bad_input);
    policy.normalizer.count = h5::read_attribute_double(file.get(), "normalizer_count", ExitCode::bad_input);
    const auto widths = read_dataset<std::int64_t>(file.get(), path, "widths");
    if (widths.size() < 2 || std::any_of(widths.begin(), widths.end(), [](std::int64_t w) { return w < 1 || w > max_width; }))
      throw Error("policy file " + path + ": 'widths' must hold at least two layer widths in [1, " +
                      std::to_string(max_width) + "]",
                  ExitCode::bad_input);
    policy.widths.assign(widths.begin(), widths.end());
    policy.parameters = read_dataset<double>(file.get(), path, "parameters");
    policy.normalizer.mean = read_dataset<double>(file.get(), path, "normalizer/mean");
    policy.normalizer.m2 = read_dataset<double>(file.get(), path, "normalizer/m2");
  });
  return policy;
}

}  // namespace kollektiv::io
