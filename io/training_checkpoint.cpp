// FleetState + LearnerState <-> checkpoint datasets.
#include "io/training_checkpoint.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "io/fingerprint.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::io {

namespace {

constexpr std::int64_t real_fields = skills::task_real_count;
constexpr std::int64_t int_fields = skills::task_int_count;


// Rank `shared_rank`'s values (the learner state is the same on every holder), nothing from
// the others.
template <class T>
std::vector<T> on_rank(MPI_Comm comm, int shared_rank, const std::vector<T>& values) {
  return comm::rank_of(comm) == shared_rank ? values : std::vector<T>{};
}

void require_size(CheckpointReader& reader, const std::string& path, std::int64_t expected, const std::string& what) {
  const std::int64_t found = reader.size(path);
  if (found != expected)
    throw Error("checkpoint " + reader.file() + ": " + path + " has " + std::to_string(found) + " elements, " + what +
                    " needs " + std::to_string(expected),
                ExitCode::bad_checkpoint);
}

}  // namespace

void write_fleet_state(CheckpointWriter& writer, const skills::FleetState& local, std::int64_t gid_begin,
                       std::int64_t robots, const std::string& prefix) {
  const std::int64_t dof = local.dof;
  writer.write(prefix + "fleet/q", robots * dof, gid_begin * dof, local.q);
  writer.write(prefix + "fleet/qd", robots * dof, gid_begin * dof, local.qd);
  writer.write(prefix + "fleet/task_real", robots * real_fields, gid_begin * real_fields, local.task_real);
  writer.write(prefix + "fleet/task_int", robots * int_fields, gid_begin * int_fields, local.task_int);
}

void write_training_state(CheckpointWriter& writer, const skills::FleetState& local, std::int64_t gid_begin,
                          std::int64_t robots, const learning::LearnerState& learner, const std::string& prefix,
                          int shared_rank) {
  write_fleet_state(writer, local, gid_begin, robots, prefix);
  write_learner_state(writer, learner, prefix, shared_rank);
}

void write_learner_state(CheckpointWriter& writer, const learning::LearnerState& learner, const std::string& prefix,
                         int shared_rank) {
  const MPI_Comm comm = writer.comm();
  writer.write_concatenated(prefix + "learner/parameters", on_rank(comm, shared_rank, learner.parameters));
  writer.write_concatenated(prefix + "learner/adam_m", on_rank(comm, shared_rank, learner.adam_m));
  writer.write_concatenated(prefix + "learner/adam_v", on_rank(comm, shared_rank, learner.adam_v));
  writer.write_concatenated(prefix + "learner/counters", on_rank(comm, shared_rank, std::vector<std::int64_t>{learner.adam_steps, learner.updates}));
  writer.write_concatenated(prefix + "learner/normalizer_count", on_rank(comm, shared_rank, std::vector<double>{learner.normalizer.count}));
  writer.write_concatenated(prefix + "learner/normalizer_mean", on_rank(comm, shared_rank, learner.normalizer.mean));
  writer.write_concatenated(prefix + "learner/normalizer_m2", on_rank(comm, shared_rank, learner.normalizer.m2));
}

skills::FleetState read_fleet_state(CheckpointReader& reader, std::int64_t gid_begin, std::int64_t count,
                                    std::int64_t robots, int dof, const std::string& prefix) {
  const std::string what = std::to_string(robots) + " robots of " + std::to_string(dof) + " joints";
  require_size(reader, prefix + "fleet/q", robots * dof, what);
  require_size(reader, prefix + "fleet/qd", robots * dof, what);
  require_size(reader, prefix + "fleet/task_real", robots * real_fields, what + " (task state of this build)");
  require_size(reader, prefix + "fleet/task_int", robots * int_fields, what + " (task state of this build)");
  skills::FleetState s;
  s.dof = dof;
  s.q = reader.read<double>(prefix + "fleet/q", gid_begin * dof, count * dof);
  s.qd = reader.read<double>(prefix + "fleet/qd", gid_begin * dof, count * dof);
  s.task_real = reader.read<double>(prefix + "fleet/task_real", gid_begin * real_fields, count * real_fields);
  s.task_int = reader.read<std::int64_t>(prefix + "fleet/task_int", gid_begin * int_fields, count * int_fields);
  skills::check_state(s);
  return s;
}

