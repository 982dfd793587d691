// Experiments. The tasks (scenario s, replication r), numbered k = s R + r, go round-robin to
// G = min(ranks, tasks) groups of contiguous ranks (one communicator each, split once); a
// group runs its tasks one after the other. A task's results do not depend on the group's
// size (a factory run is the same at any rank count), so the experiment's output is the
// same for any rank count. Each group's first rank keeps its tasks' KPIs as text lines
// "name<TAB>value"; rank 0 gathers them, computes each KPI's mean and Student-t confidence
// interval per scenario, writes experiment.h5 and prints the table. Replication r of every
// scenario uses the seed run.seed + r (common random numbers: differences between scenarios
// are not blurred by different draws).
#include "app/experiment_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

#include "app/output_dir.hpp"
#include "app/plant.hpp"
#include "io/experiment_file.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"
#include "solvers/core/statistics.hpp"

namespace kollektiv::app {

namespace {

using Clock = std::chrono::steady_clock;

// One task's KPIs, in a fixed order: factories', lines', then each cell skill's.
std::vector<std::pair<std::string, double>> run_task(MPI_Comm group, const io::Deck& d, const std::string& deck_file) {
  Plant plant(group, d);
  plant.start_cells_from_policies(deck_file);
  std::vector<std::int64_t> parts(d.cells.skills.size()), good(parts.size()), reworks(parts.size());
  double t = 0;
  while (t < d.run.end_time_s) {
    const double next = plant.has_cells() ? std::min(d.run.end_time_s, t + d.cells.update_interval_s) : d.run.end_time_s;
    t = plant.advance(next, {});
    for (std::size_t k = 0; k < plant.last_updates().size(); ++k) {
      parts[k] += plant.last_updates()[k].figures.parts;
      good[k] += plant.last_updates()[k].figures.good;
      reworks[k] += plant.last_updates()[k].figures.reworks;
    }
  }
  // Whole on the group's first rank (an experiment's tasks are small models).
  const factory::KpiReport report = factory::gather_to_root(group, plant.factory().report());
  std::vector<std::pair<std::string, double>> kpis;
  const factory::ModelNames names = factory::model_names(d.factory);
  for (const auto& c : report.factory)
    for (std::size_t i = 0; i < c.values.size(); ++i)
      kpis.emplace_back("factories/" + names.factories[i] + "/" + c.name, c.values[i]);
  for (const auto& c : report.line)
    for (std::size_t i = 0; i < c.values.size(); ++i)
      kpis.emplace_back("lines/" + names.lines[i] + "/" + c.name, c.values[i]);
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const std::string p = "cells/" + d.cells.skills[k].name + "/";
    const cells::CellFigures& last = plant.last_updates()[k].figures;
    kpis.emplace_back(p + "parts", static_cast<double>(parts[k]));
    kpis.emplace_back(p + "yield", parts[k] > 0 ? static_cast<double>(good[k]) / parts[k] : std::nan(""));
    kpis.emplace_back(p + "reworks", static_cast<double>(reworks[k]));
    kpis.emplace_back(p + "final_success", last.success);
    kpis.emplace_back(p + "final_quality", last.quality);
  }
  return kpis;
}

// Every rank's `text` on rank 0, in rank order (empty elsewhere).
std::vector<std::string> gather_text(MPI_Comm comm, const std::string& text) {
  const int size = comm::size_of(comm), rank = comm::rank_of(comm);
  const auto length = static_cast<std::int64_t>(text.size());
  const std::vector<std::int64_t> lengths = comm::gather_to_root(comm, std::vector<std::int64_t>{length});
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  std::string all;
  if (rank == 0) {
    std::int64_t total = 0;
    for (int r = 0; r < size; ++r) {
      require(total + lengths[static_cast<std::size_t>(r)] < (std::int64_t{1} << 31), "experiment: results too large to gather");
      counts[static_cast<std::size_t>(r)] = static_cast<int>(lengths[static_cast<std::size_t>(r)]);
      displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
      total += lengths[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(text.data(), static_cast<int>(text.size()), MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR,
              0, comm);
  std::vector<std::string> out;
  if (rank == 0)
    for (int r = 0; r < size; ++r)
      out.push_back(all.substr(static_cast<std::size_t>(displs[static_cast<std::size_t>(r)]),
                               static_cast<std::size_t>(counts[static_cast<std::size_t>(r)])));
  return out;
}

class GroupComm {
 public:
  GroupComm(MPI_Comm comm, int color, int key) { MPI_Comm_split(comm, color, key, &comm_); }
  ~GroupComm() { MPI_Comm_free(&comm_); }
  GroupComm(const GroupComm&) = delete;
  GroupComm& operator=(const GroupComm&) = delete;
  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

void print_table(const io::ExperimentResults& res) {
  // The factories' and the cells' KPIs (lines are in the file).
  std::printf("%-40s", "KPI (mean ± half-width)");
  for (const auto& s : res.scenarios) std::printf(" %24s", s.name.c_str());
  std::printf("\n");
  const auto& names = res.scenarios.front().kpi_names;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].rfind("lines/", 0) == 0) continue;
    std::printf("%-40s", names[i].c_str());
    for (const auto& s : res.scenarios) {
      const auto it = std::find(s.kpi_names.begin(), s.kpi_names.end(), names[i]);
      if (it == s.kpi_names.end()) {
        std::printf(" %24s", "-");
        continue;
      }
      const auto j = static_cast<std::size_t>(it - s.kpi_names.begin());
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.4g ± %.2g", s.mean[j], s.half_width[j]);
      std::printf(" %24s", cell);
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

}  // namespace

int run_experiment(MPI_Comm comm, const io::Deck& deck, const TaskDeck& task_deck, const CliOptions& cli) {
  const auto t0 = Clock::now();
  const int size = comm::size_of(comm), rank = comm::rank_of(comm);
  const io::ExperimentConfig& e = deck.experiment;
  const std::int64_t replications = e.replications;
  const auto scenarios = static_cast<std::int64_t>(e.scenarios.size());
  const std::int64_t tasks = scenarios * replications;
  const OutputPaths paths = output_paths(deck.run.output_dir);
  const std::string file = paths.dir + "/experiment.h5";
  require(!cli.restart, "an experiment is not checkpointed and cannot be restarted; run it again", ExitCode::bad_input);
  prepare_output_dir(comm, paths, false, cli.overwrite);

  const int groups = static_cast<int>(std::min<std::int64_t>(size, tasks));
  const int group = static_cast<int>(static_cast<std::int64_t>(rank) * groups / size);
  const GroupComm gc(comm, group, rank);
  const bool group_root = comm::rank_of(gc.get()) == 0;
  if (rank == 0)
    std::cout << "experiment: " << scenarios << " scenario(s) × " << replications << " replications = " << tasks
              << " runs to t=" << deck.run.end_time_s << " s on " << groups << " group(s) of ranks; output " << file
              << std::endl;

  std::ostringstream mine;
  mine.precision(17);
  for (std::int64_t k = group; k < tasks; k += groups) {
    const auto s = static_cast<std::size_t>(k / replications);
    const std::int64_t r = k % replications;
    const io::Deck d = task_deck(s, r);
    const auto kpis = run_task(gc.get(), d, cli.deck);
    if (!group_root) continue;
    for (const auto& [name, value] : kpis) mine << k << '\t' << name << '\t' << value << '\n';
  }
  const std::vector<std::string> texts = gather_text(comm, mine.str());
  if (rank != 0) return 0;

  // Per scenario: KPI names in the order of its first replication, values [replication][kpi].
  io::ExperimentResults res;
  res.replications = replications;
  res.confidence = e.confidence;
  res.first_seed = deck.run.seed;
  res.deck = deck.text;
  for (const auto& sc : e.scenarios) res.scenarios.push_back(io::ScenarioResults{sc.name, sc.overrides, {}, {}, {}, {}, {}});
  std::vector<std::map<std::string, std::vector<double>>> values(static_cast<std::size_t>(scenarios));
  for (const std::string& text : texts) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      const std::size_t a = line.find('\t'), b = line.find('\t', a + 1);
      const std::int64_t k = std::stoll(line.substr(0, a));
      const std::string name = line.substr(a + 1, b - a - 1);
      const double v = std::strtod(line.c_str() + b + 1, nullptr);
      auto& scenario = res.scenarios[static_cast<std::size_t>(k / replications)];
      auto& column = values[static_cast<std::size_t>(k / replications)][name];
      if (column.empty()) {  // every replication lists the same KPIs in the same order
        column.assign(static_cast<std::size_t>(replications), std::nan(""));
        scenario.kpi_names.push_back(name);
      }
      column[static_cast<std::size_t>(k % replications)] = v;
    }
  }
  for (std::size_t s = 0; s < res.scenarios.size(); ++s) {
    io::ScenarioResults& sc = res.scenarios[s];
    for (const std::string& name : sc.kpi_names) {
      const std::vector<double>& v = values[s][name];
      const stats::Interval i = stats::confidence_interval(v, e.confidence);
      sc.mean.push_back(i.mean);
      sc.half_width.push_back(i.half_width);
      sc.std_dev.push_back(i.std_dev);
      sc.values.insert(sc.values.end(), v.begin(), v.end());  // [kpi][replication]
    }
  }
  io::write_experiment(file, res);
  print_table(res);
  std::printf("%lld runs in %.1f s wall; wrote %s\n", static_cast<long long>(tasks),
              std::chrono::duration<double>(Clock::now() - t0).count(), file.c_str());
  return 0;
}

}  // namespace kollektiv::app
