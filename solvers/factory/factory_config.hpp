// Plain, validated configuration of the factory model, as io::Deck produces it.
// Lines and stations are already expanded (a deck's `count` replicas are separate entries),
// so the solver never sees YAML. Units are seconds unless a name says otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kollektiv::factory {

enum class ArrivalKind { fixed, poisson };

struct SourceConfig {
  ArrivalKind kind = ArrivalKind::poisson;
  double interval_s = 60.0;  // fixed interval, or mean of the exponential inter-arrival time
};

enum class Distribution { fixed, uniform, exponential, lognormal };

// How long one part occupies the station. Only the fields of `distribution` are used:
//   fixed: mean_s;  uniform: min_s..max_s;  exponential: mean_s;  lognormal: mean_s and cv.
struct ProcessConfig {
  Distribution distribution = Distribution::fixed;
  double mean_s = 60.0;
  double min_s = 0.0;
  double max_s = 0.0;
  double cv = 0.25;  // lognormal coefficient of variation (std / mean)
};

struct BreakdownConfig {
  bool enabled = false;
  double mtbf_s = 0.0;  // mean time between failures (exponential)
  double mttr_s = 0.0;  // mean time to repair (exponential)
  bool only_when_busy = false;  // the failure clock runs only while processing
};

// A robot cell (solvers/cells): processing one part is an episode of a skill, one per robot
// of the cell, each robot on its own task of the part (a seam, an item), all at once.
struct CellConfig {
  bool enabled = false;       // false: a plain station (process and scrap_probability)
  int skill = 0;              // index of the skill in the run's cell skills
  int robots = 1;             // robots, i.e. tasks per part
  double handling_s = 0.0;    // loading and unloading, added to the episodes' duration
  double good_quality = 0.9;  // a part whose every task reaches this quality is good
  double rework_quality = 0.0;  // [rework_quality, good_quality): the cell tries again
  int max_rework = 0;         // further attempts at one part before it is scrapped
  double ideal_cycle_s = 0.0; // for OEE performance (the deck sets it; > 0)
};

struct StationConfig {
  std::string name;
  CellConfig cell;
  ProcessConfig process;
  double scrap_probability = 0.0;
  // Places for parts between the upstream station and this one: on the conveyor into it
  // plus waiting in its buffer (kanban). 0 means unlimited.
  std::int64_t buffer_capacity = 10;
  // Transport time from this station to the next one (ignored for the last station, which
  // hands parts straight to the sink). Must be > 0: it is the lookahead of the simulation.
  double conveyor_time_s = 10.0;
  BreakdownConfig breakdown;
};

struct LineConfig {
  std::string name;
  SourceConfig source;
  std::vector<StationConfig> stations;
};

struct FactoryConfig {
  std::string name;
  std::vector<LineConfig> lines;
};

struct FactoryModelConfig {
  std::vector<FactoryConfig> factories;
};

// The deck names of a model, each list in global order: factories, lines as
// "factory/line", stations as "factory/line/station" (what histories and files show).
struct ModelNames {
  std::vector<std::string> factories, lines, stations;
};
ModelNames model_names(const FactoryModelConfig& config);

}  // namespace kollektiv::factory
