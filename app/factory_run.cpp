// The factory run loop. Each pass: advance the simulation to the next report or
// checkpoint time (stopping early if a signal arrives), then write what is due. With robot
// cells, a pass ends at every update interval too: the cells' skills update their policies
// there, and a signal is honoured only there (the interval's experience is not checkpointed).
//
//   restart or start ─► advance ─► [cells: update] ─► history row ─► checkpoint ─► …
//
// Reports are at the multiples of report_interval_s and at end_time_s; checkpoints at the
// multiples of checkpoint_interval_s and at the end. The next one is always the first
// multiple after the current time, so every rank count, every restart and every change of
// the intervals on restart sees the same, strictly later times: each pass advances the
// simulated time (checked), and the loop cannot spin.
#include "app/factory_run.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <functional>
#include <limits>
#include <memory>

#include "app/output_dir.hpp"
#include "app/progress.hpp"
#include "app/signals.hpp"
#include "build_info.hpp"
#include "io/checkpoint.hpp"
#include "io/factory_checkpoint.hpp"
#include "io/history.hpp"
#include "io/policy_io.hpp"
#include "io/training_checkpoint.hpp"
#include "solvers/cells/cell_skill.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/comm/mpi_collective.hpp"
#include "solvers/core/error.hpp"
#include "solvers/factory/factory.hpp"
#include "solvers/learning/policy_transfer.hpp"

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

// Wall-clock time per phase, cumulative, printed as a table at exit (rank 0's view).
struct Timers {
  double advance_s = 0, report_s = 0, checkpoint_s = 0, restart_s = 0, update_s = 0;
  double cells_physics_s = 0, cells_inference_s = 0, cells_learning_s = 0;  // parts of advance_s and learning
};

// The checkpoint and history prefix of a cell skill's replica.
std::string replica_prefix(const std::string& skill, int replica) {
  return "cells/" + skill + "/replica_" + std::to_string(replica) + "/";
}

// The model a checkpoint continues: the factory, and each cell skill as a trained system.
std::uint64_t run_fingerprint(const io::Deck& deck) {
  std::uint64_t f = io::factory_fingerprint(deck.factory, deck.run.seed);
  if (deck.cells.skills.empty()) return f;  // plain factories keep their fingerprint
  const auto mix = [&f](std::uint64_t x) { f = (f ^ x) * 0x100000001B3ULL + 0x9E3779B97F4A7C15ULL; };
  mix(static_cast<std::uint64_t>(deck.cells.update_interval_s * 1e6));
  for (const io::CellSkillDeck& k : deck.cells.skills) {
    mix(io::training_fingerprint(k.skill, deck.run.seed));
    mix(k.learn ? 1 : 2);
    for (char c : k.name) mix(static_cast<unsigned char>(c));
  }
  return f;
}

class FactoryRun {
 public:
  FactoryRun(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli)
      : comm_(comm), deck_(deck), cli_(cli), root_(comm::rank_of(comm) == 0),
        paths_(output_paths(deck.run.output_dir)),
        factory_(deck.factory, deck.run.seed, comm),
        fingerprint_(run_fingerprint(deck)) {
    if (!deck.cells.skills.empty()) build_cells();
  }

