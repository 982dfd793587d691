// The training run loop. Each iteration:
//
//   rollout (horizon steps: observe → act → step physics → store) ─► PPO update
//     ─► global diagnostics (exact sums) ─► history row + progress line ─► checkpoint if due
//
// The robots belong to sites and learn in a training::SkillUnit: one policy replica for all
// sites (sharing mode allreduce: blocks of robots spread over the ranks) or one per site
// (isolated, gossip, federated: whole sites per rank), see solvers/training/skill_unit.hpp;
// a rank may own none. Every random draw is keyed
// by robot gid and step, and every global figure is an exact or integer sum, so the history
// and checkpoints have the same bits for any rank count and across restarts onto any rank
// count. An evaluation run (training.policy_file) acts deterministically with the frozen
// policy until every robot has finished eval_episodes episodes; it neither updates nor
// checkpoints.
#include "app/training_run.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <vector>

#include "app/memory.hpp"
#include "app/output_dir.hpp"
#include "app/progress.hpp"
#include "app/signals.hpp"
#include "build_info.hpp"
#include "io/checkpoint.hpp"
#include "io/history.hpp"
#include "io/policy_io.hpp"
#include "io/training_checkpoint.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/comm/mpi_collective.hpp"
#if KOLLEKTIV_HAVE_NCCL
#include "solvers/comm/nccl_collective.hpp"
#endif
#include "solvers/core/error.hpp"
#include "solvers/training/skill_unit.hpp"

namespace kollektiv::app {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

const char* skill_name(skills::SkillKind kind) {
  switch (kind) {
    case skills::SkillKind::reach: return "reach";
    case skills::SkillKind::weld: return "weld";
    case skills::SkillKind::pick_place: return "pick_place";
  }
  return "unknown";
}

// The skill unit's config from the deck's training block.
training::UnitConfig unit_config(const io::TrainingConfig& cfg, std::uint64_t seed) {
  training::UnitConfig u;
  u.robot = cfg.robot;
  u.sites = cfg.sites;
  if (u.sites.empty()) u.sites.push_back(training::SiteConfig{"all", cfg.robots, cfg.skill});  // a config built in code
  u.horizon = cfg.horizon;
  u.learner = cfg.learner;
  u.sharing = cfg.sharing;
  u.seed = seed;
  return u;
}

using EpisodeStats = training::EpisodeFigures;

// The skill's Collective: MPI, or NCCL where the deck asks for it (and the build has it).
std::unique_ptr<comm::Collective> make_collective(MPI_Comm comm, bool nccl) {
#if KOLLEKTIV_HAVE_NCCL
  if (nccl) return comm::make_nccl_collective(comm);
#else
  if (nccl) throw Error("training.sharing.backend: nccl is not built in", ExitCode::bad_input);
#endif
  return comm::make_mpi_collective(comm);
}

// Wall-clock time per phase, cumulative over this process (rank 0's view).
struct Timers {
  double restart_s = 0, physics_s = 0, inference_s = 0, update_s = 0, communication_s = 0, output_s = 0,
         checkpoint_s = 0;
};

class TrainingRun {
 public:
  TrainingRun(MPI_Comm comm, const TrainingInputs& in, const CliOptions& cli)
      : comm_(comm),
        in_(in),
        cfg_(in.training),
        cli_(cli),
        root_(comm::rank_of(comm) == 0),
        evaluate_(!in.training.policy_file.empty()),
        paths_(output_paths(in.run.output_dir)),
        collective_(make_collective(comm, cfg_.sharing.nccl)),
        diagnostics_(comm::make_mpi_collective(comm)),
        unit_(unit_config(cfg_, in.run.seed), *collective_, *diagnostics_),
        sites_(unit_.sites()) {}

  int execute() { return evaluate_ ? evaluate() : train(); }

 private:
  // ---- training ----

