// The training run loop. Each iteration:
//
//   rollout (horizon steps: observe → act → step physics → store) ─► PPO update
//     ─► global diagnostics (exact sums) ─► history row + progress line ─► checkpoint if due
//
// A run trains one skill or several (training.skills). Each skill's robots belong to sites
// and learn in a training::SkillUnit: one policy replica for all sites (sharing mode
// allreduce: blocks of robots spread over the skill's ranks) or one per site (isolated,
// gossip, federated: whole sites per rank), see solvers/training/skill_unit.hpp. A skill
// lives on a contiguous range of ranks (training::assign_skill_ranks; a deck of one skill:
// all of them), with a communicator of its own, split once; a rank may hold several skills,
// or robots of none. The figures every rank needs (episode statistics, the update's
// figures) are exact sums over all ranks or broadcasts from the skill's first rank. Every
// random draw is keyed by robot gid and step, and every global figure is an exact or integer
// sum, so the history and checkpoints have the same bits for any rank count and across
// restarts onto any rank count. An evaluation run (training.policy_file, one skill) acts
// deterministically with the frozen policy until every robot has finished eval_episodes
// episodes; it neither updates nor checkpoints.
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
#include <optional>
#include <vector>

#include "app/memory.hpp"
#include "app/output_dir.hpp"
#include "app/phase_timers.hpp"
#include "app/progress.hpp"
#include "app/run_loop.hpp"
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

// The skill unit's config from a skill's training block.
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

// The run's skills: the entries of training.skills, or the training block itself.
std::vector<const io::TrainingConfig*> skill_configs(const io::TrainingConfig& t) {
  std::vector<const io::TrainingConfig*> configs;
  for (const io::TrainingConfig& s : t.skills) configs.push_back(&s);
  if (configs.empty()) configs.push_back(&t);
  return configs;
}

