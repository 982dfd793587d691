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
    factory_first_entry_.push_back(entries_.size());
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
  build_routes();
  build_pools();
}

void ModelIndex::build_pools() {
  for (std::size_t f = 0; f < config_->factories.size(); ++f) {
    const std::vector<PoolConfig>& pools = config_->factories[f].pools;
    for (std::size_t k = 0; k < pools.size(); ++k) {
      const PoolConfig& pool = pools[k];
      require(pool.robots >= 1, "factory: pool '" + pool.name + "' needs robots >= 1");
      require(pool.call_time_s > 0.0, "factory: pool '" + pool.name + "' needs call_time_s > 0");
      // The home names its line copy (line_copy >= 0), so no sender is needed.
      const std::int64_t home = pool.home.line_copy >= 0 && !pool.home.sink &&
                                        pool.home.factory == static_cast<std::int64_t>(f)
                                    ? target_gid(pool.home, Place{})
                                    : -1;
      require(home >= 0, "factory: pool '" + pool.name + "' has no home station in its factory");
      pools_.push_back(PoolEntry{static_cast<std::int64_t>(f), static_cast<std::int64_t>(k), home});
    }
  }
  // Every borrowing station's pool exists; its calls and robots travel at least the lookahead.
  for (const LineEntry& e : entries_)
    for (const StationConfig& c : e.config->stations) {
      if (!c.robots_from.enabled) continue;
      const std::vector<PoolConfig>& pools = config_->factories[static_cast<std::size_t>(e.factory)].pools;
      require(c.robots_from.pool_index >= 0 && c.robots_from.pool_index < static_cast<std::int64_t>(pools.size()),
              "factory: station '" + c.name + "' borrows from no pool of its factory");
      require(c.robots_from.travel_time_s > 0.0, "factory: station '" + c.name + "' needs robots_from.travel_time_s > 0");
      lookahead_s_ = std::min(lookahead_s_, c.robots_from.travel_time_s);
      lookahead_s_ = std::min(lookahead_s_, pools[static_cast<std::size_t>(c.robots_from.pool_index)].call_time_s);
    }
}

const PoolConfig& ModelIndex::pool_config(std::int64_t pool) const {
  const PoolEntry& p = pools_[static_cast<std::size_t>(pool)];
  return config_->factories[static_cast<std::size_t>(p.factory)].pools[static_cast<std::size_t>(p.index)];
}

std::vector<std::int64_t> ModelIndex::pools_at(std::int64_t gid) const {
  std::vector<std::int64_t> at;
  for (std::size_t k = 0; k < pools_.size(); ++k)
    if (pools_[k].home == gid) at.push_back(static_cast<std::int64_t>(k));
  return at;
}

namespace {
// Whether station config c borrows from pool `index` of its factory.
bool borrows(const StationConfig& c, std::int64_t index) {
  return c.robots_from.enabled && c.robots_from.pool_index == index;
}
}  // namespace

ModelIndex::PoolPlace ModelIndex::borrows_from(std::int64_t gid) const {
  const Place p = place(gid);
  PoolPlace r;
  if (!p.config->robots_from.enabled) return r;
  const std::int64_t index = p.config->robots_from.pool_index;
  for (std::size_t k = 0; k < pools_.size(); ++k)
    if (pools_[k].factory == p.factory && pools_[k].index == index) r.pool = static_cast<std::int64_t>(k);
  r.home = pools_[static_cast<std::size_t>(r.pool)].home;
  for (std::int64_t k = 0; k < r.pool; ++k)
    if (pools_[static_cast<std::size_t>(k)].home == r.home) ++r.slot;
  // Clients before gid: whole line entries of the factory before its own, then its own
  // entry's copies before its copy, then the station entries before it in its line copy.
  std::int64_t before = 0;
  for (std::size_t i = factory_first_entry_[static_cast<std::size_t>(p.factory)]; i < entries_.size(); ++i) {
    const LineEntry& e = entries_[i];
    std::int64_t per_copy = 0, in_copy = 0;
    for (std::size_t k = 0; k < e.config->stations.size(); ++k) {
      const StationConfig& c = e.config->stations[k];
      if (!borrows(c, index)) continue;
      per_copy += c.count;
      if (e.config == p.line_config && e.station_first[k + 1] <= p.position) in_copy += c.count;
      if (&c == p.config) in_copy += p.position - e.station_first[k];
    }
    if (e.config != p.line_config) {
      before += e.config->count * per_copy;
      continue;
    }
    before += (p.line - e.first_line) * per_copy + in_copy;
    break;
  }
  r.client = static_cast<std::int32_t>(before);
  return r;
}