  int train() {
    const auto t0 = Clock::now();
    // Before anything is written: a transfer that cannot be met is a deck error (exit 2).
    // A restart continues from its checkpoint, which holds what the transfer started.
    if (!cli_.restart && !cfg_.transfer.policy.empty()) transfer();
    prepare_output_dir(comm_, paths_, cli_.restart.has_value(), cli_.overwrite);
    if (cli_.restart) {
      restart(*cli_.restart);
      history_ = io::History::resume(comm_, paths_.history, rows_, in_.deck_text, in_.resolved_yaml);
    } else {
      unit_.reset_all(cfg_.skill.common.stagger_start);
      history_ = io::History::create(comm_, paths_.history, in_.deck_text, in_.resolved_yaml);
    }
    timers_.restart_s = seconds_since(t0);
    if (root_) print_header();

    const std::int64_t first = iteration_;
    const auto loop_start = Clock::now();
    while (iteration_ < cfg_.iterations) {
      const auto iteration_start = Clock::now();
      training::SiteTally tally(sites_);
      rollout(tally, true);
      auto phase = Clock::now();
      const training::UnitUpdate update = unit_.update(iteration_ + 1);
      timers_.update_s += seconds_since(phase) - update.communication_s;  // its collectives count as
      timers_.communication_s += update.communication_s;                  // communication
      phase = Clock::now();
      const std::vector<EpisodeStats> figures = training::combine(*diagnostics_, tally);
      const EpisodeStats& episodes = figures.front();
      timers_.communication_s += seconds_since(phase);
      ++iteration_;
      if (episodes.episodes > 0) last_finished_ = episodes;
      write_row(t0, iteration_start, figures, &update);
      if (!target_reported_ && reached_target(episodes)) {
        target_reported_ = true;
        if (root_)
          std::printf("target %s %g reached at iteration %lld, env_steps %lld, wall %.3f s\n",
                      target_figure(episodes).name, cfg_.target, static_cast<long long>(iteration_),
                      static_cast<long long>(iteration_ * env_steps_per_iteration()), seconds_since(loop_start));
      }
      progress(loop_start, first, cfg_.iterations, episodes);
      if (cfg_.checkpoint_every > 0 && iteration_ % cfg_.checkpoint_every == 0 && iteration_ < cfg_.iterations)
        write_checkpoint();
      // Agreed after the checkpoint, so that a signal during its write is honoured at once.
      phase = Clock::now();
      const bool stop = stop_.poll_now();
      timers_.communication_s += seconds_since(phase);
      if (stop && iteration_ < cfg_.iterations) {  // at the last iteration: just finish
        if (last_checkpoint_iteration_ != iteration_) write_checkpoint();
        if (root_)
          std::cout << "stopped by " << stop_signal_name() << " after iteration " << iteration_
                    << " and writing a checkpoint; restart with --restart latest (exit 4)" << std::endl;
        print_timers(t0);
        return static_cast<int>(ExitCode::stopped);
      }
    }
    const double loop_s = seconds_since(loop_start);
    if (last_checkpoint_iteration_ != iteration_) write_checkpoint();
    export_policies();
    print_timers(t0);
    print_result(iteration_, loop_s, iteration_ * env_steps_per_iteration(),
                 static_cast<double>((iteration_ - first) * env_steps_per_iteration()), last_finished_);
    return 0;
  }

  std::int64_t env_steps_per_iteration() const { return cfg_.robots * cfg_.horizon; }

  // Skill transfer: every replica starts from training.transfer.policy's layers.
  void transfer() {
    const io::PolicyFile file = io::read_policy_file(comm_, cfg_.transfer.policy);
    learning::TransferSource source{cfg_.transfer.policy, file.policy, file.info.observations, file.info.actions};
    std::vector<std::string> report;
    std::string problem;
    try {
      report = unit_.transfer(source, cfg_.transfer.request);
    } catch (const Error& e) {
      problem = e.what();
    }
    problem = comm::first_problem(comm_, problem);
    if (!problem.empty()) throw Error("training.transfer in deck " + in_.deck_file + ": " + problem, ExitCode::bad_input);
    if (!root_) return;
    std::cout << "transfer from " << cfg_.transfer.policy << " (" << file.info.skill << " on "
              << (file.info.robot.empty() ? std::string("an unnamed robot") : file.info.robot) << ", "
              << file.info.env_steps << " env-steps" << (file.info.site.empty() ? "" : ", site " + file.info.site)
              << "):\n";
    for (const std::string& line : report) std::cout << "  " << line << "\n";
    std::cout << std::flush;
  }

