// A payload held by the tool (dynamics::payload_inertia folded into the last link): ABA
// agrees with CRBA + RNEA, a payload equals merging its inertia into the last link of the
// model, and a point mass changes the gravity torque and energy by the closed-form amount.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "solvers/dynamics/step.hpp"
#include "tests/unit/dynamics/dynamics_test_support.hpp"

namespace kollektiv::dynamics {
namespace {

using Mat3x3 = std::array<std::array<double, 3>, 3>;

Mat3x3 sym(const std::array<double, 6>& i) {
  return {{{i[0], i[3], i[4]}, {i[3], i[1], i[5]}, {i[4], i[5], i[2]}}};
}

// The model with the payload merged into its last link (mass, centre of mass, inertia
// about the new centre of mass), computed here in the URDF link frame.
RobotModel merged(RobotModel m, double mass, const Vec3& com_tool, const std::array<double, 6>& inertia_tool) {
  JointModel& j = m.joints.back();
  const Mat3 rt = rpy_to_matrix(m.tool_rpy[0], m.tool_rpy[1], m.tool_rpy[2]);
  const Vec3 cp = Vec3{m.tool_xyz[0], m.tool_xyz[1], m.tool_xyz[2]} + rt * com_tool;
  const Vec3 cl{j.com[0], j.com[1], j.com[2]};
  const double mt = j.mass + mass;
  const Vec3 c = (1.0 / mt) * (j.mass * cl + mass * cp);
  const Mat3x3 il = sym(j.inertia), ip = sym(inertia_tool);
  Mat3x3 rip{};  // rt ip rt^T
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      for (int k = 0; k < 3; ++k)
        for (int l = 0; l < 3; ++l) rip[a][b] += rt.m[a][k] * ip[k][l] * rt.m[b][l];
  auto shift = [](double ms, const Vec3& d, int a, int b) {
    const double dv[3] = {d.x, d.y, d.z};
    return ms * ((a == b ? dot(d, d) : 0.0) - dv[a] * dv[b]);
  };
  Mat3x3 it{};
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) it[a][b] = il[a][b] + shift(j.mass, cl - c, a, b) + rip[a][b] + shift(mass, cp - c, a, b);
  j.mass = mt;
  j.com = {c.x, c.y, c.z};
  j.inertia = {it[0][0], it[1][1], it[2][2], it[0][1], it[0][2], it[1][2]};
  return m;
}

TEST(PayloadDynamics, AbaMatchesCrbaRneaAndMergedModel) {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 1 + trial % kMaxJoints;
    const RobotModel model = testing::random_model(rng, n);
    const DeviceModel m = make_device_model(model);
    const double mass = 0.5 + std::fabs(u(rng));
    const Vec3 com{0.05 * u(rng), 0.05 * u(rng), 0.05 * u(rng)};
    const std::array<double, 6> in{0.01 + 0.002 * u(rng), 0.012 + 0.002 * u(rng), 0.011 + 0.002 * u(rng),
                                   0.001 * u(rng), 0.001 * u(rng), 0.001 * u(rng)};
    const RigidInertia pl = payload_inertia(m, mass, com, Sym3{in[0], in[1], in[2], in[3], in[4], in[5]});
    double q[kMaxJoints], qd[kMaxJoints], tau[kMaxJoints], zero[kMaxJoints] = {};
    for (int i = 0; i < n; ++i) {
      q[i] = u(rng);
      qd[i] = u(rng);
      tau[i] = 5 * u(rng);
    }
    double qdd[kMaxJoints], h[kMaxJoints], mm[kMaxJoints * kMaxJoints], back[kMaxJoints];
    aba(m, n, q, qd, tau, qdd, &pl);
    rnea(m, n, q, qd, zero, h, &pl);
    crba(m, n, q, mm, &pl);
    rnea(m, n, q, qd, qdd, back, &pl);
    for (int i = 0; i < n; ++i) {
      double mq = 0;
      for (int k = 0; k < n; ++k) mq += mm[i * n + k] * qdd[k];
      EXPECT_NEAR(mq + h[i], tau[i], 1e-9) << trial << " " << i;
      EXPECT_NEAR(back[i], tau[i], 1e-9) << trial << " " << i;
    }
    // The same as a model whose last link carries the payload.
    const DeviceModel mm_model = make_device_model(merged(model, mass, com, in));
    double qdd_merged[kMaxJoints];
    aba(mm_model, n, q, qd, tau, qdd_merged);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(qdd[i], qdd_merged[i], 1e-9 * (1 + std::fabs(qdd[i]))) << trial;
    EXPECT_NEAR(mechanical_energy(m, n, q, qd, &pl), mechanical_energy(mm_model, n, q, qd), 1e-9) << trial;
    // Without a payload nothing changes.
    double qdd_none[kMaxJoints], qdd_null[kMaxJoints];
    aba(m, n, q, qd, tau, qdd_none);
    aba(m, n, q, qd, tau, qdd_null, nullptr);
    for (int i = 0; i < n; ++i) EXPECT_EQ(qdd_none[i], qdd_null[i]);
  }
}

TEST(PayloadDynamics, PointMassGravityTorqueAndEnergy) {
  // Planar arm stretched along +x, gravity along -y: a point mass mp at the tool (2 m from
  // the shoulder, 1 m from the elbow) needs mp g 2 and mp g 1 more holding torque.
  const DeviceModel m = make_device_model(testing::planar2_model());
  const double mp = 1.7, g = 9.81;
  const RigidInertia pl = payload_inertia(m, mp, Vec3{0, 0, 0}, Sym3{});
  double q[2] = {0, 0}, zero[2] = {0, 0}, g0[2], g1[2];
  rnea(m, 2, q, zero, zero, g0);
  rnea(m, 2, q, zero, zero, g1, &pl);
  EXPECT_NEAR(g1[0] - g0[0], mp * g * 2, 1e-12);
  EXPECT_NEAR(g1[1] - g0[1], mp * g * 1, 1e-12);
  // Pointing up (+y), the payload's potential energy is mp g 2 higher; at rest no kinetic.
  double up[2] = {math::pi / 2, 0};
  EXPECT_NEAR(mechanical_energy(m, 2, up, zero, &pl) - mechanical_energy(m, 2, up, zero), mp * g * 2, 1e-12);
  // Gravity compensation holds the loaded arm still: step with PD target = q.
  StepParams sp;
  sp.dt_s = 0.01;
  sp.substeps = 5;
  sp.control = ControlMode::pd;
  sp.kp[0] = sp.kp[1] = 100;
  sp.kd[0] = sp.kd[1] = 10;
  sp.gravity_compensation = true;
  double qs[2] = {0.3, -0.4}, vs[2] = {0, 0}, target[2] = {0.3, -0.4};
  for (int k = 0; k < 50; ++k) ASSERT_TRUE(step_robot(m, sp, 2, qs, vs, target, &pl));
  EXPECT_NEAR(qs[0], 0.3, 1e-12);
  EXPECT_NEAR(qs[1], -0.4, 1e-12);
}

}  // namespace
}  // namespace kollektiv::dynamics