std::int64_t ModelIndex::pool_client_count(std::int64_t pool) const {
  const PoolEntry& entry = pools_[static_cast<std::size_t>(pool)];
  std::int64_t n = 0;
  for (std::size_t i = factory_first_entry_[static_cast<std::size_t>(entry.factory)];
       i < entries_.size() && entries_[i].factory == entry.factory; ++i)
    for (const StationConfig& c : entries_[i].config->stations)
      if (borrows(c, entry.index)) n += entries_[i].config->count * c.count;
  return n;
}

std::vector<std::int64_t> ModelIndex::pool_clients(std::int64_t pool) const {
  const PoolEntry& entry = pools_[static_cast<std::size_t>(pool)];
  std::vector<std::int64_t> gids;
  for (std::size_t i = factory_first_entry_[static_cast<std::size_t>(entry.factory)];
       i < entries_.size() && entries_[i].factory == entry.factory; ++i) {
    const LineEntry& e = entries_[i];
    for (std::int64_t copy = 0; copy < e.config->count; ++copy)
      for (std::size_t k = 0; k < e.config->stations.size(); ++k)
        if (borrows(e.config->stations[k], entry.index))
          for (std::int64_t sc = 0; sc < e.config->stations[k].count; ++sc)
            gids.push_back(e.first_gid + copy * e.size + e.station_first[k] + sc);
  }
  return gids;
}

void ModelIndex::build_routes() {
  const auto edge_to = [&](std::int64_t from, std::int32_t port, const RouteConfig& r, const Place& p, bool rework) {
    Edge e;
    e.from = from;
    e.from_port = port;
    e.rework = rework;
    if (r.target.sink) {
      require(!rework, "factory: a rework route to the sink");
      explicit_.push_back(e);
      return;
    }
    e.to = target_gid(r.target, p);
    require(e.to >= 0 && e.to < station_count_ && e.to != from,
            "factory: route '" + r.to + "' of station " + station_name(from) + " goes nowhere or to itself");
    require(r.conveyor_time_s > 0.0, "factory: route '" + r.to + "' needs conveyor_time_s > 0");
    e.delay_s = r.conveyor_time_s;
    e.capacity = rework ? 0 : place(e.to).config->buffer_capacity;
    lookahead_s_ = std::min(lookahead_s_, e.delay_s);
    explicit_.push_back(e);
  };
  for (const LineEntry& e : entries_) {
    const std::vector<StationConfig>& stations = e.config->stations;
    for (std::size_t k = 0; k < stations.size(); ++k) {
      const StationConfig& c = stations[k];
      if (c.next.empty() && !c.rework_elsewhere) continue;
      for (std::int64_t copy = 0; copy < e.config->count; ++copy) {
        for (std::int64_t sc = 0; sc < c.count; ++sc) {
          const std::int64_t gid = e.first_gid + copy * e.size + e.station_first[k] + sc;
          const Place p = place(gid);
          const bool last_copy = sc + 1 == c.count;
          std::int32_t port = 0;
          if (last_copy && !c.next.empty()) {
            for (const RouteConfig& r : c.next) edge_to(gid, port++, r, p, false);
          } else {
            port = 1;  // the chain's route
          }
          if (c.rework_elsewhere) edge_to(gid, port, c.rework_to, p, true);
        }
      }
    }
  }
  // Input ports: 1, 2, ... by sender gid and port (explicit_ is in that order already).
  for (std::size_t i = 0; i < explicit_.size(); ++i)
    if (explicit_[i].to >= 0) explicit_by_to_.push_back(i);
  std::stable_sort(explicit_by_to_.begin(), explicit_by_to_.end(),
                   [&](std::size_t a, std::size_t b) { return explicit_[a].to < explicit_[b].to; });
  for (std::size_t i = 0; i < explicit_by_to_.size(); ++i) {
    Edge& e = explicit_[explicit_by_to_[i]];
    const bool same_target = i > 0 && explicit_[explicit_by_to_[i - 1]].to == e.to;
    e.to_port = same_target ? explicit_[explicit_by_to_[i - 1]].to_port + 1 : 1;
    require(e.to_port < 32767, "factory: station " + station_name(e.to) + " has more than 32766 routes into it");
  }
}

