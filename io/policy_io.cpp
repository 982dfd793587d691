// Policy export and import through serial HDF5 (the file is small: one copy of the policy).
#include "io/policy_io.hpp"

#include <algorithm>
#include <cstdio>
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

constexpr std::int64_t policy_format_version = 2;
constexpr std::int64_t max_width = 1 << 20;  // any layer, observation or action width

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
                  const PolicyInfo& info) {
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
    h5::write_attribute(file.get(), "skill", info.skill);
    h5::write_attribute(file.get(), "robot", info.robot);
    h5::write_attribute(file.get(), "dof", info.dof);
    h5::write_attribute(file.get(), "observation_layout", layout_text(info.observations));
    h5::write_attribute(file.get(), "action_layout", layout_text(info.actions));
    h5::write_attribute(file.get(), "site", info.site);
    h5::write_attribute(file.get(), "started_from", info.started_from);
    h5::write_attribute(file.get(), "seed", info.seed);
    h5::write_attribute(file.get(), "iterations", info.iterations);
    h5::write_attribute(file.get(), "env_steps", info.env_steps);
    h5::write_attribute(file.get(), "normalize_observations",
                        static_cast<std::int64_t>(policy.normalize_observations ? 1 : 0));
    h5::write_attribute(file.get(), "observation_clip", policy.observation_clip);
    h5::write_attribute(file.get(), "normalizer_count", policy.normalizer.count);
    h5::write_attribute(file.get(), "build_info", std::string(build_info::summary));
    h5::write_attribute(file.get(), "deck", info.deck);
    h5::write_array(file.get(), "widths", std::vector<std::int64_t>(policy.widths.begin(), policy.widths.end()));
    h5::write_array(file.get(), "parameters", policy.parameters);
    h5::write_array(file.get(), "value/widths",
                  std::vector<std::int64_t>(policy.value_widths.begin(), policy.value_widths.end()));
    h5::write_array(file.get(), "value/parameters", policy.value_parameters);
    h5::write_array(file.get(), "normalizer/mean", policy.normalizer.mean);
    h5::write_array(file.get(), "normalizer/m2", policy.normalizer.m2);
    h5::check_status(file.close(), "cannot close policy file " + path);
  });
}

namespace {

// Reads one policy file on this process.
PolicyFile read_one(const std::string& path, const std::string& skill) {
  PolicyFile out;
  learning::PolicyExport& policy = out.policy;
  PolicyInfo& info = out.info;
  {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error("policy file " + path + " does not exist", ExitCode::bad_input);
    h5::Handle fapl = h5::file_access(false);
    h5::Handle file = h5::checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()),
                                  "cannot open policy file " + path, ExitCode::bad_input);
    const auto format = h5::read_attribute_string(file.get(), "format", ExitCode::bad_input);
    if (format != policy_format)
      throw Error(path + " is not a kollektiv policy file (format '" + format + "')", ExitCode::bad_input);
    info.format_version = h5::read_attribute_int(file.get(), "format_version", ExitCode::bad_input);
    if (info.format_version < 1 || info.format_version > policy_format_version)
      throw Error("policy file " + path + " has format version " + std::to_string(info.format_version) +
                      "; this kollektiv reads versions 1 to " + std::to_string(policy_format_version),
                  ExitCode::bad_input);
    info.skill = h5::read_attribute_string(file.get(), "skill", ExitCode::bad_input);
    if (!skill.empty() && info.skill != skill)
      throw Error("policy file " + path + " holds a '" + info.skill + "' policy, the deck trains '" + skill + "'",
                  ExitCode::bad_input);
    info.deck = h5::read_attribute_string(file.get(), "deck", ExitCode::bad_input);
    info.build_info = h5::read_attribute_string(file.get(), "build_info", ExitCode::bad_input);
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
    if (info.format_version >= 2) {
      info.robot = h5::read_attribute_string(file.get(), "robot", ExitCode::bad_input);
      info.dof = h5::read_attribute_int(file.get(), "dof", ExitCode::bad_input);
      info.site = h5::read_attribute_string(file.get(), "site", ExitCode::bad_input);
      info.started_from = h5::read_attribute_string(file.get(), "started_from", ExitCode::bad_input);
      info.seed = h5::read_attribute_int(file.get(), "seed", ExitCode::bad_input);
      info.iterations = h5::read_attribute_int(file.get(), "iterations", ExitCode::bad_input);
      info.env_steps = h5::read_attribute_int(file.get(), "env_steps", ExitCode::bad_input);
      const auto layout = [&](const char* name, int width) {
        const std::string text = h5::read_attribute_string(file.get(), name, ExitCode::bad_input);
        const SegmentLayout l = parse_layout(text);
        if (l.empty() || layout_width(l) != width)
          throw Error("policy file " + path + ": " + name + " '" + text + "' is not a layout of " +
                          std::to_string(width) + " values (name:width,...)",
                      ExitCode::bad_input);
        return l;
      };
      info.observations = layout("observation_layout", policy.widths.front());
      info.actions = layout("action_layout", policy.widths.back());
      const auto value_widths = read_dataset<std::int64_t>(file.get(), path, "value/widths");
      if (value_widths.size() < 2 || value_widths.front() != policy.widths.front() || value_widths.back() != 1 ||
          std::any_of(value_widths.begin(), value_widths.end(), [](std::int64_t w) { return w < 1 || w > max_width; }))
        throw Error("policy file " + path + ": 'value/widths' must run from the observation width to 1",
                    ExitCode::bad_input);
      policy.value_widths.assign(value_widths.begin(), value_widths.end());
      policy.value_parameters = read_dataset<double>(file.get(), path, "value/parameters");
    }
  }
  return out;
}

