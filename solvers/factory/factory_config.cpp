// The numbering and the deck names of a factory model whose lines and stations repeat.
#include "solvers/factory/factory_config.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "solvers/core/error.hpp"

namespace kollektiv::factory {

double ShiftCalendar::change_time(std::int64_t n) const {
  const auto changes = static_cast<std::int64_t>(2 * working.size());
  const std::int64_t cycle = n >= 0 ? n / changes : -((-n + changes - 1) / changes);  // floor division
  const std::int64_t j = n - cycle * changes;
  const WorkingPeriod& w = working[static_cast<std::size_t>(j / 2)];
  return static_cast<double>(cycle) * period_s + (j % 2 == 0 ? w.start_s : w.end_s);
}

std::int64_t ShiftCalendar::first_change() const {
  if (working.back().end_s > period_s) return -1;
  return working.front().start_s == 0.0 ? 1 : 0;
}

std::string ShiftCalendar::problem() const {
  if (!(period_s > 0.0) || !std::isfinite(period_s)) return "the period is not a positive time";
  if (working.empty()) return "no working period";
  for (std::size_t i = 0; i < working.size(); ++i) {
    const WorkingPeriod& w = working[i];
    const std::string which = "working period " + std::to_string(i);
    if (!(w.start_s >= 0.0) || !(w.start_s < period_s)) return which + " does not start within the period";
    if (!(w.end_s > w.start_s)) return which + " does not end after it starts";
    if (i + 1 < working.size() && !(w.end_s < working[i + 1].start_s))
      return which + " does not end before the next starts (merge touching periods into one)";
  }
  if (!(working.back().end_s < working.front().start_s + period_s))
    return "the last working period does not end before the first starts again one period later (merge "
           "touching periods into one; a calendar without breaks needs no shifts)";
  return std::string();
}

std::string replica_name(const std::string& name, std::int64_t count, std::int64_t k) {
  return count == 1 ? name : name + "#" + std::to_string(k);
}

ModelIndex::ModelIndex(FactoryModelConfig model)
    : config_(std::make_shared<const FactoryModelConfig>(std::move(model))) {
  const FactoryModelConfig& config = *config_;
  lookahead_s_ = std::numeric_limits<double>::infinity();
  for (std::size_t f = 0; f < config.factories.size(); ++f) {
    factory_first_line_.push_back(line_count_);
    for (const LineConfig& line : config.factories[f].lines) {
      require(!line.stations.empty(), "factory: line '" + line.name + "' has no stations");
      require(line.count >= 1, "factory: line '" + line.name + "' needs count >= 1");
      LineEntry e{static_cast<std::int64_t>(f), &line, line_count_, station_count_, 0, {}, station_entries_};
      station_entries_ += static_cast<std::int64_t>(line.stations.size());
      for (std::size_t i = 0; i < line.stations.size(); ++i) {
        const StationConfig& s = line.stations[i];
        require(s.count >= 1, "factory: station '" + s.name + "' needs count >= 1");
        e.station_first.push_back(e.size);
        e.size += s.count;
        // Every copy but the line's last station sends along its conveyor.
        if (i + 1 < line.stations.size() || s.count > 1) {
          require(s.conveyor_time_s > 0.0, "factory: station '" + s.name + "' needs conveyor_time_s > 0");
          lookahead_s_ = std::min(lookahead_s_, s.conveyor_time_s);
        }
      }
      e.station_first.push_back(e.size);
      line_count_ += line.count;
      station_count_ += line.count * e.size;
      entry_first_gid_.push_back(e.first_gid);
      entry_first_line_.push_back(e.first_line);
      entries_.push_back(std::move(e));
    }
  }
  factory_first_line_.push_back(line_count_);
}

const ModelIndex::LineEntry& ModelIndex::entry_of_line(std::int64_t line) const {
  const auto it = std::upper_bound(entry_first_line_.begin(), entry_first_line_.end(), line);
  return entries_[static_cast<std::size_t>(it - entry_first_line_.begin()) - 1];
}

ModelIndex::Place ModelIndex::place(std::int64_t gid) const {
  const auto it = std::upper_bound(entry_first_gid_.begin(), entry_first_gid_.end(), gid);
  const LineEntry& e = entries_[static_cast<std::size_t>(it - entry_first_gid_.begin()) - 1];
  const std::int64_t copy = (gid - e.first_gid) / e.size;
  Place p;
  p.line = e.first_line + copy;
  p.line_begin = e.first_gid + copy * e.size;
  p.line_end = p.line_begin + e.size;
  p.factory = e.factory;
  p.position = gid - p.line_begin;
  p.line_config = e.config;
  const auto s = std::upper_bound(e.station_first.begin(), e.station_first.end(), p.position);
  const std::int64_t k = static_cast<std::int64_t>(s - e.station_first.begin()) - 1;
  p.config = &e.config->stations[static_cast<std::size_t>(k)];
  p.entry = e.first_entry + k;
  return p;
}

std::int64_t ModelIndex::line_begin(std::int64_t line) const {
  const LineEntry& e = entry_of_line(line);
  return e.first_gid + (line - e.first_line) * e.size;
}

std::string ModelIndex::factory_name(std::int64_t factory) const {
  return config_->factories[static_cast<std::size_t>(factory)].name;
}

std::string ModelIndex::line_name(std::int64_t line) const {
  const LineEntry& e = entry_of_line(line);
  return factory_name(e.factory) + "/" + replica_name(e.config->name, e.config->count, line - e.first_line);
}

std::string ModelIndex::station_name(std::int64_t gid) const {
  const Place p = place(gid);
  const LineEntry& e = entry_of_line(p.line);
  const auto s = static_cast<std::size_t>(p.config - e.config->stations.data());
  return line_name(p.line) + "/" + replica_name(p.config->name, p.config->count, p.position - e.station_first[s]);
}

ModelNames model_names(const FactoryModelConfig& config) {
  const ModelIndex index(config);  // a copy: the caller's config may be a temporary
  ModelNames names;
  for (std::int64_t f = 0; f < index.factory_count(); ++f) names.factories.push_back(index.factory_name(f));
  for (std::int64_t l = 0; l < index.line_count(); ++l) names.lines.push_back(index.line_name(l));
  for (std::int64_t g = 0; g < index.station_count(); ++g) names.stations.push_back(index.station_name(g));
  return names;
}

}  // namespace kollektiv::factory
