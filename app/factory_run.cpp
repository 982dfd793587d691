// The factory run loop. Each pass: advance the plant to the next report or checkpoint time
// (stopping early if a signal arrives), then write what is due. With robot cells, a pass
// ends at every update interval too: the cells' skills update their policies there (inside
// Plant::advance), and a signal is honoured only there (an interval's experience is not
// checkpointed).
//
//   restart or start ─► advance ─► [cells: update] ─► history row ─► checkpoint ─► …
//
// Reports are at the multiples of report_interval_s and at end_time_s; checkpoints at the
// multiples of checkpoint_interval_s and at the end. The next one is always the first
// multiple after the current time, so every rank count, every restart and every change of
// the intervals on restart sees the same, strictly later times: each pass advances the
// simulated time (checked), and the loop cannot spin.
#include "app/factory_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

#include "app/output_dir.hpp"
#include "app/phase_timers.hpp"
#include "app/plant.hpp"
#include "app/progress.hpp"
#include "app/run_loop.hpp"
#include "app/signals.hpp"
#include "build_info.hpp"
#include "io/checkpoint.hpp"
#include "io/episode_file.hpp"
#include "io/factory_checkpoint.hpp"
#include "io/history.hpp"
#include "io/policy_io.hpp"
#include "io/training_checkpoint.hpp"
#include "solvers/cells/cell_skill.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"
#include "solvers/factory/factory.hpp"

namespace kollektiv::app {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The progress line's KPIs: all factories together (rank 0 holds the values).
std::string summarize(const factory::KpiReport& report) {
  const auto total = [&](const char* name) {
    const factory::KpiColumn* c = factory::KpiReport::find(report.factory, name);
    double sum = 0;
    if (c != nullptr)
      for (double v : c->values) sum += v;
    return sum;
  };
  const factory::KpiColumn* oee = factory::KpiReport::find(report.factory, "oee");
  const double mean_oee = oee != nullptr && !oee->values.empty() ? total("oee") / oee->values.size() : 0.0;
  char text[160];
  std::snprintf(text, sizeof text, "out %.0f parts  throughput %.1f/h  WIP %.1f  OEE %.3f", total("sink_count"),
                total("throughput"), total("wip"), mean_oee);
  return text;
}

// Wall-clock time per phase on this rank, cumulative; the table at exit gives min, mean and
// max over the ranks.
struct Timers {
  double advance_s = 0, report_s = 0, checkpoint_s = 0, restart_s = 0;
};

// The checkpoint group of a cell skill's replicas and sharing state.
std::string cells_prefix(const std::string& skill) { return "cells/" + skill + "/"; }


class FactoryRun final : public Workload {
 public:
  FactoryRun(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli)
      : comm_(comm), deck_(deck), cli_(cli), root_(comm::rank_of(comm) == 0),
        paths_(output_paths(deck.run.output_dir)),
        plant_(comm, deck),
        factory_(plant_.factory()),
        cells_(plant_.has_cells()),
        fingerprint_(plant_fingerprint(deck)) {}

  int execute() {
    t0_ = Clock::now();
    if (!cli_.restart) {
      const std::string started = plant_.start_cells_from_policies(cli_.deck);
      if (root_) std::cout << started << std::flush;
    }
    prepare_output_dir(comm_, paths_, cli_.restart.has_value(), cli_.overwrite);
    if (cli_.restart) {
      restart(*cli_.restart);
      clear_finished(comm_, paths_);
      history_ = io::History::resume(comm_, paths_.history, rows_, deck_.text, deck_.resolved_yaml);
    } else {
      history_ = io::History::create(comm_, paths_.history, deck_.text, deck_.resolved_yaml);
    }
    history_.set_publish_interval(deck_.run.history_publish_s);
    write_names();
    if (cells_) start_recordings();
    timers_.restart_s = seconds_since(t0_);
    if (root_) print_header();

    progress_ = std::make_unique<Progress>(factory_.time_s(), deck_.run.end_time_s, root_);
    // Asked after every window and, collectively, after every pass: a signal is honoured
    // within about a quarter second of work or at the next window boundary, whatever the
    // deck's windows, and right after a report or checkpoint write it came during.
    StopPoll stop(comm_);
    std::optional<AutoCheckpoint> automatic;
    if (deck_.run.checkpoint_auto) automatic.emplace(comm_, deck_.run.node_mtbf_s);
    const int code = run_passes(*this, stop, root_, automatic ? &*automatic : nullptr);
    if (code == 0 && cells_) export_cell_policies();
    print_timers(t0_);
    return code;
  }

