// Tests of io/robot_model_io: the shipped models read alike from YAML and URDF, and every
// malformed model is rejected with its exact message.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "io/robot_model_io.hpp"
#include "solvers/core/error.hpp"
#include "solvers/dynamics/arm_batch.hpp"
#include "tests/unit/dynamics/dynamics_test_support.hpp"

namespace kd = kollektiv::dynamics;
namespace kio = kollektiv::io;
namespace kt = kollektiv::testing;
using kollektiv::Real;
using kollektiv::View;

namespace {

// The message of the kollektiv::Error that f throws (fails the test if none, or if the
// exit code is not bad_input).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const kollektiv::Error& e) {
    EXPECT_EQ(e.code(), kollektiv::ExitCode::bad_input);
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

// FK, mass matrix and ABA of a model on fixed random states, flattened.
std::vector<double> fingerprint(const kd::RobotModel& model) {
  const kd::DeviceModel m = kd::make_device_model(model);
  const int n = m.n_joints, robots = 16;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> q(robots * n), qd(robots * n), tau(robots * n);
  for (auto& x : q) x = 2 * u(rng);
  for (auto& x : qd) x = u(rng);
  for (auto& x : tau) x = 10 * u(rng);
  const auto qv = kt::to_view(q, robots, n, "test::q"), qdv = kt::to_view(qd, robots, n, "test::qd");
  View<Real**> qdd("test::qdd", robots, n), pos("test::pos", robots, 3);
  View<Real***> rot("test::rot", robots, 3, 3), mass("test::mass", robots, n, n);
  kd::forward_dynamics(m, qv, qdv, kt::to_view(tau, robots, n, "test::tau"), qdd);
  kd::forward_kinematics(m, qv, pos, rot);
  kd::mass_matrix(m, qv, mass);
  std::vector<double> out = kt::to_host(qdd);
  for (double x : kt::to_host(pos)) out.push_back(x);
  auto mh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mass);
  auto rh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rot);
  for (int r = 0; r < robots; ++r) {
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) out.push_back(mh(r, i, j));
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) out.push_back(rh(r, i, j));
  }
  return out;
}

const char* kGoodJoint = R"(
    - name: shoulder
      type: revolute
      xyz: [0, 0, 0]
      axis: [0, 0, 1]
      mass: 1.0
      com: [0.5, 0, 0]
      inertia: [0.001, 0.08, 0.08, 0, 0, 0]
)";

std::string urdf_link(const std::string& name, double mass = 1.0, const std::string& inertia =
                                                                      "ixx=\"0.01\" iyy=\"0.01\" izz=\"0.01\" ixy=\"0\" ixz=\"0\" iyz=\"0\"") {
  return "<link name=\"" + name + "\"><inertial><origin xyz=\"0 0 0.1\"/><mass value=\"" + std::to_string(mass) +
         "\"/><inertia " + inertia + "/></inertial></link>\n";
}
std::string urdf_joint(const std::string& name, const std::string& type, const std::string& parent,
                       const std::string& child) {
  return "<joint name=\"" + name + "\" type=\"" + type + "\"><parent link=\"" + parent + "\"/><child link=\"" + child +
         "\"/><origin xyz=\"0 0 0.2\"/><axis xyz=\"0 1 0\"/><limit lower=\"-1\" upper=\"1\" effort=\"10\" "
         "velocity=\"2\"/></joint>\n";
}
std::string urdf(const std::string& body) { return "<robot name=\"t\">\n<link name=\"base\"/>\n" + body + "</robot>\n"; }

}  // namespace

TEST(RobotModelIo, ShippedModelsReadAndValidate) {
  for (const char* name : {"planar2", "ur5", "panda"}) {
    const kd::RobotModel m = kio::read_robot_model(kt::robots_dir() + name + ".yaml");
    EXPECT_EQ(m.name, name);
    EXPECT_EQ(m.joints.size(), std::string(name) == "planar2" ? 2u : std::string(name) == "ur5" ? 6u : 7u);
  }
}

