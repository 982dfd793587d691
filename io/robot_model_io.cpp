// Robot models from YAML (yaml-cpp, file:line:col messages) and URDF (urdfdom). URDF fixed
// joints are merged: their child link's inertia joins the moving body before them, and
// trailing fixed joints define the tool frame.
#include "io/robot_model_io.hpp"

#include <yaml-cpp/yaml.h>

#include <urdf_parser/urdf_parser.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "solvers/core/error.hpp"

namespace kollektiv::io {
namespace {

using dynamics::JointModel;
using dynamics::JointType;
using dynamics::kMaxJoints;
using dynamics::RobotModel;
using Vec3a = std::array<double, 3>;

std::string number(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open robot model file", ExitCode::bad_input);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Leading principal minors of [ixx ixy ixz; ixy iyy iyz; ixz iyz izz] (Sylvester).
bool positive_definite(const std::array<double, 6>& in) {
  const double m2 = in[0] * in[1] - in[3] * in[3];
  const double det = in[0] * (in[1] * in[2] - in[5] * in[5]) - in[3] * (in[3] * in[2] - in[5] * in[4]) +
                     in[4] * (in[3] * in[5] - in[1] * in[4]);
  return in[0] > 0 && m2 > 0 && det > 0;
}

[[noreturn]] void throw_all(const std::vector<std::string>& errors) {
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  throw Error(msg, ExitCode::bad_input);
}

// ------------------------------------------------------------------------------- YAML
// Collects every problem of a block with its file:line:col and key path.
class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Node& at, const std::string& path, const std::string& what) {
    const YAML::Mark mark = at.Mark();
    errors_.push_back(file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": " +
                      path + ": " + what);
  }
  const std::vector<std::string>& errors() const { return errors_; }

  void check_keys(const YAML::Node& map, const std::string& path, const std::set<std::string>& allowed) {
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        error(kv.first, path + "." + key, "unknown key (expected one of: " + list + ")");
      }
    }
  }

  // Reads map[key] into out if present; `rule` is "any", "positive" or "non-negative".
  void number_at(const YAML::Node& map, const std::string& key, const std::string& path, double& out,
                 const std::string& rule = "any") {
    const YAML::Node n = map[key];
    if (!n) return;
    const std::string p = path + "." + key;
    double x = 0;
    if (!to_number(n, x)) {
      error(n, p, "expected " + describe(rule) + ", found " + shown(n));
      return;
    }
    if ((rule == "positive" && !(x > 0)) || (rule == "non-negative" && !(x >= 0)) || std::isnan(x)) {
      error(n, p, "expected " + describe(rule) + ", found " + n.Scalar());
      return;
    }
    out = x;
  }

  template <std::size_t N>
  void numbers_at(const YAML::Node& map, const std::string& key, const std::string& path, std::array<double, N>& out) {
    const YAML::Node n = map[key];
    if (!n) return;
    const std::string p = path + "." + key;
    if (!n.IsSequence() || n.size() != N) {
      error(n, p, "expected a list of " + std::to_string(N) + " finite numbers, found " + shown(n));
      return;
    }
    std::array<double, N> v{};
    for (std::size_t i = 0; i < N; ++i) {
      if (!to_number(n[i], v[i]) || !std::isfinite(v[i])) {
        error(n[i], p + "." + std::to_string(i), "expected a finite number, found " + shown(n[i]));
        return;
      }
    }
    out = v;
  }

  void string_at(const YAML::Node& map, const std::string& key, const std::string& path, std::string& out) {
    const YAML::Node n = map[key];
    if (!n) return;
    if (!n.IsScalar() || n.Scalar().empty())
      error(n, path + "." + key, "expected a non-empty string");
    else
      out = n.Scalar();
  }

  static bool to_number(const YAML::Node& n, double& x) {
    if (!n.IsScalar()) return false;
    try {
      x = n.as<double>();
      return true;
    } catch (const YAML::Exception&) {
      return false;
    }
  }

 private:
  static std::string describe(const std::string& rule) {
    if (rule == "positive") return "a positive number";
    if (rule == "non-negative") return "a non-negative number";
    return "a number";
  }
  static std::string shown(const YAML::Node& n) {
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    if (n.IsSequence()) return "a list of " + std::to_string(n.size());
    if (n.IsMap()) return "a map";
    return "nothing";
  }

  std::string file_;
  std::vector<std::string> errors_;
};