  // ---- the Workload the shared run loop drives ----

  bool finished() const override { return factory_.time_s() >= deck_.run.end_time_s; }

  // Advance to the next report, checkpoint or (cells) update time, then write what is due.
  void pass(StopPoll& stop) override {
    const RunConfig& run = deck_.run;
    const double t = factory_.time_s();
    const double next_report = next_multiple_after(t, run.report_interval_s, run.end_time_s);
    next_checkpoint_ = next_multiple_after(t, run.checkpoint_interval_s, run.end_time_s);
    double target = std::min(next_report, next_checkpoint_);
    if (cells_) target = std::min(target, next_multiple_after(t, deck_.cells.update_interval_s, run.end_time_s));
    double reached = t;
    {
      const PhaseScope scope("advance", timers_.advance_s);
      reached = plant_.advance(target, [&stop] { return stop.poll(); });
    }
    if (cells_) write_recordings();
    require(reached > t || stop.stopped(), "factory run: no progress in simulated time at t = " + std::to_string(t));
    if (reached == next_report) {
      const PhaseScope scope("report", timers_.report_s);
      write_report(t0_, *progress_);
    }
  }

  bool checkpoint_due() const override { return factory_.time_s() == next_checkpoint_; }
  bool at_last_checkpoint() const override { return last_checkpoint_time_ == factory_.time_s(); }
  std::string position() const override { return "t=" + format_duration(factory_.time_s()); }

 private:
  void restart(const std::string& from) {
    const std::string source = from == "latest" ? paths_.checkpoints : from;
    const std::string used = io::load_newest_valid(comm_, source, [&](io::CheckpointReader& reader) {
      if (static_cast<std::uint64_t>(reader.attribute_int("model_fingerprint")) != fingerprint_)
        throw Error("checkpoint " + source + " was written for a different factory model or seed than deck " +
                        cli_.deck + "; only run-block settings (end time, reports, checkpoints) may change on restart",
                    ExitCode::bad_input);
      const std::int64_t rows = reader.attribute_int("history_rows");
      const std::int64_t sequence = reader.attribute_int("sequence");
      if (rows < 0 || sequence < 0)
        throw Error("checkpoint " + reader.file() + ": negative history_rows or sequence", ExitCode::bad_checkpoint);
      auto snapshot = std::make_shared<io::FactorySnapshot>(io::read_factory_state(reader, factory_));
      auto units = std::make_shared<std::vector<training::UnitState>>();
      auto steps = std::make_shared<std::vector<std::int64_t>>();
      if (cells_)
        for (auto& skill : plant_.cell_skills()) {
          steps->push_back(reader.attribute_int("cells." + skill->config().name + ".env_steps"));
          if (steps->back() < 0)
            throw Error("checkpoint " + reader.file() + ": negative env-steps of cell skill " + skill->config().name,
                        ExitCode::bad_checkpoint);
          const learning::PpoLearner& l = skill->learner(0);
          units->push_back(io::read_replica_states(reader, 0, skill->replicas(), skill->replicas(), l.parameter_count(),
                                                   l.config().obs_dim, cells_prefix(skill->config().name)));
          const std::string problem = skill->restore_problem(units->back());
          if (!problem.empty())
            throw Error("checkpoint " + reader.file() + ": cell skill " + skill->config().name + ": " + problem,
                        ExitCode::bad_checkpoint);
        }
      return [this, rows, sequence, snapshot, units, steps] {
        factory_.restore(snapshot->time_s, snapshot->state);
        std::size_t k = 0;
        if (cells_)
          for (auto& skill : plant_.cell_skills()) {
            skill->set_env_steps((*steps)[k]);
            skill->restore((*units)[k++]);
          }
        rows_ = rows;
        sequence_ = sequence + 1;
      };
    });
    last_checkpoint_time_ = factory_.time_s();
    if (root_)
      std::cout << "restarted from " << used << " at t=" << format_duration(factory_.time_s()) << " ("
                << rows_ << " history rows kept)" << std::endl;
  }