TEST(RobotModelIo, SameArmFromUrdfAndYamlGivesSameResults) {
  for (const std::string name : {"planar2", "ur5", "panda"}) {
    const kd::RobotModel from_yaml = kio::read_robot_model(kt::robots_dir() + name + ".yaml");
    // The deck form that references the URDF and adds the armature URDF cannot carry.
    std::string deck = "robot:\n  urdf: " + name + ".urdf\n  gravity: [" + std::to_string(from_yaml.gravity[0]) + ", " +
                       std::to_string(from_yaml.gravity[1]) + ", " + std::to_string(from_yaml.gravity[2]) +
                       "]\n  armature: [";
    for (std::size_t i = 0; i < from_yaml.joints.size(); ++i)
      deck += (i ? ", " : "") + std::to_string(from_yaml.joints[i].armature);
    deck += "]\n";
    const kd::RobotModel from_urdf = kio::robot_model_from_yaml_text(deck, kt::robots_dir() + "deck.yaml");
    ASSERT_EQ(from_urdf.joints.size(), from_yaml.joints.size());
    const auto a = fingerprint(from_yaml), b = fingerprint(from_urdf);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(a[i], b[i], 1e-12 * (1 + std::fabs(a[i]))) << name << " entry " << i;
  }
}

TEST(RobotModelIo, UrdfFixedJointsAreMerged) {
  // A fixed joint mid-chain lumps its link into the moving body; trailing fixed joints
  // make the tool frame.
  const std::string text = urdf(urdf_link("l1") + urdf_joint("j1", "revolute", "base", "l1") + urdf_link("l1b", 2.0) +
                                urdf_joint("f1", "fixed", "l1", "l1b") + urdf_link("l2") +
                                urdf_joint("j2", "continuous", "l1b", "l2") + "<link name=\"tool0\"/>\n" +
                                urdf_joint("t", "fixed", "l2", "tool0"));
  const kd::RobotModel m = kio::robot_model_from_urdf_text(text, "merged.urdf");
  ASSERT_EQ(m.joints.size(), 2u);
  EXPECT_DOUBLE_EQ(m.joints[0].mass, 3.0);
  EXPECT_NEAR(m.joints[0].com[2], (0.1 + 2.0 * 0.3) / 3.0, 1e-15);
  EXPECT_NEAR(m.joints[1].origin_xyz[2], 0.4, 1e-15);
  EXPECT_TRUE(std::isinf(m.joints[1].upper));  // continuous: no position limits
  EXPECT_NEAR(m.tool_xyz[2], 0.2, 1e-15);
}

TEST(RobotModelIo, YamlErrorsNameFileLineColumnAndKey) {
  const std::string bad_mass = std::string("robot:\n  name: arm\n  joints:") + kGoodJoint +
                               "    - name: elbow\n      xyz: [1, 0, 0]\n      mass: -1\n"
                               "      inertia: [0.001, 0.08, 0.08, 0, 0, 0]\n";
  EXPECT_EQ(error_of([&] { kio::robot_model_from_yaml_text(bad_mass, "arm.yaml"); }),
            "arm.yaml:13:13: robot.joints.1.mass: expected a positive number, found -1");

  const std::string bad_inertia = std::string("robot:\n  joints:") + kGoodJoint +
                                  "    - name: elbow\n      mass: 1\n      inertia: [1, 1, 1, 2, 0, 0]\n";
  EXPECT_EQ(error_of([&] { kio::robot_model_from_yaml_text(bad_inertia, "arm.yaml"); }),
            "arm.yaml:12:16: robot.joints.1.inertia: expected a positive-definite inertia [ixx, iyy, izz, ixy, ixz, "
            "iyz], found [1, 1, 1, 2, 0, 0]");

  const std::string bad_type = std::string("robot:\n  joints:") + kGoodJoint +
                               "    - name: wrist\n      type: spherical\n      mass: 1\n"
                               "      inertia: [0.001, 0.08, 0.08, 0, 0, 0]\n";
  EXPECT_EQ(error_of([&] { kio::robot_model_from_yaml_text(bad_type, "arm.yaml"); }),
            "arm.yaml:11:13: robot.joints.1.type: unsupported joint type 'spherical' (expected revolute or prismatic)");

  const std::string unknown_key = std::string("robot:\n  joints:") + kGoodJoint + "      colour: red\n";
  EXPECT_EQ(error_of([&] { kio::robot_model_from_yaml_text(unknown_key, "arm.yaml"); }),
            "arm.yaml:10:7: robot.joints.0.colour: unknown key (expected one of: armature, axis, com, damping, effort, "
            "inertia, lower, mass, name, rpy, type, upper, velocity, xyz)");

  // Several problems are reported together.
  const std::string two = "robot:\n  joints:\n    - mass: 0\n      inertia: [1, 1, 1, 0, 0, 0]\n      damping: -2\n";
  EXPECT_EQ(error_of([&] { kio::robot_model_from_yaml_text(two, "arm.yaml"); }),
            "arm.yaml:3:13: robot.joints.0.mass: expected a positive number, found 0\n"
            "arm.yaml:5:16: robot.joints.0.damping: expected a non-negative number, found -2");

  std::string nine = "robot:\n  joints:";
  for (int i = 0; i < 9; ++i) nine += kGoodJoint;
  EXPECT_EQ(error_of([&] { kio::robot_model_from_yaml_text(nine, "arm.yaml"); }),
            "arm.yaml:3:5: robot.joints: expected a list of 1 to 8 joints (a serial chain, base to tip)");
}

