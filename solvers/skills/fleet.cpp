// The fleet: robots of one model learning one skill, their state in device Views, and the
// host side of its kernels (fleet_kernels.hpp): checks, parameters, and the launch of the
// kernel compiled for the model's joint count and the skill.
#include "solvers/skills/fleet.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "solvers/core/error.hpp"
#include "solvers/dynamics/dispatch_dof.hpp"
#include "solvers/skills/fleet_kernels.hpp"

namespace kollektiv::skills {
namespace {

using namespace detail;  // NOLINT: the skills' kernel vocabulary
using dynamics::dispatch_dof;

// dispatch_skill(kind, f): calls f(S{}) with the skill type of `kind`, so each kernel is
// compiled for one skill and holds no branch on the skill.
template <class F>
void dispatch_skill(SkillKind kind, F&& f) {
  switch (kind) {
    case SkillKind::reach: f(Reach{}); break;
    case SkillKind::weld: f(Weld{}); break;
    case SkillKind::pick_place: f(PickPlace{}); break;
  }
}

// Both compile-time choices of a kernel: the joint count and the skill.
template <class F>
void dispatch(int dof, SkillKind kind, F&& f) {
  dispatch_dof(dof, [&](auto n) { dispatch_skill(kind, [&](auto skill) { f(n, skill); }); });
}

// Per-joint gains from a config list: empty -> automatic, one value -> all joints.
void fill_gains(const std::vector<double>& given, const double* automatic, int n, const char* what, Real* out) {
  require(given.empty() || given.size() == 1 || static_cast<int>(given.size()) == n,
          std::string("skills: ") + what + " needs 0, 1 or " + std::to_string(n) + " values, found " +
              std::to_string(given.size()),
          ExitCode::bad_input);
  for (int i = 0; i < n; ++i) {
    out[i] = given.empty() ? automatic[i] : (given.size() == 1 ? given[0] : given[static_cast<std::size_t>(i)]);
    require(out[i] >= 0 && std::isfinite(out[i]), std::string("skills: ") + what + " must be finite and >= 0",
            ExitCode::bad_input);
  }
}

KernelParams make_params(const SkillConfig& cfg, const DeviceModel& m, std::uint64_t seed, int obs_dim,
                         int act_dim) {
  const CommonConfig& c = cfg.common;
  const auto bad = ExitCode::bad_input;
  require(c.episode_steps >= 1, "skills: episode_steps must be >= 1", bad);
  require(c.control_dt_s > 0 && c.substeps >= 1, "skills: control_dt_s must be > 0 and substeps >= 1", bad);
  require(c.action_scale > 0, "skills: action_scale must be > 0", bad);
  require(c.initial_q_noise >= 0, "skills: initial_q_noise must be >= 0", bad);
  const int n = m.n_joints;
  require(c.initial_q.empty() || static_cast<int>(c.initial_q.size()) == n,
          "skills: initial_q needs " + std::to_string(n) + " values, found " + std::to_string(c.initial_q.size()), bad);
  KernelParams p;
  p.n = n;
  p.obs_dim = obs_dim;
  p.act_dim = act_dim;
  p.episode_steps = c.episode_steps;
  p.action_mode = static_cast<int>(c.action_mode);
  p.dt = c.control_dt_s;
  p.action_scale = c.action_scale;
  p.q_noise = c.initial_q_noise;
  for (int i = 0; i < n; ++i) p.q_home[i] = c.initial_q.empty() ? 0.0 : c.initial_q[static_cast<std::size_t>(i)];
  p.seed = seed;
  p.gravity = m.gravity;
  const DynamicsRandomisation& r = c.randomise;
  require(r.link_mass >= 0 && r.link_mass <= 0.5 && r.joint_damping >= 0 && r.joint_damping <= 0.5 &&
              r.actuator_gain >= 0 && r.actuator_gain <= 0.5,
          "skills: randomise link_mass, joint_damping and actuator_gain must be in [0, 0.5]", bad);
  require(r.joint_friction_nm >= 0 && r.joint_noise_rad >= 0 && r.joint_velocity_noise_rad_s >= 0 &&
              std::isfinite(r.joint_friction_nm) && std::isfinite(r.joint_noise_rad) &&
              std::isfinite(r.joint_velocity_noise_rad_s),
          "skills: randomise joint_friction_nm, joint_noise_rad and joint_velocity_noise_rad_s must be finite and >= 0",
          bad);
  // The sensing noise's draw counter holds the step in 25 bits.
  require(!r.sensing() || c.episode_steps < (1 << 25), "skills: sensing noise needs episode_steps < 2^25", bad);
  p.randomise = r;
  p.randomise_dynamics = r.dynamics();
  p.sensing_noise = r.sensing();
  dispatch_skill(cfg.kind, [&](auto skill) { decltype(skill)::configure(cfg, p); });
  return p;
}

KernelParams kernel_params(const SkillConfig& cfg, const DeviceModel& m, std::uint64_t seed, int obs_dim, int act_dim,
                           bool auto_reset, double tolerance_scale, const Real* home_inertia) {
  KernelParams p = make_params(cfg, m, seed, obs_dim, act_dim);
  p.auto_reset = auto_reset;
  p.tolerance_scale = tolerance_scale;
  for (int i = 0; i < m.n_joints; ++i) p.home_inertia[i] = home_inertia[i];
  return p;
}

int observation_size(SkillKind kind, int n) { return layout_width(observation_layout(kind, n)); }

template <class V>
void require_shape(const V& v, int rows, int cols, const char* what) {
  require(static_cast<int>(v.extent(0)) >= rows && static_cast<int>(v.extent(1)) >= cols,
          std::string("skills: View '") + what + "' has shape (" + std::to_string(v.extent(0)) + ", " +
              std::to_string(v.extent(1)) + "), expected at least (" + std::to_string(rows) + ", " +
              std::to_string(cols) + ")");
}

}  // namespace

SegmentLayout observation_layout(SkillKind kind, int dof) {
  SegmentLayout layout{{"joint_angles", 2 * dof}, {"joint_velocities", dof}, {"tool_position", 3}};
  switch (kind) {
    case SkillKind::reach: layout.push_back({"goal_offset", 3}); break;
    case SkillKind::weld:
      layout.insert(layout.end(), {{"seam_offset", 3}, {"seam_tangent", 3}, {"goal_offset", 3}, {"lateral_error", 1},
                                   {"standoff_error", 1}, {"progress", 1}, {"work_angle_error", 1},
                                   {"travel_angle_error", 1}});
      break;
    case SkillKind::pick_place:
      layout.insert(layout.end(), {{"part_offset", 3}, {"place_offset", 3}, {"attached", 1}, {"part_yaw_error", 2},
                                   {"place_yaw_error", 2}, {"place_offset_fine", 3}});
      break;
  }
  layout.push_back({"episode_time", 1});
  return layout;
}

std::vector<std::string> miss_causes(SkillKind kind) {
  if (kind == SkillKind::weld) return {"lateral", "standoff", "speed", "work_angle", "travel_angle", "unfinished"};
  if (kind == SkillKind::pick_place) return {"not_grasped", "dropped", "position", "yaw", "still_held"};
  return {};
}

SegmentLayout action_layout(SkillKind kind, int dof) {
  SegmentLayout layout{{"joints", dof}};
  if (kind == SkillKind::pick_place) layout.push_back({"gripper", 1});
  return layout;
}

StepResult::StepResult(int robots, int obs_dim)
    : reward("skills::reward", robots),
      terminated("skills::terminated", robots),
      truncated("skills::truncated", robots),
      final_obs("skills::final_obs", robots, obs_dim),
      episode_done("skills::episode_done", robots),
      episode_return("skills::episode_return", robots),
      episode_success("skills::episode_success", robots),
      episode_quality("skills::episode_quality", robots),
      episode_final_error("skills::episode_final_error", robots),
      episode_length("skills::episode_length", robots),
      episode_misses("skills::episode_misses", robots, kMissCauses) {}

Fleet::Fleet(const dynamics::RobotModel& model, const SkillConfig& cfg, std::uint64_t seed, std::int64_t gid_offset,
             int n_robots)
    : cfg_(cfg),
      model_(dynamics::make_device_model(model)),
      seed_(seed),
      gid_offset_(gid_offset),
      n_robots_(n_robots) {
  require(n_robots >= 0 && gid_offset >= 0, "skills: fleet needs n_robots >= 0 and gid_offset >= 0", ExitCode::bad_input);
  const int n = model_.n_joints;
  obs_dim_ = observation_size(cfg.kind, n);
  act_dim_ = n + (cfg.kind == SkillKind::pick_place ? 1 : 0);
  const KernelParams p = make_params(cfg, model_, seed, obs_dim_, act_dim_);  // validates

  const CommonConfig& c = cfg.common;
  sp_.dt_s = c.control_dt_s;
  sp_.substeps = c.substeps;
  sp_.integrator = c.integrator;
  sp_.control = c.action_mode == ActionMode::torque ? dynamics::ControlMode::torque : dynamics::ControlMode::pd;
  sp_.joint_limits = c.joint_limits;
  sp_.gravity_compensation = c.gravity_compensation;
  // Automatic gains from the mass-matrix diagonal at the home configuration.
  require(c.pd_frequency_hz > 0 && c.pd_damping_ratio > 0, "skills: pd_frequency_hz and pd_damping_ratio must be > 0",
          ExitCode::bad_input);
  // (and the friction ramps of randomised dynamics: KernelParams::home_inertia).
  Real mass[kMaxJoints * kMaxJoints] = {};
  dynamics::crba(model_, n, p.q_home, mass);
  for (int i = 0; i < n; ++i) home_inertia_[i] = mass[i * n + i];
  const double w = 2 * math::pi * c.pd_frequency_hz;
  double kp_auto[kMaxJoints] = {}, kd_auto[kMaxJoints] = {};
  for (int i = 0; i < n; ++i) {
    kp_auto[i] = home_inertia_[i] * w * w;
    kd_auto[i] = 2 * c.pd_damping_ratio * home_inertia_[i] * w;
  }
  fill_gains(c.kp, kp_auto, n, "kp", sp_.kp);
  fill_gains(c.kd, kd_auto, n, "kd", sp_.kd);

  q_ = View<Real**>("skills::q", n_robots, n);
  qd_ = View<Real**>("skills::qd", n_robots, n);
  task_real_ = View<Real**>("skills::task_real", n_robots, task_real_count);
  task_int_ = View<std::int64_t**>("skills::task_int", n_robots, task_int_count);
  error_ = View<int*>("skills::error", n_robots);
  reset_all();
}

void Fleet::reset_all(bool stagger) {
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_, tolerance_scale_, home_inertia_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch(model_.n_joints, cfg_.kind, [&](auto dof, auto skill) {
    constexpr int N = decltype(dof)::value;
    using S = decltype(skill);
    FleetLaunch<N, S>::reset(n_robots_, ResetKernel<N, S>{model_, p, st, error_, gid_offset_, stagger});
  });
}

void Fleet::observe(View<Real**> obs) const { observe(obs, n_robots_); }

void Fleet::observe(View<Real**> obs, int rows) const {
  require(rows >= 0 && rows <= n_robots_, "skills: observe of more rows than robots");
  require_shape(obs, rows, obs_dim_, "obs");
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_, tolerance_scale_, home_inertia_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch(model_.n_joints, cfg_.kind, [&](auto dof, auto skill) {
    constexpr int N = decltype(dof)::value;
    using S = decltype(skill);
    FleetLaunch<N, S>::observe(rows, ObserveKernel<N, S>{model_, p, st, obs});
  });
}

void Fleet::step(View<const Real**> actions, StepResult& out) { step(actions, View<const int*>(), out); }

void Fleet::step(View<const Real**> actions, StepResult& out, View<Real**> next_obs) {
  step(actions, View<const int*>(), out, -1, next_obs);
}

void Fleet::step(View<const Real**> actions, View<const int*> active, StepResult& out, int rows,
                 View<Real**> next_obs) {
  if (rows < 0) rows = n_robots_;
  require(rows <= n_robots_, "skills: step of more rows than robots");
  require_shape(actions, rows, act_dim_, "actions");
  if (next_obs.extent(0) > 0) require_shape(next_obs, rows, obs_dim_, "next_obs");
  require(active.extent(0) == 0 || static_cast<int>(active.extent(0)) >= n_robots_,
          "skills: the active mask has fewer rows than the fleet has robots");
  if (static_cast<int>(out.reward.extent(0)) < n_robots_ || static_cast<int>(out.final_obs.extent(1)) < obs_dim_)
    out = StepResult(n_robots_, obs_dim_);
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_, tolerance_scale_, home_inertia_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch(model_.n_joints, cfg_.kind, [&](auto dof, auto skill) {
    constexpr int N = decltype(dof)::value;
    using S = decltype(skill);
    FleetLaunch<N, S>::step(rows, StepKernel<N, S>{model_, p, sp_, st, actions, active, error_, gid_offset_, out.reward,
                                                   out.terminated, out.truncated, out.final_obs, out.episode_done,
                                                   out.episode_return, out.episode_success, out.episode_quality,
                                                   out.episode_final_error, out.episode_length, out.episode_misses,
                                                   next_obs});
  });
  dynamics::throw_if_flagged(error_, gid_offset_, "in skills::step");
}

void Fleet::set_tolerance_scale(double scale) {
  require(scale > 0 && std::isfinite(scale), "skills: a tolerance scale must be finite and > 0", ExitCode::bad_input);
  tolerance_scale_ = scale;
}

void Fleet::start_episodes(View<const std::int64_t**> keys, int count) {
  require(count >= 0 && count <= n_robots_ && static_cast<int>(keys.extent(0)) >= count && keys.extent(1) >= 3,
          "skills: start_episodes needs (count <= robots, 3) keys");
  const KernelParams p = kernel_params(cfg_, model_, seed_, obs_dim_, act_dim_, auto_reset_, tolerance_scale_, home_inertia_);
  const StateViews st{q_, qd_, task_real_, task_int_};
  dispatch(model_.n_joints, cfg_.kind, [&](auto dof, auto skill) {
    constexpr int N = decltype(dof)::value;
    using S = decltype(skill);
    FleetLaunch<N, S>::start(count, StartKernel<N, S>{model_, p, st, keys, error_});
  });
}

FleetState Fleet::save_state() const {
  FleetState s;
  const int n = model_.n_joints;
  s.dof = n;
  const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), q_);
  const auto qd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), qd_);
  const auto tr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), task_real_);
  const auto ti = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), task_int_);
  for (int r = 0; r < n_robots_; ++r) {
    for (int i = 0; i < n; ++i) {
      s.q.push_back(q(r, i));
      s.qd.push_back(qd(r, i));
    }
    for (int c = 0; c < task_real_count; ++c) s.task_real.push_back(tr(r, c));
    for (int c = 0; c < task_int_count; ++c) s.task_int.push_back(ti(r, c));
  }
  return s;
}