learning::LearnerState read_learner_state(CheckpointReader& reader, std::int64_t parameters, int obs_dim,
                                          const std::string& prefix) {
  const std::string what = "a learner of " + std::to_string(parameters) + " parameters";
  require_size(reader, prefix + "learner/parameters", parameters, what);
  require_size(reader, prefix + "learner/adam_m", parameters, what);
  require_size(reader, prefix + "learner/adam_v", parameters, what);
  require_size(reader, prefix + "learner/counters", 2, "the learner");
  require_size(reader, prefix + "learner/normalizer_count", 1, "the learner");
  require_size(reader, prefix + "learner/normalizer_mean", obs_dim, "an observation of " + std::to_string(obs_dim));
  require_size(reader, prefix + "learner/normalizer_m2", obs_dim, "an observation of " + std::to_string(obs_dim));
  learning::LearnerState s;
  s.parameters = reader.read_all<double>(prefix + "learner/parameters");
  s.adam_m = reader.read_all<double>(prefix + "learner/adam_m");
  s.adam_v = reader.read_all<double>(prefix + "learner/adam_v");
  const auto counters = reader.read_all<std::int64_t>(prefix + "learner/counters");
  s.adam_steps = counters[0];
  s.updates = counters[1];
  s.normalizer.count = reader.read_all<double>(prefix + "learner/normalizer_count")[0];
  s.normalizer.mean = reader.read_all<double>(prefix + "learner/normalizer_mean");
  s.normalizer.m2 = reader.read_all<double>(prefix + "learner/normalizer_m2");
  return s;
}

void add_skill(Fingerprint& f, const skills::SkillConfig& s) {
  f.add(static_cast<int>(s.kind));
  const skills::CommonConfig& c = s.common;
  f.add(c.episode_steps);
  f.add(c.control_dt_s);
  f.add(c.substeps);
  f.add(static_cast<int>(c.integrator));
  f.add(static_cast<int>(c.action_mode));
  f.add(c.action_scale);
  f.add(c.kp);
  f.add(c.kd);
  f.add(c.pd_frequency_hz);
  f.add(c.pd_damping_ratio);
  f.add(c.gravity_compensation);
  f.add(c.joint_limits);
  f.add(c.stagger_start);
  f.add(c.initial_q);
  f.add(c.initial_q_noise);
  const skills::DynamicsRandomisation& x = c.randomise;
  f.add(x.link_mass);
  f.add(x.joint_damping);
  f.add(x.joint_friction_nm);
  f.add(x.actuator_gain);
  f.add(x.joint_noise_rad);
  f.add(x.joint_velocity_noise_rad_s);
  const skills::ReachConfig& r = s.reach;
  f.add(r.target_box);
  f.add(r.tolerance_m);
  f.add(r.hold_steps);
  f.add(r.w_distance);
  f.add(r.w_action);
  f.add(r.w_success);
  const skills::WeldConfig& w = s.weld;
  f.add(static_cast<int>(w.seam_kind));
  f.add(w.start_box);
  f.add(w.surface_normal);
  f.add(w.yaw_min_rad);
  f.add(w.yaw_max_rad);
  f.add(w.length_min_m);
  f.add(w.length_max_m);
  f.add(w.curvature_min);
  f.add(w.curvature_max);
  f.add(w.travel_speed_m_s);
  f.add(w.speed_tolerance);
  f.add(w.lateral_tolerance_m);
  f.add(w.standoff_m);
  f.add(w.standoff_tolerance_m);
  f.add(w.start_offset_m);
  f.add(w.ik_iterations);
  f.add(w.torch_angles);
  f.add(w.torch_axis);
  f.add(w.work_angle_rad);
  f.add(w.travel_angle_rad);
  f.add(w.angle_tolerance_rad);
  f.add(w.part_offset_m);
  f.add(w.part_yaw_rad);
  f.add(w.seam_sensor);
  f.add(w.sensor_noise_m);
  f.add(w.sensor_lag_s);
  f.add(w.quality_threshold);
  f.add(w.w_progress);
  f.add(w.w_track);
  f.add(w.w_error);
  f.add(w.w_action);
  f.add(w.w_success);
  const skills::PickPlaceConfig& p = s.pick_place;
  f.add(p.part_box);
  f.add(p.place_box);
  f.add(p.part_mass_min_kg);
  f.add(p.part_mass_max_kg);
  f.add(p.part_side_m);
  f.add(p.grasp_tolerance_m);
  f.add(p.place_tolerance_m);
  f.add(p.gripper_threshold);
  f.add(p.part_orientation);
  f.add(p.jaw_axis);
  f.add(p.part_yaw_min_rad);
  f.add(p.part_yaw_max_rad);
  f.add(p.place_yaw_min_rad);
  f.add(p.place_yaw_max_rad);
  f.add(p.grasp_yaw_tolerance_rad);
  f.add(p.place_yaw_tolerance_rad);
  f.add(p.grip_force_n);
  f.add(p.grip_friction);
  f.add(p.w_yaw);
  f.add(p.w_drop);
  f.add(p.w_near_miss);
  f.add(p.w_time);
  f.add(p.w_reach);
  f.add(p.w_place);
  f.add(p.w_hold);
  f.add(p.w_grasp);
  f.add(p.w_action);
  f.add(p.w_success);
}