bool ModelIndex::sends_by_chain(const Place& p, std::int64_t gid) {
  if (p.config->next.empty()) return true;
  const LineConfig& line = *p.line_config;
  // The entry's last copy is the one with the routes: the next station is not of the entry.
  const std::int64_t next_position = gid + 1 - p.line_begin;
  std::int64_t end = 0;
  for (const StationConfig& s : line.stations) {
    end += s.count;
    if (&s == p.config) break;
  }
  return next_position < end;
}

bool ModelIndex::chain_input(std::int64_t gid) const {
  const Place p = place(gid);
  if (gid == p.line_begin) return true;  // the source
  return sends_by_chain(place(gid - 1), gid - 1);
}

std::int64_t ModelIndex::target_gid(const RouteTarget& t, const Place& sender) const {
  if (t.sink) return -1;
  if (t.factory < 0 || t.factory >= factory_count()) return -1;
  const std::size_t first = factory_first_entry_[static_cast<std::size_t>(t.factory)];
  const std::size_t end = static_cast<std::size_t>(t.factory) + 1 < factory_first_entry_.size()
                              ? factory_first_entry_[static_cast<std::size_t>(t.factory) + 1]
                              : entries_.size();
  if (t.line < 0 || first + static_cast<std::size_t>(t.line) >= end) return -1;
  const LineEntry& e = entries_[first + static_cast<std::size_t>(t.line)];
  std::int64_t copy = t.line_copy;
  if (copy < 0) copy = &entry_of_line(sender.line) == &e ? sender.line - e.first_line : -1;
  if (copy < 0 || copy >= e.config->count) return -1;
  if (t.station < 0 || t.station >= static_cast<std::int64_t>(e.config->stations.size())) return -1;
  const StationConfig& s = e.config->stations[static_cast<std::size_t>(t.station)];
  if (t.station_copy < 0 || t.station_copy >= s.count) return -1;
  return e.first_gid + copy * e.size + e.station_first[static_cast<std::size_t>(t.station)] + t.station_copy;
}

std::vector<ModelIndex::Edge> ModelIndex::outputs(std::int64_t gid) const {
  const Place p = place(gid);
  std::vector<Edge> out;
  if (sends_by_chain(p, gid)) {
    Edge e;
    e.from = gid;
    if (gid + 1 < p.line_end) {
      e.to = gid + 1;
      e.delay_s = p.config->conveyor_time_s;
      e.capacity = place(gid + 1).config->buffer_capacity;
    }
    out.push_back(e);
  }
  if (p.config->next.empty() && !p.config->rework_elsewhere) return out;
  const auto first = std::lower_bound(explicit_.begin(), explicit_.end(), gid,
                                      [](const Edge& e, std::int64_t g) { return e.from < g; });
  for (auto it = first; it != explicit_.end() && it->from == gid; ++it) out.push_back(*it);
  return out;
}