void read_tool(YamlReader& r, const YAML::Node& block, const std::string& path, RobotModel& model) {
  const YAML::Node tool = block["tool"];
  if (!tool) return;
  if (!tool.IsMap()) {
    r.error(tool, path + ".tool", "expected a map with xyz and rpy");
    return;
  }
  r.check_keys(tool, path + ".tool", {"xyz", "rpy"});
  r.numbers_at(tool, "xyz", path + ".tool", model.tool_xyz);
  r.numbers_at(tool, "rpy", path + ".tool", model.tool_rpy);
}

JointModel read_joint(YamlReader& r, const YAML::Node& node, const std::string& path, int index) {
  JointModel j;
  j.name = "joint" + std::to_string(index + 1);
  if (!node.IsMap()) {
    r.error(node, path, "expected a map describing a joint and its link");
    return j;
  }
  r.check_keys(node, path,
               {"name", "type", "xyz", "rpy", "axis", "mass", "com", "inertia", "lower", "upper", "velocity", "effort",
                "damping", "armature"});
  r.string_at(node, "name", path, j.name);
  if (const YAML::Node t = node["type"]) {
    const std::string type = t.IsScalar() ? t.Scalar() : "";
    if (type == "revolute")
      j.type = JointType::revolute;
    else if (type == "prismatic")
      j.type = JointType::prismatic;
    else
      r.error(t, path + ".type", "unsupported joint type '" + type + "' (expected revolute or prismatic)");
  }
  r.numbers_at(node, "xyz", path, j.origin_xyz);
  r.numbers_at(node, "rpy", path, j.origin_rpy);
  if (node["axis"]) {
    Vec3a axis{0, 0, 0};
    r.numbers_at(node, "axis", path, axis);
    if (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2] > 1e-24)
      j.axis = axis;
    else
      r.error(node["axis"], path + ".axis", "expected a non-zero vector");
  }
  if (!node["mass"]) r.error(node, path, "missing key 'mass' (link mass in kg)");
  r.number_at(node, "mass", path, j.mass, "positive");
  if (const YAML::Node in = node["inertia"]) {
    std::array<double, 6> v{};
    const std::size_t before = r.errors().size();
    r.numbers_at(node, "inertia", path, v);
    if (r.errors().size() == before) {
      if (positive_definite(v))
        j.inertia = v;
      else
        r.error(in, path + ".inertia",
                "expected a positive-definite inertia [ixx, iyy, izz, ixy, ixz, iyz], found [" + number(v[0]) + ", " +
                    number(v[1]) + ", " + number(v[2]) + ", " + number(v[3]) + ", " + number(v[4]) + ", " +
                    number(v[5]) + "]");
    }
  } else {
    r.error(node, path, "missing key 'inertia' ([ixx, iyy, izz, ixy, ixz, iyz] about the centre of mass, kg m^2)");
  }
  r.numbers_at(node, "com", path, j.com);
  r.number_at(node, "lower", path, j.lower);
  r.number_at(node, "upper", path, j.upper);
  if (node["lower"] && node["upper"] && !(j.lower <= j.upper))
    r.error(node["upper"], path + ".upper",
            "expected a number >= lower (" + number(j.lower) + "), found " + node["upper"].Scalar());
  r.number_at(node, "velocity", path, j.velocity, "positive");
  r.number_at(node, "effort", path, j.effort, "positive");
  r.number_at(node, "damping", path, j.damping, "non-negative");
  r.number_at(node, "armature", path, j.armature, "non-negative");
  return j;
}

RobotModel finish(RobotModel model) {
  dynamics::validate(model);  // backstop: the readers above already report everything it checks
  return model;
}

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// ------------------------------------------------------------------------------- URDF
struct Pose {
  dynamics::Mat3 rot = dynamics::identity3();
  dynamics::Vec3 pos;
};
Pose operator*(const Pose& a, const Pose& b) { return {a.rot * b.rot, a.pos + a.rot * b.pos}; }

Pose to_pose(const urdf::Pose& p) {
  const double x = p.rotation.x, y = p.rotation.y, z = p.rotation.z, w = p.rotation.w;
  Pose r;
  r.rot.m[0][0] = 1 - 2 * (y * y + z * z);
  r.rot.m[0][1] = 2 * (x * y - z * w);
  r.rot.m[0][2] = 2 * (x * z + y * w);
  r.rot.m[1][0] = 2 * (x * y + z * w);
  r.rot.m[1][1] = 1 - 2 * (x * x + z * z);
  r.rot.m[1][2] = 2 * (y * z - x * w);
  r.rot.m[2][0] = 2 * (x * z - y * w);
  r.rot.m[2][1] = 2 * (y * z + x * w);
  r.rot.m[2][2] = 1 - 2 * (x * x + y * y);
  r.pos = {p.position.x, p.position.y, p.position.z};
  return r;
}