void write_replica_states(CheckpointWriter& writer, const training::UnitState& unit, const std::string& prefix,
                          int shared_rank) {
  std::vector<double> parameters, adam_m, adam_v, count, mean, m2;
  std::vector<std::int64_t> counters;
  for (const learning::LearnerState& r : unit.replicas) {
    parameters.insert(parameters.end(), r.parameters.begin(), r.parameters.end());
    adam_m.insert(adam_m.end(), r.adam_m.begin(), r.adam_m.end());
    adam_v.insert(adam_v.end(), r.adam_v.begin(), r.adam_v.end());
    counters.push_back(r.adam_steps);
    counters.push_back(r.updates);
    count.push_back(r.normalizer.count);
    mean.insert(mean.end(), r.normalizer.mean.begin(), r.normalizer.mean.end());
    m2.insert(m2.end(), r.normalizer.m2.begin(), r.normalizer.m2.end());
  }
  writer.write_concatenated(prefix + "replicas/parameters", parameters);
  writer.write_concatenated(prefix + "replicas/adam_m", adam_m);
  writer.write_concatenated(prefix + "replicas/adam_v", adam_v);
  writer.write_concatenated(prefix + "replicas/counters", counters);
  writer.write_concatenated(prefix + "replicas/normalizer_count", count);
  writer.write_concatenated(prefix + "replicas/normalizer_mean", mean);
  writer.write_concatenated(prefix + "replicas/normalizer_m2", m2);
  writer.write_concatenated(prefix + "sharing/steps_since_round", unit.steps_since_round);
  writer.write_concatenated(prefix + "sharing/rounds", on_rank(writer.comm(), shared_rank, std::vector<std::int64_t>{unit.rounds, unit.failed_rounds}));
}

training::UnitState read_replica_states(CheckpointReader& reader, int first_site, int local_sites, int sites,
                                        std::int64_t parameters, int obs_dim, const std::string& prefix) {
  const std::string what = std::to_string(sites) + " replicas of " + std::to_string(parameters) + " parameters";
  for (const char* path : {"replicas/parameters", "replicas/adam_m", "replicas/adam_v"})
    require_size(reader, prefix + path, sites * parameters, what);
  require_size(reader, prefix + "replicas/counters", 2 * static_cast<std::int64_t>(sites), what);
  require_size(reader, prefix + "replicas/normalizer_count", sites, what);
  require_size(reader, prefix + "replicas/normalizer_mean", static_cast<std::int64_t>(sites) * obs_dim, what);
  require_size(reader, prefix + "replicas/normalizer_m2", static_cast<std::int64_t>(sites) * obs_dim, what);
  require_size(reader, prefix + "sharing/steps_since_round", sites, what);
  require_size(reader, prefix + "sharing/rounds", 2, "the sharing counters");
  const std::int64_t p = parameters, f = obs_dim;
  const auto params = reader.read<double>(prefix + "replicas/parameters", first_site * p, local_sites * p);
  const auto adam_m = reader.read<double>(prefix + "replicas/adam_m", first_site * p, local_sites * p);
  const auto adam_v = reader.read<double>(prefix + "replicas/adam_v", first_site * p, local_sites * p);
  const auto counters = reader.read<std::int64_t>(prefix + "replicas/counters", 2 * first_site, 2 * local_sites);
  const auto count = reader.read<double>(prefix + "replicas/normalizer_count", first_site, local_sites);
  const auto mean = reader.read<double>(prefix + "replicas/normalizer_mean", first_site * f, local_sites * f);
  const auto m2 = reader.read<double>(prefix + "replicas/normalizer_m2", first_site * f, local_sites * f);
  training::UnitState unit;
  unit.steps_since_round = reader.read<std::int64_t>(prefix + "sharing/steps_since_round", first_site, local_sites);
  const auto rounds = reader.read_all<std::int64_t>(prefix + "sharing/rounds");
  unit.rounds = rounds[0];
  unit.failed_rounds = rounds[1];
  const auto slice = [](const std::vector<double>& v, std::int64_t k, std::int64_t n) {
    return std::vector<double>(v.begin() + k * n, v.begin() + (k + 1) * n);
  };
  for (int k = 0; k < local_sites; ++k) {
    learning::LearnerState r;
    r.parameters = slice(params, k, p);
    r.adam_m = slice(adam_m, k, p);
    r.adam_v = slice(adam_v, k, p);
    r.adam_steps = counters[2 * k];
    r.updates = counters[2 * k + 1];
    r.normalizer.count = count[k];
    r.normalizer.mean = slice(mean, k, f);
    r.normalizer.m2 = slice(m2, k, f);
    unit.replicas.push_back(std::move(r));
  }
  return unit;
}

