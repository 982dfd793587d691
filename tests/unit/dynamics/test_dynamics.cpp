// Kernel tests of solvers/dynamics: closed form of the planar arm, ABA against CRBA+RNEA,
// energy behaviour of the integrators, Jacobian against finite differences, error flags,
// bitwise independence of a robot's step from its lane group and batch size.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "solvers/core/error.hpp"
#include "solvers/dynamics/arm_batch.hpp"
#include "tests/unit/dynamics/dynamics_test_support.hpp"

namespace kd = kollektiv::dynamics;
namespace kt = kollektiv::testing;
using kollektiv::Real;
using kollektiv::View;

namespace {

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// Mass matrices (robot, i, j) and bias forces of a batch, through the batched kernels.
struct JointSpace {
  std::vector<double> mass, bias;
};
JointSpace joint_space(const kd::DeviceModel& m, const View<Real**>& q, const View<Real**>& qd) {
  const int n = m.n_joints, robots = static_cast<int>(q.extent(0));
  View<Real***> mass("test::mass", robots, n, n);
  View<Real**> zero("test::zero", robots, n), bias("test::bias", robots, n);
  kd::mass_matrix(m, q, mass);
  kd::inverse_dynamics(m, q, qd, zero, bias);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mass);
  JointSpace out;
  for (int r = 0; r < robots; ++r)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) out.mass.push_back(h(r, i, j));
  out.bias = kt::to_host(bias);
  return out;
}

}  // namespace

TEST(Dynamics, PlanarArmMatchesClosedForm) {
  const double arm = 0.05;  // armature adds to M's diagonal only
  const kd::DeviceModel m = kd::make_device_model(kt::planar2_model(arm));
  const double m1 = 1, m2 = 1, l1 = 1, lc1 = 0.5, lc2 = 0.5, i1 = 1.0 / 12, i2 = 1.0 / 12, g = 9.81;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-3, 3);
  const int robots = 32;
  std::vector<double> q(2 * robots), qd(2 * robots);
  for (auto& x : q) x = u(rng);
  for (auto& x : qd) x = u(rng);
  const auto qv = kt::to_view(q, robots, 2, "test::q"), qdv = kt::to_view(qd, robots, 2, "test::qd");
  const View<Real**> still("test::still", robots, 2);
  const JointSpace moving = joint_space(m, qv, qdv), at_rest = joint_space(m, qv, still);
  for (int r = 0; r < robots; ++r) {
    const double q1 = q[2 * r], q2 = q[2 * r + 1], v1 = qd[2 * r], v2 = qd[2 * r + 1];
    // Spong, Hutchinson, Vidyasagar (2006), eq. 7.87-7.89, angles from the x axis,
    // gravity along -y.
    const double m11 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * std::cos(q2)) + i1 + i2 + arm;
    const double m12 = m2 * (lc2 * lc2 + l1 * lc2 * std::cos(q2)) + i2;
    const double m22 = m2 * lc2 * lc2 + i2 + arm;
    const double hh = -m2 * l1 * lc2 * std::sin(q2);
    const double c1 = hh * (2 * v1 * v2 + v2 * v2), c2 = -hh * v1 * v1;
    const double g1 = (m1 * lc1 + m2 * l1) * g * std::cos(q1) + m2 * lc2 * g * std::cos(q1 + q2);
    const double g2 = m2 * lc2 * g * std::cos(q1 + q2);
    const double* mm = &moving.mass[4 * r];
    EXPECT_NEAR(mm[0], m11, 1e-12);
    EXPECT_NEAR(mm[1], m12, 1e-12);
    EXPECT_NEAR(mm[2], m12, 1e-12);
    EXPECT_NEAR(mm[3], m22, 1e-12);
    EXPECT_NEAR(at_rest.bias[2 * r], g1, 1e-12);
    EXPECT_NEAR(at_rest.bias[2 * r + 1], g2, 1e-12);
    EXPECT_NEAR(moving.bias[2 * r] - at_rest.bias[2 * r], c1, 1e-12);
    EXPECT_NEAR(moving.bias[2 * r + 1] - at_rest.bias[2 * r + 1], c2, 1e-12);
  }
}

