// The default process model: configured distributions and scrap probability.
#include "solvers/factory/process_model.hpp"

#include <cmath>

#include "solvers/core/error.hpp"
#include "solvers/core/philox.hpp"

namespace kollektiv::factory {

namespace {
DistributionProcessModel::Params params_of(const ProcessConfig& p, const StationConfig& s) {
  DistributionProcessModel::Params q{p.distribution, p.mean_s, 0.0, s.scrap_probability, p.mean_s, s.rework_probability};
  if (p.distribution == Distribution::uniform) {
    q.a = p.min_s;
    q.b = p.max_s - p.min_s;
    q.mean_s = 0.5 * (p.min_s + p.max_s);
  } else if (p.distribution == Distribution::lognormal) {
    const double sigma2 = std::log1p(p.cv * p.cv);
    q.a = std::log(p.mean_s) - 0.5 * sigma2;
    q.b = std::sqrt(sigma2);
  }
  if (s.cell.enabled)
    q = DistributionProcessModel::Params{Distribution::fixed, s.cell.ideal_cycle_s, 0.0, 0.0, s.cell.ideal_cycle_s, 0.0};
  return q;
}
}  // namespace

DistributionProcessModel::DistributionProcessModel(const FactoryModelConfig& config, std::uint64_t seed)
    : seed_(seed), index_(config), types_(config.type_count()) {
  for (const FactoryConfig& f : config.factories)
    for (const LineConfig& line : f.lines)
      for (const StationConfig& s : line.stations) {
        const std::size_t first = params_.size();
        params_.resize(first + static_cast<std::size_t>(types_), params_of(s.process, s));
        for (const TypeProcess& t : s.process_by_type) {
          require(t.type >= 0 && t.type < types_, "factory: a process for an unknown part type");
          params_[first + static_cast<std::size_t>(t.type)] = params_of(t.process, s);
        }
        // A station draws one service ahead when the next part's type cannot change the draw's kind.
        bool one_kind = true;
        for (int t = 1; t < types_; ++t)
          one_kind = one_kind && params_[first + static_cast<std::size_t>(t)].distribution == params_[first].distribution;
        for (int t = 0; t < types_; ++t)
          params_[first + static_cast<std::size_t>(t)].ahead = one_kind && params_[first].distribution != Distribution::fixed;
      }
}

const DistributionProcessModel::Params& DistributionProcessModel::params(std::int64_t station_gid, int type) const {
  return params_[static_cast<std::size_t>(index_.place(station_gid).entry * types_ + type)];
}

Outcome DistributionProcessModel::process(std::int64_t station_gid, std::int64_t service_count,
                                          const Part& part) const {
  return draw(params(station_gid, part.type), station_gid, service_count);
}

PartTypes::PartTypes(const SourceConfig& source) {
  double total = 0.0;
  for (const TypeShare& t : source.mix) total += t.share;
  double sum = 0.0;
  for (const TypeShare& t : source.mix) {
    sum += t.share;
    cumulative_.push_back(sum / total);
    types_.push_back(t.type);
  }
  if (cumulative_.empty()) {
    cumulative_.push_back(1.0);
    types_.push_back(0);
  }
  cumulative_.back() = 1.0;
}

int PartTypes::type_of(std::uint64_t seed, std::int64_t line, std::int64_t k) const {
  if (cumulative_.size() == 1) return types_.front();
  const double u = rng::uniform0(
      rng::draw(seed, rng::Stream::part_type, static_cast<std::uint64_t>(line), static_cast<std::uint64_t>(k)));
  std::size_t i = 0;
  while (i + 1 < cumulative_.size() && !(u < cumulative_[i])) ++i;
  return types_[i];
}

void DistributionProcessModel::inspect(const Params& p, std::int64_t station_gid, std::int64_t service_count,
                                       Outcome& out) const {
  const auto gid = static_cast<std::uint64_t>(station_gid);
  const auto count = static_cast<std::uint64_t>(service_count);
  if (p.scrap_probability > 0.0)
    out.good = !(rng::uniform0(rng::draw(seed_, rng::Stream::scrap, gid, count)) < p.scrap_probability);
  if (out.good && p.rework_probability > 0.0)
    out.rework = rng::uniform0(rng::draw(seed_, rng::Stream::rework, gid, count)) < p.rework_probability;
}

Outcome DistributionProcessModel::draw(const Params& p, std::int64_t station_gid, std::int64_t service_count) const {
  return outcome(p, p.distribution == Distribution::fixed ? 0.0 : unit_variate(p, station_gid, service_count), station_gid,
                 service_count);
}

double DistributionProcessModel::ideal_cycle_s(std::int64_t station_gid) const {
  // The mean over the product mix of the station's line.
  const std::vector<TypeShare>& mix = index_.place(station_gid).line_config->source.mix;
  if (mix.empty()) return params(station_gid).mean_s;
  double total = 0.0, sum = 0.0;
  for (const TypeShare& t : mix) {
    total += t.share;
    sum += t.share * params(station_gid, t.type).mean_s;
  }
  return sum / total;
}

}  // namespace kollektiv::factory