  // What an exported policy says about itself (the skill library's entry).
  io::PolicyInfo policy_info(const std::string& site) const {
    io::PolicyInfo info;
    info.skill = skill_name(unit_.kind());
    info.robot = cfg_.robot.name;
    info.dof = unit_.dof();
    info.observations = unit_.observation_layout();
    info.actions = unit_.action_layout();
    info.site = site;
    info.started_from = cfg_.transfer.policy;
    info.seed = static_cast<std::int64_t>(in_.run.seed);
    info.iterations = iteration_;
    info.env_steps = iteration_ * env_steps_per_iteration();
    info.deck = in_.deck_text;
    info.build_info = build_info::summary;
    return info;
  }

  // One policy (allreduce), or one per site next to it: policy_<site>.h5, written by the
  // rank that holds the site's replica.
  void export_policies() {
    const std::filesystem::path file = std::filesystem::path(paths_.dir) / cfg_.export_policy;
    if (!unit_.replica_per_site()) {
      io::write_policy(comm_, file.string(), unit_.export_policy(0), policy_info(""));
      if (root_) std::cout << "policy exported to " << file.string() << std::endl;
      return;
    }
    std::string problem;
    for (int s = 0; s < sites_; ++s) {
      if (unit_.replica_of(s) < 0) continue;
      const std::string site_file = site_policy_file(file, unit_.config().sites[s].name);
      try {
        io::write_policy(MPI_COMM_SELF, site_file, unit_.export_policy(s), policy_info(unit_.config().sites[s].name));
      } catch (const std::exception& e) {
        problem = e.what();
        break;
      }
    }
    problem = comm::first_problem(comm_, problem);
    if (!problem.empty()) throw Error(problem);
    if (root_)
      std::cout << "policies of the " << sites_ << " sites exported to "
                << site_policy_file(file, "<site>") << std::endl;
  }

  static std::string site_policy_file(const std::filesystem::path& file, const std::string& site) {
    std::filesystem::path out = file;
    out.replace_filename(file.stem().string() + "_" + site + file.extension().string());
    return out.string();
  }

  // One rollout of `horizon` steps of this rank's robots (training: exploring, into the
  // replicas' rollouts; evaluation: deterministic, each robot's first eval_episodes counted).
  void rollout(training::SiteTally& tally, bool explore) {
    training::SkillUnit::PhaseTimes times;
    unit_.rollout(iteration_, explore, tally, times, evaluate_ ? &finished_ : nullptr, cfg_.eval_episodes);
    timers_.physics_s += times.physics_s;
    timers_.inference_s += times.inference_s;
  }