TEST(Dynamics, AbaMatchesCrbaPlusRneaOnRandomModels) {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> u(-1, 1);
  double worst = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const int n = 1 + trial % kd::kMaxJoints;
    const kd::DeviceModel m = kd::make_device_model(kt::random_model(rng, n));
    const int robots = 64;
    std::vector<double> q(n * robots), qd(n * robots), tau(n * robots);
    for (auto& x : q) x = 3 * u(rng);
    for (auto& x : qd) x = 4 * u(rng);
    for (auto& x : tau) x = 20 * u(rng);
    const auto qv = kt::to_view(q, robots, n, "test::q"), qdv = kt::to_view(qd, robots, n, "test::qd");
    const auto tv = kt::to_view(tau, robots, n, "test::tau");
    View<Real**> qdd("test::qdd", robots, n);
    kd::forward_dynamics(m, qv, qdv, tv, qdd);
    const std::vector<double> a = kt::to_host(qdd);
    const JointSpace js = joint_space(m, qv, qdv);
    for (int r = 0; r < robots; ++r) {
      // residual of M qdd + h = tau, relative to the size of the terms
      std::vector<double> res(n), scale(n);
      for (int i = 0; i < n; ++i) {
        double s = js.bias[r * n + i], mag = std::fabs(s);
        for (int j = 0; j < n; ++j) {
          s += js.mass[(r * n + i) * n + j] * a[r * n + j];
          mag += std::fabs(js.mass[(r * n + i) * n + j] * a[r * n + j]);
        }
        res[i] = s - tau[r * n + i];
        scale[i] = std::max(mag, std::fabs(tau[r * n + i]));
      }
      const double rel = norm(res) / norm(scale);
      worst = std::max(worst, rel);
      ASSERT_LT(rel, 1e-12) << "trial " << trial << " robot " << r << " n " << n;
    }
  }
  RecordProperty("worst_relative_residual", std::to_string(worst));
}

TEST(Dynamics, Rk4KeepsEnergyWithoutDampingAndLimits) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  kd::RobotModel model = kt::random_model(rng, 6, false);
  for (auto& j : model.joints) j.damping = 0;
  kd::ArmBatch batch(model, 8);
  const int n = batch.dof();
  std::vector<double> q(8 * n), qd(8 * n);
  for (auto& x : q) x = 2 * u(rng);
  for (auto& x : qd) x = u(rng);
  Kokkos::deep_copy(batch.q(), kt::to_view(q, 8, n, "test::q"));
  Kokkos::deep_copy(batch.qd(), kt::to_view(qd, 8, n, "test::qd"));
  kd::StepParams sp;
  sp.dt_s = 1e-3;
  sp.integrator = kd::Integrator::rk4;
  sp.joint_limits = false;
  View<Real*> e0("test::e0", 8), e("test::e", 8);
  kd::mechanical_energy(batch.model(), batch.q(), batch.qd(), e0);
  auto h0 = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), e0);
  double worst = 0;
  for (int s = 0; s < 10000; ++s) {
    batch.step(sp);
    if (s % 100 != 99) continue;
    kd::mechanical_energy(batch.model(), batch.q(), batch.qd(), e);
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), e);
    for (int r = 0; r < 8; ++r) worst = std::max(worst, std::fabs(h(r) - h0(r)) / (1.0 + std::fabs(h0(r))));
  }
  // Stated bound: |E - E0| / (1 + |E0|) below 1e-7 over 10^4 steps (10 s) at dt = 1 ms
  // (measured: 1.0e-8 for this model; RK4's error is O(dt^4)).
  EXPECT_LT(worst, 1e-7);
  RecordProperty("rk4_relative_energy_drift", std::to_string(worst));
}