// Inverse of rpy_to_matrix (R = Rz(yaw) Ry(pitch) Rx(roll)).
Vec3a to_rpy(const dynamics::Mat3& r) {
  const double cp = std::sqrt(r.m[0][0] * r.m[0][0] + r.m[1][0] * r.m[1][0]);
  if (cp < 1e-12) return {0.0, std::atan2(-r.m[2][0], cp), std::atan2(-r.m[0][1], r.m[1][1])};
  return {std::atan2(r.m[2][1], r.m[2][2]), std::atan2(-r.m[2][0], cp), std::atan2(r.m[1][0], r.m[0][0])};
}

// A body's mass properties in its (joint) frame: mass, centre of mass, inertia about it.
struct MassProps {
  double mass = 0;
  dynamics::Vec3 com;
  dynamics::Sym3 ic;
};

// Adds a link's inertial (given in a frame at `pose` in the body frame) to a body.
void lump(MassProps& body, const Pose& pose, const urdf::Inertial& in) {
  using namespace dynamics;
  const Pose at = pose * to_pose(in.origin);
  const Sym3 ic_in{in.ixx, in.iyy, in.izz, in.ixy, in.ixz, in.iyz};
  const Sym3 ic = congruence_transpose(transpose(at.rot), ic_in);  // R I R^T
  const double m = body.mass + in.mass;
  const Vec3 c = (1.0 / m) * (body.mass * body.com + in.mass * at.pos);
  auto shift = [](double mass, const Vec3& d) {  // parallel-axis term m (|d|^2 1 - d d^T)
    return Sym3{mass * (d.y * d.y + d.z * d.z), mass * (d.x * d.x + d.z * d.z), mass * (d.x * d.x + d.y * d.y),
                -mass * d.x * d.y, -mass * d.x * d.z, -mass * d.y * d.z};
  };
  body.ic = body.ic + shift(body.mass, body.com - c) + ic + shift(in.mass, at.pos - c);
  body.mass = m;
  body.com = c;
}

const char* type_name(int type) {
  switch (type) {
    case urdf::Joint::REVOLUTE: return "revolute";
    case urdf::Joint::CONTINUOUS: return "continuous";
    case urdf::Joint::PRISMATIC: return "prismatic";
    case urdf::Joint::FLOATING: return "floating";
    case urdf::Joint::PLANAR: return "planar";
    case urdf::Joint::FIXED: return "fixed";
    default: return "unknown";
  }
}

// Closed loops: urdfdom keeps one parent per link, so count <child link="..."/> per link
// in the joint table ourselves; and a link whose parent is missing from the joints.
void check_single_parents(const urdf::ModelInterface& model, const std::string& file, std::vector<std::string>& errors) {
  std::map<std::string, std::vector<std::string>> parents;
  for (const auto& kv : model.joints_) parents[kv.second->child_link_name].push_back(kv.first);
  for (const auto& kv : parents) {
    if (kv.second.size() < 2) continue;
    std::string list;
    for (const auto& j : kv.second) list += (list.empty() ? "'" : ", '") + j + "'";
    errors.push_back(file + ": link '" + kv.first + "': child of " + std::to_string(kv.second.size()) + " joints (" + list +
                     "): closed loops are not supported, only serial chains");
  }
}

// urdfdom rejects some loops itself (a cycle leaves no root); it then returns null and we
// only know that the XML did not parse as a tree. Scan the joint table in the text for a
// link that is the child of two joints to say which.
std::string loop_hint(const std::string& xml) {
  std::map<std::string, int> children;
  std::size_t pos = 0;
  while ((pos = xml.find("<child", pos)) != std::string::npos) {
    const auto q1 = xml.find('"', xml.find("link", pos));
    const auto q2 = xml.find('"', q1 + 1);
    if (q1 == std::string::npos || q2 == std::string::npos) break;
    const std::string link = xml.substr(q1 + 1, q2 - q1 - 1);
    if (++children[link] == 2) return ": link '" + link + "': child of 2 joints: closed loops are not supported, only serial chains";
    pos = q2;
  }
  return "";
}

}  // namespace