  int execute() {
    const auto t0 = Clock::now();
    if (cells_ && !cli_.restart) transfer_cells();
    prepare_output_dir(comm_, paths_, cli_.restart.has_value(), cli_.overwrite);
    if (cli_.restart) {
      restart(*cli_.restart);
      history_ = io::History::resume(comm_, paths_.history, rows_, deck_.text, deck_.resolved_yaml);
    } else {
      history_ = io::History::create(comm_, paths_.history, deck_.text, deck_.resolved_yaml);
    }
    write_names();
    timers_.restart_s = seconds_since(t0);
    if (root_) print_header();

    const RunConfig& run = deck_.run;
    Progress progress(factory_.time_s(), run.end_time_s, root_);
    // Asked after every window and, collectively, after every pass: a signal is honoured
    // within about a quarter second of work or at the next window boundary, whatever the
    // deck's windows, and right after a report or checkpoint write it came during.
    StopPoll stop(comm_);
    // Cells: a pass is one update interval, never cut short (see the top of the file).
    const std::function<bool()> stop_requested = [&stop] { return stop.poll(); };
    const std::function<bool()> no_stop;
    double t = factory_.time_s();
    while (t < run.end_time_s) {
      const double next_report = next_multiple_after(t, run.report_interval_s, run.end_time_s);
      const double next_checkpoint = next_multiple_after(t, run.checkpoint_interval_s, run.end_time_s);
      double target = std::min(next_report, next_checkpoint);
      if (cells_) target = std::min(target, next_multiple_after(t, deck_.cells.update_interval_s, run.end_time_s));
      auto phase = Clock::now();
      if (cells_)
        for (auto& skill : cells_->skills()) skill->begin_interval(t, target);
      const double reached = factory_.advance(target, cells_ ? no_stop : stop_requested);
      timers_.advance_s += seconds_since(phase);
      if (cells_) {
        phase = Clock::now();
        update_cells();
        timers_.update_s += seconds_since(phase);
      }
      require(reached > t || stop.stopped(), "factory run: no progress in simulated time at t = " + std::to_string(t));
      t = reached;
      if (t == next_report) {
        phase = Clock::now();
        write_report(t0, progress);
        timers_.report_s += seconds_since(phase);
      }
      if (t == next_checkpoint && t < run.end_time_s) write_checkpoint();
      if (stop.poll_now() && t < run.end_time_s) {  // checkpoint where we are and ask to be requeued
        if (last_checkpoint_time_ != t) write_checkpoint();
        if (root_)
          std::cout << "stopped by " << stop_signal_name() << " at t=" << format_duration(t)
                    << " after writing a checkpoint; restart with --restart latest (exit 4)" << std::endl;
        print_timers(t0);
        return static_cast<int>(ExitCode::stopped);
      }
    }
    if (last_checkpoint_time_ != t) write_checkpoint();
    print_timers(t0);
    return 0;
  }

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
      auto learners = std::make_shared<std::vector<learning::LearnerState>>();
      if (cells_)
        for (auto& skill : cells_->skills())
          for (int r = 0; r < skill->replicas(); ++r) {
            const learning::PpoLearner& l = skill->learner(r);
            learners->push_back(io::read_learner_state(reader, l.parameter_count(), l.config().obs_dim,
                                                       replica_prefix(skill->config().name, r)));
            const std::string problem = l.restore_problem(learners->back());
            if (!problem.empty())
              throw Error("checkpoint " + reader.file() + ": cell skill " + skill->config().name + ": " + problem,
                          ExitCode::bad_checkpoint);
          }
      return [this, rows, sequence, snapshot, learners] {
        factory_.restore(snapshot->time_s, snapshot->state);
        std::size_t k = 0;
        if (cells_)
          for (auto& skill : cells_->skills())
            for (int r = 0; r < skill->replicas(); ++r) skill->learner(r).restore((*learners)[k++]);
        rows_ = rows;
        sequence_ = sequence + 1;
      };
    });
    last_checkpoint_time_ = factory_.time_s();
    if (root_)
      std::cout << "restarted from " << used << " at t=" << format_duration(factory_.time_s()) << " ("
                << rows_ << " history rows kept)" << std::endl;
  }

  void write_checkpoint() {
    const auto phase = Clock::now();
    history_.sync();  // the rows the checkpoint counts are on disk before it
    io::CheckpointWriter writer(comm_, paths_.checkpoints, sequence_);
    writer.attribute("deck", deck_.text);
    writer.attribute("resolved_deck", deck_.resolved_yaml);
    writer.attribute("build_info", std::string(build_info::summary));
    writer.attribute("time_s", factory_.time_s());
    writer.attribute("history_rows", rows_);
    writer.attribute("sequence", sequence_);
    writer.attribute("model_fingerprint", static_cast<std::int64_t>(fingerprint_));
    io::write_factory_state(writer, factory_);
    if (cells_)
      for (auto& skill : cells_->skills())
        for (int r = 0; r < skill->replicas(); ++r)
          io::write_learner_state(writer, skill->learner(r).state(), replica_prefix(skill->config().name, r));
    writer.commit(deck_.run.checkpoint_keep);
    ++sequence_;
    last_checkpoint_time_ = factory_.time_s();
    timers_.checkpoint_s += seconds_since(phase);
  }

  void write_report(Clock::time_point t0, Progress& progress) {
    const factory::KpiReport report = factory_.report();
    const std::int64_t events = comm::allreduce_sum(comm_, factory_.events_processed());
    if (root_) {
      history_.append("time_s", std::vector<double>{report.time_s}, "s");
      for (const auto& c : report.station) history_.append("stations/" + c.name, c.values, c.unit);
      for (const auto& c : report.line) history_.append("lines/" + c.name, c.values, c.unit);
      for (const auto& c : report.factory) history_.append("factories/" + c.name, c.values, c.unit);
      history_.append("timings/wall_s", std::vector<double>{seconds_since(t0)}, "s");
      history_.append("timings/advance_s", std::vector<double>{timers_.advance_s}, "s");
      history_.append("timings/checkpoint_s", std::vector<double>{timers_.checkpoint_s}, "s");
      history_.append("timings/events", std::vector<std::int64_t>{events}, "1");
      if (cells_) {
        history_.append("timings/cells_physics_s", std::vector<double>{timers_.cells_physics_s}, "s");
        history_.append("timings/cells_inference_s", std::vector<double>{timers_.cells_inference_s}, "s");
        history_.append("timings/cells_learning_s", std::vector<double>{timers_.cells_learning_s}, "s");
      }
      for (std::size_t k = 0; k < last_updates_.size(); ++k) write_cell_columns(k);
    }
    history_.end_row();
    ++rows_;
    std::string line = summarize(report);
    for (std::size_t k = 0; k < last_updates_.size(); ++k) {
      const cells::CellFigures& f = last_updates_[k].figures;
      char text[160];
      std::snprintf(text, sizeof text, "  %s: success %.2f quality %.2f", deck_.cells.skills[k].name.c_str(),
                    f.success, f.quality);
      line += text;
    }
    progress.report(report.time_s, line);
  }

  // The cell skill's figures of the update interval that ends at this row's time.
  void write_cell_columns(std::size_t k) {
    const std::string p = "cells/" + deck_.cells.skills[k].name + "/";
    const cells::CellUpdate& u = last_updates_[k];
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
    count("updates", skill_updates(k));
    const double nan = std::numeric_limits<double>::quiet_NaN();
    real("policy_loss", u.updated ? u.ppo.policy_loss : nan, "1");
    real("value_loss", u.updated ? u.ppo.value_loss : nan, "1");
    real("entropy", u.updated ? u.ppo.entropy : nan, "1");
    real("approx_kl", u.updated ? u.ppo.approx_kl : nan, "1");
    real("learning_rate", u.updated ? u.ppo.learning_rate : nan, "1");
  }

  std::int64_t skill_updates(std::size_t k) {
    return cells_->skills()[k]->learner(0).updates();
  }

  // The cells of every skill: this rank's stations, one learner per replica, and where a
  // deck says so a start from a skill library's policy (not on restart: the checkpoint has it).
  void build_cells() {
    const double interval = deck_.cells.update_interval_s;
    // Each local cell: its factory (site) and its index in its line.
    std::vector<int> site_of, visit_of;
    for (std::size_t f = 0; f < deck_.factory.factories.size(); ++f)
      for (const auto& line : deck_.factory.factories[f].lines)
        for (std::size_t i = 0; i < line.stations.size(); ++i) {
          site_of.push_back(static_cast<int>(f));
          visit_of.push_back(static_cast<int>(i));
        }
    std::vector<const factory::StationConfig*> config;
    for (const auto& f : deck_.factory.factories)
      for (const auto& line : f.lines)
        for (const auto& st : line.stations) config.push_back(&st);
    collective_ = comm::make_mpi_collective(comm_);
    std::vector<std::unique_ptr<cells::CellSkill>> skills;
    for (std::size_t k = 0; k < deck_.cells.skills.size(); ++k) {
      const io::CellSkillDeck& d = deck_.cells.skills[k];
      cells::CellSkillConfig c;
      c.name = d.name;
      c.robot = d.skill.robot;
      c.skill = d.skill.skill;
      c.learner = d.skill.learner;
      c.learner.total_updates = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(deck_.run.end_time_s / interval)));
      c.sites = static_cast<int>(deck_.factory.factories.size());
      c.learn = d.learn;
      c.shared = d.skill.sharing.mode == training::SharingMode::allreduce;
      c.seed = deck_.run.seed;
      std::vector<cells::CellStation> mine;
      for (std::int64_t g : factory_.local_cells()) {
        const factory::StationConfig& st = *config[static_cast<std::size_t>(g)];
        if (st.cell.skill == static_cast<int>(k))
          mine.push_back(cells::CellStation{g, site_of[static_cast<std::size_t>(g)], visit_of[static_cast<std::size_t>(g)], st.cell});
      }
      skills.push_back(std::make_unique<cells::CellSkill>(c, std::move(mine), *collective_));
    }
    cells_ = std::make_unique<cells::Cells>(std::move(skills));
    factory_.set_cells(cells_.get());
    last_updates_.resize(deck_.cells.skills.size());
  }

  // Before anything is written: a transfer that cannot be met is a deck error (exit 2).
  void transfer_cells() {
    for (std::size_t k = 0; k < deck_.cells.skills.size(); ++k) {
      const io::CellSkillDeck& d = deck_.cells.skills[k];
      if (d.skill.transfer.policy.empty()) continue;
      cells::CellSkill& skill = *cells_->skills()[k];
      const io::PolicyFile file = io::read_policy_file(comm_, d.skill.transfer.policy);
      const learning::TransferSource source{d.skill.transfer.policy, file.policy, file.info.observations,
                                            file.info.actions};
      std::string report;
      try {
        for (int r = 0; r < skill.replicas(); ++r) {
          learning::PpoLearner& l = skill.learner(r);
          const learning::TransferResult t = learning::plan_transfer(source, l, skill.observation_layout(),
                                                                     skill.action_layout(), d.skill.transfer.request);
          l.set_parameters(t.parameters);
          if (t.normalizer_taken) l.restore_normalizer(t.normalizer);
          if (!t.refit.columns.empty()) l.refit_inputs(t.refit);
          report.clear();
          for (const std::string& line : t.report) report += "  " + line + "\n";
        }
      } catch (const Error& e) {  // the same verdict on every rank: every rank holds every replica
        throw Error("cells.skills." + std::to_string(k) + ".transfer in deck " + cli_.deck + ": " + e.what(),
                    ExitCode::bad_input);
      }
      if (root_)
        std::cout << "cell skill " << d.name << " starts from " << d.skill.transfer.policy << " (" << file.info.skill
                  << ", " << file.info.env_steps << " env-steps)" << (d.learn ? "" : ", frozen") << ":\n"
                  << report << std::flush;
    }
  }

  // The end of an update interval: each skill's figures, and its policy updates.
  void update_cells() {
    for (std::size_t k = 0; k < cells_->skills().size(); ++k) {
      last_updates_[k] = cells_->skills()[k]->end_interval();
      timers_.cells_physics_s += last_updates_[k].physics_s;
      timers_.cells_inference_s += last_updates_[k].inference_s;
      timers_.cells_learning_s += last_updates_[k].learning_s;
    }
  }

  // Names of the columns of stations/*, lines/* and factories/*, in global-id order.
  void write_names() {
    std::vector<std::string> stations, lines, factories;
    for (const auto& f : deck_.factory.factories) {
      factories.push_back(f.name);
      for (const auto& l : f.lines) {
        lines.push_back(f.name + "/" + l.name);
        for (const auto& st : l.stations) stations.push_back(f.name + "/" + l.name + "/" + st.name);
      }
    }
    history_.write_static("stations/names", stations);
    history_.write_static("lines/names", lines);
    history_.write_static("factories/names", factories);
  }

  void print_header() const {
    std::cout << build_info::summary << "\n"
              << "deck " << cli_.deck << ": " << factory_.station_count() << " stations in "
              << factory_.line_count() << " lines on " << comm::size_of(comm_) << " ranks; lookahead "
              << factory_.lookahead_s() << " s; output " << paths_.dir << std::endl;
  }

  void print_timers(Clock::time_point t0) const {
    const double total = seconds_since(t0);
    const std::int64_t events = comm::allreduce_sum(comm_, factory_.events_processed());
    if (!root_) return;
    const int ranks = comm::size_of(comm_);
    std::printf("%-12s %10s %7s\n", "phase", "wall_s", "share");
    const auto row = [&](const char* name, double s) {
      std::printf("%-12s %10.3f %6.1f%%\n", name, s, total > 0 ? 100.0 * s / total : 0.0);
    };
    row("restart", timers_.restart_s);
    row("advance", timers_.advance_s);
    if (cells_) {
      row(" cell robots", timers_.cells_physics_s);
      row(" cell policy", timers_.cells_inference_s);
      row("update", timers_.update_s);
    }
    row("report", timers_.report_s);
    row("checkpoint", timers_.checkpoint_s);
    row("total", total);
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
  factory::Factory factory_;
  std::uint64_t fingerprint_;  // of the model and seed: a checkpoint continues only the same
  io::History history_;
  std::int64_t rows_ = 0;
  std::int64_t sequence_ = 0;
  double last_checkpoint_time_ = -1.0;
  Timers timers_;
  std::unique_ptr<comm::Collective> collective_;  // the cells' learners (every rank)
  std::unique_ptr<cells::Cells> cells_;
  std::vector<cells::CellUpdate> last_updates_;  // per cell skill: its last interval
};

}  // namespace

int run_factory(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli) {
  return FactoryRun(comm, deck, cli).execute();
}

}  // namespace kollektiv::app