  void write_row(Clock::time_point t0, Clock::time_point iteration_start, const std::vector<EpisodeStats>& figures,
                 const training::UnitUpdate* update) {
    const EpisodeStats& e = figures.front();
    const learning::PpoStats* ppo = update != nullptr ? &update->ppo : nullptr;
    // Bytes are the same for a given rank count, but differ between rank counts: timings.
    std::vector<int> bytes{static_cast<int>(std::min<std::int64_t>(update != nullptr ? update->bytes_sent : 0,
                                                                    std::numeric_limits<int>::max()))};
    diagnostics_->max(bytes);
    const auto phase = Clock::now();
    const double iteration_s = seconds_since(iteration_start);
    if (root_) {
      history_.append("iteration", std::vector<std::int64_t>{iteration_}, "1");
      history_.append("env_steps", std::vector<std::int64_t>{iteration_ * env_steps_per_iteration()}, "1");
      history_.append("training/episodes", std::vector<std::int64_t>{e.episodes}, "1");
      history_.append("training/mean_return", {e.mean_return}, "1");
      history_.append("training/success_rate", {e.success}, "1");
      history_.append("training/quality", {e.quality}, "1");
      history_.append("training/final_error", {e.final_error}, "m");
      if (ppo != nullptr) {
        history_.append("training/policy_loss", {ppo->policy_loss}, "1");
        history_.append("training/value_loss", {ppo->value_loss}, "1");
        history_.append("training/approx_kl", {ppo->approx_kl}, "1");
        history_.append("training/entropy", {ppo->entropy}, "1");
        history_.append("training/clip_fraction", {ppo->clip_fraction}, "1");
        history_.append("training/grad_norm", {ppo->grad_norm}, "1");
        history_.append("training/learning_rate", {ppo->learning_rate}, "1");
        if (unit_.replica_per_site()) {
          history_.append("training/disagreement", {update->disagreement}, "1");
          history_.append("training/sharing_rounds", std::vector<std::int64_t>{update->share.rounds}, "1");
          history_.append("training/failed_rounds", std::vector<std::int64_t>{update->share.failed_rounds}, "1");
        }
      }
      if (cfg_.sites_given) {
        for (int s = 0; s < sites_; ++s) {
          const std::string site = "sites/" + unit_.config().sites[s].name + "/";
          const EpisodeStats& f = figures[1 + s];
          history_.append(site + "episodes", std::vector<std::int64_t>{f.episodes}, "1");
          history_.append(site + "mean_return", {f.mean_return}, "1");
          history_.append(site + "success_rate", {f.success}, "1");
          history_.append(site + "quality", {f.quality}, "1");
          history_.append(site + "final_error", {f.final_error}, "m");
        }
      }
      history_.append("timings/physics_s", {timers_.physics_s}, "s");
      history_.append("timings/inference_s", {timers_.inference_s}, "s");
      history_.append("timings/update_s", {timers_.update_s}, "s");
      history_.append("timings/communication_s", {timers_.communication_s}, "s");
      history_.append("timings/bytes_sent_max", std::vector<std::int64_t>{bytes[0]}, "B");
      history_.append("timings/wall_s", {seconds_since(t0)}, "s");
      history_.append("timings/env_steps_per_s",
                      {iteration_s > 0 ? static_cast<double>(env_steps_per_iteration()) / iteration_s : 0.0}, "1/s");
    }
    history_.end_row();
    ++rows_;
    timers_.output_s += seconds_since(phase);
  }

  // "iter 12/50 ( 24.0%)  2.31e+05 env-steps/s  return -12.3  success 0.125  quality 0.532
  //  error 0.083 m  wall 3.2s  ETA 10.1s": rate over this process's iterations; the figures of the latest
  // iteration in which episodes ended.
  void progress(Clock::time_point loop_start, std::int64_t first, std::int64_t last, const EpisodeStats& e) const {
    if (!root_) return;
    const double wall = seconds_since(loop_start);
    const double done = static_cast<double>(iteration_ - first);
    const double rate = wall > 0 ? done * static_cast<double>(env_steps_per_iteration()) / wall : 0.0;
    const double eta = done > 0 ? wall / done * static_cast<double>(last - iteration_) : NAN;
    const EpisodeStats& shown = e.episodes > 0 ? e : last_finished_;
    char line[256];
    std::snprintf(line, sizeof line,
                  "iter %lld/%lld (%5.1f%%)  %.4g env-steps/s  return %.4g  success %.3f  quality %.3f  error %.3g m  "
                  "wall %s  ETA %s",
                  static_cast<long long>(iteration_), static_cast<long long>(last),
                  last > 0 ? 100.0 * static_cast<double>(iteration_) / static_cast<double>(last) : 100.0, rate,
                  shown.mean_return, shown.success, shown.quality, shown.final_error, format_duration(wall).c_str(),
                  format_duration(eta).c_str());
    std::cout << line << std::endl;
  }