TEST(Dynamics, DampingNeverIncreasesEnergy) {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(-1, 1);
  for (const auto integrator : {kd::Integrator::rk4, kd::Integrator::semi_implicit_euler}) {
    kd::RobotModel model = kt::random_model(rng, 5, false);
    for (auto& j : model.joints) j.damping = 2.0;
    kd::ArmBatch batch(model, 4);
    const int n = batch.dof();
    std::vector<double> q(4 * n), qd(4 * n);
    for (auto& x : q) x = 2 * u(rng);
    for (auto& x : qd) x = 2 * u(rng);
    Kokkos::deep_copy(batch.q(), kt::to_view(q, 4, n, "test::q"));
    Kokkos::deep_copy(batch.qd(), kt::to_view(qd, 4, n, "test::qd"));
    kd::StepParams sp;
    sp.dt_s = integrator == kd::Integrator::rk4 ? 1e-3 : 1e-4;
    sp.integrator = integrator;
    sp.joint_limits = false;
    View<Real*> e("test::e", 4);
    std::vector<double> previous(4, 1e300);
    for (int s = 0; s < 5000; ++s) {
      kd::mechanical_energy(batch.model(), batch.q(), batch.qd(), e);
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), e);
      for (int r = 0; r < 4; ++r) {
        // RK4: non-increasing up to round-off. Semi-implicit Euler conserves a shadow
        // energy, so its true energy may wobble by O(dt^2) per step; allow that.
        const double slack = integrator == kd::Integrator::rk4 ? 1e-12 : 1e-7;
        ASSERT_LE(h(r), previous[r] + slack * (1 + std::fabs(previous[r]))) << "step " << s << " robot " << r;
        previous[r] = h(r);
      }
      batch.step(sp);
    }
  }
}

// Coulomb friction: -f sign(qd) beyond the ramp, -f qd / ramp inside it, nothing at rest;
// and the gravity compensation of a `controller` model other than the plant.
TEST(Dynamics, FrictionAndControllerModelInTheAppliedForces) {
  std::mt19937_64 rng(5);
  const kd::RobotModel model = kt::random_model(rng, 4, false);
  const kd::DeviceModel m = kd::make_device_model(model);
  kd::DeviceModel rough = m;
  for (int i = 0; i < 4; ++i) {
    rough.friction[i] = 0.5 + i;
    rough.friction_slope[i] = kd::friction_slope(rough.friction[i], 1e3, 1e-3);  // a heavy joint: 1 / 0.01
  }
  rough.has_friction = true;
  EXPECT_DOUBLE_EQ(rough.friction_slope[0], 1 / kd::kFrictionRamp);
  // A light joint gets a wider ramp: h f slope / I = 1/2.
  EXPECT_DOUBLE_EQ(kd::friction_slope(0.3, 0.02, 0.005), 0.02 / (2 * 0.005 * 0.3));
  kd::StepParams sp;
  sp.joint_limits = false;
  const double q[4] = {0.1, -0.2, 0.3, 0.4}, control[4] = {1, 2, 3, 4};
  const double qd[4] = {1.0, -0.3, 0.5 * kd::kFrictionRamp, 0.0};
  double smooth[4], with[4];
  kd::applied_forces(m, sp, 4, q, qd, control, smooth);
  kd::applied_forces(rough, sp, 4, q, qd, control, with);
  EXPECT_DOUBLE_EQ(with[0], smooth[0] - 0.5);
  EXPECT_DOUBLE_EQ(with[1], smooth[1] + 1.5);
  EXPECT_DOUBLE_EQ(with[2], smooth[2] - 2.5 * 0.5);
  EXPECT_DOUBLE_EQ(with[3], smooth[3]);
  // Gravity compensation: of the plant by default, of the controller's model when given.
  sp.gravity_compensation = true;
  kd::DeviceModel heavy = m;
  for (int i = 0; i < 4; ++i) {
    heavy.inertia[i].m *= 2;
    heavy.inertia[i].h = 2 * heavy.inertia[i].h;
  }
  double own[4], nominal[4], plain[4];
  kd::applied_forces(heavy, sp, 4, q, qd, control, own);
  kd::applied_forces(heavy, sp, 4, q, qd, control, nominal, nullptr, &m);
  kd::applied_forces(m, sp, 4, q, qd, control, plain);
  for (int i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(nominal[i], plain[i]) << i;  // damping is the same
  EXPECT_NE(std::vector<double>(own, own + 4), std::vector<double>(plain, plain + 4));
}

TEST(Dynamics, JacobianMatchesFiniteDifferencesOfKinematics) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int n : {2, 6, 7, 8}) {
    const kd::DeviceModel m = kd::make_device_model(kt::random_model(rng, n));
    const int robots = 16;
    std::vector<double> q(robots * n);
    for (auto& x : q) x = 3 * u(rng);
    View<Real***> jac("test::jac", robots, 6, n);
    kd::tool_jacobian(m, kt::to_view(q, robots, n, "test::q"), jac);
    auto jh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), jac);
    const double h = 1e-6;
    for (int c = 0; c < n; ++c) {
      std::vector<double> qp = q, qm = q;
      for (int r = 0; r < robots; ++r) {
        qp[r * n + c] += h;
        qm[r * n + c] -= h;
      }
      View<Real**> pp("test::pp", robots, 3), pm("test::pm", robots, 3);
      View<Real***> rp("test::rp", robots, 3, 3), rm("test::rm", robots, 3, 3);
      kd::forward_kinematics(m, kt::to_view(qp, robots, n, "test::qp"), pp, rp);
      kd::forward_kinematics(m, kt::to_view(qm, robots, n, "test::qm"), pm, rm);
      auto pph = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pp);
      auto pmh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pm);
      auto rph = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rp);
      auto rmh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rm);
      for (int r = 0; r < robots; ++r) {
        for (int k = 0; k < 3; ++k) EXPECT_NEAR(jh(r, k, c), (pph(r, k) - pmh(r, k)) / (2 * h), 1e-7);
        // angular velocity from dR/dq R^T = [w]x
        double w[3][3];
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) {
            double s = 0;
            for (int k = 0; k < 3; ++k) s += (rph(r, a, k) - rmh(r, a, k)) / (2 * h) * 0.5 * (rph(r, b, k) + rmh(r, b, k));
            w[a][b] = s;
          }
        EXPECT_NEAR(jh(r, 3, c), w[2][1], 1e-7);
        EXPECT_NEAR(jh(r, 4, c), w[0][2], 1e-7);
        EXPECT_NEAR(jh(r, 5, c), w[1][0], 1e-7);
      }
    }
  }
}

