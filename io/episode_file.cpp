// A recorded cell episode (layout in episode_file.hpp).
#include "io/episode_file.hpp"

#include <hdf5.h>

#include <algorithm>
#include <vector>

#include "build_info.hpp"
#include "io/hdf5_file.hpp"

namespace kollektiv::io {

void write_episode(const std::string& path, const cells::EpisodeRecording& r, const EpisodeLabels& labels) {
  h5::write_new_file(path, [&](hid_t file) {
    h5::write_attribute(file, "skill", labels.skill);
    h5::write_attribute(file, "skill_kind", labels.skill_kind);
    h5::write_attribute(file, "robot", labels.robot);
    h5::write_attribute(file, "station", labels.station);
    h5::write_attribute(file, "start_s", r.start_s);
    h5::write_attribute(file, "part_id", r.part_id);
    h5::write_attribute(file, "service_count", r.service_count);
    h5::write_attribute(file, "control_dt_s", r.control_dt_s);
    h5::write_attribute(file, "build_info", std::string(build_info::summary));
    const std::vector<double> normal(labels.surface_normal.begin(), labels.surface_normal.end());
    h5::write_array(file, "surface_normal", normal);
    const auto robots = static_cast<hsize_t>(r.robots), joints = static_cast<hsize_t>(r.dof + 2);
    h5::write_array(file, "points", r.points, {static_cast<hsize_t>(r.steps + 1), robots, joints, 3});
    const hsize_t columns = static_cast<hsize_t>(r.task.size()) / std::max<hsize_t>(robots, 1);
    h5::write_array(file, "task", r.task, {robots, columns});
    h5::write_array(file, "length", std::vector<std::int32_t>(r.length.begin(), r.length.end()));
    h5::write_array(file, "success", std::vector<std::int32_t>(r.success.begin(), r.success.end()));
    h5::write_array(file, "quality", r.quality);
  });
}

}  // namespace kollektiv::io