std::uint64_t training_fingerprint(const TrainingConfig& config, std::uint64_t seed) {
  if (!config.skills.empty()) {
    Fingerprint f;
    f.add(std::string("skills"));
    for (const TrainingConfig& skill : config.skills) {
      f.add(skill.name);
      f.add(training_fingerprint(skill, seed));
    }
    return f.value();
  }
  Fingerprint f;
  f.add(seed);
  f.add(config.robots);
  f.add(config.horizon);
  // Robot model.
  const dynamics::RobotModel& m = config.robot;
  f.add(static_cast<std::uint64_t>(m.joints.size()));
  for (const auto& j : m.joints) {
    f.add(static_cast<int>(j.type));
    f.add(j.origin_xyz);
    f.add(j.origin_rpy);
    f.add(j.axis);
    f.add(j.mass);
    f.add(j.com);
    f.add(j.inertia);
    f.add(j.lower);
    f.add(j.upper);
    f.add(j.velocity);
    f.add(j.effort);
    f.add(j.damping);
    f.add(j.armature);
  }
  f.add(m.tool_xyz);
  f.add(m.tool_rpy);
  f.add(m.gravity);
  add_skill(f, config.skill);
  f.add(static_cast<std::uint64_t>(config.curriculum.size()));
  if (!config.curriculum.empty()) {  // the metric its stages advance by
    f.add(static_cast<int>(config.target_metric));
    for (const CurriculumStage& c : config.curriculum) {
      f.add(c.tolerance_scale);
      f.add(c.advance_at);
      f.add(c.hold_iterations);
    }
  }
  // Learner (obs_dim/act_dim follow from the model and skill; total_updates is run length).
  const learning::LearnerConfig& l = config.learner;
  f.add(l.policy_hidden);
  f.add(l.value_hidden);
  f.add(l.gamma);
  f.add(l.gae_lambda);
  f.add(l.loss.clip);
  f.add(l.loss.value_clip);
  f.add(l.loss.value_coef);
  f.add(l.entropy_coef);
  f.add(l.max_grad_norm);
  f.add(l.learning_rate);
  f.add(l.anneal_learning_rate);
  f.add(l.epochs);
  f.add(l.minibatches);
  f.add(l.normalize_advantages);
  f.add(l.normalize_observations);
  f.add(l.observation_clip);
  f.add(l.init_log_std);
  f.add(l.adam.beta1);
  f.add(l.adam.beta2);
  f.add(l.adam.epsilon);
  f.add(l.seed);
  f.add(l.robots_per_block);
  // Sites and sharing (absent from the hash of a deck without them, as before they existed).
  const training::SharingConfig& sh = config.sharing;
  if (config.sites_given || sh.mode != training::SharingMode::allreduce) {
    for (const training::SiteConfig& site : config.sites) {
      f.add(site.name);
      f.add(site.robots);
      add_skill(f, site.skill);
    }
    f.add(static_cast<int>(sh.mode));
    f.add(sh.gossip.period);
    f.add(static_cast<int>(sh.gossip.schedule));
    f.add(sh.gossip.average_moments);
    f.add(sh.federated.local_updates);
    f.add(sh.federated.participation);
    f.add(sh.federated.quorum);
    f.add(sh.federated.unavailable);
    f.add(static_cast<std::uint64_t>(sh.federated.private_layers.size()));
    for (const std::string& name : sh.federated.private_layers) f.add(name);
  }
  return f.value();
}

}  // namespace kollektiv::io