TEST(Dynamics, NonFiniteStateNamesTheGlobalRobotId) {
  kd::ArmBatch batch(kt::planar2_model(), 10, 1000);
  auto q = Kokkos::create_mirror_view(batch.q());
  Kokkos::deep_copy(q, 0.1);
  q(3, 1) = std::nan("");
  Kokkos::deep_copy(batch.q(), q);
  try {
    batch.step(kd::StepParams{});
    FAIL() << "expected an error";
  } catch (const kollektiv::Error& e) {
    EXPECT_NE(std::string(e.what()).find("dynamics: robot 1003 has a non-finite state"), std::string::npos) << e.what();
  }
  auto err = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), batch.error());
  for (int r = 0; r < 10; ++r) EXPECT_EQ(err(r), r == 3 ? 1 : 0);
}

TEST(Dynamics, PdControlReachesTargetAndLimitsHold) {
  // PD with saturation drives the planar arm to a target under gravity (steady-state error
  // = g / kp); a torque pushing into a limit is held near the limit by the spring-damper.
  kd::RobotModel model = kt::planar2_model(0.01);
  for (auto& j : model.joints) {
    j.lower = -1.0;
    j.upper = 1.0;
  }
  kd::ArmBatch batch(model, 2);
  auto u = Kokkos::create_mirror_view(batch.control());
  u(0, 0) = 0.5;
  u(0, 1) = -0.3;
  Kokkos::deep_copy(batch.control(), u);
  kd::StepParams pd;
  pd.control = kd::ControlMode::pd;
  for (int i = 0; i < 2; ++i) {
    pd.kp[i] = 2000;
    pd.kd[i] = 100;
  }
  for (int s = 0; s < 3000; ++s) batch.step(pd);
  auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), batch.q());
  EXPECT_NEAR(q(0, 0), 0.5, 0.02);
  EXPECT_NEAR(q(0, 1), -0.3, 0.02);

  kd::ArmBatch pushed(model, 1);
  Kokkos::deep_copy(pushed.control(), 40.0);  // within the 50 N m effort limit
  kd::StepParams torque;
  for (int s = 0; s < 3000; ++s) pushed.step(torque);
  auto qp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pushed.q());
  EXPECT_GT(qp(0, 1), 1.0);
  EXPECT_LT(qp(0, 1), 1.0 + 0.02);  // penetration ~ tau / k_limit
}

