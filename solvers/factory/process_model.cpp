// The default process model: configured distributions and scrap probability.
#include "solvers/factory/process_model.hpp"

#include <cmath>

#include "solvers/core/philox.hpp"

namespace kollektiv::factory {

DistributionProcessModel::DistributionProcessModel(const FactoryModelConfig& config, std::uint64_t seed)
    : seed_(seed), index_(config) {
  for (const FactoryConfig& f : config.factories)
    for (const LineConfig& line : f.lines)
      for (const StationConfig& s : line.stations) {
        const ProcessConfig& p = s.process;
        Params q{p.distribution, p.mean_s, 0.0, s.scrap_probability, p.mean_s, s.rework_probability};
        if (p.distribution == Distribution::uniform) {
          q.a = p.min_s;
          q.b = p.max_s - p.min_s;
          q.mean_s = 0.5 * (p.min_s + p.max_s);
        } else if (p.distribution == Distribution::lognormal) {
          const double sigma2 = std::log1p(p.cv * p.cv);
          q.a = std::log(p.mean_s) - 0.5 * sigma2;
          q.b = std::sqrt(sigma2);
        }
        if (s.cell.enabled) q = Params{Distribution::fixed, s.cell.ideal_cycle_s, 0.0, 0.0, s.cell.ideal_cycle_s, 0.0};
        params_.push_back(q);
      }
}

const DistributionProcessModel::Params& DistributionProcessModel::params(std::int64_t station_gid) const {
  return params_[static_cast<std::size_t>(index_.place(station_gid).entry)];
}

Outcome DistributionProcessModel::process(std::int64_t station_gid, std::int64_t service_count,
                                          const Part& /*part*/) const {
  return draw(params(station_gid), station_gid, service_count);
}

Outcome DistributionProcessModel::draw(const Params& p, std::int64_t station_gid, std::int64_t service_count) const {
  const auto gid = static_cast<std::uint64_t>(station_gid);
  const auto count = static_cast<std::uint64_t>(service_count);
  Outcome out;
  switch (p.distribution) {
    case Distribution::fixed:
      out.duration_s = p.a;
      break;
    case Distribution::uniform:
      out.duration_s = p.a + p.b * rng::uniform0(rng::draw(seed_, rng::Stream::process_time, gid, count));
      break;
    case Distribution::exponential:
      out.duration_s = -p.a * std::log(rng::uniform0(rng::draw(seed_, rng::Stream::process_time, gid, count)));
      break;
    case Distribution::lognormal:
      out.duration_s = std::exp(p.a + p.b * rng::normal(rng::draw(seed_, rng::Stream::process_time, gid, count)));
      break;
  }
  if (p.scrap_probability > 0.0)
    out.good = !(rng::uniform0(rng::draw(seed_, rng::Stream::scrap, gid, count)) < p.scrap_probability);
  if (out.good && p.rework_probability > 0.0)
    out.rework = rng::uniform0(rng::draw(seed_, rng::Stream::rework, gid, count)) < p.rework_probability;
  return out;
}

double DistributionProcessModel::ideal_cycle_s(std::int64_t station_gid) const {
  return params(station_gid).mean_s;
}

}  // namespace kollektiv::factory