  void restart(const std::string& from) {
    const std::string source = from == "latest" ? paths_.checkpoints : from;
    const std::uint64_t fingerprint = io::training_fingerprint(cfg_, in_.run.seed);
    const std::string used = io::load_newest_valid(comm_, source, [&](io::CheckpointReader& reader) {
      if (static_cast<std::uint64_t>(reader.attribute_int("model_fingerprint")) != fingerprint)
        throw Error("checkpoint " + reader.file() + " was written for a different robot, skill, learner or seed than deck " +
                        in_.deck_file + "; only the run length (iterations), checkpoints and output may change on restart",
                    ExitCode::bad_input);
      check_schedule(reader);
      struct Counters {
        std::int64_t iteration, rows, sequence;
        EpisodeStats last;
      } c{};
      c.iteration = reader.attribute_int("iteration");
      c.rows = reader.attribute_int("history_rows");
      c.sequence = reader.attribute_int("sequence");
      c.last.episodes = reader.attribute_int("last_episodes");
      c.last.mean_return = reader.attribute_double("last_mean_return");
      c.last.success = reader.attribute_double("last_success");
      c.last.quality = reader.attribute_double("last_quality");
      c.last.final_error = reader.attribute_double("last_final_error");
      if (c.iteration < 0 || c.rows < 0 || c.sequence < 0 || c.last.episodes < 0)
        throw Error("checkpoint " + reader.file() + ": negative counters", ExitCode::bad_checkpoint);
      auto fleet = std::make_shared<skills::FleetState>(
          io::read_fleet_state(reader, unit_.local_begin(), unit_.local_robots(), cfg_.robots, unit_.dof()));
      auto learners = std::make_shared<training::UnitState>(read_unit_state(reader));
      const std::string problem = unit_.restore_problem(*learners);
      if (!problem.empty()) throw Error("checkpoint " + reader.file() + ": " + problem, ExitCode::bad_checkpoint);
      return [this, c, fleet, learners] {
        unit_.restore_fleet(*fleet);  // each refuses out-of-range values before changing anything
        unit_.restore(*learners);
        iteration_ = c.iteration;
        rows_ = c.rows;
        sequence_ = c.sequence + 1;
        last_finished_ = c.last;
      };
    });
    last_checkpoint_iteration_ = iteration_;
    if (root_)
      std::cout << "restarted from " << used << " after iteration " << iteration_ << " (" << rows_
                << " history rows kept)" << std::endl;
  }

  // The replicas' learner states: one shared learner ("learner/...") or one per site
  // ("replicas/...", this rank's sites).
  training::UnitState read_unit_state(io::CheckpointReader& reader) const {
    if (!unit_.replica_per_site()) {
      training::UnitState u;
      u.replicas.push_back(io::read_learner_state(reader, unit_.parameter_count(), unit_.obs_dim()));
      u.steps_since_round.assign(1, 0);
      return u;
    }
    const auto& pieces = unit_.layout().pieces;
    int first = 0;
    const auto& owner = unit_.layout().site_owner;
    if (!pieces.empty()) first = pieces.front().site;
    else first = static_cast<int>(std::count_if(owner.begin(), owner.end(), [&](int r) { return r < comm::rank_of(comm_); }));
    return io::read_replica_states(reader, first, static_cast<int>(pieces.size()), sites_, unit_.parameter_count(),
                                   unit_.obs_dim());
  }

  // The learning rate decays linearly over the schedule's length; a restart that changed
  // it would not continue the interrupted run bit for bit, so it is refused.
  void check_schedule(io::CheckpointReader& reader) const {
    const learning::LearnerConfig& l = unit_.learner_config();
    if (!l.anneal_learning_rate || !reader.has_attribute("anneal_iterations")) return;
    const std::int64_t stored = reader.attribute_int("anneal_iterations");
    if (stored == l.total_updates) return;
    throw Error("checkpoint " + reader.file() + " anneals the learning rate over " + std::to_string(stored) +
                    " iterations, deck " + in_.deck_file + " over " + std::to_string(l.total_updates) +
                    " (training.ppo.anneal_iterations, by default training.iterations); a continued run would not "
                    "equal an uninterrupted one. Keep the schedule with --set training.ppo.anneal_iterations=" +
                    std::to_string(stored) + ", or set training.ppo.anneal_learning_rate: false",
                ExitCode::bad_input);
  }