dynamics::RobotModel robot_model_from_yaml(const YAML::Node& block, const std::string& file,
                                           const std::string& key_path, const RobotFileReader& read_file) {
  YamlReader r(file);
  RobotModel model;
  model.source = file;
  if (!block || !block.IsMap()) {
    r.error(block, key_path, "expected a map describing a robot (name, gravity, tool, joints) or urdf: PATH");
    throw_all(r.errors());
  }
  if (block["urdf"]) {
    // URDF has no armature; the block may add it, one value per moving joint.
    r.check_keys(block, key_path, {"name", "urdf", "gravity", "tool", "armature"});
    if (!r.errors().empty()) throw_all(r.errors());
    std::string urdf;
    r.string_at(block, "urdf", key_path, urdf);
    if (!r.errors().empty()) throw_all(r.errors());
    const std::string full = (!urdf.empty() && urdf[0] == '/') ? urdf : folder_of(file) + urdf;
    if (read_file) {
      const std::optional<std::string> xml = read_file(full);
      if (!xml) {
        r.error(block["urdf"], key_path + ".urdf",
                "cannot read robot file '" + urdf + "'" + (full == urdf ? "" : " (looked for '" + full + "')") +
                    ": no such file or not readable");
        throw_all(r.errors());
      }
      model = robot_model_from_urdf_text(*xml, full);
    } else {
      model = read_robot_model(full);
    }
    if (const YAML::Node arm = block["armature"]) {
      if (!arm.IsSequence() || arm.size() != model.joints.size()) {
        r.error(arm, key_path + ".armature",
                "expected a list of " + std::to_string(model.joints.size()) + " non-negative numbers (one per joint)");
      } else {
        for (std::size_t i = 0; i < arm.size(); ++i) {
          double a = -1;
          if (!YamlReader::to_number(arm[i], a) || !(a >= 0) || !std::isfinite(a))
            r.error(arm[i], key_path + ".armature." + std::to_string(i),
                    "expected a non-negative number, found " + (arm[i].IsScalar() ? arm[i].Scalar() : std::string("a collection")));
          else
            model.joints[i].armature = a;
        }
      }
    }
  } else {
    r.check_keys(block, key_path, {"name", "gravity", "tool", "joints"});
    const YAML::Node joints = block["joints"];
    if (!joints) {
      r.error(block, key_path, "missing key 'joints' (a list of 1 to " + std::to_string(kMaxJoints) + " joints)");
    } else if (!joints.IsSequence() || joints.size() < 1 || joints.size() > static_cast<std::size_t>(kMaxJoints)) {
      r.error(joints, key_path + ".joints",
              "expected a list of 1 to " + std::to_string(kMaxJoints) + " joints (a serial chain, base to tip)");
    } else {
      for (std::size_t i = 0; i < joints.size(); ++i)
        model.joints.push_back(read_joint(r, joints[i], key_path + ".joints." + std::to_string(i), static_cast<int>(i)));
    }
  }
  r.string_at(block, "name", key_path, model.name);
  r.numbers_at(block, "gravity", key_path, model.gravity);
  read_tool(r, block, key_path, model);
  if (!r.errors().empty()) throw_all(r.errors());
  return finish(model);
}

dynamics::RobotModel robot_model_from_yaml_text(const std::string& text, const std::string& file,
                                                const RobotFileReader& read_file) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                    ": invalid YAML: " + e.msg,
                ExitCode::bad_input);
  }
  if (!doc.IsMap() || !doc["robot"]) throw Error(file + ": expected a top-level 'robot' block", ExitCode::bad_input);
  return robot_model_from_yaml(doc["robot"], file, "robot", read_file);
}