namespace {

std::uint64_t bits(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Per-robot start states of a 6-joint random chain (revolute and prismatic joints) with
// limits: positions partly beyond a limit, speeds partly above the velocity limit, torques
// partly above the effort limit, so every per-robot select takes both sides in some lane.
struct LaneCase {
  kd::RobotModel model;
  std::vector<double> q, qd, control;  // (robot, joint) row-major
};
LaneCase lane_case(int robots) {
  std::mt19937_64 rng(7);
  LaneCase c;
  c.model = kt::random_model(rng, 6);
  for (auto& j : c.model.joints) {
    j.lower = -1.0;
    j.upper = 1.2;
    j.velocity = 3.0;
    j.effort = 20.0;
  }
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int k = 0; k < robots * 6; ++k) {
    c.q.push_back(1.3 * u(rng));
    c.qd.push_back(4.0 * u(rng));
    c.control.push_back(30.0 * u(rng));
  }
  return c;
}

}  // namespace

// The step advances kLanes robots per instruction (lanes.hpp). A robot's bits must not depend
// on the batch size, on the lane it lands in, or on the other robots of its lane group, and
// must equal what the one-robot path (step_robot, as the skills call it) computes.
TEST(Dynamics, StepBitsIndependentOfBatchSizeAndLane) {
  constexpr int n = 6, steps = 4, max_offset = 5;
  const LaneCase c = lane_case(4097 + max_offset);
  const kd::DeviceModel m = kd::make_device_model(c.model);
  kd::StepParams euler;
  kd::StepParams rk4_pd;
  rk4_pd.integrator = kd::Integrator::rk4;
  rk4_pd.substeps = 3;
  rk4_pd.control = kd::ControlMode::pd;
  rk4_pd.gravity_compensation = true;
  for (int i = 0; i < n; ++i) {
    rk4_pd.kp[i] = 300;
    rk4_pd.kd[i] = 20;
  }
  for (const kd::StepParams& sp : {euler, rk4_pd}) {
    // Reference: each robot alone on the one-robot path.
    std::vector<double> q_ref = c.q, qd_ref = c.qd;
    for (std::size_t r = 0; r * n < c.q.size(); ++r)
      for (int s = 0; s < steps; ++s)
        ASSERT_TRUE(kd::step_robot<n>(m, sp, n, &q_ref[r * n], &qd_ref[r * n], &c.control[r * n]));
    // Batches of N robots starting at robot `offset`, so a robot lands in different lanes.
    const std::pair<int, int> batches[] = {{1, 0}, {1, 3}, {7, 0}, {8, 1}, {9, 0}, {9, 4}, {4097, 0}, {4097, max_offset}};
    for (const auto& [robots, offset] : batches) {
      const std::size_t first = static_cast<std::size_t>(offset) * n, last = first + static_cast<std::size_t>(robots) * n;
      const std::vector<double> q0(c.q.begin() + first, c.q.begin() + last), qd0(c.qd.begin() + first, c.qd.begin() + last),
          u0(c.control.begin() + first, c.control.begin() + last);
      const View<Real**> q = kt::to_view(q0, robots, n, "test::q"), qd = kt::to_view(qd0, robots, n, "test::qd");
      View<int*> error("test::error", robots);
      for (int s = 0; s < steps; ++s) kd::step(m, sp, q, qd, kt::to_view(u0, robots, n, "test::u"), error);
      const std::vector<double> qh = kt::to_host(q), qdh = kt::to_host(qd);
      int mismatches = 0;
      for (std::size_t k = 0; k < qh.size(); ++k) {
        const bool same = bits(qh[k]) == bits(q_ref[first + k]) && bits(qdh[k]) == bits(qd_ref[first + k]);
        if (!same && mismatches++ == 0)
          ADD_FAILURE() << "N = " << robots << ", offset " << offset << ": robot " << offset + k / n << " joint " << k % n
                        << " q " << qh[k] << " vs " << q_ref[first + k] << ", qd " << qdh[k] << " vs " << qd_ref[first + k];
      }
      EXPECT_EQ(mismatches, 0) << "N = " << robots << ", offset " << offset;
      EXPECT_EQ(kollektiv::to_vector(error), std::vector<int>(robots, 0));
    }
  }
}

