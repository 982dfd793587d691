// ProcessModel: how long and how well a station processes one part. The factory asks it
// once per service start; the default DistributionProcessModel draws the duration from the
// station's configured distribution and the scrap decision from its scrap probability.
// Robot cells do not answer at once: their service starts are collected per window pass and
// resolved together by a CellProcess (one batch of episodes for all busy cells of a rank).
#pragma once

#include <cstdint>
#include <vector>

#include "solvers/factory/factory_config.hpp"

namespace kollektiv::factory {

// A part as a station sees it.
struct Part {
  std::int64_t id = -1;       // (global line index << 40) | arrival count at the line's source
  double entry_time_s = 0.0;  // when it entered its line (the buffer of station 0)
  int type = 0;               // its part type (FactoryModelConfig::part_types), from its id
};

struct Outcome {
  double duration_s = 0.0;  // service time, >= 0
  bool good = true;         // false: scrapped at the end of the service
  bool rework = false;      // a good part failed inspection: processed again if attempts are left
};

// A cell's service start waiting for its outcome.
struct ServiceRequest {
  std::int64_t station_gid = 0;
  std::int64_t service_count = 0;  // services the station started before this one
  Part part;
  double start_s = 0.0;
  Outcome outcome;  // filled by CellProcess::resolve
};

// The processing of robot-cell stations (StationConfig::cell). resolve() must fill each
// request's outcome as a pure function of that request and of the simulated time (the
// factory calls it with the requests of one window pass, in station order, and their
// number and grouping depend on the rank count and the windows).
class CellProcess {
 public:
  virtual ~CellProcess() = default;
  virtual void resolve(std::vector<ServiceRequest>& requests) = 0;
};

// Must be a pure function of its arguments (and the model's seed): the factory may call it
// for any station from any thread, and the result must not depend on the decomposition.
class ProcessModel {
 public:
  virtual ~ProcessModel() = default;
  // `service_count`: how many services the station started before this one (0, 1, ...).
  virtual Outcome process(std::int64_t station_gid, std::int64_t service_count, const Part& part) const = 0;
  // The ideal (mean) cycle time of the station, for OEE performance (over its line's mix).
  virtual double ideal_cycle_s(std::int64_t station_gid) const = 0;
};

// Durations from ProcessConfig (for cells: ideal_cycle_s only; their services are resolved
// by a CellProcess), drawn with (seed, Stream::process_time, gid, service_count);
// scrap with probability p from (seed, Stream::scrap, gid, service_count), drawn only when
// p > 0; then, for a part that is not scrapped, rework with probability r from (seed,
// Stream::rework, gid, service_count), drawn only when r > 0. Lognormal(mean, cv): sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2.
class DistributionProcessModel final : public ProcessModel {
 public:
  // The draws of one station entry of the deck (shared by its copies).
  struct Params {
    Distribution distribution;
    double a;  // fixed/exponential: mean; uniform: min; lognormal: mu
    double b;  // uniform: max - min; lognormal: sigma
    double scrap_probability;
    double mean_s;
    double rework_probability;
  };

  DistributionProcessModel(const FactoryModelConfig& config, std::uint64_t seed);
  Outcome process(std::int64_t station_gid, std::int64_t service_count, const Part& part) const override;
  double ideal_cycle_s(std::int64_t station_gid) const override;

  // The same as process(), with the station's params looked up once (the factory keeps
  // them per station: the lookup by gid is a search over the deck's entries); one Params
  // per part type, in type order.
  const Params& params(std::int64_t station_gid, int type = 0) const;
  Outcome draw(const Params& p, std::int64_t station_gid, std::int64_t service_count) const;

 private:
  std::uint64_t seed_;
  ModelIndex index_;
  int types_ = 1;
  std::vector<Params> params_;  // by station entry of the deck, then part type
};

// The types of a line's parts: part k of line `line` is of type type_of(seed, line, k), a
// pure function of the part's id, drawn from (seed, Stream::part_type, line, k) over the
// line's normalised mix.
class PartTypes {
 public:
  explicit PartTypes(const SourceConfig& source);
  bool mixed() const { return cumulative_.size() > 1; }
  int type_of(std::uint64_t seed, std::int64_t line, std::int64_t k) const;

 private:
  std::vector<double> cumulative_;  // cumulative shares, the last exactly 1
  std::vector<int> types_;
};

}  // namespace kollektiv::factory