dynamics::RobotModel robot_model_from_urdf_text(const std::string& xml, const std::string& file) {
  const urdf::ModelInterfaceSharedPtr urdf_model = urdf::parseURDF(xml);
  if (!urdf_model) {
    const std::string hint = loop_hint(xml);
    throw Error(file + (hint.empty() ? ": not a valid URDF (urdfdom could not parse it into a tree)" : hint),
                ExitCode::bad_input);
  }
  std::vector<std::string> errors;
  check_single_parents(*urdf_model, file, errors);
  if (!errors.empty()) throw_all(errors);

  RobotModel model;
  model.name = urdf_model->getName();
  model.source = file;
  std::vector<MassProps> bodies;
  std::vector<std::string> body_link;  // the link that carries each moving joint's frame
  Pose body_to_link;                   // current link frame in the current body frame
  urdf::LinkConstSharedPtr link = urdf_model->getRoot();
  auto add_mass = [&](const urdf::LinkConstSharedPtr& l) {
    if (!l->inertial) return;
    const urdf::Inertial& in = *l->inertial;
    if (!(in.mass > 0)) {
      errors.push_back(file + ": link '" + l->name + "': mass must be a positive number, found " + number(in.mass));
      return;
    }
    if (!positive_definite({in.ixx, in.iyy, in.izz, in.ixy, in.ixz, in.iyz})) {
      errors.push_back(file + ": link '" + l->name + "': inertia [ixx iyy izz ixy ixz iyz] = [" + number(in.ixx) + " " +
                       number(in.iyy) + " " + number(in.izz) + " " + number(in.ixy) + " " + number(in.ixz) + " " +
                       number(in.iyz) + "] is not positive definite");
      return;
    }
    if (!bodies.empty()) lump(bodies.back(), body_to_link, in);  // the fixed base's mass is irrelevant
  };
  while (link) {
    if (link->child_joints.size() > 1) {
      std::string list;
      for (const auto& j : link->child_joints) list += (list.empty() ? "'" : ", '") + j->name + "'";
      errors.push_back(file + ": link '" + link->name + "': " + std::to_string(link->child_joints.size()) +
                       " child joints (" + list + "): branched trees are not supported, only serial chains");
      break;
    }
    if (link->child_joints.empty()) break;
    const urdf::JointConstSharedPtr joint = link->child_joints[0];
    const Pose origin = body_to_link * to_pose(joint->parent_to_joint_origin_transform);
    const urdf::LinkConstSharedPtr child = urdf_model->getLink(joint->child_link_name);
    switch (joint->type) {
      case urdf::Joint::FIXED:
        body_to_link = origin;
        break;
      case urdf::Joint::REVOLUTE:
      case urdf::Joint::CONTINUOUS:
      case urdf::Joint::PRISMATIC: {
        JointModel j;
        j.name = joint->name;
        j.type = joint->type == urdf::Joint::PRISMATIC ? JointType::prismatic : JointType::revolute;
        const dynamics::Vec3 xyz = origin.pos;
        j.origin_xyz = {xyz.x, xyz.y, xyz.z};
        j.origin_rpy = to_rpy(origin.rot);
        j.axis = {joint->axis.x, joint->axis.y, joint->axis.z};
        if (joint->limits) {
          if (joint->type != urdf::Joint::CONTINUOUS) {
            j.lower = joint->limits->lower;
            j.upper = joint->limits->upper;
          }
          if (joint->limits->velocity > 0) j.velocity = joint->limits->velocity;
          if (joint->limits->effort > 0) j.effort = joint->limits->effort;
        }
        if (joint->dynamics) j.damping = joint->dynamics->damping;
        if (model.joints.size() == static_cast<std::size_t>(kMaxJoints)) {
          errors.push_back(file + ": joint '" + joint->name + "': more than " + std::to_string(kMaxJoints) +
                           " moving joints in the chain");
          link = nullptr;
          continue;
        }
        model.joints.push_back(j);
        bodies.emplace_back();
        body_link.push_back(child ? child->name : joint->child_link_name);
        body_to_link = Pose{};
        break;
      }
      default:
        errors.push_back(file + ": joint '" + joint->name + "': unsupported joint type '" + type_name(joint->type) +
                         "' (supported: revolute, continuous, prismatic, fixed)");
        link = nullptr;
        continue;
    }
    if (child) add_mass(child);
    link = child;
  }
  if (model.joints.empty() && errors.empty()) errors.push_back(file + ": no revolute or prismatic joint found");
  for (std::size_t i = 0; i < bodies.size() && errors.empty(); ++i) {
    const MassProps& b = bodies[i];
    if (!(b.mass > 0)) {
      errors.push_back(file + ": link '" + body_link[i] + "': has no mass (an <inertial> with positive mass is required)");
      continue;
    }
    JointModel& j = model.joints[i];
    j.mass = b.mass;
    j.com = {b.com.x, b.com.y, b.com.z};
    j.inertia = {b.ic.xx, b.ic.yy, b.ic.zz, b.ic.xy, b.ic.xz, b.ic.yz};
  }
  if (!errors.empty()) throw_all(errors);
  model.tool_xyz = {body_to_link.pos.x, body_to_link.pos.y, body_to_link.pos.z};
  model.tool_rpy = to_rpy(body_to_link.rot);
  return finish(model);
}

dynamics::RobotModel read_robot_model(const std::string& path) {
  const std::string text = read_text(path);
  const auto dot = path.find_last_of('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot);
  if (ext == ".urdf") return robot_model_from_urdf_text(text, path);
  if (ext == ".yaml" || ext == ".yml") return robot_model_from_yaml_text(text, path);
  throw Error(path + ": unknown robot model format (expected .urdf, .yaml or .yml)", ExitCode::bad_input);
}

}  // namespace kollektiv::io