// A robot whose state becomes non-finite is flagged alone: its lane neighbours (and the padded
// lanes that repeat a robot) step exactly as if it were not there.
TEST(Dynamics, NonFiniteLaneLeavesItsNeighboursBitwiseUnchanged) {
  constexpr int n = 6, robots = 11;
  const LaneCase c = lane_case(robots);
  const kd::DeviceModel m = kd::make_device_model(c.model);
  const kd::StepParams sp;
  std::vector<double> q_ref = c.q, qd_ref = c.qd;
  for (int r = 0; r < robots; ++r) ASSERT_TRUE(kd::step_robot<n>(m, sp, n, &q_ref[r * n], &qd_ref[r * n], &c.control[r * n]));
  for (const int bad : {0, 3, 10}) {
    std::vector<double> q0 = c.q;
    q0[static_cast<std::size_t>(bad) * n + 2] = std::numeric_limits<double>::infinity();
    const View<Real**> q = kt::to_view(q0, robots, n, "test::q"), qd = kt::to_view(c.qd, robots, n, "test::qd");
    View<int*> error("test::error", robots);
    kd::step(m, sp, q, qd, kt::to_view(c.control, robots, n, "test::u"), error);
    const std::vector<double> qh = kt::to_host(q), qdh = kt::to_host(qd);
    const std::vector<int> flags = kollektiv::to_vector(error);
    for (int r = 0; r < robots; ++r) {
      EXPECT_EQ(flags[r], r == bad ? 1 : 0) << "bad robot " << bad << ", robot " << r;
      if (r == bad) continue;
      for (int i = 0; i < n; ++i) {
        const std::size_t k = static_cast<std::size_t>(r) * n + i;
        EXPECT_EQ(bits(qh[k]), bits(q_ref[k])) << "bad robot " << bad << ", robot " << r << " joint " << i;
        EXPECT_EQ(bits(qdh[k]), bits(qd_ref[k])) << "bad robot " << bad << ", robot " << r << " joint " << i;
      }
    }
  }
}

// sin_cos (lanes.hpp) against libm: within 2 ulp-ish relative error over the range joint
// angles take, exact quadrant symmetry, and NaN for non-finite input.
TEST(Dynamics, LaneSinCosMatchesLibm) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-50.0, 50.0);
  double worst = 0;
  for (int k = 0; k < 200000; ++k) {
    const double x = k < 8 ? k * (kollektiv::math::pi / 4) : u(rng);
    double s, c;
    kd::sin_cos(x, s, c);
    worst = std::max({worst, std::fabs(s - std::sin(x)), std::fabs(c - std::cos(x))});
  }
  EXPECT_LT(worst, 4.5e-16);
  double s, c;
  kd::sin_cos(0.0, s, c);
  EXPECT_EQ(s, 0.0);
  EXPECT_EQ(c, 1.0);
  kd::sin_cos(std::numeric_limits<double>::infinity(), s, c);
  EXPECT_TRUE(std::isnan(s) && std::isnan(c));
  kd::sin_cos(std::nan(""), s, c);
  EXPECT_TRUE(std::isnan(s) && std::isnan(c));
}