  void write_checkpoint() {
    const auto phase = Clock::now();
    history_.sync();  // the rows the checkpoint counts are on disk before it
    io::CheckpointWriter writer(comm_, paths_.checkpoints, sequence_);
    writer.attribute("deck", in_.deck_text);
    writer.attribute("resolved_deck", in_.resolved_yaml);
    writer.attribute("build_info", std::string(build_info::summary));
    writer.attribute("skill", skill_name(unit_.kind()));
    writer.attribute("sharing_mode", training::mode_name(cfg_.sharing.mode));
    writer.attribute("sites", static_cast<std::int64_t>(sites_));
    writer.attribute("iteration", iteration_);
    writer.attribute("history_rows", rows_);
    writer.attribute("sequence", sequence_);
    writer.attribute("model_fingerprint", static_cast<std::int64_t>(io::training_fingerprint(cfg_, in_.run.seed)));
    writer.attribute("anneal_iterations", unit_.learner_config().total_updates);
    // The latest iteration's episode figures, for the RESULT line of a run that restarts
    // at its last iteration.
    writer.attribute("last_episodes", last_finished_.episodes);
    writer.attribute("last_mean_return", last_finished_.mean_return);
    writer.attribute("last_success", last_finished_.success);
    writer.attribute("last_quality", last_finished_.quality);
    writer.attribute("last_final_error", last_finished_.final_error);
    const training::UnitState learners = unit_.state();
    if (!unit_.replica_per_site()) {
      io::write_training_state(writer, unit_.save_fleet(), unit_.local_begin(), cfg_.robots, learners.replicas.front());
    } else {
      io::write_fleet_state(writer, unit_.save_fleet(), unit_.local_begin(), cfg_.robots);
      io::write_replica_states(writer, learners);
    }
    writer.commit(in_.run.checkpoint_keep);
    ++sequence_;
    last_checkpoint_iteration_ = iteration_;
    timers_.checkpoint_s += seconds_since(phase);
  }

  // ---- evaluation ----

  int evaluate() {
    const auto t0 = Clock::now();
    prepare_output_dir(comm_, paths_, false, cli_.overwrite);
    const learning::PolicyExport policy = io::read_policy(comm_, cfg_.policy_file, skill_name(unit_.kind()));
    const std::string problem = comm::first_problem(comm_, unit_.import_problem(policy));
    if (!problem.empty()) throw Error(problem, ExitCode::bad_input);
    unit_.import_policy(policy);
    unit_.reset_all(false);
    finished_.assign(static_cast<std::size_t>(unit_.local_robots()), 0);
    history_ = io::History::create(comm_, paths_.history, in_.deck_text, in_.resolved_yaml);
    timers_.restart_s = seconds_since(t0);
    if (root_) print_header();

    // Enough iterations for every robot to finish its episodes, whatever ends them; the loop
    // ends as soon as every robot has.
    const std::int64_t steps_needed = cfg_.eval_episodes * static_cast<std::int64_t>(cfg_.skill.common.episode_steps);
    const std::int64_t planned = (steps_needed + cfg_.horizon - 1) / cfg_.horizon;
    training::SiteTally total(sites_);
    const auto loop_start = Clock::now();
    bool all_done = false;
    while (!all_done) {
      const auto iteration_start = Clock::now();
      training::SiteTally tally(sites_);
      rollout(tally, false);
      for (int s = 0; s < sites_; ++s) {
        total.return_sum[s] += tally.return_sum[s];
        total.quality_sum[s] += tally.quality_sum[s];
        total.error_sum[s] += tally.error_sum[s];
        total.episodes[s] += tally.episodes[s];
        total.successes[s] += tally.successes[s];
      }
      auto phase = Clock::now();
      const std::vector<EpisodeStats> figures = training::combine(*diagnostics_, tally);
      const bool unfinished = std::any_of(finished_.begin(), finished_.end(),
                                          [&](std::int64_t k) { return k < cfg_.eval_episodes; });
      all_done = !comm::any_rank(comm_, unfinished);
      const bool stop = stop_.poll();
      timers_.communication_s += seconds_since(phase);
      ++iteration_;
      write_row(t0, iteration_start, figures, nullptr);
      progress(loop_start, 0, std::max(planned, iteration_), figures.front());
      if (stop && !all_done) {
        // An evaluation keeps no checkpoint: it is short and starts over (with --overwrite).
        if (root_)
          std::cout << "stopped by " << stop_signal_name() << " after iteration " << iteration_
                    << " of an evaluation, which writes no checkpoint; run it again with --overwrite (exit 4)"
                    << std::endl;
        print_timers(t0);
        return static_cast<int>(ExitCode::stopped);
      }
    }
    const double loop_s = seconds_since(loop_start);
    const EpisodeStats overall = training::combine(*diagnostics_, total).front();
    if (root_)
      std::printf("evaluation of %s: %lld episodes, mean return %.6g, success %.4f, quality %.4f, final error %.4g m\n",
                  cfg_.policy_file.c_str(), static_cast<long long>(overall.episodes), overall.mean_return,
                  overall.success, overall.quality, overall.final_error);
    print_timers(t0);
    print_result(iteration_, loop_s, iteration_ * env_steps_per_iteration(),
                 static_cast<double>(iteration_ * env_steps_per_iteration()), overall);
    return 0;
  }