std::vector<ModelIndex::Edge> ModelIndex::inputs(std::int64_t gid) const {
  std::vector<Edge> in;
  const Place p = place(gid);
  if (gid > p.line_begin && chain_input(gid)) {
    Edge e;
    e.from = gid - 1;
    e.to = gid;
    e.delay_s = place(gid - 1).config->conveyor_time_s;
    e.capacity = p.config->buffer_capacity;
    in.push_back(e);
  }
  const auto first = std::lower_bound(explicit_by_to_.begin(), explicit_by_to_.end(), gid,
                                      [&](std::size_t i, std::int64_t g) { return explicit_[i].to < g; });
  for (auto it = first; it != explicit_by_to_.end() && explicit_[*it].to == gid; ++it) in.push_back(explicit_[*it]);
  return in;
}

std::vector<std::pair<std::int64_t, std::string>> ModelIndex::route_problems() const {
  std::vector<std::pair<std::int64_t, std::string>> problems;
  for (const LineEntry& e : entries_) {
    const std::vector<StationConfig>& stations = e.config->stations;
    for (std::size_t k = 0; k < stations.size(); ++k) {
      const StationConfig& c = stations[k];
      if (!c.assembly && !c.disassembly && c.route != RoutePolicy::shortest_queue) continue;
      const std::int64_t entry = e.first_entry + static_cast<std::int64_t>(k);
      // Every copy of the entry (the routes into them may differ).
      for (std::int64_t copy = 0; copy < e.config->count; ++copy) {
        const std::int64_t gid = e.first_gid + copy * e.size + e.station_first[k] + c.count - 1;
        std::string problem;
        if (c.assembly) {
          const std::size_t n = inputs(gid).size() + (gid == place(gid).line_begin ? 1 : 0);
          if (n < 2) problem = "expected an assembly station with at least two inputs (routes into it, or its "
                               "line's source or previous station), found " + std::to_string(n);
        }
        std::size_t pieces = 0;
        for (const Edge& o : outputs(gid)) {
          if (o.rework) continue;
          ++pieces;
          if (c.route == RoutePolicy::shortest_queue && c.next.size() > 1 && (o.to < 0 || o.capacity == 0))
            problem = "expected every route of a shortest_queue split to go to a station with a buffer_capacity "
                      "(its queue is counted by kanban cards), found " + (o.to < 0 ? std::string("the sink") :
                      "the unlimited buffer of " + station_name(o.to));
        }
        if (c.disassembly && pieces < 2)
          problem = "expected a disassembly station with at least two routes in 'next' (one per piece), found " +
                    std::to_string(pieces);
        if (c.disassembly && line_count_ > (std::int64_t{1} << 16))
          problem = "expected at most 65536 lines in a model with disassembly (a piece's id holds its part's id), "
                    "found " + std::to_string(line_count_);
        if (!problem.empty()) {
          problems.emplace_back(entry, station_name(gid) + ": " + problem);
          break;
        }
      }
    }
  }
  // A service's robots must fit into its pool, or the call would wait for ever.
  for (const LineEntry& e : entries_)
    for (std::size_t k = 0; k < e.config->stations.size(); ++k) {
      const StationConfig& c = e.config->stations[k];
      if (!c.robots_from.enabled) continue;
      const PoolConfig& pool = config_->factories[static_cast<std::size_t>(e.factory)]
                                   .pools[static_cast<std::size_t>(c.robots_from.pool_index)];
      if (c.robots_per_service() > pool.robots)
        problems.emplace_back(e.first_entry + static_cast<std::int64_t>(k),
                              "expected a pool with at least the " + std::to_string(c.robots_per_service()) +
                                  " robots a service of this cell needs, found pool '" + pool.name + "' of " +
                                  std::to_string(pool.robots));
    }
  std::stable_sort(problems.begin(), problems.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return problems;
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