void Fleet::restore_state(const FleetState& s) {
  check_state(s);
  const int n = model_.n_joints;
  require(s.dof == n && s.robot_count() == n_robots_,
          "skills: fleet state has " + std::to_string(s.robot_count()) + " robots of " + std::to_string(s.dof) +
              " joints, the fleet " + std::to_string(n_robots_) + " of " + std::to_string(n),
          ExitCode::bad_checkpoint);
  // A checkpoint is untrusted: joint states finite, counters in their ranges, flags 0 or 1.
  for (int r = 0; r < n_robots_; ++r) {
    const auto row = static_cast<std::size_t>(r);
    const auto finite = [&](const std::vector<double>& v) {
      return std::all_of(v.begin() + static_cast<std::ptrdiff_t>(row * n),
                         v.begin() + static_cast<std::ptrdiff_t>((row + 1) * n), [](double x) { return std::isfinite(x); });
    };
    const std::int64_t* ti = s.task_int.data() + row * task_int_count;
    const auto flag = [](std::int64_t x) { return x == 0 || x == 1; };
    constexpr std::int64_t most_episodes = std::int64_t{1} << 53;  // incremented: far from the int64 limit
    require(finite(s.q) && finite(s.qd) && ti[ti_episode] >= 0 && ti[ti_episode] <= most_episodes &&
                ti[ti_step] >= 0 && ti[ti_step] <= cfg_.common.episode_steps && ti[ti_streak] >= 0 &&
                ti[ti_streak] <= cfg_.common.episode_steps && flag(ti[ti_attached]) && flag(ti[ti_grasped]) && flag(ti[ti_dropped]) &&
                ti[ti_draw_id] >= 0 && (!auto_reset_ || ti[ti_draw_id] == gid_offset_ + r) &&
                std::all_of(s.task_real.begin() + static_cast<std::ptrdiff_t>(row * task_real_count),
                            s.task_real.begin() + static_cast<std::ptrdiff_t>((row + 1) * task_real_count),
                            [](double x) { return std::isfinite(x); }),
            "skills: the fleet state of robot " + std::to_string(gid_offset_ + r) +
                " is out of range (a non-finite joint or task state, counters or flags out of range, or the draws of another robot)",
            ExitCode::bad_checkpoint);
  }
  auto q = Kokkos::create_mirror_view(q_);
  auto qd = Kokkos::create_mirror_view(qd_);
  auto tr = Kokkos::create_mirror_view(task_real_);
  auto ti = Kokkos::create_mirror_view(task_int_);
  for (int r = 0; r < n_robots_; ++r) {
    for (int i = 0; i < n; ++i) {
      q(r, i) = s.q[static_cast<std::size_t>(r * n + i)];
      qd(r, i) = s.qd[static_cast<std::size_t>(r * n + i)];
    }
    for (int c = 0; c < task_real_count; ++c) tr(r, c) = s.task_real[static_cast<std::size_t>(r * task_real_count + c)];
    for (int c = 0; c < task_int_count; ++c) ti(r, c) = s.task_int[static_cast<std::size_t>(r * task_int_count + c)];
  }
  Kokkos::deep_copy(q_, q);
  Kokkos::deep_copy(qd_, qd);
  Kokkos::deep_copy(task_real_, tr);
  Kokkos::deep_copy(task_int_, ti);
  Kokkos::deep_copy(error_, 0);
}

}  // namespace kollektiv::skills