  void write_checkpoint() override {
    const PhaseScope scope("checkpoint", timers_.checkpoint_s);
    history_.start_sync();  // the disk writes the rows while the state is packed
    io::CheckpointWriter writer(comm_, paths_.checkpoints, sequence_);
    writer.attribute("deck", deck_.text);
    writer.attribute("resolved_deck", deck_.resolved_yaml);
    writer.attribute("build_info", std::string(build_info::summary));
    writer.attribute("time_s", factory_.time_s());
    writer.attribute("history_rows", rows_);
    writer.attribute("sequence", sequence_);
    writer.attribute("model_fingerprint", static_cast<std::int64_t>(fingerprint_));
    io::write_factory_state(writer, factory_);
    if (cells_)  // every rank holds every replica: rank 0 writes them
      for (auto& skill : plant_.cell_skills()) {
        io::write_replica_states(writer, root_ ? skill->state() : training::UnitState{},
                                 cells_prefix(skill->config().name));
        writer.attribute("cells." + skill->config().name + ".env_steps", skill->env_steps());
      }
    history_.sync();  // the rows the checkpoint counts are on disk before it is
    writer.commit(deck_.run.checkpoint_keep);
    ++sequence_;
    last_checkpoint_time_ = factory_.time_s();
  }

  void write_report(Clock::time_point t0, Progress& progress) {
    const factory::KpiReport report = factory_.report();
    const std::int64_t events = comm::allreduce_sum(comm_, factory_.events_processed());
    // Station and line columns come in rank by rank: rank 0 never holds all of them.
    for (const auto& c : report.station) history_.append_blocks("stations/" + c.name, c.values, report.stations.total, c.unit);
    for (const auto& c : report.line) history_.append_blocks("lines/" + c.name, c.values, report.lines.total, c.unit);
    if (root_) {
      history_.append("time_s", std::vector<double>{report.time_s}, "s");
      for (const auto& c : report.factory) history_.append("factories/" + c.name, c.values, c.unit);
      history_.append("timings/wall_s", std::vector<double>{seconds_since(t0)}, "s");
      history_.append("timings/advance_s", std::vector<double>{timers_.advance_s}, "s");
      history_.append("timings/checkpoint_s", std::vector<double>{timers_.checkpoint_s}, "s");
      history_.append("timings/events", std::vector<std::int64_t>{events}, "1");
      if (cells_) {
        history_.append("timings/cells_physics_s", std::vector<double>{plant_.cells_physics_s}, "s");
        history_.append("timings/cells_inference_s", std::vector<double>{plant_.cells_inference_s}, "s");
        history_.append("timings/cells_learning_s", std::vector<double>{plant_.cells_learning_s}, "s");
      }
      for (std::size_t k = 0; k < plant_.last_updates().size(); ++k) write_cell_columns(k);
    }
    history_.end_row();
    ++rows_;
    std::string line = summarize(report);
    for (std::size_t k = 0; k < plant_.last_updates().size(); ++k) {
      const cells::CellFigures& f = plant_.last_updates()[k].figures;
      char text[160];
      std::snprintf(text, sizeof text, "  %s: success %.2f quality %.2f", deck_.cells.skills[k].name.c_str(),
                    f.success, f.quality);
      line += text;
    }
    progress.report(report.time_s, line);
  }

