// Reading robot models into the plain dynamics::RobotModel: from a YAML block (inline in a
// deck or a model file) or from URDF (urdfdom). Every error names the file and element,
// with line:column for YAML, and is thrown as kollektiv::Error with ExitCode::bad_input.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "solvers/dynamics/robot_model.hpp"

namespace YAML {
class Node;
}

namespace kollektiv::io {

// Reads a referenced file (the URDF of a `urdf: PATH` block): its bytes, or nullopt when it
// cannot be read. Lets a caller read on one rank and broadcast; empty: read from disk.
using RobotFileReader = std::function<std::optional<std::string>(const std::string& path)>;

// A `robot` block: either the model itself (name, gravity, tool, joints) or a reference
// `urdf: PATH` (relative to `file`'s folder) with optional gravity/tool overrides.
// `file` and `key_path` ("robot", "cells.3.robot") only label messages. With `read_file`,
// the URDF is read through it and an unreadable one is reported at the `urdf` key.
dynamics::RobotModel robot_model_from_yaml(const YAML::Node& block, const std::string& file,
                                           const std::string& key_path = "robot",
                                           const RobotFileReader& read_file = {});
// YAML text whose top level holds a `robot` block.
dynamics::RobotModel robot_model_from_yaml_text(const std::string& text, const std::string& file,
                                                const RobotFileReader& read_file = {});
// URDF XML text; `file` labels messages and resolves nothing.
dynamics::RobotModel robot_model_from_urdf_text(const std::string& xml, const std::string& file);
// A model file: `.urdf` is read as URDF, `.yaml`/`.yml` as YAML with a top-level `robot`.
dynamics::RobotModel read_robot_model(const std::string& path);

}  // namespace kollektiv::io
