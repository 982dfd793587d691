// ProcessModel: how long and how well a station processes one part. The factory asks it
// once per service start; the default DistributionProcessModel draws the duration from the
// station's configured distribution and the scrap decision from its scrap probability.
// Robot cells do not answer at once: their service starts are collected per window pass and
// resolved together by a CellProcess (one batch of episodes for all busy cells of a rank).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "solvers/core/philox.hpp"
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
    bool ahead = false;  // drawn one service ahead: every part type of the entry has this distribution, not fixed
  };

  DistributionProcessModel(const FactoryModelConfig& config, std::uint64_t seed);
  Outcome process(std::int64_t station_gid, std::int64_t service_count, const Part& part) const override;
  double ideal_cycle_s(std::int64_t station_gid) const override;

  // The same as process(), with the station's params looked up once (the factory keeps
  // them per station: the lookup by gid is a search over the deck's entries); one Params
  // per part type, in type order.
  const Params& params(std::int64_t station_gid, int type = 0) const;
  Outcome draw(const Params& p, std::int64_t station_gid, std::int64_t service_count) const;

  // draw() one service ahead. `next` holds the process-time draw of service
  // `service_count` as a unit variate of p's distribution (uniform: u; exponential: -log u;
  // lognormal: a standard normal), or NaN if not drawn yet; it is then set to the draw of
  // the service after. At a service start the duration is then a multiply away, and the
  // draw (Philox, then log) for the next start runs beside the events in between instead
  // of holding up the next event's branch (the serial line: 10 % faster). Only where every
  // part type of the station draws from one distribution (Params::ahead). A pure function
  // of (seed, gid, counter) kept one ahead: the durations have draw()'s bits.
  Outcome draw(const Params& p, double& next, std::int64_t station_gid, std::int64_t service_count) const {
    if (!p.ahead) return draw(p, station_gid, service_count);
    const double unit = std::isnan(next) ? unit_variate(p, station_gid, service_count) : next;
    next = unit_variate(p, station_gid, service_count + 1);
    return outcome(p, unit, station_gid, service_count);
  }

 private:
  std::uint64_t seed_;
  ModelIndex index_;
  int types_ = 1;
  std::vector<Params> params_;  // by station entry of the deck, then part type

  // The process-time draw of service `service_count` as a unit variate of p's distribution.
  double unit_variate(const Params& p, std::int64_t station_gid, std::int64_t service_count) const {
    const rng::Philox4x32 r = rng::draw(seed_, rng::Stream::process_time, static_cast<std::uint64_t>(station_gid),
                                        static_cast<std::uint64_t>(service_count));
    switch (p.distribution) {
      case Distribution::uniform:
        return rng::uniform0(r);
      case Distribution::exponential:
        return -std::log(rng::uniform0(r));
      case Distribution::lognormal:
        return rng::normal(r);
      default:
        return 0.0;
    }
  }
  // The duration of a service whose process-time draw is `unit`.
  static double duration_s(const Params& p, double unit) {
    switch (p.distribution) {
      case Distribution::uniform:
        return p.a + p.b * unit;
      case Distribution::exponential:
        return p.a * unit;  // mean * -log u: the bits of -mean * log u
      case Distribution::lognormal:
        return std::exp(p.a + p.b * unit);
      default:
        return p.a;
    }
  }
  // The outcome of that service: its duration, then scrap and rework where the station has
  // them (inspect, out of line: the event loop's common case has neither).
  Outcome outcome(const Params& p, double unit, std::int64_t station_gid, std::int64_t service_count) const {
    Outcome o;
    o.duration_s = duration_s(p, unit);
    if (p.scrap_probability > 0.0 || p.rework_probability > 0.0) inspect(p, station_gid, service_count, o);
    return o;
  }
  void inspect(const Params& p, std::int64_t station_gid, std::int64_t service_count, Outcome& o) const;
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
