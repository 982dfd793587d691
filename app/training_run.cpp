// The training run loop. Each iteration:
//
//   rollout (horizon steps: observe → act → step physics → store) ─► PPO update
//     ─► global diagnostics (exact sums) ─► history row + progress line ─► checkpoint if due
//
// Robots are cut into blocks of learner.robots_per_block (the learner's exact-sum segments)
// and the blocks are spread over the ranks; a rank may own none. Every random draw is keyed
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
#include "solvers/comm/decomposition.hpp"
#include "solvers/comm/exact_reduce.hpp"
#include "solvers/comm/mpi_collective.hpp"
#include "solvers/core/error.hpp"
#include "solvers/core/exact_sum.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/skills/fleet.hpp"

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

// This rank's robots: whole blocks of `per_block` robots, blocks balanced over the ranks.
comm::Range local_robots(std::int64_t robots, int per_block, int rank, int size) {
  const std::int64_t blocks = (robots + per_block - 1) / per_block;
  const comm::Range b = comm::Decomposition(blocks, rank, size).local();
  return {std::min(b.begin * per_block, robots), std::min(b.end * per_block, robots)};
}

// The run fills in what follows from the fleet (observation and action sizes); the
// annealing schedule's length (total_updates) comes from the deck.
learning::LearnerConfig learner_config(const io::TrainingConfig& cfg, const skills::Fleet& fleet) {
  learning::LearnerConfig l = cfg.learner;
  l.obs_dim = fleet.obs_dim();
  l.act_dim = fleet.act_dim();
  return l;
}

// Episodes that ended, summed exactly: the same bits for any split of the robots.
struct EpisodeTally {
  ExactSum return_sum, quality_sum, error_sum;
  std::int64_t episodes = 0, successes = 0;

  void add(double episode_return, int success, double quality, double final_error) {
    return_sum.add(episode_return);
    quality_sum.add(quality);
    error_sum.add(final_error);
    ++episodes;
    successes += success != 0 ? 1 : 0;
  }
};

