// A recorded cell episode (layout in episode_file.hpp).
#include "io/episode_file.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "build_info.hpp"
#include "io/hdf5_file.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::io {


void write_episode(const std::string& path, const cells::EpisodeRecording& r, const EpisodeLabels& labels) {
  const std::string temporary = path + ".new";
  {
    h5::Handle fapl = h5::file_access(false);
    h5::Handle file = h5::checked(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                                  "cannot create episode file '" + temporary + "'");
    h5::write_attribute(file.get(), "skill", labels.skill);
    h5::write_attribute(file.get(), "skill_kind", labels.skill_kind);
    h5::write_attribute(file.get(), "robot", labels.robot);
    h5::write_attribute(file.get(), "station", labels.station);
    h5::write_attribute(file.get(), "start_s", r.start_s);
    h5::write_attribute(file.get(), "part_id", r.part_id);
    h5::write_attribute(file.get(), "service_count", r.service_count);
    h5::write_attribute(file.get(), "control_dt_s", r.control_dt_s);
    h5::write_attribute(file.get(), "build_info", std::string(build_info::summary));
    const std::vector<double> normal(labels.surface_normal.begin(), labels.surface_normal.end());
    h5::write_array(file.get(), "surface_normal", normal, {3});
    const auto robots = static_cast<hsize_t>(r.robots), joints = static_cast<hsize_t>(r.dof + 2);
    h5::write_array(file.get(), "points", r.points, {static_cast<hsize_t>(r.steps + 1), robots, joints, 3});
    const hsize_t columns = static_cast<hsize_t>(r.task.size()) / std::max<hsize_t>(robots, 1);
    h5::write_array(file.get(), "task", r.task, {robots, columns});
    std::vector<std::int32_t> length(r.length.begin(), r.length.end()), success(r.success.begin(), r.success.end());
    h5::write_array(file.get(), "length", length, {robots});
    h5::write_array(file.get(), "success", success, {robots});
    h5::write_array(file.get(), "quality", r.quality, {robots});
    h5::check_status(file.close(), "cannot close episode file '" + temporary + "'");
  }
  require(std::rename(temporary.c_str(), path.c_str()) == 0, "cannot rename '" + temporary + "' to '" + path + "'");
}

}  // namespace kollektiv::io
