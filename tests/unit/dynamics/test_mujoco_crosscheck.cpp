// Cross-check against MuJoCo: each shipped model as MJCF (contacts and limits off, same
// inertias, armature, damping, gravity) gives the same joint accelerations and tool
// positions for random states.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "io/robot_model_io.hpp"
#include "solvers/dynamics/arm_batch.hpp"
#include "tests/unit/dynamics/dynamics_test_support.hpp"
#include "tests/unit/dynamics/mjcf_writer.hpp"
#include "tests/unit/dynamics/mujoco_model.hpp"

namespace kd = kollektiv::dynamics;
namespace kio = kollektiv::io;
namespace kt = kollektiv::testing;
using kollektiv::Real;
using kollektiv::View;

TEST(MujocoCrossCheck, AccelerationsAndToolPositionsAgree) {
  for (const std::string name : {"planar2", "ur5", "panda"}) {
    const kd::RobotModel model = kio::read_robot_model(kt::robots_dir() + name + ".yaml");
    const kd::DeviceModel dm = kd::make_device_model(model);
    const int n = dm.n_joints, robots = 200;
    kt::MjModelPtr mjm = kt::load_mjcf(kt::mjcf_from_model(model));
    ASSERT_EQ(mjm->nv, n);
    kt::MjDataPtr d(mj_makeData(mjm.get()));

    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<double> q(robots * n), qd(robots * n), tau(robots * n), total(robots * n);
    for (int r = 0; r < robots; ++r)
      for (int i = 0; i < n; ++i) {
        const int k = r * n + i;
        q[k] = 3 * u(rng);
        qd[k] = 2 * u(rng);
        tau[k] = 20 * u(rng);
        total[k] = tau[k] - model.joints[i].damping * qd[k];  // MuJoCo's passive damping force
      }
    const auto qv = kt::to_view(q, robots, n, "test::q");
    View<Real**> qdd("test::qdd", robots, n), pos("test::pos", robots, 3);
    View<Real***> rot("test::rot", robots, 3, 3);
    kd::forward_dynamics(dm, qv, kt::to_view(qd, robots, n, "test::qd"), kt::to_view(total, robots, n, "test::tau"), qdd);
    kd::forward_kinematics(dm, qv, pos, rot);
    const std::vector<double> a = kt::to_host(qdd), p = kt::to_host(pos);
    const int site = mj_name2id(mjm.get(), mjOBJ_SITE, "tool");
    double worst = 0;
    for (int r = 0; r < robots; ++r) {
      for (int i = 0; i < n; ++i) {
        d->qpos[i] = q[r * n + i];
        d->qvel[i] = qd[r * n + i];
        d->qfrc_applied[i] = tau[r * n + i];
      }
      mj_forward(mjm.get(), d.get());
      double diff = 0, ref = 0;
      for (int i = 0; i < n; ++i) {
        diff += (a[r * n + i] - d->qacc[i]) * (a[r * n + i] - d->qacc[i]);
        ref += d->qacc[i] * d->qacc[i];
      }
      const double rel = std::sqrt(diff / ref);
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 1e-9) << name << " robot " << r;
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(p[r * 3 + k], d->site_xpos[3 * site + k], 1e-12) << name << " robot " << r;
    }
    RecordProperty(name + "_worst_qacc_relative_error", std::to_string(worst));
  }
}