// Global figures of the episodes that ended (NaN when none did).
struct EpisodeStats {
  std::int64_t episodes = 0;
  double mean_return = std::numeric_limits<double>::quiet_NaN();
  double success = std::numeric_limits<double>::quiet_NaN();
  double quality = std::numeric_limits<double>::quiet_NaN();
  double final_error = std::numeric_limits<double>::quiet_NaN();  // m
};

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
        robots_(local_robots(cfg_.robots, cfg_.learner.robots_per_block, comm::rank_of(comm), comm::size_of(comm))),
        n_(static_cast<int>(robots_.size())),
        fleet_(cfg_.robot, cfg_.skill, in.run.seed, robots_.begin, n_),
        collective_(comm::make_mpi_collective(comm)),
        learner_(learner_config(cfg_, fleet_), *collective_),
        rollout_(learner_.config(), cfg_.horizon, n_),
        obs_("training::obs", n_, fleet_.obs_dim()),
        actions_("training::actions", n_, fleet_.act_dim()),
        log_prob_("training::log_prob", n_),
        value_("training::value", n_),
        step_(n_, fleet_.obs_dim()) {
    auto gid = Kokkos::create_mirror_view(rollout_.gid);
    for (int r = 0; r < n_; ++r) gid(r) = robots_.begin + r;
    Kokkos::deep_copy(rollout_.gid, gid);
  }

  int execute() { return evaluate_ ? evaluate() : train(); }

 private:
  // ---- training ----

  int train() {
    const auto t0 = Clock::now();
    prepare_output_dir(comm_, paths_, cli_.restart.has_value(), cli_.overwrite);
    if (cli_.restart) {
      restart(*cli_.restart);
      history_ = io::History::resume(comm_, paths_.history, rows_, in_.deck_text, in_.resolved_yaml);
    } else {
      fleet_.reset_all(cfg_.skill.common.stagger_start);
      history_ = io::History::create(comm_, paths_.history, in_.deck_text, in_.resolved_yaml);
    }
    timers_.restart_s = seconds_since(t0);
    if (root_) print_header();

    const std::int64_t first = iteration_;
    const auto loop_start = Clock::now();
    while (iteration_ < cfg_.iterations) {
      const auto iteration_start = Clock::now();
      EpisodeTally tally;
      rollout(tally, true);
      auto phase = Clock::now();
      const learning::PpoStats ppo = learner_.update(rollout_);
      timers_.update_s += seconds_since(phase) - ppo.communication_s;  // its collectives count as
      timers_.communication_s += ppo.communication_s;                  // communication
      phase = Clock::now();
      const EpisodeStats episodes = combine(tally);
      timers_.communication_s += seconds_since(phase);
      ++iteration_;
      if (episodes.episodes > 0) last_finished_ = episodes;
      write_row(t0, iteration_start, episodes, &ppo);
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
    const std::string policy = (std::filesystem::path(paths_.dir) / cfg_.export_policy).string();
    io::write_policy(comm_, policy, learner_.export_policy(), skill_name(fleet_.kind()), in_.deck_text);
    if (root_) std::cout << "policy exported to " << policy << std::endl;
    print_timers(t0);
    print_result(iteration_, loop_s, iteration_ * env_steps_per_iteration(),
                 static_cast<double>((iteration_ - first) * env_steps_per_iteration()), last_finished_);
    return 0;
  }

  std::int64_t env_steps_per_iteration() const { return cfg_.robots * cfg_.horizon; }

  // One rollout of `horizon` steps of this rank's robots into rollout_ (training) or with
  // deterministic actions (evaluation), tallying the episodes that end. In evaluation only
  // each robot's first eval_episodes episodes count.
  void rollout(EpisodeTally& tally, bool explore) {
    const int n = n_, obs_dim = fleet_.obs_dim(), act_dim = fleet_.act_dim();
    for (int t = 0; t < cfg_.horizon; ++t) {
      if (n == 0) continue;  // no robots here; the update's collectives still run
      const std::uint64_t step = static_cast<std::uint64_t>(iteration_) * cfg_.horizon + t;
      auto phase = Clock::now();
      fleet_.observe(obs_);
      timers_.physics_s += fenced_seconds_since(phase);
      phase = Clock::now();
      const auto actions = actions_;
      if (explore) {
        learner_.act(obs_, step, t, rollout_);
        const auto stored = rollout_.actions;
        const int first = t * n;
        Kokkos::parallel_for(
            "training::step_actions", Kokkos::RangePolicy<ExecSpace>(0, n), KOKKOS_LAMBDA(const int r) {
              for (int k = 0; k < act_dim; ++k) actions(r, k) = stored(first + r, k);
            });
      } else {
        learner_.act(obs_, rollout_.gid, n, step, false, actions_, log_prob_, value_);
      }
      timers_.inference_s += fenced_seconds_since(phase);
      phase = Clock::now();
      fleet_.step(actions_, step_);
      if (explore) store_step(t, obs_dim);
      timers_.physics_s += fenced_seconds_since(phase);
      tally_episodes(tally);
    }
    if (explore && n > 0) {
      const auto phase = Clock::now();
      fleet_.observe(rollout_.last_obs);
      timers_.physics_s += fenced_seconds_since(phase);
    }
  }

  // Kernels run asynchronously on a device; the phase timers need them finished.
  static double fenced_seconds_since(Clock::time_point t0) {
    Kokkos::fence();
    return seconds_since(t0);
  }

  void store_step(int t, int obs_dim) {
    const int first = t * n_;
    const auto reward = step_.reward;
    const auto terminated = step_.terminated;
    const auto truncated = step_.truncated;
    const auto final_obs = step_.final_obs;
    const auto r_reward = rollout_.reward;
    const auto r_final = rollout_.final_obs;
    const auto r_terminated = rollout_.terminated;
    const auto r_truncated = rollout_.truncated;
    Kokkos::parallel_for(
        "training::store_step", Kokkos::RangePolicy<ExecSpace>(0, n_), KOKKOS_LAMBDA(const int r) {
          r_reward(first + r) = reward(r);
          r_terminated(first + r) = terminated(r);
          r_truncated(first + r) = truncated(r);
          if (truncated(r) != 0 || terminated(r) != 0)
            for (int f = 0; f < obs_dim; ++f) r_final(first + r, f) = final_obs(r, f);
        });
  }

  void tally_episodes(EpisodeTally& tally) {
    const auto done = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), step_.episode_done);
    const auto ret = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), step_.episode_return);
    const auto success = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), step_.episode_success);
    const auto quality = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), step_.episode_quality);
    const auto error = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), step_.episode_final_error);
    for (int r = 0; r < n_; ++r) {
      if (done(r) == 0) continue;
      if (evaluate_) {
        if (finished_[r] >= cfg_.eval_episodes) continue;  // extra episodes of fast robots
        ++finished_[r];
      }
      tally.add(ret(r), success(r), quality(r), error(r));
    }
  }

  EpisodeStats combine(const EpisodeTally& tally) const {
    std::vector<ExactSum> sums{tally.return_sum, tally.quality_sum, tally.error_sum};
    comm::allreduce_exact(comm_, sums);
    std::vector<std::int64_t> counts{tally.episodes, tally.successes};
    comm::allreduce_sum(comm_, counts);
    EpisodeStats s;
    s.episodes = counts[0];
    if (counts[0] > 0) {
      const double k = static_cast<double>(counts[0]);
      s.mean_return = sums[0].to_double() / k;
      s.quality = sums[1].to_double() / k;
      s.final_error = sums[2].to_double() / k;
      s.success = static_cast<double>(counts[1]) / k;
    }
    return s;
  }

  void write_row(Clock::time_point t0, Clock::time_point iteration_start, const EpisodeStats& e,
                 const learning::PpoStats* ppo) {
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
      }
      history_.append("timings/physics_s", {timers_.physics_s}, "s");
      history_.append("timings/inference_s", {timers_.inference_s}, "s");
      history_.append("timings/update_s", {timers_.update_s}, "s");
      history_.append("timings/communication_s", {timers_.communication_s}, "s");
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
          io::read_fleet_state(reader, robots_.begin, n_, cfg_.robots, fleet_.dof()));
      auto learner = std::make_shared<learning::LearnerState>(
          io::read_learner_state(reader, learner_.parameter_count(), fleet_.obs_dim()));
      return [this, c, fleet, learner] {
        fleet_.restore_state(*fleet);  // each refuses out-of-range values before changing anything
        learner_.restore(*learner);
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

  // The learning rate decays linearly over the schedule's length; a restart that changed
  // it would not continue the interrupted run bit for bit, so it is refused.
  void check_schedule(io::CheckpointReader& reader) const {
    const learning::LearnerConfig& l = learner_.config();
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
    writer.attribute("skill", skill_name(fleet_.kind()));
    writer.attribute("iteration", iteration_);
    writer.attribute("history_rows", rows_);
    writer.attribute("sequence", sequence_);
    writer.attribute("model_fingerprint", static_cast<std::int64_t>(io::training_fingerprint(cfg_, in_.run.seed)));
    writer.attribute("anneal_iterations", learner_.config().total_updates);
    // The latest iteration's episode figures, for the RESULT line of a run that restarts
    // at its last iteration.
    writer.attribute("last_episodes", last_finished_.episodes);
    writer.attribute("last_mean_return", last_finished_.mean_return);
    writer.attribute("last_success", last_finished_.success);
    writer.attribute("last_quality", last_finished_.quality);
    writer.attribute("last_final_error", last_finished_.final_error);
    io::write_training_state(writer, fleet_.save_state(), robots_.begin, cfg_.robots, learner_.state());
    writer.commit(in_.run.checkpoint_keep);
    ++sequence_;
    last_checkpoint_iteration_ = iteration_;
    timers_.checkpoint_s += seconds_since(phase);
  }

  // ---- evaluation ----

  int evaluate() {
    const auto t0 = Clock::now();
    prepare_output_dir(comm_, paths_, false, cli_.overwrite);
    learner_.import_policy(io::read_policy(comm_, cfg_.policy_file, skill_name(fleet_.kind())));
    fleet_.reset_all();
    finished_.assign(static_cast<std::size_t>(n_), 0);
    history_ = io::History::create(comm_, paths_.history, in_.deck_text, in_.resolved_yaml);
    timers_.restart_s = seconds_since(t0);
    if (root_) print_header();

    // Enough iterations for every robot to finish its episodes, whatever ends them; the loop
    // ends as soon as every robot has.
    const std::int64_t steps_needed = cfg_.eval_episodes * static_cast<std::int64_t>(cfg_.skill.common.episode_steps);
    const std::int64_t planned = (steps_needed + cfg_.horizon - 1) / cfg_.horizon;
    EpisodeTally total;
    const auto loop_start = Clock::now();
    bool all_done = false;
    while (!all_done) {
      const auto iteration_start = Clock::now();
      EpisodeTally tally;
      rollout(tally, false);
      total.return_sum += tally.return_sum;
      total.quality_sum += tally.quality_sum;
      total.error_sum += tally.error_sum;
      total.episodes += tally.episodes;
      total.successes += tally.successes;
      auto phase = Clock::now();
      const EpisodeStats episodes = combine(tally);
      const bool unfinished = std::any_of(finished_.begin(), finished_.end(),
                                          [&](std::int64_t k) { return k < cfg_.eval_episodes; });
      all_done = !comm::any_rank(comm_, unfinished);
      const bool stop = stop_.poll();
      timers_.communication_s += seconds_since(phase);
      ++iteration_;
      write_row(t0, iteration_start, episodes, nullptr);
      progress(loop_start, 0, std::max(planned, iteration_), episodes);
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
    const EpisodeStats overall = combine(total);
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
      metric = fleet_.kind() == skills::SkillKind::weld ? io::TargetMetric::quality : io::TargetMetric::success;
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
              << skill_name(fleet_.kind()) << " on " << cfg_.robots << " " << cfg_.robot.name << " robots ("
              << fleet_.obs_dim() << " observations, " << fleet_.act_dim() << " actions, "
              << learner_.parameter_count() << " parameters) on " << comm::size_of(comm_) << " ranks; horizon "
              << cfg_.horizon << "; output " << paths_.dir << std::endl;
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
                skill_name(fleet_.kind()), static_cast<long long>(iterations), static_cast<long long>(env_steps),
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
  comm::Range robots_;  // this rank's robot gids
  int n_;
  skills::Fleet fleet_;
  std::unique_ptr<comm::Collective> collective_;  // the learner's, over all ranks
  learning::PpoLearner learner_;
  learning::Rollout rollout_;
  View<Real**> obs_, actions_;
  View<Real*> log_prob_, value_;
  skills::StepResult step_;
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
  const comm::Range mine =
      local_robots(cfg.robots, cfg.learner.robots_per_block, comm::rank_of(comm), comm::size_of(comm));
  const double robots = static_cast<double>(mine.size());
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
    problem = "a rank would hold " + std::to_string(mine.size()) +
              " robots × horizon " + std::to_string(cfg.horizon) + " rollout rows, more than " +
              std::to_string(std::numeric_limits<int>::max()) + "; run on more ranks or shorten training.horizon";
  } else if (available > 0 && bytes > available) {
    char text[320];
    std::snprintf(text, sizeof text,
                  "a rank needs about %.3g GiB for its %lld robots × horizon %d (rollout, learner scratch, fleet), "
                  "but %.3g GiB are available per rank (the node's available memory shared by its ranks); run on "
                  "more nodes or with fewer robots or a shorter horizon",
                  bytes / 1073741824.0, static_cast<long long>(mine.size()), cfg.horizon, available / 1073741824.0);
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
