// The input deck: YAML text (plus --set overrides) in, validated plain config structs out.
// Every error of a deck is collected, each with file:line:column, so a user fixes them in
// one pass. The keys, types, defaults and ranges are documented in inputs/README.md.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/run_config.hpp"
#include "io/training_config.hpp"
#include "solvers/factory/factory_config.hpp"

namespace kollektiv::io {

// One problem in a deck. Lines and columns are 1-based. Errors in a --set override have
// file "--set", line 1 and the column inside the override string.
struct DeckError {
  std::string file;
  int line = 1;
  int column = 1;
  std::string key_path;  // e.g. "factory.factories.0.lines.1.count"; empty for YAML syntax errors
  std::string message;   // "what was expected, what was found"

  // "FILE:LINE:COL: key.path: message" (without "key.path: " when the path is empty).
  std::string format() const;
};

// The skills of a factory's robot cells (`cells` block): each a skill block as in
// training.skills, without robots or sites (the cells are its robots, the factories its
// sites), learning from production episodes or frozen.
struct CellSkillDeck {
  std::string name;
  bool learn = true;
  TrainingConfig skill;  // robot, skill settings, ppo, sharing (allreduce | isolated), transfer
};
// Production episodes to record: the first service of a cell at or after each time.
struct RecordConfig {
  std::string station;            // "factory/line/station" (deck names, replicas as name#k)
  std::int64_t station_gid = -1;  // resolved
  std::vector<double> at_s;
};
struct CellsConfig {
  double update_interval_s = 600.0;  // the policy changes at the multiples of this
  std::vector<CellSkillDeck> skills;
  std::vector<RecordConfig> record;
};

// Digital-twin experiments (`experiment` block of a factory deck): every scenario runs
// `replications` times with the seeds run.seed, run.seed + 1, ... (the same seeds in every
// scenario: common random numbers), and each KPI's mean and confidence interval is reported.
struct ScenarioConfig {
  std::string name;
  std::vector<std::string> overrides;  // "key.path=value", applied like --set after the CLI's
};
struct ExperimentConfig {
  std::int64_t replications = 0;  // 0: no experiment block
  double confidence = 0.95;
  std::vector<ScenarioConfig> scenarios;  // at least one ("base": the deck as it is)
};

// A deck describes one of two kinds of run: a factory simulation (`factory` block) or the
// training or evaluation of a skill (`training` block, training.enabled set). The other
// kind's config keeps its defaults.
struct Deck {
  RunConfig run;  // in a training deck only seed, output_dir, checkpoint_keep, node_mtbf_s, history_publish_s apply
  factory::FactoryModelConfig factory;  // lines and stations expanded (count replicas)
  TrainingConfig training;
  CellsConfig cells;                    // a factory deck with robot cells
  ExperimentConfig experiment;          // a factory deck run as replications and scenarios
  std::string file;                     // the name the deck was read from
  std::string text;                     // the original bytes, stored in output files
  // Every key with its resolved value: defaults filled in, overrides applied, `count` kept
  // (not expanded). Parsing it again gives the same configuration.
  std::string resolved_yaml;
};

// Either a deck (errors empty) or every error found (deck empty), sorted by position:
// deck file first, then the overrides in the order given.
struct DeckResult {
  std::optional<Deck> deck;
  std::vector<DeckError> errors;
};

// Reads a file a deck refers to (a robot model): its bytes, or nullopt when it cannot be read.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

// The whole file at `path` from disk, or nullopt.
std::optional<std::string> read_file_from_disk(const std::string& path);

// Parses and validates a deck. No MPI; the filesystem only through `read_file`, for the
// files the deck refers to (training.robot and the URDF a robot block names), so that rank 0
// can read the files and broadcast the bytes and every rank reaches the same verdict.
// Referenced paths are relative to the folder of `file`. `overrides` are "key.path=value"
// strings from --set; sequence elements are addressed by index
// ("factory.factories.0.lines.1.count=5"); the value is read as YAML and checked exactly
// like a value in the file. Errors inside a referenced robot file carry that file's name,
// line and column.
// `memory_per_rank_bytes` (> 0: known) is the memory each rank may use and `ranks` the
// run's rank count; a factory whose largest share of stations would not fit one rank is a
// deck error. The caller passes the same values on every rank so that every rank reaches
// the same verdict.
DeckResult parse_deck(const std::string& text, const std::string& file,
                      const std::vector<std::string>& overrides = {},
                      const FileReader& read_file = read_file_from_disk, double memory_per_rank_bytes = 0.0,
                      int ranks = 1);

// The largest number of stations a deck may expand to (sum of all line and station
// replicas); guards against a typo allocating the machine away.
inline constexpr long long max_total_stations = 100'000'000;

// What one simulated station costs the rank that holds it (its state, FIFOs, the window's
// dense arrays, its report row and its checkpoint arrays at a write), measured with
// /usr/bin/time on a 10^7-station deck (README "Memory"), for the memory check above.
inline constexpr double bytes_per_station = 1024.0;

}  // namespace kollektiv::io