std::string widths_text(const std::vector<int>& w) {
  std::string t;
  for (int x : w) t += (t.empty() ? "" : "-") + std::to_string(x);
  return t;
}

}  // namespace

PolicyFile read_policy_file(MPI_Comm comm, const std::string& path, const std::string& skill) {
  h5::QuietErrors quiet;
  PolicyFile out;
  collectively(comm, [&] { out = read_one(path, skill); });
  return out;
}

std::vector<std::pair<std::string, PolicyFile>> list_policies(const std::string& dir) {
  h5::QuietErrors quiet;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("skill library " + dir + " is not a directory", ExitCode::bad_input);
  std::vector<std::string> files;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && it->path().extension() == ".h5") files.push_back(it->path().string());
  if (ec) throw Error("cannot list skill library " + dir + ": " + ec.message(), ExitCode::bad_input);
  std::sort(files.begin(), files.end());
  std::vector<std::pair<std::string, PolicyFile>> policies;
  for (const std::string& f : files) {
    try {
      policies.emplace_back(f, read_one(f, ""));
    } catch (const Error&) {
      // Not a policy (history, checkpoint) or unreadable: not part of the library.
    }
  }
  return policies;
}

std::string skill_library_table(const std::string& dir) {
  const auto policies = list_policies(dir);
  std::string text;
  char line[1024];
  std::snprintf(line, sizeof line, "%-40s %-10s %-12s %-14s %-12s %12s %6s  %s\n", "file", "skill", "robot", "layers",
                "site", "env_steps", "seed", "observation (started from)");
  text += line;
  const fs::path base(dir);
  for (const auto& [file, p] : policies) {
    const PolicyInfo& i = p.info;
    const std::string rel = fs::relative(file, base).string();
    const bool old = i.format_version < 2;
    const std::string observation =
        old ? "(format 1: no layout)"
            : layout_text(i.observations) + (i.started_from.empty() ? "" : " (" + i.started_from + ")");
    std::snprintf(line, sizeof line, "%-40s %-10s %-12s %-14s %-12s %12s %6s  %s\n", rel.c_str(), i.skill.c_str(),
                  old ? "?" : i.robot.c_str(), widths_text(p.policy.widths).c_str(),
                  i.site.empty() ? "-" : i.site.c_str(), old ? "?" : std::to_string(i.env_steps).c_str(),
                  old ? "?" : std::to_string(i.seed).c_str(), observation.c_str());
    text += line;
  }
  text += std::to_string(policies.size()) + " polic" + (policies.size() == 1 ? "y" : "ies") + " in " + dir + "\n";
  return text;
}

}  // namespace kollektiv::io