  // ---- output ----

  // The target's figure, from the deck's target_metric (`auto`: mean quality for weld, the
  // success rate otherwise): its name as printed, its value, and whether it must stay below
  // the target (final error) or reach it.
  struct TargetFigure {
    const char* name;
    double value;
    bool at_most;
  };
  TargetFigure target_figure(const EpisodeStats& e) const {
    io::TargetMetric metric = cfg_.target_metric;
    if (metric == io::TargetMetric::automatic)
      metric = unit_.kind() == skills::SkillKind::weld ? io::TargetMetric::quality : io::TargetMetric::success;
    switch (metric) {
      case io::TargetMetric::quality: return {"quality >=", e.quality, false};
      case io::TargetMetric::final_error: return {"final_error (m) <=", e.final_error, true};
      default: return {"success >=", e.success, false};
    }
  }
  bool reached_target(const EpisodeStats& e) const {
    const TargetFigure f = target_figure(e);
    return e.episodes > 0 && (f.at_most ? f.value <= cfg_.target : f.value >= cfg_.target);
  }

  void print_header() const {
    std::cout << build_info::summary << "\n"
              << "deck " << in_.deck_file << ": " << (evaluate_ ? "evaluating " : "training ")
              << skill_name(unit_.kind()) << " on " << cfg_.robots << " " << cfg_.robot.name << " robots ("
              << unit_.obs_dim() << " observations, " << unit_.act_dim() << " actions, "
              << unit_.parameter_count() << " parameters) on " << comm::size_of(comm_) << " ranks; horizon "
              << cfg_.horizon << "; output " << paths_.dir << std::endl;
    if (cfg_.sites_given || unit_.replica_per_site())
      std::cout << sites_ << " sites, sharing " << training::mode_name(cfg_.sharing.mode) << " ("
                << (unit_.replica_per_site() ? sites_ : 1) << " policy replicas) over " << collective_->backend()
                << std::endl;
  }

  void print_timers(Clock::time_point t0) const {
    if (!root_) return;
    const double total = seconds_since(t0);
    std::printf("%-14s %10s %7s\n", "phase", "wall_s", "share");
    const auto row = [&](const char* name, double s) {
      std::printf("%-14s %10.3f %6.1f%%\n", name, s, total > 0 ? 100.0 * s / total : 0.0);
    };
    row("restart", timers_.restart_s);
    row("physics", timers_.physics_s);
    row("inference", timers_.inference_s);
    row("update", timers_.update_s);
    row("communication", timers_.communication_s);
    row("history", timers_.output_s);
    row("checkpoint", timers_.checkpoint_s);
    row("total", total);
    std::fflush(stdout);
  }

  // env_steps: all so far (also before a restart); the rate is this process's `steps_here`
  // over its loop's wall time `wall_s`.
  void print_result(std::int64_t iterations, double wall_s, std::int64_t env_steps, double steps_here,
                    const EpisodeStats& e) const {
    if (!root_) return;
    const bool reached = reached_target(e);
    std::printf("RESULT skill=%s iterations=%lld env_steps=%lld wall_s=%.3f env_steps_per_s=%.0f success=%.4f "
                "quality=%.4f reached_target=%s\n",
                skill_name(unit_.kind()), static_cast<long long>(iterations), static_cast<long long>(env_steps),
                wall_s, wall_s > 0 ? steps_here / wall_s : 0.0, e.success, e.quality,
                reached ? "yes" : "no");
    std::fflush(stdout);
  }

