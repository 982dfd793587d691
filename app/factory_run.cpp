// The factory run loop. Each pass: advance the simulation to the next report or
// checkpoint time (stopping early if a signal arrives), then write what is due.
//
//   restart or start ─► advance ─► history row ─► checkpoint ─► … ─► final checkpoint
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
#include <memory>

#include "app/output_dir.hpp"
#include "app/progress.hpp"
#include "app/signals.hpp"
#include "build_info.hpp"
#include "io/checkpoint.hpp"
#include "io/factory_checkpoint.hpp"
#include "io/history.hpp"
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

// Wall-clock time per phase, cumulative, printed as a table at exit (rank 0's view).
struct Timers {
  double advance_s = 0, report_s = 0, checkpoint_s = 0, restart_s = 0;
};

class FactoryRun {
 public:
  FactoryRun(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli)
      : comm_(comm), deck_(deck), cli_(cli), root_(comm::rank_of(comm) == 0),
        paths_(output_paths(deck.run.output_dir)),
        factory_(deck.factory, deck.run.seed, comm),
        fingerprint_(io::factory_fingerprint(deck.factory, deck.run.seed)) {}

  int execute() {
    const auto t0 = Clock::now();
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
    const auto stop_requested = [&stop] { return stop.poll(); };
    double t = factory_.time_s();
    while (t < run.end_time_s) {
      const double next_report = next_multiple_after(t, run.report_interval_s, run.end_time_s);
      const double next_checkpoint = next_multiple_after(t, run.checkpoint_interval_s, run.end_time_s);
      const double target = std::min(next_report, next_checkpoint);
      auto phase = Clock::now();
      const double reached = factory_.advance(target, stop_requested);
      timers_.advance_s += seconds_since(phase);
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
      return [this, rows, sequence, snapshot] {
        factory_.restore(snapshot->time_s, snapshot->state);
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
    }
    history_.end_row();
    ++rows_;
    progress.report(report.time_s, summarize(report));
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
};

}  // namespace

int run_factory(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli) {
  return FactoryRun(comm, deck, cli).execute();
}

}  // namespace kollektiv::app