  // What the cells learned goes into the skill library: OUTPUT/policy_<skill>.h5, or with one
  // policy per factory policy_<skill>_<factory>.h5 (every rank holds every replica; rank 0
  // writes). Frozen skills are not exported: they did not change.
  void export_cell_policies() {
    for (std::size_t k = 0; k < plant_.cell_skills().size(); ++k) {
      cells::CellSkill& skill = *plant_.cell_skills()[k];
      const io::CellSkillDeck& d = deck_.cells.skills[k];
      if (!d.learn) continue;
      for (int r = 0; r < skill.replicas(); ++r) {
        io::PolicyInfo info;
        info.skill = skills::kind_name(d.skill.skill.kind);
        info.robot = d.skill.robot.name;
        info.dof = static_cast<std::int64_t>(d.skill.robot.joints.size());
        info.observations = skill.observation_layout();
        info.actions = skill.action_layout();
        info.site = skill.replicas() > 1 ? deck_.factory.factories[static_cast<std::size_t>(r)].name : "";
        info.started_from = d.skill.transfer.policy;
        info.seed = static_cast<std::int64_t>(deck_.run.seed);
        info.iterations = skill.learner(r).updates();
        info.env_steps = skill.env_steps();
        info.deck = deck_.text;
        info.build_info = build_info::summary;
        const std::string file =
            paths_.dir + "/policy_" + d.name + (info.site.empty() ? "" : "_" + info.site) + ".h5";
        io::write_policy(comm_, file, skill.learner(r).export_policy(), info);
        if (root_) std::cout << "cell skill " << d.name << ": policy exported to " << file << std::endl;
      }
    }
  }

  // Production episodes the deck asked to record (cells.record): the first service of each
  // station at or after each time. After a restart, the times from the restart on.
  void start_recordings() {
    const double now = factory_.time_s();
    const std::vector<std::int64_t> local = factory_.local_cells();
    for (const io::RecordConfig& r : deck_.cells.record) {
      if (!std::binary_search(local.begin(), local.end(), r.station_gid)) continue;
      std::vector<double> times;
      for (double t : r.at_s)
        if (t >= now) times.push_back(t);
      for (auto& skill : plant_.cell_skills())
        if (skill->holds(r.station_gid)) skill->record(r.station_gid, times);
    }
  }

  // Each rank writes the episodes its cells recorded: OUTPUT/episodes/<station>_t<start>.h5.
  void write_recordings() {
    for (std::size_t k = 0; k < plant_.cell_skills().size(); ++k) {
      cells::CellSkill& skill = *plant_.cell_skills()[k];
      for (const cells::EpisodeRecording& r : skill.take_recordings()) {
        const io::CellSkillDeck& d = deck_.cells.skills[k];
        io::EpisodeLabels labels;
        labels.skill = d.name;
        labels.skill_kind = skills::kind_name(d.skill.skill.kind);
        labels.robot = d.skill.robot.name;
        labels.station = factory_.index().station_name(r.station_gid);
        labels.surface_normal = d.skill.skill.weld.surface_normal;
        std::string file = labels.station;
        std::replace(file.begin(), file.end(), '/', '.');
        char time[32];
        std::snprintf(time, sizeof time, "_t%.0f.h5", r.start_s);
        std::error_code ec;
        std::filesystem::create_directories(paths_.dir + "/episodes", ec);
        io::write_episode(paths_.dir + "/episodes/" + file + time, r, labels);
      }
    }
  }