  MPI_Comm comm_;
  const TrainingInputs& in_;
  const io::TrainingConfig& cfg_;
  const CliOptions& cli_;
  bool root_;
  bool evaluate_;
  OutputPaths paths_;
  std::unique_ptr<comm::Collective> collective_;   // the skill's learning and sharing, all ranks
  std::unique_ptr<comm::Collective> diagnostics_;  // episode figures, replica disagreement
  training::SkillUnit unit_;
  int sites_;
  std::vector<std::int64_t> finished_;  // evaluation: counted episodes per local robot
  io::History history_;
  std::int64_t iteration_ = 0;  // iterations completed
  std::int64_t rows_ = 0;
  std::int64_t sequence_ = 0;
  std::int64_t last_checkpoint_iteration_ = -1;
  EpisodeStats last_finished_;
  bool target_reported_ = false;
  Timers timers_;
  StopPoll stop_{comm_};  // agreed once per iteration
};

// Refuses, on every rank alike and before anything is allocated or written (exit 2), a run
// whose ranks would hold more rollout rows than the kernels index (int) or need more
// memory than their node has: the deck bounds robots and horizon, but what one rank holds
// depends on the rank count. The bytes are an estimate from the rollout's arrays, the
// learner's per-row scratch and the fleet's state.
void check_training_fits(MPI_Comm comm, const io::TrainingConfig& cfg) {
  std::int64_t local = 0;
  for (const training::Piece& p :
       training::make_layout(unit_config(cfg, 0), comm::rank_of(comm), comm::size_of(comm)).pieces)
    local += p.count;
  const double robots = static_cast<double>(local);
  const double rows = robots * cfg.horizon;
  const double dof = static_cast<double>(cfg.robot.joints.size());
  const double obs = 3.0 * dof + 16.0, act = dof + 1.0;  // the largest skill's layout
  double widths = obs + act + 1.0;
  for (int w : cfg.learner.policy_hidden) widths += w;
  for (int w : cfg.learner.value_hidden) widths += w;
  const double minibatch_rows = rows / std::max(1, cfg.learner.minibatches) + robots;
  const double bytes = rows * (12.0 * obs + 8.0 * act + 64.0) + minibatch_rows * widths * 16.0 + robots * 2048.0;
  const double available = memory_per_rank_bytes(comm);  // collective: before any branch
  std::string problem;
  if (rows > static_cast<double>(std::numeric_limits<int>::max())) {
    problem = "a rank would hold " + std::to_string(local) +
              " robots × horizon " + std::to_string(cfg.horizon) + " rollout rows, more than " +
              std::to_string(std::numeric_limits<int>::max()) + "; run on more ranks or shorten training.horizon";
  } else if (available > 0 && bytes > available) {
    char text[320];
    std::snprintf(text, sizeof text,
                  "a rank needs about %.3g GiB for its %lld robots × horizon %d (rollout, learner scratch, fleet), "
                  "but %.3g GiB are available per rank (the node's available memory shared by its ranks); run on "
                  "more nodes or with fewer robots or a shorter horizon",
                  bytes / 1073741824.0, static_cast<long long>(local), cfg.horizon, available / 1073741824.0);
    problem = text;
  }
  problem = comm::first_problem(comm, problem);
  if (!problem.empty()) throw Error("training does not fit: " + problem, ExitCode::bad_input);
}

}  // namespace

int run_training(MPI_Comm comm, const TrainingInputs& inputs, const CliOptions& cli) {
  check_training_fits(comm, inputs.training);
  return TrainingRun(comm, inputs, cli).execute();
}

int run_training(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli) {
  return run_training(comm, TrainingInputs{deck.training, deck.run, cli.deck, deck.text, deck.resolved_yaml}, cli);
}

}  // namespace kollektiv::app