TEST(RobotModelIo, UrdfErrorsNameFileAndElement) {
  const std::string branched = urdf(urdf_link("l1") + urdf_link("l2") + urdf_joint("a", "revolute", "base", "l1") +
                                    urdf_joint("b", "revolute", "base", "l2"));
  EXPECT_EQ(error_of([&] { kio::robot_model_from_urdf_text(branched, "arm.urdf"); }),
            "arm.urdf: link 'base': 2 child joints ('a', 'b'): branched trees are not supported, only serial chains");

  const std::string loop = urdf(urdf_link("l1") + urdf_link("l2") + urdf_joint("a", "revolute", "base", "l1") +
                                urdf_joint("b", "revolute", "l1", "l2") + urdf_joint("c", "revolute", "base", "l2"));
  const std::string loop_error = error_of([&] { kio::robot_model_from_urdf_text(loop, "arm.urdf"); });
  EXPECT_EQ(loop_error.rfind("arm.urdf: link 'l2': child of 2 joints", 0), 0u) << loop_error;
  EXPECT_NE(loop_error.find("closed loops are not supported, only serial chains"), std::string::npos) << loop_error;

  const std::string floating = urdf(urdf_link("l1") + urdf_joint("free", "floating", "base", "l1"));
  EXPECT_EQ(error_of([&] { kio::robot_model_from_urdf_text(floating, "arm.urdf"); }),
            "arm.urdf: joint 'free': unsupported joint type 'floating' (supported: revolute, continuous, prismatic, "
            "fixed)");

  const std::string planar = urdf(urdf_link("l1") + urdf_joint("elbow", "planar", "base", "l1"));
  EXPECT_EQ(error_of([&] { kio::robot_model_from_urdf_text(planar, "arm.urdf"); }),
            "arm.urdf: joint 'elbow': unsupported joint type 'planar' (supported: revolute, continuous, prismatic, "
            "fixed)");

  const std::string massless = urdf(urdf_link("l1", -1.0) + urdf_joint("a", "revolute", "base", "l1"));
  EXPECT_EQ(error_of([&] { kio::robot_model_from_urdf_text(massless, "arm.urdf"); }),
            "arm.urdf: link 'l1': mass must be a positive number, found -1");

  const std::string not_pd =
      urdf(urdf_link("l1", 1.0, "ixx=\"0.01\" iyy=\"-0.01\" izz=\"0.01\" ixy=\"0\" ixz=\"0\" iyz=\"0\"") +
           urdf_joint("a", "revolute", "base", "l1"));
  EXPECT_EQ(error_of([&] { kio::robot_model_from_urdf_text(not_pd, "arm.urdf"); }),
            "arm.urdf: link 'l1': inertia [ixx iyy izz ixy ixz iyz] = [0.01 -0.01 0.01 0 0 0] is not positive definite");

  EXPECT_EQ(error_of([&] { kio::read_robot_model("/nonexistent/arm.urdf"); }),
            "/nonexistent/arm.urdf: cannot open robot model file");
}

TEST(RobotModelIo, ModelBuiltInCodeIsValidated) {
  kd::RobotModel m = kt::planar2_model();
  m.source = "code";
  m.joints[1].mass = 0;
  m.joints[0].inertia = {1, 1, 1, 0, 0, 2};
  EXPECT_EQ(error_of([&] { kd::validate(m); }),
            "code: joint 'shoulder': inertia [ixx iyy izz ixy ixz iyz] = [1 1 1 0 0 2] is not positive definite\n"
            "code: joint 'elbow': mass must be a positive number, found 0");
}