// The ranks of each skill (a deck of one skill: every rank).
std::vector<training::RankRange> skill_ranks(const io::TrainingConfig& t, int size) {
  if (t.skills.empty()) return {training::RankRange{0, size}};
  std::vector<std::int64_t> robots;
  for (const io::TrainingConfig& s : t.skills) robots.push_back(s.robots);
  return training::assign_skill_ranks(robots, size);
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

// One skill of the run. On the ranks that hold it: its communicator, Collectives and unit;
// on every rank: what the history, progress and checkpoints need.
struct SkillRun {
  const io::TrainingConfig* cfg = nullptr;
  bool several = false;  // one of several skills: history and checkpoint paths under skills/<name>/
  int index = 0;         // in training.skills
  training::RankRange ranks;
  MPI_Comm comm = MPI_COMM_NULL;  // its ranks; MPI_COMM_NULL elsewhere
  std::unique_ptr<comm::Collective> collective;   // learning and sharing
  std::unique_ptr<comm::Collective> diagnostics;  // the replicas' disagreement
  std::unique_ptr<training::SkillUnit> unit;      // null where this rank holds none of it
  int sites = 1;
  int obs_dim = 0, act_dim = 0, dof = 0;  // from its first rank
  std::int64_t parameters = 0;
  training::UnitUpdate update;  // the latest update's figures (global parts broadcast)
  EpisodeStats last_finished;
  bool target_reported = false;
  // Curriculum: the running stage and the iterations in a row that passed its advance_at.
  std::size_t stage = 0;
  std::int64_t stage_streak = 0;
  bool final_stage() const { return cfg->curriculum.empty() || stage + 1 == cfg->curriculum.size(); }
  double tolerance_scale() const { return cfg->curriculum.empty() ? 1.0 : cfg->curriculum[stage].tolerance_scale; }

  SkillRun() = default;
  SkillRun(const SkillRun&) = delete;
  SkillRun& operator=(const SkillRun&) = delete;
  ~SkillRun() {
    unit.reset();  // before the Collectives it uses
    collective.reset();
    diagnostics.reset();
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
  bool member() const { return unit != nullptr; }
  bool replica_per_site() const { return cfg->sharing.mode != training::SharingMode::allreduce; }
  const std::string& name() const { return cfg->name; }
  // History and checkpoint datasets: "" or "skills/<name>/".
  std::string prefix() const { return several ? "skills/" + name() + "/" : std::string(); }
  // Where its keys are in the deck: "training" or "training.skills.<k>" (as --set writes it).
  std::string deck_path() const { return several ? "training.skills." + std::to_string(index) : "training"; }
  // Checkpoint attributes: `key`, or "skill.<name>.<key>".
  std::string attribute(const std::string& key) const { return several ? "skill." + name() + "." + key : key; }
  std::int64_t env_steps_per_iteration() const { return cfg->robots * cfg->horizon; }
};

class TrainingRun final : public Workload {
 public:
  TrainingRun(MPI_Comm comm, const TrainingInputs& in, const CliOptions& cli)
      : comm_(comm),
        in_(in),
        cfg_(in.training),
        cli_(cli),
        root_(comm::rank_of(comm) == 0),
        evaluate_(!in.training.policy_file.empty()),
        paths_(output_paths(in.run.output_dir)),
        diagnostics_(comm::make_mpi_collective(comm)) {
    const std::vector<const io::TrainingConfig*> configs = skill_configs(cfg_);
    const std::vector<training::RankRange> ranges = skill_ranks(cfg_, comm::size_of(comm));
    const int rank = comm::rank_of(comm);
    for (std::size_t k = 0; k < configs.size(); ++k) {
      auto s = std::make_unique<SkillRun>();
      s->cfg = configs[k];
      s->several = !cfg_.skills.empty();
      s->index = static_cast<int>(k);
      s->ranks = ranges[k];
      s->sites = std::max<int>(1, static_cast<int>(configs[k]->sites.size()));
      MPI_Comm_split(comm, s->ranks.holds(rank) ? 0 : MPI_UNDEFINED, rank, &s->comm);
      std::vector<std::int64_t> shape(4, 0);
      std::string problem;
      if (s->comm != MPI_COMM_NULL) {
        try {
          s->collective = make_collective(s->comm, configs[k]->sharing.nccl);
          s->diagnostics = comm::make_mpi_collective(s->comm);
          s->unit = std::make_unique<training::SkillUnit>(unit_config(*configs[k], in.run.seed), *s->collective,
                                                          *s->diagnostics);
          shape = {s->unit->obs_dim(), s->unit->act_dim(), s->unit->parameter_count(), s->unit->dof()};
        } catch (const Error& e) {
          problem = e.what();
        }
      }
      skills_.push_back(std::move(s));
      // Agreed before the next skill's collectives, which some of these ranks join.
      problem = comm::first_problem(comm, problem);
      if (!problem.empty()) throw Error(problem, ExitCode::bad_input);
      SkillRun& run = *skills_.back();
      MPI_Bcast(shape.data(), 4, MPI_INT64_T, run.ranks.first, comm);
      run.obs_dim = static_cast<int>(shape[0]);
      run.act_dim = static_cast<int>(shape[1]);
      run.parameters = shape[2];
      run.dof = static_cast<int>(shape[3]);
    }
  }

  int execute() { return evaluate_ ? evaluate() : train(); }

 private:
  // ---- training ----

  int train() {
    t0_ = Clock::now();
    // Before anything is written: a transfer that cannot be met is a deck error (exit 2).
    // A restart continues from its checkpoint, which holds what the transfer started.
    if (!cli_.restart)
      for (auto& s : skills_)
        if (!s->cfg->transfer.policy.empty()) transfer(*s);
    prepare_output_dir(comm_, paths_, cli_.restart.has_value(), cli_.overwrite);
    if (cli_.restart) {
      restart(*cli_.restart);
      clear_finished(comm_, paths_);
      history_ = io::History::resume(comm_, paths_.history, rows_, in_.deck_text, in_.resolved_yaml);
    } else {
      for (auto& s : skills_)
        if (s->member()) s->unit->reset_all(s->cfg->skill.common.stagger_start);
      history_ = io::History::create(comm_, paths_.history, in_.deck_text, in_.resolved_yaml);
    }
    history_.set_publish_interval(in_.run.history_publish_s);
    for (auto& s : skills_)
      if (s->member()) s->unit->set_tolerance_scale(s->tolerance_scale());
    timers_.restart_s = seconds_since(t0_);
    if (root_) print_header();

    first_ = iteration_;
    loop_start_ = Clock::now();
    std::optional<AutoCheckpoint> automatic;
    if (in_.run.checkpoint_auto) automatic.emplace(comm_, in_.run.node_mtbf_s);
    const int code = run_passes(*this, stop_, root_, automatic ? &*automatic : nullptr);
    if (code != 0) {
      print_timers(t0_);
      return code;
    }
    const double loop_s = seconds_since(loop_start_);
    for (auto& s : skills_) export_policies(*s);
    for (auto& s : skills_)
      if (std::isfinite(s->last_finished.misses[0])) print_misses(*s, s->last_finished);
    print_timers(t0_);
    for (auto& s : skills_)
      print_result(*s, iteration_, loop_s, iteration_ * s->env_steps_per_iteration(),
                   static_cast<double>((iteration_ - first_) * s->env_steps_per_iteration()), s->last_finished);
    return 0;
  }

  // ---- the Workload the shared run loop drives ----

  bool finished() const override { return evaluate_ ? all_done_ : iteration_ >= cfg_.iterations; }
  void pass(StopPoll& /*stop*/) override {
    if (evaluate_)
      evaluation_iteration();
    else
      training_iteration();
  }
  bool checkpoints() const override { return !evaluate_; }
  bool checkpoint_due() const override { return cfg_.checkpoint_every > 0 && iteration_ % cfg_.checkpoint_every == 0; }
  bool at_last_checkpoint() const override { return last_checkpoint_iteration_ == iteration_; }
  std::string position() const override {
    return "iteration " + std::to_string(iteration_) + (evaluate_ ? " of an evaluation" : "");
  }

  // One iteration: every skill's rollout, then every skill's update and sharing, the figures,
  // the history row and the progress line.
  void training_iteration() {
    const auto iteration_start = Clock::now();
    std::vector<training::SiteTally> tallies;
    {
      const Region region("rollout");
      for (auto& s : skills_) {
        tallies.emplace_back(s->sites);
        if (s->member()) rollout(*s, tallies.back(), true);
      }
    }
    {
      const Region region("update");
      for (auto& s : skills_) {
        if (!s->member()) continue;
        const auto phase = Clock::now();
        s->update = s->unit->update(iteration_ + 1);
        timers_.update_s += seconds_since(phase) - s->update.communication_s;  // its collectives count as
        timers_.communication_s += s->update.communication_s;                 // communication
      }
    }
    const auto phase = Clock::now();
    std::vector<std::vector<EpisodeStats>> figures;
    for (std::size_t k = 0; k < skills_.size(); ++k) {
      figures.push_back(training::combine(*diagnostics_, tallies[k]));
      share_update(*skills_[k]);
    }
    timers_.communication_s += seconds_since(phase);
    ++iteration_;
    for (std::size_t k = 0; k < skills_.size(); ++k)
      if (figures[k].front().episodes > 0) skills_[k]->last_finished = figures[k].front();
    {
      const Region region("report");
      write_row(t0_, iteration_start, figures, true);
    }
    for (std::size_t k = 0; k < skills_.size(); ++k) report_target(*skills_[k], figures[k].front(), loop_start_);
    progress(loop_start_, first_, cfg_.iterations, figures);
    for (std::size_t k = 0; k < skills_.size(); ++k) advance_curriculum(*skills_[k], figures[k].front());
  }

  // The next stage once the target figure of stage.hold_iterations iterations in a row passed
  // the stage's advance_at (iterations in which no episode ended change nothing). Every rank
  // has the same exact figures, so every rank takes the same decision.
  void advance_curriculum(SkillRun& s, const EpisodeStats& e) {
    if (s.final_stage() || e.episodes == 0) return;
    const io::CurriculumStage& stage = s.cfg->curriculum[s.stage];
    const TargetFigure f = target_figure(s, e);
    const bool passed = f.at_most ? f.value <= stage.advance_at : f.value >= stage.advance_at;
    s.stage_streak = passed ? s.stage_streak + 1 : 0;
    if (s.stage_streak < stage.hold_iterations) return;
    ++s.stage;
    s.stage_streak = 0;
    if (s.member()) s.unit->set_tolerance_scale(s.tolerance_scale());
    if (root_)
      std::printf("curriculum%s: stage %zu of %zu (tolerances x%g) from iteration %lld, env_steps %lld\n",
                  s.several ? (" of skill " + s.name()).c_str() : "", s.stage + 1, s.cfg->curriculum.size(),
                  s.tolerance_scale(), static_cast<long long>(iteration_ + 1),
                  static_cast<long long>(iteration_ * s.env_steps_per_iteration()));
  }

  std::int64_t env_steps_per_iteration() const { return cfg_.robots * cfg_.horizon; }

  // The update's figures that are the same on every rank of the skill (PPO statistics,
  // sharing rounds, disagreement), from its first rank to every rank of the run.
  void share_update(SkillRun& s) {
    const learning::PpoStats& p = s.update.ppo;
    std::vector<double> v{p.policy_loss, p.value_loss,    p.entropy,
                          p.approx_kl,   p.clip_fraction, p.grad_norm,
                          p.learning_rate, s.update.disagreement, static_cast<double>(s.update.share.rounds),
                          static_cast<double>(s.update.share.failed_rounds)};
    MPI_Bcast(v.data(), static_cast<int>(v.size()), MPI_DOUBLE, s.ranks.first, comm_);
    learning::PpoStats& q = s.update.ppo;
    q.policy_loss = v[0], q.value_loss = v[1], q.entropy = v[2], q.approx_kl = v[3], q.clip_fraction = v[4];
    q.grad_norm = v[5], q.learning_rate = v[6];
    s.update.disagreement = v[7];
    s.update.share.rounds = static_cast<std::int64_t>(v[8]);
    s.update.share.failed_rounds = static_cast<std::int64_t>(v[9]);
  }

  // Skill transfer: every replica of the skill starts from its transfer.policy's layers.
  void transfer(SkillRun& s) {
    const io::TrainingConfig& c = *s.cfg;
    const io::PolicyFile file = io::read_policy_file(comm_, c.transfer.policy);
    learning::TransferSource source{c.transfer.policy, file.policy, file.info.observations, file.info.actions};
    std::string report, problem;
    if (s.member()) {
      try {
        for (const std::string& line : s.unit->transfer(source, c.transfer.request)) report += "  " + line + "\n";
      } catch (const Error& e) {
        problem = e.what();
      }
    }
    problem = comm::first_problem(comm_, problem);
    if (!problem.empty())
      throw Error(s.deck_path() + ".transfer in deck " +
                      in_.deck_file + ": " + problem,
                  ExitCode::bad_input);
    report = comm::broadcast(comm_, report, s.ranks.first);
    if (!root_) return;
    std::cout << "transfer" << (s.several ? " of skill " + s.name() : "") << " from " << c.transfer.policy << " ("
              << file.info.skill << " on " << (file.info.robot.empty() ? std::string("an unnamed robot") : file.info.robot)
              << ", " << file.info.env_steps << " env-steps"
              << (file.info.site.empty() ? "" : ", site " + file.info.site) << "):\n"
              << report << std::flush;
  }

  // What an exported policy says about itself (the skill library's entry).
  io::PolicyInfo policy_info(const SkillRun& s, const std::string& site) const {
    io::PolicyInfo info;
    info.skill = skills::kind_name(s.cfg->skill.kind);
    info.robot = s.cfg->robot.name;
    info.dof = s.dof;
    info.observations = s.unit->observation_layout();
    info.actions = s.unit->action_layout();
    info.site = site;
    info.started_from = s.cfg->transfer.policy;
    info.seed = static_cast<std::int64_t>(in_.run.seed);
    info.iterations = iteration_;
    info.env_steps = iteration_ * s.env_steps_per_iteration();
    info.deck = in_.deck_text;
    info.build_info = build_info::summary;
    return info;
  }

  // One policy (allreduce), or one per site next to it: policy_<site>.h5, written by the
  // rank that holds the site's replica.
  void export_policies(SkillRun& s) {
    const std::filesystem::path file = std::filesystem::path(paths_.dir) / s.cfg->export_policy;
    std::string problem;
    if (s.member()) {
      try {
        if (!s.replica_per_site()) {
          io::write_policy(s.comm, file.string(), s.unit->export_policy(0), policy_info(s, ""));
        } else {
          for (int site = 0; site < s.sites; ++site) {
            if (s.unit->replica_of(site) < 0) continue;
            const std::string& name = s.cfg->sites[site].name;
            io::write_policy(MPI_COMM_SELF, site_policy_file(file, name), s.unit->export_policy(site),
                             policy_info(s, name));
          }
        }
      } catch (const std::exception& e) {
        problem = e.what();
      }
    }
    problem = comm::first_problem(comm_, problem);
    if (!problem.empty()) throw Error(problem);
    if (!root_) return;
    if (!s.replica_per_site())
      std::cout << "policy" << (s.several ? " of skill " + s.name() : "") << " exported to " << file.string() << std::endl;
    else
      std::cout << "policies of the " << s.sites << " sites" << (s.several ? " of skill " + s.name() : "")
                << " exported to " << site_policy_file(file, "<site>") << std::endl;
  }

  static std::string site_policy_file(const std::filesystem::path& file, const std::string& site) {
    std::filesystem::path out = file;
    out.replace_filename(file.stem().string() + "_" + site + file.extension().string());
    return out.string();
  }

  // One rollout of `horizon` steps of this rank's robots of the skill (training: exploring,
  // into the replicas' rollouts; evaluation: deterministic, each robot's first eval_episodes
  // counted).
  void rollout(SkillRun& s, training::SiteTally& tally, bool explore) {
    training::SkillUnit::PhaseTimes times;
    s.unit->rollout(iteration_, explore, tally, times, evaluate_ ? &finished_ : nullptr, cfg_.eval_episodes);
    timers_.physics_s += times.physics_s;
    timers_.inference_s += times.inference_s;
  }

  void write_row(Clock::time_point t0, Clock::time_point iteration_start,
                 const std::vector<std::vector<EpisodeStats>>& figures, bool trained) {
    // Traffic is the same for a given rank count, but differs between rank counts: timings.
    // Maxima over the ranks of this iteration's bytes sent (all skills), and in a run of
    // several skills of each skill's bytes and microseconds in its collectives.
    const auto clamp = [](double x) { return static_cast<int>(std::min<double>(x, std::numeric_limits<int>::max())); };
    std::vector<int> maxima{0};
    double bytes_sent = 0, collectives = 0;
    for (const auto& sp : skills_) {
      const bool here = trained && sp->member();
      bytes_sent += here ? static_cast<double>(sp->update.bytes_sent) : 0.0;
      collectives += here ? static_cast<double>(sp->update.collectives) : 0.0;
      if (sp->several) {
        maxima.push_back(here ? clamp(static_cast<double>(sp->update.bytes_sent)) : 0);
        maxima.push_back(here ? clamp(sp->update.communication_s * 1e6) : 0);
      }
    }
    maxima[0] = clamp(bytes_sent);
    // Calls into the collective library this iteration, the most of any rank: of learning and
    // sharing, and of the diagnostics (episode figures, the replicas' disagreement, this
    // maximum included).
    std::int64_t calls_so_far = diagnostics_->traffic().operations + 1;  // + the maximum below
    for (const auto& sp : skills_)
      if (sp->diagnostics) calls_so_far += sp->diagnostics->traffic().operations;
    const std::int64_t diagnostic_calls = calls_so_far - diagnostic_calls_seen_;
    diagnostic_calls_seen_ = calls_so_far;
    const std::size_t calls_at = maxima.size();
    maxima.push_back(clamp(collectives));
    maxima.push_back(clamp(static_cast<double>(diagnostic_calls)));
    diagnostics_->max(maxima);
    last_bytes_max_ = maxima[0];
    const auto phase = Clock::now();
    const double iteration_s = seconds_since(iteration_start);
    if (root_) {
      history_.append("iteration", std::vector<std::int64_t>{iteration_}, "1");
      history_.append("env_steps", std::vector<std::int64_t>{iteration_ * env_steps_per_iteration()}, "1");
      for (std::size_t k = 0; k < skills_.size(); ++k) {
        append_skill(*skills_[k], figures[k], trained);
        if (trained && skills_[k]->several) {
          // Under timings/ (which differs between rank counts), not under the skill's prefix.
          const std::string p = "timings/" + skills_[k]->prefix();
          history_.append(p + "bytes_sent_max", std::vector<std::int64_t>{maxima[1 + 2 * k]}, "B");
          history_.append(p + "communication_s_max", {1e-6 * maxima[2 + 2 * k]}, "s");
        }
      }
      history_.append("timings/physics_s", {timers_.physics_s}, "s");
      history_.append("timings/inference_s", {timers_.inference_s}, "s");
      history_.append("timings/update_s", {timers_.update_s}, "s");
      history_.append("timings/communication_s", {timers_.communication_s}, "s");
      history_.append("timings/bytes_sent_max", std::vector<std::int64_t>{maxima[0]}, "B");
      // Calls per iteration: what latency costs at scale (postprocess/scaling_model.py).
      history_.append("timings/collectives_max", std::vector<std::int64_t>{maxima[calls_at]}, "1");
      history_.append("timings/diagnostic_collectives_max", std::vector<std::int64_t>{maxima[calls_at + 1]}, "1");
      history_.append("timings/wall_s", {seconds_since(t0)}, "s");
      history_.append("timings/env_steps_per_s",
                      {iteration_s > 0 ? static_cast<double>(env_steps_per_iteration()) / iteration_s : 0.0}, "1/s");
    }
    history_.end_row();
    ++rows_;
    timers_.output_s += seconds_since(phase);
  }

  // One skill's columns of the history row (under skills/<name>/ in a run of several).
  void append_skill(const SkillRun& s, const std::vector<EpisodeStats>& figures, bool trained) {
    const std::string p = s.prefix();
    const EpisodeStats& e = figures.front();
    history_.append(p + "training/episodes", std::vector<std::int64_t>{e.episodes}, "1");
    history_.append(p + "training/mean_return", {e.mean_return}, "1");
    history_.append(p + "training/success_rate", {e.success}, "1");
    history_.append(p + "training/quality", {e.quality}, "1");
    history_.append(p + "training/final_error", {e.final_error}, "m");
    if (!s.cfg->curriculum.empty()) {  // the stage this iteration ran in
      history_.append(p + "training/curriculum_stage", std::vector<std::int64_t>{static_cast<std::int64_t>(s.stage)},
                      "1");
      history_.append(p + "training/tolerance_scale", {s.tolerance_scale()}, "1");
    }
    const std::vector<std::string> causes = skills::miss_causes(s.cfg->skill.kind);
    for (std::size_t c = 0; c < causes.size(); ++c)
      history_.append(p + "training/miss_" + causes[c], {e.misses[c]}, "1");
    if (trained) {
      const learning::PpoStats& ppo = s.update.ppo;
      history_.append(p + "training/policy_loss", {ppo.policy_loss}, "1");
      history_.append(p + "training/value_loss", {ppo.value_loss}, "1");
      history_.append(p + "training/approx_kl", {ppo.approx_kl}, "1");
      history_.append(p + "training/entropy", {ppo.entropy}, "1");
      history_.append(p + "training/clip_fraction", {ppo.clip_fraction}, "1");
      history_.append(p + "training/grad_norm", {ppo.grad_norm}, "1");
      history_.append(p + "training/learning_rate", {ppo.learning_rate}, "1");
      if (s.replica_per_site()) {
        history_.append(p + "training/disagreement", {s.update.disagreement}, "1");
        history_.append(p + "training/sharing_rounds", std::vector<std::int64_t>{s.update.share.rounds}, "1");
        history_.append(p + "training/failed_rounds", std::vector<std::int64_t>{s.update.share.failed_rounds}, "1");
      }
    }
    if (s.cfg->sites_given) {
      for (int site = 0; site < s.sites; ++site) {
        const std::string prefix = p + "sites/" + s.cfg->sites[site].name + "/";
        const EpisodeStats& f = figures[1 + site];
        history_.append(prefix + "episodes", std::vector<std::int64_t>{f.episodes}, "1");
        history_.append(prefix + "mean_return", {f.mean_return}, "1");
        history_.append(prefix + "success_rate", {f.success}, "1");
        history_.append(prefix + "quality", {f.quality}, "1");
        history_.append(prefix + "final_error", {f.final_error}, "m");
      }
    }
  }

  void report_target(SkillRun& s, const EpisodeStats& e, Clock::time_point loop_start) {
    if (s.target_reported || !reached_target(s, e)) return;
    s.target_reported = true;
    if (root_)
      std::printf("target %s %g%s reached at iteration %lld, env_steps %lld, wall %.3f s\n", target_figure(s, e).name,
                  s.cfg->target, s.several ? (" of skill " + s.name()).c_str() : "",
                  static_cast<long long>(iteration_), static_cast<long long>(iteration_ * s.env_steps_per_iteration()),
                  seconds_since(loop_start));
  }

  // "iter 12/50 ( 24.0%)  2.31e+05 env-steps/s  return -12.3  success 0.125  quality 0.532
  //  error 0.083 m  comm 6.1% 5.8 MB/rank  wall 3.2s  ETA 10.1s": rate over this process's
  // iterations; the figures of the latest iteration in which episodes ended (per skill,
  // "name: success ... quality ... error ...", in a run of several; with a replica per site,
  // the replicas' disagreement); the share of this process's time in communication and the
  // most bytes a rank sent in the iteration.
  void progress(Clock::time_point loop_start, std::int64_t first, std::int64_t last,
                const std::vector<std::vector<EpisodeStats>>& figures) const {
    if (!root_) return;
    const double wall = seconds_since(loop_start);
    const double done = static_cast<double>(iteration_ - first);
    const double rate = wall > 0 ? done * static_cast<double>(env_steps_per_iteration()) / wall : 0.0;
    const double eta = done > 0 ? wall / done * static_cast<double>(last - iteration_) : NAN;
    char line[256];
    std::snprintf(line, sizeof line, "iter %lld/%lld (%5.1f%%)  %.4g env-steps/s", static_cast<long long>(iteration_),
                  static_cast<long long>(last),
                  last > 0 ? 100.0 * static_cast<double>(iteration_) / static_cast<double>(last) : 100.0, rate);
    std::string text = line;
    for (std::size_t k = 0; k < skills_.size(); ++k) {
      const SkillRun& s = *skills_[k];
      const EpisodeStats& shown = figures[k].front().episodes > 0 ? figures[k].front() : s.last_finished;
      if (s.several) {
        std::snprintf(line, sizeof line, "  %s: success %.3f quality %.3f error %.3g m", s.name().c_str(), shown.success,
                      shown.quality, shown.final_error);
      } else {
        std::snprintf(line, sizeof line, "  return %.4g  success %.3f  quality %.3f  error %.3g m", shown.mean_return,
                      shown.success, shown.quality, shown.final_error);
      }
      text += line;
      if (s.replica_per_site() && !evaluate_) {
        std::snprintf(line, sizeof line, " disagreement %.3g", s.update.disagreement);
        text += line;
      }
    }
    if (!evaluate_) {
      const double total = seconds_since(start_);
      std::snprintf(line, sizeof line, "  comm %.1f%% %.3g MB/rank", total > 0 ? 100.0 * timers_.communication_s / total : 0.0,
                    1e-6 * static_cast<double>(last_bytes_max_));
      text += line;
    }
    std::cout << text << "  wall " << format_duration(wall) << "  ETA " << format_duration(eta) << std::endl;
  }

  void restart(const std::string& from) {
    const std::string source = from == "latest" ? paths_.checkpoints : from;
    const std::uint64_t fingerprint = io::training_fingerprint(cfg_, in_.run.seed);
    const std::string used = io::load_newest_valid(comm_, source, [&](io::CheckpointReader& reader) {
      if (static_cast<std::uint64_t>(reader.attribute_int("model_fingerprint")) != fingerprint)
        throw Error("checkpoint " + reader.file() + " was written for a different robot, skill, learner or seed than deck " +
                        in_.deck_file + "; only the run length (iterations), checkpoints and output may change on restart",
                    ExitCode::bad_input);
      for (auto& s : skills_) check_schedule(*s, reader);
      struct Counters {
        std::int64_t iteration, rows, sequence;
      } c{};
      c.iteration = reader.attribute_int("iteration");
      c.rows = reader.attribute_int("history_rows");
      c.sequence = reader.attribute_int("sequence");
      if (c.iteration < 0 || c.rows < 0 || c.sequence < 0)
        throw Error("checkpoint " + reader.file() + ": negative counters", ExitCode::bad_checkpoint);
      struct Loaded {
        EpisodeStats last;
        std::int64_t stage = 0, streak = 0;
        skills::FleetState fleet;
        training::UnitState learners;
      };
      auto loaded = std::make_shared<std::vector<Loaded>>();
      for (auto& s : skills_) {
        Loaded l;
        l.last.episodes = reader.attribute_int(s->attribute("last_episodes"));
        l.last.mean_return = reader.attribute_double(s->attribute("last_mean_return"));
        l.last.success = reader.attribute_double(s->attribute("last_success"));
        l.last.quality = reader.attribute_double(s->attribute("last_quality"));
        l.last.final_error = reader.attribute_double(s->attribute("last_final_error"));
        const std::vector<std::string> causes = skills::miss_causes(s->cfg->skill.kind);
        for (std::size_t c = 0; c < causes.size(); ++c)
          l.last.misses[c] = reader.attribute_double(s->attribute("last_miss_" + causes[c]));
        if (l.last.episodes < 0) throw Error("checkpoint " + reader.file() + ": negative counters", ExitCode::bad_checkpoint);
        if (!s->cfg->curriculum.empty()) {  // the fingerprint holds the curriculum: the attributes are there
          l.stage = reader.attribute_int(s->attribute("curriculum_stage"));
          l.streak = reader.attribute_int(s->attribute("curriculum_streak"));
          if (l.stage < 0 || l.stage >= static_cast<std::int64_t>(s->cfg->curriculum.size()) || l.streak < 0 ||
              l.streak >= s->cfg->curriculum[static_cast<std::size_t>(l.stage)].hold_iterations)
            throw Error("checkpoint " + reader.file() + ": curriculum stage or streak out of range",
                        ExitCode::bad_checkpoint);
        }
        l.fleet = io::read_fleet_state(reader, s->member() ? s->unit->local_begin() : 0,
                                       s->member() ? s->unit->local_robots() : 0, s->cfg->robots, s->dof, s->prefix());
        l.learners = read_unit_state(*s, reader);
        const std::string problem = s->member() ? s->unit->restore_problem(l.learners) : std::string();
        if (!problem.empty()) throw Error("checkpoint " + reader.file() + ": " + problem, ExitCode::bad_checkpoint);
        loaded->push_back(std::move(l));
      }
      return [this, c, loaded] {
        for (std::size_t k = 0; k < skills_.size(); ++k) {
          SkillRun& s = *skills_[k];
          if (s.member()) {
            s.unit->restore_fleet((*loaded)[k].fleet);  // each refuses out-of-range values before changing anything
            s.unit->restore((*loaded)[k].learners);
          }
          s.last_finished = (*loaded)[k].last;
          s.stage = static_cast<std::size_t>((*loaded)[k].stage);
          s.stage_streak = (*loaded)[k].streak;
        }
        iteration_ = c.iteration;
        rows_ = c.rows;
        sequence_ = c.sequence + 1;
      };
    });
    last_checkpoint_iteration_ = iteration_;
    if (root_)
      std::cout << "restarted from " << used << " after iteration " << iteration_ << " (" << rows_
                << " history rows kept)" << std::endl;
  }

  // A skill's learner states: one shared learner ("learner/...") or one per site
  // ("replicas/...", this rank's sites). Ranks without the skill read nothing (collectively).
  training::UnitState read_unit_state(const SkillRun& s, io::CheckpointReader& reader) const {
    const std::string prefix = s.prefix();
    if (!s.replica_per_site()) {
      training::UnitState u;
      u.replicas.push_back(io::read_learner_state(reader, s.parameters, s.obs_dim, prefix));
      u.steps_since_round.assign(1, 0);
      return u;
    }
    int first = 0, local = 0;
    if (s.member()) {
      const auto& pieces = s.unit->layout().pieces;
      const auto& owner = s.unit->layout().site_owner;
      const int rank = comm::rank_of(s.comm);
      first = !pieces.empty() ? pieces.front().site
                              : static_cast<int>(std::count_if(owner.begin(), owner.end(), [&](int r) { return r < rank; }));
      local = static_cast<int>(pieces.size());
    }
    return io::read_replica_states(reader, first, local, s.sites, s.parameters, s.obs_dim, prefix);
  }

  // The learning rate decays linearly over the schedule's length; a restart that changed
  // it would not continue the interrupted run bit for bit, so it is refused.
  void check_schedule(const SkillRun& s, io::CheckpointReader& reader) const {
    const learning::LearnerConfig& l = s.cfg->learner;
    const std::string key = s.attribute("anneal_iterations");
    if (!l.anneal_learning_rate || !reader.has_attribute(key)) return;
    const std::int64_t stored = reader.attribute_int(key);
    if (stored == l.total_updates) return;
    const std::string where = s.deck_path() + ".ppo";
    throw Error("checkpoint " + reader.file() + " anneals the learning rate over " + std::to_string(stored) +
                    " iterations, deck " + in_.deck_file + " over " + std::to_string(l.total_updates) + " (" + where +
                    ".anneal_iterations, by default training.iterations); a continued run would not "
                    "equal an uninterrupted one. Keep the schedule with --set " + where +
                    ".anneal_iterations=" + std::to_string(stored) + ", or set " + where +
                    ".anneal_learning_rate: false",
                ExitCode::bad_input);
  }

  void write_checkpoint() override {
    const Region region("checkpoint");
    const auto phase = Clock::now();
    history_.start_sync();  // the disk writes the rows while the state is packed
    io::CheckpointWriter writer(comm_, paths_.checkpoints, sequence_);
    writer.attribute("deck", in_.deck_text);
    writer.attribute("resolved_deck", in_.resolved_yaml);
    writer.attribute("build_info", std::string(build_info::summary));
    std::string kinds, modes, names;
    std::int64_t sites = 0;
    for (const auto& s : skills_) {
      kinds += (kinds.empty() ? "" : ",") + std::string(skills::kind_name(s->cfg->skill.kind));
      modes += (modes.empty() ? "" : ",") + std::string(training::mode_name(s->cfg->sharing.mode));
      names += (names.empty() ? "" : ",") + s->name();
      sites += s->sites;
    }
    writer.attribute("skill", kinds);
    writer.attribute("sharing_mode", modes);
    if (!cfg_.skills.empty()) writer.attribute("skills", names);
    writer.attribute("sites", sites);
    writer.attribute("iteration", iteration_);
    writer.attribute("history_rows", rows_);
    writer.attribute("sequence", sequence_);
    writer.attribute("model_fingerprint", static_cast<std::int64_t>(io::training_fingerprint(cfg_, in_.run.seed)));
    for (const auto& sp : skills_) {
      const SkillRun& s = *sp;
      writer.attribute(s.attribute("anneal_iterations"), s.cfg->learner.total_updates);
      // The latest iteration's episode figures, for the RESULT line of a run that restarts
      // at its last iteration.
      writer.attribute(s.attribute("last_episodes"), s.last_finished.episodes);
      writer.attribute(s.attribute("last_mean_return"), s.last_finished.mean_return);
      writer.attribute(s.attribute("last_success"), s.last_finished.success);
      writer.attribute(s.attribute("last_quality"), s.last_finished.quality);
      writer.attribute(s.attribute("last_final_error"), s.last_finished.final_error);
      const std::vector<std::string> causes = skills::miss_causes(s.cfg->skill.kind);
      for (std::size_t c = 0; c < causes.size(); ++c)
        writer.attribute(s.attribute("last_miss_" + causes[c]), s.last_finished.misses[c]);
      if (!s.cfg->curriculum.empty()) {
        writer.attribute(s.attribute("curriculum_stage"), static_cast<std::int64_t>(s.stage));
        writer.attribute(s.attribute("curriculum_streak"), s.stage_streak);
      }
    }
    for (const auto& sp : skills_) {
      const SkillRun& s = *sp;
      skills::FleetState fleet;
      fleet.dof = s.dof;
      training::UnitState learners;
      std::int64_t begin = 0;
      if (s.member()) {
        fleet = s.unit->save_fleet();
        learners = s.unit->state();
        begin = s.unit->local_begin();
      }
      if (!s.replica_per_site()) {
        io::write_training_state(writer, fleet, begin, s.cfg->robots,
                                 learners.replicas.empty() ? learning::LearnerState{} : learners.replicas.front(),
                                 s.prefix(), s.ranks.first);
      } else {
        io::write_fleet_state(writer, fleet, begin, s.cfg->robots, s.prefix());
        io::write_replica_states(writer, learners, s.prefix(), s.ranks.first);
      }
    }
    history_.sync();  // the rows the checkpoint counts are on disk before it is
    writer.commit(in_.run.checkpoint_keep);
    ++sequence_;
    last_checkpoint_iteration_ = iteration_;
    timers_.checkpoint_s += seconds_since(phase);
  }

  // ---- evaluation (a deck of one skill, on every rank) ----

  int evaluate() {
    t0_ = Clock::now();
    SkillRun& s = *skills_.front();
    training::SkillUnit& unit = *s.unit;
    prepare_output_dir(comm_, paths_, false, cli_.overwrite);
    const learning::PolicyExport policy = io::read_policy(comm_, cfg_.policy_file, skills::kind_name(unit.kind()));
    const std::string problem = comm::first_problem(comm_, unit.import_problem(policy));
    if (!problem.empty()) throw Error(problem, ExitCode::bad_input);
    unit.import_policy(policy);
    // An evaluation judges at the tolerances training ends with: the last stage's.
    if (!s.cfg->curriculum.empty()) s.stage = s.cfg->curriculum.size() - 1;
    unit.set_tolerance_scale(s.tolerance_scale());
    unit.reset_all(false);
    finished_.assign(static_cast<std::size_t>(unit.local_robots()), 0);
    history_ = io::History::create(comm_, paths_.history, in_.deck_text, in_.resolved_yaml);
    history_.set_publish_interval(in_.run.history_publish_s);
    timers_.restart_s = seconds_since(t0_);
    if (root_) print_header();

    // Enough iterations for every robot to finish its episodes, whatever ends them; the loop
    // ends as soon as every robot has.
    const std::int64_t steps_needed = cfg_.eval_episodes * static_cast<std::int64_t>(cfg_.skill.common.episode_steps);
    planned_ = (steps_needed + cfg_.horizon - 1) / cfg_.horizon;
    eval_total_ = training::SiteTally(s.sites);
    loop_start_ = Clock::now();
    // An evaluation keeps no checkpoint: it is short and starts over (with --overwrite).
    const int code = run_passes(*this, stop_, root_);
    history_.publish();  // no final checkpoint publishes its last rows
    if (code != 0) {
      print_timers(t0_);
      return code;
    }
    const double loop_s = seconds_since(loop_start_);
    const EpisodeStats overall = training::combine(*diagnostics_, eval_total_).front();
    if (root_)
      std::printf("evaluation of %s: %lld episodes, mean return %.6g, success %.4f, quality %.4f, final error %.4g m\n",
                  cfg_.policy_file.c_str(), static_cast<long long>(overall.episodes), overall.mean_return,
                  overall.success, overall.quality, overall.final_error);
    print_misses(s, overall);
    print_timers(t0_);
    print_result(s, iteration_, loop_s, iteration_ * env_steps_per_iteration(),
                 static_cast<double>(iteration_ * env_steps_per_iteration()), overall);
    return 0;
  }

  // weld: "missed (fraction of the seam length, share of the misses): lateral 0.012 (40%)
  // ...", each cause's mean fraction and its share of the missed length (1 - quality; a
  // length missed on several counts is in each, so shares may sum above 100%). pick_place:
  // "failed (fraction of the episodes, share of the failures): dropped 0.02 (50%) ...".
  void print_misses(const SkillRun& s, const EpisodeStats& e) const {
    const std::vector<std::string> causes = skills::miss_causes(s.cfg->skill.kind);
    if (!root_ || causes.empty() || e.episodes == 0) return;
    const bool weld = s.cfg->skill.kind == skills::SkillKind::weld;
    std::printf(weld ? "missed (fraction of the seam length, share of the misses):"
                     : "failed (fraction of the episodes, share of the failures):");
    const double missed = weld ? 1 - e.quality : 1 - e.success;
    for (std::size_t c = 0; c < causes.size(); ++c)
      std::printf(" %s %.4f (%.0f%%)", causes[c].c_str(), e.misses[c], missed > 0 ? 100 * e.misses[c] / missed : 0.0);
    std::printf("\n");
  }

  // One iteration of an evaluation: a deterministic rollout, its figures, the row.
  void evaluation_iteration() {
    SkillRun& s = *skills_.front();
    const auto iteration_start = Clock::now();
    training::SiteTally tally(s.sites);
    rollout(s, tally, false);
    eval_total_.merge(tally);
    const auto phase = Clock::now();
    const std::vector<EpisodeStats> figures = training::combine(*diagnostics_, tally);
    const bool unfinished =
        std::any_of(finished_.begin(), finished_.end(), [&](std::int64_t k) { return k < cfg_.eval_episodes; });
    all_done_ = !comm::any_rank(comm_, unfinished);
    timers_.communication_s += seconds_since(phase);
    ++iteration_;
    write_row(t0_, iteration_start, {figures}, false);
    progress(loop_start_, 0, std::max(planned_, iteration_), {figures});
  }

  // ---- output ----

  // The target's figure, from the skill's target_metric (`auto`: mean quality for weld, the
  // success rate otherwise): its name as printed, its value, and whether it must stay below
  // the target (final error) or reach it.
  struct TargetFigure {
    const char* name;
    double value;
    bool at_most;
  };
  static TargetFigure target_figure(const SkillRun& s, const EpisodeStats& e) {
    io::TargetMetric metric = s.cfg->target_metric;
    if (metric == io::TargetMetric::automatic)
      metric = s.cfg->skill.kind == skills::SkillKind::weld ? io::TargetMetric::quality : io::TargetMetric::success;
    switch (metric) {
      case io::TargetMetric::quality: return {"quality >=", e.quality, false};
      case io::TargetMetric::final_error: return {"final_error (m) <=", e.final_error, true};
      default: return {"success >=", e.success, false};
    }
  }
  static bool reached_target(const SkillRun& s, const EpisodeStats& e) {
    const TargetFigure f = target_figure(s, e);
    return e.episodes > 0 && s.final_stage() && (f.at_most ? f.value <= s.cfg->target : f.value >= s.cfg->target);
  }

  void print_header() const {
    std::cout << build_info::summary << "\n";
    const int size = comm::size_of(comm_);
    for (const auto& sp : skills_) {
      const SkillRun& s = *sp;
      const io::TrainingConfig& c = *s.cfg;
      if (!s.several) {
        std::cout << "deck " << in_.deck_file << ": " << (evaluate_ ? "evaluating " : "training ")
                  << skills::kind_name(c.skill.kind) << " on " << c.robots << " " << c.robot.name << " robots (" << s.obs_dim
                  << " observations, " << s.act_dim << " actions, " << s.parameters << " parameters) on " << size
                  << " ranks; horizon " << cfg_.horizon << "; output " << paths_.dir << std::endl;
      } else {
        if (&s == skills_.front().get())
          std::cout << "deck " << in_.deck_file << ": training " << skills_.size() << " skills on " << size
                    << " ranks; horizon " << cfg_.horizon << "; output " << paths_.dir << std::endl;
        std::cout << "skill " << s.name() << ": " << skills::kind_name(c.skill.kind) << " on " << c.robots << " "
                  << c.robot.name << " robots (" << s.obs_dim << " observations, " << s.act_dim << " actions, "
                  << s.parameters << " parameters) on ranks " << s.ranks.first << "-"
                  << s.ranks.first + s.ranks.count - 1 << std::endl;
      }
      if (c.sites_given || s.replica_per_site())
        std::cout << "  " << s.sites << " sites, sharing " << training::mode_name(c.sharing.mode) << " ("
                  << (s.replica_per_site() ? s.sites : 1) << " policy replicas) over "
                  << (c.sharing.nccl ? "nccl" : "mpi") << std::endl;
    }
  }

  // Collective: the phase table, min, mean and max over the ranks.
  void print_timers(Clock::time_point t0) const {
    print_phase_table(comm_,
                      {{"restart", timers_.restart_s},
                       {"physics", timers_.physics_s},
                       {"inference", timers_.inference_s},
                       {"update", timers_.update_s},
                       {"communication", timers_.communication_s},
                       {"history", timers_.output_s},
                       {"checkpoint", timers_.checkpoint_s}},
                      seconds_since(t0));
  }

  // env_steps: the skill's so far (also before a restart); the rate is this process's
  // `steps_here` over its loop's wall time `wall_s`. A skill of several adds name=<name>.
  void print_result(const SkillRun& s, std::int64_t iterations, double wall_s, std::int64_t env_steps,
                    double steps_here, const EpisodeStats& e) const {
    if (!root_) return;
    const bool reached = reached_target(s, e);
    std::printf("RESULT skill=%s iterations=%lld env_steps=%lld wall_s=%.3f env_steps_per_s=%.0f success=%.4f "
                "quality=%.4f reached_target=%s%s\n",
                skills::kind_name(s.cfg->skill.kind), static_cast<long long>(iterations), static_cast<long long>(env_steps),
                wall_s, wall_s > 0 ? steps_here / wall_s : 0.0, e.success, e.quality, reached ? "yes" : "no",
                s.several ? (" name=" + s.name()).c_str() : "");
    std::fflush(stdout);
  }

  MPI_Comm comm_;
  const TrainingInputs& in_;
  const io::TrainingConfig& cfg_;
  const CliOptions& cli_;
  bool root_;
  bool evaluate_;
  OutputPaths paths_;
  std::unique_ptr<comm::Collective> diagnostics_;  // every rank: episode figures, bytes
  std::vector<std::unique_ptr<SkillRun>> skills_;
  std::vector<std::int64_t> finished_;  // evaluation: counted episodes per local robot
  io::History history_;
  std::int64_t iteration_ = 0;  // iterations completed
  std::int64_t rows_ = 0;
  std::int64_t sequence_ = 0;
  std::int64_t last_checkpoint_iteration_ = -1;
  Timers timers_;
  Clock::time_point start_ = Clock::now();
  std::int64_t last_bytes_max_ = 0;  // the latest iteration's most bytes any rank sent
  std::int64_t diagnostic_calls_seen_ = 0;  // this rank's diagnostic calls up to the last row
  StopPoll stop_{comm_};  // agreed once per iteration
  Clock::time_point t0_, loop_start_;
  std::int64_t first_ = 0;    // the iteration this process started at
  std::int64_t planned_ = 0;  // evaluation: iterations expected
  bool all_done_ = false;     // evaluation: every robot finished its episodes
  training::SiteTally eval_total_;
};

// Refuses, on every rank alike and before anything is allocated or written (exit 2), a run
// whose ranks would hold more rollout rows than the kernels index (int) or need more
// memory than their node has: the deck bounds robots and horizon, but what one rank holds
// depends on the rank count. The bytes are an estimate from the rollout's arrays, the
// learner's per-row scratch and the fleet's state.
void check_training_fits(MPI_Comm comm, const io::TrainingConfig& cfg) {
  const int rank = comm::rank_of(comm);
  const std::vector<const io::TrainingConfig*> configs = skill_configs(cfg);
  const std::vector<training::RankRange> ranges = skill_ranks(cfg, comm::size_of(comm));
  std::int64_t local = 0;  // robots of all skills on this rank
  int horizon_rows_skill = -1;  // a skill whose rollout rows exceed an int
  double bytes = 0;
  for (std::size_t k = 0; k < configs.size(); ++k) {
    if (!ranges[k].holds(rank)) continue;
    const io::TrainingConfig& c = *configs[k];
    std::int64_t here = 0;
    for (const training::Piece& p :
         training::make_layout(unit_config(c, 0), rank - ranges[k].first, ranges[k].count).pieces)
      here += p.count;
    local += here;
    const double robots = static_cast<double>(here);
    const double rows = robots * c.horizon;
    if (rows > static_cast<double>(std::numeric_limits<int>::max())) horizon_rows_skill = static_cast<int>(k);
    const double dof = static_cast<double>(c.robot.joints.size());
    const double obs = 3.0 * dof + 16.0, act = dof + 1.0;  // the largest skill's layout
    double widths = obs + act + 1.0;
    for (int w : c.learner.policy_hidden) widths += w;
    for (int w : c.learner.value_hidden) widths += w;
    const double minibatch_rows = rows / std::max(1, c.learner.minibatches) + robots;
    bytes += rows * (12.0 * obs + 8.0 * act + 64.0) + minibatch_rows * widths * 16.0 + robots * 2048.0;
  }
  const double available = memory_per_rank_bytes(comm);  // collective: before any branch
  std::string problem;
  if (horizon_rows_skill >= 0) {
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