  // The cell skill's figures of the update interval that ends at this row's time.
  void write_cell_columns(std::size_t k) {
    const std::string p = "cells/" + deck_.cells.skills[k].name + "/";
    const cells::CellUpdate& u = plant_.last_updates()[k];
    const cells::CellFigures& f = u.figures;
    const auto count = [&](const char* name, std::int64_t v) { history_.append(p + name, std::vector<std::int64_t>{v}, "1"); };
    const auto real = [&](const char* name, double v, const char* unit) { history_.append(p + name, std::vector<double>{v}, unit); };
    count("parts", f.parts);
    count("good", f.good);
    count("scrapped", f.scrapped);
    count("reworks", f.reworks);
    count("episodes", f.episodes);
    count("env_steps", f.steps);
    real("success", f.success, "1");
    real("quality", f.quality, "1");
    real("mean_return", f.mean_return, "1");
    real("episode_s", f.episode_s, "s");
    count("updates", plant_.cell_skills()[k]->learner(0).updates());
    count("rounds", u.rounds);
    count("failed_rounds", u.failed_rounds);
    real("disagreement", u.disagreement, "1");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    real("policy_loss", u.updated ? u.ppo.policy_loss : nan, "1");
    real("value_loss", u.updated ? u.ppo.value_loss : nan, "1");
    real("entropy", u.updated ? u.ppo.entropy : nan, "1");
    real("approx_kl", u.updated ? u.ppo.approx_kl : nan, "1");
    real("learning_rate", u.updated ? u.ppo.learning_rate : nan, "1");
  }

  // Names of the columns of stations/*, lines/* and factories/*, in global-id order: rank 0
  // spells them out from the model's index a piece at a time as it writes them.
  void write_names() {
    const factory::ModelIndex& index = factory_.index();
    history_.write_static("stations/names", index.station_count(), [&](std::int64_t g) { return index.station_name(g); });
    history_.write_static("lines/names", index.line_count(), [&](std::int64_t l) { return index.line_name(l); });
    history_.write_static("factories/names", index.factory_count(), [&](std::int64_t f) { return index.factory_name(f); });
  }

  void print_header() const {
    std::cout << build_info::summary << "\n"
              << "deck " << cli_.deck << ": " << factory_.station_count() << " stations in "
              << factory_.line_count() << " lines on " << comm::size_of(comm_) << " ranks; lookahead "
              << factory_.lookahead_s() << " s; output " << paths_.dir << std::endl;
  }

  // Collective: the phase table (min, mean, max over the ranks) and the event rates.
  void print_timers(Clock::time_point t0) const {
    const double total = seconds_since(t0);
    const std::int64_t events = comm::allreduce_sum(comm_, factory_.events_processed());
    std::vector<std::pair<std::string, double>> phases{{"restart", timers_.restart_s}, {"advance", timers_.advance_s}};
    if (cells_) {
      phases.emplace_back(" cell robots", plant_.cells_physics_s);
      phases.emplace_back(" cell policy", plant_.cells_inference_s);
      phases.emplace_back(" cell update", plant_.cells_learning_s);
    }
    phases.emplace_back("report", timers_.report_s);
    phases.emplace_back("checkpoint", timers_.checkpoint_s);
    print_phase_table(comm_, phases, total);
    if (!root_) return;
    const int ranks = comm::size_of(comm_);
    std::printf("events %lld, %.3g events/s, %.3g events/s per rank\n", static_cast<long long>(events),
                timers_.advance_s > 0 ? events / timers_.advance_s : 0.0,
                timers_.advance_s > 0 ? events / timers_.advance_s / ranks : 0.0);
    std::fflush(stdout);
  }

  MPI_Comm comm_;
  const io::Deck& deck_;
  const CliOptions& cli_;
  bool root_;
  OutputPaths paths_;
  Plant plant_;
  factory::Factory& factory_;
  bool cells_ = false;  // the plant has robot cells
  std::uint64_t fingerprint_;  // of the model and seed: a checkpoint continues only the same
  io::History history_;
  std::int64_t rows_ = 0;
  std::int64_t sequence_ = 0;
  double last_checkpoint_time_ = -1.0;
  Timers timers_;
  Clock::time_point t0_;
  std::unique_ptr<Progress> progress_;
  double next_checkpoint_ = -1.0;  // of the current pass
};

}  // namespace

int run_factory(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli) {
  return FactoryRun(comm, deck, cli).execute();
}

}  // namespace kollektiv::app
