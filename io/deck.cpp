// The deck schema (one reader per block, the top level a table of blocks), replication of
// lines and stations, and parse_deck. The generic checking lives in deck_tree.cpp.
#include "io/deck.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <tuple>
#include <variant>

#include "build_info.hpp"
#include "io/deck_tree.hpp"
#include "io/robot_model_io.hpp"
#include "solvers/core/error.hpp"
#include "solvers/core/math.hpp"
#include "solvers/learning/layer_names.hpp"

namespace kollektiv::io {

std::string DeckError::format() const {
  std::string s = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!key_path.empty()) s += key_path + ": ";
  return s + message;
}

namespace {

using deck_detail::Entry;
using deck_detail::Errors;
using deck_detail::IntRange;
using deck_detail::MapReader;
using deck_detail::Mark;
using deck_detail::Node;
using deck_detail::RealRange;

constexpr double inf = std::numeric_limits<double>::infinity();
const IntRange non_negative{0};
const IntRange positive{1};
const RealRange positive_s{0.0, true, inf, true, true};
const RealRange non_negative_s{0.0, false, inf, true, true};
const RealRange positive_number{0.0, true, inf, true, false};
const RealRange probability{0.0, false, 1.0, true, false};  // scrap: 1 would scrap every part
const RealRange quality_range{0.0, false, 1.0, false, false};  // [0, 1]

// Defaults that are not a struct's own default.
constexpr std::int64_t default_count = 1;
constexpr std::int64_t default_buffer_capacity = 10;
constexpr double default_conveyor_time_s = 10.0;
constexpr double default_lognormal_cv = 0.25;
// Machines of one station: each is a server of the station's state (a few hundred bytes
// of checkpoint each), so a million per station is more than any plant has.
constexpr std::int64_t max_servers = 1'000'000;
// Reworks of one part at one station (a machine keeps its part's count in 16 bits).
constexpr std::int64_t max_station_rework = 32'767;
// Part types of a model (each has KPI columns of its own in the history).
constexpr std::size_t max_part_types = 1000;
// Robots of one pool (its calls and robots on their way are kept per client, not per robot).
constexpr std::int64_t max_pool_robots = 1'000'000;

// What the deck says before replication: `count` is still a number.
// A route as the deck names it, resolved once every factory is read (check_routes).
struct RouteSpec {
  std::string to;
  Mark mark;
  std::string path;
};

struct StationSpec {
  factory::StationConfig config;  // with its count of copies
  Mark mark;                      // where the station is written (routing problems)
  std::string path;
  std::vector<RouteSpec> next;    // config.next's targets, in order
  std::optional<RouteSpec> rework_to;
  std::optional<RouteSpec> robots_from;  // its pool's name (resolved by check_pools)
  // A robot cell: the name of its skill in `cells.skills`, resolved once every block is read.
  std::string cell_skill;
  Mark cell_skill_mark;
  std::string cell_skill_path;
};

struct LineSpec {
  std::string name;
  std::int64_t count = default_count;
  factory::SourceConfig source;
  std::vector<StationSpec> stations;
};

struct PoolSpec {
  factory::PoolConfig config;
  RouteSpec home;  // the home station's name (resolved by check_pools)
  Mark mark;
  std::string path;
};

struct FactorySpec {
  std::string name;
  std::vector<LineSpec> lines;
  factory::ShiftCalendar shifts;
  std::vector<PoolSpec> pools;
};

struct DeckSpec {
  RunConfig run;
  std::vector<std::string> part_types;
  std::vector<FactorySpec> factories;
  bool cells_given = false;
  CellsConfig cells;
  ExperimentConfig experiment;
  std::optional<Mark> experiment_mark;
  std::vector<Mark> record_marks;  // of cells.record[i].station
  Mark cells_interval_mark;
  bool training_deck = false;  // the deck has a `training` block
  TrainingConfig training;
  std::optional<Mark> checkpoint_auto_mark;  // of the `auto` that asked for automatic checkpoints
  std::optional<Mark> node_mtbf_mark;
  // Where the deck came from, for the files it refers to.
  std::string file;
  const FileReader* read_file = nullptr;
  double memory_per_rank_bytes = 0.0;  // > 0: what a rank may hold
  int ranks = 1;                       // the run's ranks, which share the stations
};

// Names seen so far in one scope, to report the second use of a name.
class UniqueNames {
 public:
  explicit UniqueNames(std::string expected) : expected_(std::move(expected)) {}
  void check(MapReader& m, const std::optional<std::string>& name) {
    const Node* node = m.peek("name");
    if (!name || node == nullptr) return;
    for (const auto& [seen, mark] : seen_) {
      if (seen == *name) {
        m.error(node->mark, "name",
                "expected " + expected_ + ", found '" + *name + "' (first at " + m.errors().where(mark) + ")");
        return;
      }
    }
    seen_.emplace_back(*name, node->mark);
  }

 private:
  std::string expected_;
  std::vector<std::pair<std::string, Mark>> seen_;
};

// buffer_capacity: a positive integer or "unlimited" (stored as 0). 0 itself is refused
// because it reads like "no buffer", which would block every line.
std::optional<std::int64_t> read_capacity(MapReader& m, std::int64_t fallback) {
  return m.scalar<std::int64_t>(
      "buffer_capacity", "a positive integer or 'unlimited'",
      [](const std::string& t) -> std::optional<std::int64_t> {
        if (t == "unlimited") return 0;
        const auto v = deck_detail::parse_integer(t);
        if (v && *v >= 1) return v;
        return std::nullopt;
      },
      [](const std::int64_t& v) { return v == 0 ? std::string("unlimited") : std::to_string(v); }, fallback);
}

// ---------------------------------------------------------------------------------------
// run

// The run keys that only a factory run uses, and what a training deck says instead.
const std::pair<const char*, const char*> factory_only_run_keys[] = {
    {"end_time_s", "in a training deck use training.iterations"},
    {"iterations", "in a training deck use training.iterations"},
    {"report_interval_s", "a training run reports once per iteration"},
    {"checkpoint_interval_s", "in a training deck use training.checkpoint_every"},
};

// At most this many reports (or checkpoints) in a factory run.
constexpr double max_interval_count = 1e9;

// Keys that once were in the run block.
std::optional<std::string> explain_removed_run_key(const std::string& key) {
  if (key == "deterministic")
    return "'deterministic' was removed: results are always bitwise identical at any rank count (the exact sums "
           "cost little; see README \"Determinism\"); delete the key";
  return std::nullopt;
}

// A checkpoint schedule (run.checkpoint_interval_s, training.checkpoint_every): a value >= 0
// (`what`, read with `parse`), or `auto`, which turns on automatic checkpoints and records
// where they were asked for. Returns the value, 0 for `auto`.
template <class T>
T read_checkpoint_schedule(MapReader& m, DeckSpec& spec, const char* key, const std::string& what,
                           const std::function<std::optional<T>(const std::string&)>& parse,
                           const std::function<std::string(const T&)>& print, T fallback) {
  const Node* node = m.peek(key);
  constexpr T automatic = -1;
  const T value = m.scalar<T>(
                       key, what + " >= 0 or 'auto'",
                       [&](const std::string& text) -> std::optional<T> {
                         if (text == "auto") return automatic;
                         const std::optional<T> v = parse(text);
                         if (v && *v >= 0) return v;
                         return std::nullopt;
                       },
                       [&](const T& v) { return v == automatic ? std::string("auto") : print(v); }, fallback)
                      .value_or(fallback);
  if (value != automatic) return value;
  spec.run.checkpoint_auto = true;
  spec.checkpoint_auto_mark = node->mark;
  return 0;
}

// node_mtbf_s: checked against the checkpoint interval once every block is read.
void read_node_mtbf(MapReader& m, DeckSpec& spec) {
  if (const Node* node = m.peek("node_mtbf_s")) spec.node_mtbf_mark = node->mark;
  spec.run.node_mtbf_s = m.real_if_present("node_mtbf_s", positive_s).value_or(0.0);
}

void read_history_publish(MapReader& m, RunConfig& run) {
  const RunConfig defaults;
  run.history_publish_s =
      m.real("history_publish_s", non_negative_s, defaults.history_publish_s).value_or(defaults.history_publish_s);
}

void read_run(MapReader& m, DeckSpec& spec) {
  RunConfig& run = spec.run;
  const RunConfig defaults;
  run.seed = static_cast<std::uint64_t>(m.integer("seed", non_negative, 1).value_or(1));
  if (spec.training_deck) {
    // Their defaults stay in RunConfig, unused; given explicitly they would be ignored, so
    // they are refused, and the resolved deck leaves them out.
    for (const auto& [key, instead] : factory_only_run_keys) {
      if (const Node* node = m.get(key, false)) {
        m.error(node->mark, key, std::string("applies to factory runs only; ") + instead);
      }
    }
    run.output_dir = m.string("output_dir", defaults.output_dir).value_or(defaults.output_dir);
    run.checkpoint_keep = static_cast<int>(
        m.integer("checkpoint_keep", IntRange{1, 1000}, defaults.checkpoint_keep).value_or(defaults.checkpoint_keep));
    read_node_mtbf(m, spec);
    read_history_publish(m, run);
    m.finish(explain_removed_run_key);
    return;
  }
  // The length of the run is end_time_s or iterations (report intervals); the output holds
  // end_time_s, here, once report_interval_s is known.
  m.out()["end_time_s"] = "";
  const Node* end_node = m.peek("end_time_s");
  const Node* iterations_node = m.peek("iterations");
  std::optional<double> end_time_s = m.real_if_present("end_time_s", positive_s);
  std::optional<std::int64_t> iterations = m.integer_if_present("iterations", positive);
  run.report_interval_s =
      m.real("report_interval_s", positive_s, defaults.report_interval_s).value_or(defaults.report_interval_s);
  if (end_node != nullptr && iterations_node != nullptr) {
    // Shortening a run from the command line must not need the deck edited: an override of
    // one of the two replaces the other one given in the file.
    const bool end_overrides = end_node->mark.source != 0 && iterations_node->mark.source == 0;
    const bool iterations_override = iterations_node->mark.source != 0 && end_node->mark.source == 0;
    if (end_overrides) {
      iterations.reset();
    } else if (iterations_override) {
      end_time_s.reset();
    } else {
      m.error(iterations_node->mark, "iterations", "expected end_time_s or iterations, found both");
    }
  }
  if (iterations) {
    run.end_time_s = static_cast<double>(*iterations) * run.report_interval_s;
  } else if (end_time_s) {
    run.end_time_s = *end_time_s;
  }
  m.out()["end_time_s"] = deck_detail::format_real(run.end_time_s);
  run.output_dir = m.string("output_dir", defaults.output_dir).value_or(defaults.output_dir);
  const Node* checkpoint_node = m.peek("checkpoint_interval_s");
  run.checkpoint_interval_s = read_checkpoint_schedule<double>(
      m, spec, "checkpoint_interval_s", "a number of seconds", deck_detail::parse_real,
      [](const double& v) { return deck_detail::format_real(v); }, defaults.checkpoint_interval_s);
  read_node_mtbf(m, spec);
  run.checkpoint_keep = static_cast<int>(
      m.integer("checkpoint_keep", IntRange{1, 1000}, defaults.checkpoint_keep).value_or(defaults.checkpoint_keep));
  read_history_publish(m, run);
  // Report and checkpoint times are multiples of their intervals: at most max_interval_count
  // of them in a run keeps every multiple a distinct double above the one before, so the
  // run loop always advances (and the history stays a sane size).
  const auto check_count = [&](const Node* node, const char* key, double interval) {
    if (interval <= 0.0 || run.end_time_s / interval <= max_interval_count) return;
    m.error(node != nullptr ? node->mark : m.where(), key,
            "expected a number of seconds >= end_time_s / 1e9 (" +
                deck_detail::format_real(run.end_time_s / max_interval_count) + "; at most 1e9 of them in a run), found " +
                deck_detail::format_real(interval));
  };
  check_count(m.peek("report_interval_s"), "report_interval_s", run.report_interval_s);
  check_count(checkpoint_node, "checkpoint_interval_s", run.checkpoint_interval_s);
  m.finish(explain_removed_run_key);
}

// ---------------------------------------------------------------------------------------
// factory

const std::vector<std::string> distribution_names = {"fixed", "uniform", "exponential", "lognormal"};
// The keys of each distribution, in the order of distribution_names, and how to name it.
const std::vector<std::vector<std::string>> distribution_keys = {
    {"time_s"}, {"min_s", "max_s"}, {"mean_s"}, {"mean_s", "cv"}};
const std::vector<std::string> distribution_articles = {"a fixed", "a uniform", "an exponential", "a lognormal"};

void read_process(MapReader& m, factory::ProcessConfig& process) {
  const std::optional<std::size_t> d = m.choice("distribution", distribution_names, std::nullopt);
  if (!d) {
    // Unknown distribution: its keys cannot be checked, but must not show up as unknown.
    for (const auto& keys : distribution_keys) {
      for (const std::string& k : keys) m.get(k, false);
    }
    m.finish();
    return;
  }
  process.distribution = static_cast<factory::Distribution>(*d);
  switch (process.distribution) {
    case factory::Distribution::fixed:
      process.mean_s = m.real("time_s", positive_s, std::nullopt).value_or(process.mean_s);
      break;
    case factory::Distribution::uniform: {
      const std::optional<double> min_s = m.real("min_s", non_negative_s, std::nullopt);
      process.min_s = min_s.value_or(0.0);
      const std::string expected = min_s ? "a number of seconds > min_s (" + deck_detail::format_real(*min_s) + ")"
                                         : non_negative_s.describe();
      const double lo = process.min_s;
      process.max_s = m.scalar<double>(
                           "max_s", expected,
                           [lo](const std::string& t) -> std::optional<double> {
                             const auto v = deck_detail::parse_real(t);
                             if (v && *v > lo) return v;
                             return std::nullopt;
                           },
                           [](const double& v) { return deck_detail::format_real(v); }, std::nullopt)
                          .value_or(0.0);
      // The mean, for whoever wants one number per station (utilisation estimates).
      process.mean_s = 0.5 * (process.min_s + process.max_s);
      break;
    }
    case factory::Distribution::exponential:
      process.mean_s = m.real("mean_s", positive_s, std::nullopt).value_or(process.mean_s);
      break;
    case factory::Distribution::lognormal:
      process.mean_s = m.real("mean_s", positive_s, std::nullopt).value_or(process.mean_s);
      process.cv = m.real("cv", positive_number, default_lognormal_cv).value_or(default_lognormal_cv);
      break;
  }
  const std::vector<std::string>& own = distribution_keys[*d];
  m.finish([&](const std::string& key) -> std::optional<std::string> {
    for (const auto& keys : distribution_keys) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) continue;
      std::string list;
      for (const std::string& k : own) list += (list.empty() ? "" : ", ") + k;
      return "'" + key + "' is not a key of " + distribution_articles[*d] + " process; expected one of: " + list;
    }
    return std::nullopt;
  });
}

void read_breakdown(MapReader& m, factory::BreakdownConfig& breakdown) {
  breakdown.enabled = true;
  breakdown.mtbf_s = m.real("mtbf_s", positive_s, std::nullopt).value_or(0.0);
  breakdown.mttr_s = m.real("mttr_s", positive_s, std::nullopt).value_or(0.0);
  breakdown.only_when_busy = m.boolean("only_when_busy", false).value_or(false);
  m.finish();
}

// The index of part type `name` in factory.part_types, or the error message for it.
std::variant<int, std::string> type_index(const std::string& name, const std::vector<std::string>& types) {
  for (std::size_t k = 0; k < types.size(); ++k)
    if (types[k] == name) return static_cast<int>(k);
  std::string list;
  for (const std::string& t : types) list += (list.empty() ? "" : ", ") + t;
  return types.empty() ? "expected the name of a part type, found '" + name + "', and factory.part_types names none"
                       : "expected one of the part types in factory.part_types (" + list + "), found '" + name + "'";
}

// A reference to a part type by name (factory.part_types): its index, or nullopt (reported).
std::optional<int> read_type(MapReader& m, std::string_view key, const std::vector<std::string>& types) {
  const Node* node = m.peek(key);
  const std::optional<std::string> name = m.name(key);
  if (!name || node == nullptr) return std::nullopt;
  const auto index = type_index(*name, types);
  if (const int* k = std::get_if<int>(&index)) return *k;
  m.error(node->mark, key, std::get<std::string>(index));
  return std::nullopt;
}

// The items of the sequence under `key` (optional), each read by `read_item`.
template <class F>
void read_items(MapReader& m, std::string_view key, const F& read_item) {
  if (!m.has(key)) {
    m.get(key, false);  // known, and absent
    return;
  }
  YAML::Node out_items;
  if (const Node* items = m.sequence(key, false, out_items))
    for (std::size_t i = 0; i < items->items.size(); ++i) {
      MapReader item = m.item(key, *items, i, out_items);
      if (item.valid()) read_item(item);
    }
}

// shifts: {period_s, working: [{start_s, end_s}, ...]} (factory::ShiftCalendar).
void read_shifts(MapReader& m, factory::ShiftCalendar& calendar) {
  calendar.enabled = true;
  constexpr double day_s = 86400.0;
  calendar.period_s = m.real("period_s", positive_s, day_s).value_or(day_s);
  YAML::Node out_working;
  const Node* working = m.sequence("working", true, out_working);
  bool complete = working != nullptr;
  if (working != nullptr) {
    for (std::size_t i = 0; i < working->items.size(); ++i) {
      MapReader w = m.item("working", *working, i, out_working);
      const std::optional<double> start = w.real("start_s", non_negative_s, std::nullopt);
      const std::optional<double> end = w.real("end_s", positive_s, std::nullopt);
      w.finish();
      complete = complete && w.valid() && start && end;
      calendar.working.push_back(factory::WorkingPeriod{start.value_or(0.0), end.value_or(0.0)});
    }
    if (complete) {
      const std::string problem = calendar.problem();
      if (!problem.empty())
        m.error(working->mark, "working",
                "expected working periods [start_s, end_s) of one period, sorted, each ending before the next "
                "starts and the last before the first starts again one period later; found that " +
                    problem);
    }
  }
  m.finish();
}

// A station name as a route target: "sink", "station", "line/station" or
// "factory/line/station" (copies as name#k).
std::optional<std::string> route_name(const std::string& t) {
  if (t.empty() || t.front() == '/' || t.back() == '/' || t.find("//") != std::string::npos) return std::nullopt;
  if (std::count(t.begin(), t.end(), '/') > 2) return std::nullopt;
  return t;
}
constexpr const char* route_name_expected =
    "a station as \"station\" (in this line), \"line/station\" (in this factory) or \"factory/line/station\" "
    "(copies as name#k), or \"sink\"";
constexpr const char* pool_home_expected = "a station of this factory as \"line/station\" (copies as name#k)";

// next, route, assembly, disassembly, rework_to (routing; resolved by check_routes).
void read_routing(MapReader& m, StationSpec& s, const std::vector<std::string>& types) {
  factory::StationConfig& c = s.config;
  const std::optional<std::size_t> route =
      m.choice("route", {"probability", "type", "round_robin", "shortest_queue"}, 0);
  c.route = static_cast<factory::RoutePolicy>(route.value_or(0));
  read_items(m, "next", [&](MapReader& item) {
    factory::RouteConfig r;
    RouteSpec spec;
    if (const Node* at = item.peek("to")) spec.mark = at->mark;
    spec.path = item.path_of("to");
    const std::optional<std::string> to = item.scalar<std::string>(
        "to", route_name_expected, route_name, [](const std::string& v) { return v; }, std::nullopt);
    spec.to = to.value_or("");
    r.to = spec.to;
    // share and types belong to their policies (not written otherwise: the resolved deck
    // reads back).
    if (c.route == factory::RoutePolicy::probability) {
      r.share = item.real("share", positive_number, 1.0).value_or(1.0);
    } else if (const Node* node = item.get("share", false)) {
      item.error(node->mark, "share", "expected 'share' only with route: probability");
    }
    r.conveyor_time_s = item.real("conveyor_time_s", positive_s, c.conveyor_time_s).value_or(c.conveyor_time_s);
    if (item.has("types") && c.route != factory::RoutePolicy::type) {
      item.error(item.get("types", false)->mark, "types", "expected 'types' only with route: type");
    } else if (item.has("types")) {
      const Node* node = item.peek("types");
      const std::vector<std::string> names =
          item.list<std::string>("types", "a list of part types of factory.part_types", "a part type name",
                                 [](const std::string& t) -> std::optional<std::string> {
                                   if (t.empty()) return std::nullopt;
                                   return t;
                                 },
                                 [](const std::string& v) { return v; }, 1, max_part_types, std::nullopt)
              .value_or(std::vector<std::string>{});
      for (std::size_t i = 0; i < names.size(); ++i) {
        const auto index = type_index(names[i], types);
        if (const int* k = std::get_if<int>(&index)) r.types.push_back(*k);
        else item.error(node->items[i].mark, "types." + std::to_string(i), std::get<std::string>(index));
      }
    } else {
      item.get("types", false);
    }
    item.finish();
    c.next.push_back(r);
    s.next.push_back(spec);
  });
  c.assembly = m.boolean("assembly", false).value_or(false);
  c.disassembly = m.boolean("disassembly", false).value_or(false);
  if (c.assembly && c.disassembly)
    m.error(m.peek("disassembly")->mark, "disassembly",
            "expected a station that assembles or disassembles, not both (use two stations)");
  if (m.has("rework_to")) {
    RouteSpec spec;
    spec.mark = m.peek("rework_to")->mark;
    spec.path = m.path_of("rework_to");
    spec.to = m.scalar<std::string>("rework_to", route_name_expected, route_name, [](const std::string& v) { return v; },
                                    std::nullopt)
                  .value_or("");
    c.rework_elsewhere = true;
    c.rework_to.to = spec.to;
    c.rework_to.conveyor_time_s = c.conveyor_time_s;
    if (!c.cell.enabled && !(c.rework_probability > 0.0 && c.max_rework > 0))
      m.error(spec.mark, "rework_to",
              "expected rework_probability > 0 and max_rework >= 1 with rework_to (the parts that fail inspection "
              "go there)");
    s.rework_to = spec;
  } else {
    m.get("rework_to", false);
  }
  if (c.route == factory::RoutePolicy::type && c.next.size() >= 2) {
    const Node* at = m.peek("route");
    if (types.empty()) {
      m.error(at->mark, "route", "expected part types (factory.part_types) with route: type");
    } else {
      std::vector<int> seen(types.size(), 0);
      bool rest = false;
      for (const factory::RouteConfig& r : c.next) {
        rest = rest || r.types.empty();
        for (int t : r.types) ++seen[static_cast<std::size_t>(t)];
      }
      for (std::size_t t = 0; t < types.size(); ++t) {
        if (seen[t] > 1)
          m.error(at->mark, "route", "expected each part type on one route, found '" + types[t] + "' on " +
                                         std::to_string(seen[t]));
        if (seen[t] == 0 && !rest)
          m.error(at->mark, "route", "expected every part type on a route (or a route without 'types' for the "
                                     "rest), found none for '" + types[t] + "'");
      }
    }
  }
}

StationSpec read_station(MapReader& m, UniqueNames& names, double line_conveyor_s, std::int64_t line_capacity,
                         const std::vector<std::string>& types) {
  StationSpec s;
  factory::StationConfig& c = s.config;
  s.mark = m.where();
  s.path = m.path();
  const std::optional<std::string> name = m.name("name");
  names.check(m, name);
  c.name = name.value_or("");
  c.count = m.integer("count", positive, default_count).value_or(default_count);
  c.servers = m.integer("servers", IntRange{1, max_servers}, 1).value_or(1);
  if (m.has("cell")) {
    if (const Node* node = m.peek("servers"); node != nullptr && c.servers != 1)
      m.error(node->mark, "servers", "expected no 'servers' in a robot cell (a station with 'cell'): a cell is one "
                                     "set of robots; give several cells with 'count' instead");
    // A robot cell: its processing is episodes of a skill, so no distribution and no scrap
    // probability (the episodes decide).
    for (const char* key : {"process", "scrap_probability", "rework_probability", "max_rework", "process_by_type", "rework_to"})
      if (const Node* node = m.get(key, false))
        m.error(node->mark, key, "expected no '" + std::string(key) + "' in a robot cell (a station with 'cell'): "
                                 "its episodes decide the cycle time and the quality (and cell.rework_quality and "
                                 "cell.max_rework its rework)");
    MapReader cell = m.mapping("cell", false);
    if (cell.valid()) {
      factory::CellConfig& cc = c.cell;
      const factory::CellConfig d;
      cc.enabled = true;
      if (const Node* node = cell.peek("skill")) {
        s.cell_skill_mark = node->mark;
        s.cell_skill_path = cell.path_of("skill");
      }
      s.cell_skill = cell.name("skill").value_or("");
      cc.robots = static_cast<int>(cell.integer("robots", IntRange{1, 64}, d.robots).value_or(d.robots));
      cc.handling_s = cell.real("handling_s", non_negative_s, d.handling_s).value_or(d.handling_s);
      cc.good_quality = cell.real("good_quality", quality_range, d.good_quality).value_or(d.good_quality);
      cc.rework_quality = cell.real("rework_quality", quality_range, d.rework_quality).value_or(d.rework_quality);
      cc.max_rework = static_cast<int>(cell.integer("max_rework", IntRange{0, 100}, d.max_rework).value_or(d.max_rework));
      cell.finish();
    }
  } else {
    m.get("cell", false);  // known, and absent: a plain station
    MapReader process = m.mapping("process", true);
    if (process.valid()) read_process(process, c.process);
    c.scrap_probability = m.real("scrap_probability", probability, 0.0).value_or(0.0);
    c.rework_probability = m.real("rework_probability", probability, 0.0).value_or(0.0);
    c.max_rework = m.integer("max_rework", IntRange{0, max_station_rework}, 0).value_or(0);
    read_items(m, "process_by_type", [&](MapReader& item) {
      const Node* at = item.peek("type");
      const std::optional<int> type = read_type(item, "type", types);
      factory::TypeProcess t;
      MapReader process = item.mapping("process", true);
      if (process.valid()) read_process(process, t.process);
      item.finish();
      if (!type) return;
      for (const factory::TypeProcess& seen : c.process_by_type)
        if (seen.type == *type) item.error(at->mark, "type", "expected each part type once, found '" +
                                                             types[static_cast<std::size_t>(*type)] + "' again");
      t.type = *type;
      c.process_by_type.push_back(t);
    });
  }
  c.buffer_capacity = read_capacity(m, line_capacity).value_or(line_capacity);
  c.conveyor_time_s = m.real("conveyor_time_s", positive_s, line_conveyor_s).value_or(line_conveyor_s);
  c.changeover_s = m.real("changeover_s", non_negative_s, 0.0).value_or(0.0);
  read_items(m, "changeover", [&](MapReader& item) {
    const Node* at = item.peek("to");
    const std::optional<int> from = read_type(item, "from", types);
    const std::optional<int> to = read_type(item, "to", types);
    const std::optional<double> time = item.real("time_s", non_negative_s, std::nullopt);
    item.finish();
    if (!from || !to || !time) return;
    if (*from == *to) {
      item.error(at->mark, "to", "expected another type than 'from' (a machine changes over between two types)");
      return;
    }
    for (const factory::Changeover& seen : c.changeover)
      if (seen.from == *from && seen.to == *to)
        item.error(at->mark, "to", "expected each pair of types once, found this pair again");
    c.changeover.push_back(factory::Changeover{*from, *to, *time});
  });
  if (m.has("breakdown")) {
    MapReader breakdown = m.mapping("breakdown", false);
    if (breakdown.valid()) read_breakdown(breakdown, c.breakdown);
  } else {
    m.get("breakdown", false);  // known, and absent: no breakdowns
  }
  if (m.has("shifts")) {
    MapReader shifts = m.mapping("shifts", false);
    if (shifts.valid()) read_shifts(shifts, c.shifts);
  } else {
    m.get("shifts", false);  // known, and absent: the factory's calendar
  }
  read_routing(m, s, types);
  if (m.has("robots_from")) {
    MapReader from = m.mapping("robots_from", false);
    if (from.valid()) {
      RouteSpec spec;
      if (const Node* at = from.peek("pool")) spec.mark = at->mark;
      spec.path = from.path_of("pool");
      spec.to = from.name("pool").value_or("");
      c.robots_from.enabled = true;
      c.robots_from.pool = spec.to;
      // (Missing, it is reported; the default keeps the plant checks of check_routes quiet.)
      c.robots_from.travel_time_s =
          from.real("travel_time_s", positive_s, std::nullopt).value_or(factory::BorrowConfig{}.travel_time_s);
      from.finish();
      s.robots_from = spec;
    }
  } else {
    m.get("robots_from", false);  // known, and absent: the station has its own machines or robots
  }
  m.finish();
  return s;
}

// pools: [{name, robots, home, call_time_s}] (factory::PoolConfig; home resolved by check_pools).
PoolSpec read_pool(MapReader& m, UniqueNames& names) {
  PoolSpec p;
  p.mark = m.where();
  p.path = m.path();
  const std::optional<std::string> name = m.name("name");
  names.check(m, name);
  p.config.name = name.value_or("");
  p.config.robots = m.integer("robots", IntRange{1, max_pool_robots}, std::nullopt).value_or(1);
  if (const Node* at = m.peek("home")) p.home.mark = at->mark;
  p.home.path = m.path_of("home");
  p.home.to = m.scalar<std::string>("home", pool_home_expected, route_name, [](const std::string& v) { return v; },
                                    std::nullopt)
                  .value_or("");
  p.config.home_name = p.home.to;
  const factory::PoolConfig d;
  p.config.call_time_s = m.real("call_time_s", positive_s, d.call_time_s).value_or(d.call_time_s);
  m.finish();
  return p;
}

LineSpec read_line(MapReader& m, UniqueNames& names, const std::vector<std::string>& types) {
  LineSpec line;
  const std::optional<std::string> name = m.name("name");
  names.check(m, name);
  line.name = name.value_or("");
  line.count = m.integer("count", positive, default_count).value_or(default_count);
  {
    MapReader source = m.mapping("source", true);
    if (source.valid()) {
      const std::optional<std::size_t> kind = source.choice("kind", {"fixed", "poisson"}, 1);
      line.source.kind = kind == std::size_t{0} ? factory::ArrivalKind::fixed : factory::ArrivalKind::poisson;
      line.source.interval_s = source.real("interval_s", positive_s, std::nullopt).value_or(line.source.interval_s);
      read_items(source, "mix", [&](MapReader& item) {
        const Node* at = item.peek("type");
        const std::optional<int> type = read_type(item, "type", types);
        const std::optional<double> share = item.real("share", positive_number, std::nullopt);
        item.finish();
        if (!type || !share) return;
        for (const factory::TypeShare& seen : line.source.mix)
          if (seen.type == *type)
            item.error(at->mark, "type", "expected each part type once, found '" +
                                             types[static_cast<std::size_t>(*type)] + "' again");
        line.source.mix.push_back(factory::TypeShare{*type, *share});
      });
      source.finish();
    }
  }
  // Line-wide defaults for every station of the line.
  const double conveyor_s =
      m.real("conveyor_time_s", positive_s, default_conveyor_time_s).value_or(default_conveyor_time_s);
  const std::int64_t capacity = read_capacity(m, default_buffer_capacity).value_or(default_buffer_capacity);
  YAML::Node out_stations;
  if (const Node* stations = m.sequence("stations", true, out_stations)) {
    UniqueNames station_names("a station name unique within its line");
    for (std::size_t i = 0; i < stations->items.size(); ++i) {
      MapReader station = m.item("stations", *stations, i, out_stations);
      if (station.valid()) line.stations.push_back(read_station(station, station_names, conveyor_s, capacity, types));
    }
  }
  m.finish();
  return line;
}

FactorySpec read_one_factory(MapReader& m, UniqueNames& names, const std::vector<std::string>& types) {
  FactorySpec f;
  const std::optional<std::string> name = m.name("name");
  names.check(m, name);
  f.name = name.value_or("");
  if (m.has("shifts")) {
    MapReader shifts = m.mapping("shifts", false);
    if (shifts.valid()) read_shifts(shifts, f.shifts);
  } else {
    m.get("shifts", false);  // known, and absent: always working
  }
  YAML::Node out_lines;
  if (const Node* lines = m.sequence("lines", true, out_lines)) {
    UniqueNames line_names("a line name unique within its factory");
    for (std::size_t i = 0; i < lines->items.size(); ++i) {
      MapReader line = m.item("lines", *lines, i, out_lines);
      if (line.valid()) f.lines.push_back(read_line(line, line_names, types));
    }
  }
  UniqueNames pool_names("a pool name unique within its factory");
  read_items(m, "pools", [&](MapReader& pool) { f.pools.push_back(read_pool(pool, pool_names)); });
  m.finish();
  return f;
}

// a * b and a + b, stuck at the largest int64 instead of overflowing.
std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::int64_t>::max() : r;
}
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<std::int64_t>::max() : r;
}

void read_factory(MapReader& m, DeckSpec& spec) {
  // Part types first: the lines and stations refer to them by name.
  if (m.has("part_types")) {
    const Node* node = m.peek("part_types");
    spec.part_types =
        m.list<std::string>(
             "part_types", "a list of 1 to " + std::to_string(max_part_types) + " part type names",
             "a non-empty name without '#' or '/'",
             [](const std::string& t) -> std::optional<std::string> {
               if (t.empty() || t.find_first_of("#/") != std::string::npos) return std::nullopt;
               return t;
             },
             [](const std::string& v) { return v; }, 1, max_part_types, std::nullopt)
            .value_or(std::vector<std::string>{});
    for (std::size_t i = 0; i < spec.part_types.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (spec.part_types[i] == spec.part_types[j])
          m.error(node->items[i].mark, "part_types." + std::to_string(i),
                  "expected a unique part type name, found '" + spec.part_types[i] + "' again");
  } else {
    m.get("part_types", false);  // known, and absent: one type of part
  }
  YAML::Node out_factories;
  if (const Node* factories = m.sequence("factories", true, out_factories)) {
    UniqueNames names("a unique factory name");
    for (std::size_t i = 0; i < factories->items.size(); ++i) {
      MapReader f = m.item("factories", *factories, i, out_factories);
      if (f.valid()) spec.factories.push_back(read_one_factory(f, names, spec.part_types));
    }
  }
  std::int64_t total = 0;
  for (const FactorySpec& f : spec.factories) {
    for (const LineSpec& l : f.lines) {
      std::int64_t per_line = 0;
      for (const StationSpec& s : l.stations) per_line = saturating_add(per_line, s.config.count);
      total = saturating_add(total, saturating_mul(per_line, l.count));
    }
  }
  if (total > max_total_stations) {
    m.errors().add(m.where(), m.path(),
                   "expected at most " + std::to_string(max_total_stations) +
                       " stations counting replicas, found " + std::to_string(total));
  } else if (const std::int64_t share = (total + spec.ranks - 1) / spec.ranks;
             spec.memory_per_rank_bytes > 0.0 && static_cast<double>(share) * bytes_per_station > spec.memory_per_rank_bytes) {
    char text[320];
    std::snprintf(text, sizeof text,
                  "expected a factory that fits in memory: %lld stations on %d ranks need about %.3g GiB on each rank "
                  "(%lld stations each), %.3g GiB are available per rank; run on more ranks or nodes",
                  static_cast<long long>(total), spec.ranks, static_cast<double>(share) * bytes_per_station / 1073741824.0,
                  static_cast<long long>(share), spec.memory_per_rank_bytes / 1073741824.0);
    m.errors().add(m.where(), m.path(), text);
  }
  m.finish();
}

// ---------------------------------------------------------------------------------------
// training

const RealRange any_number{-inf, true, inf, true, false};
const RealRange non_negative_number{0.0, false, inf, true, false};
const RealRange unit_interval{0.0, false, 1.0, false, false};  // [0, 1]
// int fields of the skill and learner configs: bounded well inside int.
const IntRange positive_int{1, 1'000'000'000};
// Sizes that are multiplied into allocations: robots × horizon rollout rows per rank (the
// run also checks what one rank holds against its memory), and the env-step count.
const IntRange robot_count{1, 2'147'483'647};
const IntRange horizon_steps{1, 65'536};
constexpr std::int64_t max_env_steps = std::int64_t{1} << 62;

// A relative path that stays inside the directory it is relative to: not empty, not
// absolute, no ".." component (a file the run writes, like the exported policy).
bool inside_output_dir(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string part = path.substr(start, end - start);
    if (part == ".." || part.empty()) return false;
    start = end + 1;
  }
  return true;
}
const IntRange non_negative_int{0, 1'000'000'000};
const IntRange layer_width{1, 256};
constexpr std::size_t max_hidden_layers = 8;
constexpr std::int64_t default_robots_per_block = 64;

const std::vector<std::string> skill_names = {"reach", "weld", "pick_place"};

// The keys of each mapping under `training`, in the order their readers declare them: the
// "expected one of" list of a key written in the wrong mapping, and the hint where it goes.
const std::vector<std::pair<std::string, std::vector<std::string>>> training_sections = {
    {"training",
     {"skill", "robot", "robots", "horizon", "iterations", "checkpoint_every", "target_metric", "target", "curriculum", "policy_file",
      "eval_episodes", "export_policy", "common", "reach", "weld", "pick_place", "sites", "sharing", "transfer",
      "ppo", "skills"}},
    {"training.transfer", {"policy", "layers", "normalizer", "shrink"}},
    {"training.curriculum", {"tolerance_scale", "advance_at", "hold_iterations"}},
    {"training.skills",
     {"name", "skill", "robot", "robots", "target_metric", "target", "curriculum", "export_policy", "common", "reach", "weld",
      "pick_place", "sites", "sharing", "transfer", "ppo"}},
    {"training.sites", {"name", "robots", "count", "common", "reach", "weld", "pick_place"}},
    {"training.sharing", {"mode", "backend", "gossip", "federated"}},
    {"training.sharing.gossip", {"period", "schedule", "moments"}},
    {"training.sharing.federated", {"local_updates", "participation", "quorum", "unavailable", "private"}},
    {"training.common",
     {"episode_steps", "control_dt_s", "substeps", "integrator", "action_mode", "action_scale", "kp", "kd",
      "pd_frequency_hz", "pd_damping_ratio", "gravity_compensation", "joint_limits", "stagger_start", "initial_q",
      "initial_q_noise", "randomise"}},
    {"training.common.randomise",
     {"link_mass", "joint_damping", "joint_friction_nm", "actuator_gain", "joint_noise_rad",
      "joint_velocity_noise_rad_s"}},
    {"training.reach", {"target_box", "tolerance_m", "hold_steps", "w_distance", "w_action", "w_success"}},
    {"training.weld",
     {"seam_kind", "start_box", "surface_normal", "yaw_min_rad", "yaw_max_rad", "length_min_m", "length_max_m",
      "curvature_min", "curvature_max", "travel_speed_m_s", "speed_tolerance", "lateral_tolerance_m", "standoff_m",
      "standoff_tolerance_m", "start_offset_m", "ik_iterations", "torch_angles", "torch_axis", "work_angle_rad",
      "travel_angle_rad", "angle_tolerance_rad", "part_offset_m", "part_yaw_rad", "seam_sensor", "sensor_noise_m",
      "sensor_lag_s", "quality_threshold", "w_progress", "w_track", "w_error", "w_action", "w_success"}},
    {"training.pick_place",
     {"part_box", "place_box", "part_mass_min_kg", "part_mass_max_kg", "part_side_m", "grasp_tolerance_m",
      "place_tolerance_m", "gripper_threshold", "part_orientation", "jaw_axis", "part_yaw_min_rad", "part_yaw_max_rad",
      "place_yaw_min_rad", "place_yaw_max_rad", "grasp_yaw_tolerance_rad", "place_yaw_tolerance_rad", "grip_force_n",
      "grip_friction", "w_reach", "w_place", "w_hold", "w_grasp", "w_action", "w_success", "w_yaw", "w_drop",
      "w_near_miss", "w_time"}},
    {"training.ppo",
     {"policy_hidden", "value_hidden", "gamma", "gae_lambda", "clip", "value_clip", "value_coef", "entropy_coef",
      "max_grad_norm", "learning_rate", "anneal_learning_rate", "anneal_iterations", "epochs", "minibatches",
      "normalize_advantages", "normalize_observations", "observation_clip", "init_log_std", "adam",
      "robots_per_block", "seed"}},
};

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const std::string& w : words) s += (s.empty() ? "" : ", ") + w;
  return s;
}

// finish() helper for the mapping `section`: a key that belongs to another training mapping
// is named with the mapping it belongs to.
std::function<std::optional<std::string>(const std::string&)> explain_misplaced(const std::string& section) {
  return [section](const std::string& key) -> std::optional<std::string> {
    const std::vector<std::string>* own = nullptr;
    std::vector<std::string> owners;
    for (const auto& [name, keys] : training_sections) {
      if (name == section) {
        own = &keys;
      } else if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
        owners.push_back(name);
      }
    }
    if (own == nullptr || owners.empty()) return std::nullopt;
    std::string where;
    for (std::size_t i = 0; i < owners.size(); ++i) {
      if (i > 0) where += i + 1 == owners.size() ? " or " : ", ";
      where += owners[i];
    }
    return "'" + key + "' is a key of " + where + ", not of " + section + "; expected one of: " + join(*own);
  };
}

std::string format_point(const std::array<double, 3>& p) {
  return "[" + deck_detail::format_real(p[0]) + ", " + deck_detail::format_real(p[1]) + ", " +
         deck_detail::format_real(p[2]) + "]";
}

int to_int(std::int64_t v) { return static_cast<int>(v); }

// {min: [x, y, z], max: [x, y, z]}, min <= max on every axis; both required when the box is given.
void read_box(MapReader& m, const char* key, skills::Box& box) {
  const bool given = m.has(key);
  MapReader b = m.mapping(key, false);
  if (!b.valid()) return;
  b.out().SetStyle(YAML::EmitterStyle::Flow);
  const auto as_vector = [](const std::array<double, 3>& p) { return std::vector<double>(p.begin(), p.end()); };
  const Node* max_node = b.peek("max");
  const std::optional<std::vector<double>> lo =
      b.reals("min", any_number, 3, 3, given ? std::nullopt : std::optional(as_vector(box.min)));
  const std::optional<std::vector<double>> hi =
      b.reals("max", any_number, 3, 3, given ? std::nullopt : std::optional(as_vector(box.max)));
  b.finish();
  if (!lo || !hi) return;
  static const char* const axes[] = {"x", "y", "z"};
  for (int a = 0; a < 3; ++a) {
    if ((*hi)[a] < (*lo)[a]) {
      b.error(max_node != nullptr ? max_node->mark : b.where(), "max",
              std::string("expected max >= min on every axis, found max.") + axes[a] + " = " +
                  deck_detail::format_real((*hi)[a]) + " < min." + axes[a] + " = " + deck_detail::format_real((*lo)[a]));
      return;
    }
  }
  std::copy(lo->begin(), lo->end(), box.min.begin());
  std::copy(hi->begin(), hi->end(), box.max.begin());
}

// Two keys that bound a range (length_min_m, length_max_m): each in `range`, lo <= hi. The
// error is at the upper key, or at the lower one when only it is given.
void read_ordered_pair(MapReader& m, const char* lo_key, const char* hi_key, const RealRange& range, double& lo,
                       double& hi) {
  const Node* lo_node = m.peek(lo_key);
  const Node* hi_node = m.peek(hi_key);
  const std::optional<double> a = m.real(lo_key, range, lo);
  const std::optional<double> b = m.real(hi_key, range, hi);
  if (a && b && *b < *a) {
    if (hi_node != nullptr) {
      m.error(hi_node->mark, hi_key,
              std::string("expected a number >= ") + lo_key + " (" + deck_detail::format_real(*a) + "), found " +
                  deck_detail::describe_found(*hi_node));
    } else {
      m.error(lo_node->mark, lo_key,
              std::string("expected a number <= ") + hi_key + " (" + deck_detail::format_real(*b) +
                  ", its default), found " + deck_detail::describe_found(*lo_node));
    }
    return;
  }
  if (a) lo = *a;
  if (b) hi = *b;
}

// common: the settings every skill shares. `robot` (null when it could not be read) sizes
// the per-joint lists.
void read_common(MapReader& m, skills::CommonConfig& c, const dynamics::RobotModel* robot) {
  const skills::CommonConfig d = c;  // a site inherits the skill's settings
  c.episode_steps = to_int(m.integer("episode_steps", positive_int, d.episode_steps).value_or(d.episode_steps));
  c.control_dt_s = m.real("control_dt_s", positive_s, d.control_dt_s).value_or(d.control_dt_s);
  c.substeps = to_int(m.integer("substeps", positive_int, d.substeps).value_or(d.substeps));
  c.integrator = static_cast<dynamics::Integrator>(
      m.choice("integrator", {"semi_implicit_euler", "rk4"}, static_cast<std::size_t>(d.integrator))
          .value_or(static_cast<std::size_t>(d.integrator)));
  c.action_mode = static_cast<skills::ActionMode>(
      m.choice("action_mode", {"torque", "pd_target", "pd_delta"}, static_cast<std::size_t>(d.action_mode))
          .value_or(static_cast<std::size_t>(d.action_mode)));
  c.action_scale = m.real("action_scale", positive_number, d.action_scale).value_or(d.action_scale);
  const std::size_t n = robot != nullptr ? robot->joints.size() : 0;
  // kp, kd: empty (automatic), one value for every joint, or one per joint.
  const auto gains = [&](const char* key) {
    const Node* node = m.peek(key);
    const std::optional<std::vector<double>> g =
        m.reals(key, non_negative_number, 0, dynamics::kMaxJoints, std::string(key) == "kp" ? d.kp : d.kd);
    if (g && robot != nullptr && g->size() > 1 && g->size() != n) {
      m.error(node->mark, key,
              "expected an empty list, one value or one per joint (" + std::to_string(n) + "), found a list of " +
                  std::to_string(g->size()));
    }
    return g.value_or(std::string(key) == "kp" ? d.kp : d.kd);
  };
  c.kp = gains("kp");
  c.kd = gains("kd");
  c.pd_frequency_hz = m.real("pd_frequency_hz", positive_number, d.pd_frequency_hz).value_or(d.pd_frequency_hz);
  c.pd_damping_ratio = m.real("pd_damping_ratio", positive_number, d.pd_damping_ratio).value_or(d.pd_damping_ratio);
  c.gravity_compensation =
      m.boolean("gravity_compensation", d.gravity_compensation).value_or(d.gravity_compensation);
  c.joint_limits = m.boolean("joint_limits", d.joint_limits).value_or(d.joint_limits);
  c.stagger_start = m.boolean("stagger_start", d.stagger_start).value_or(d.stagger_start);
  {
    const Node* node = m.peek("initial_q");
    std::optional<std::vector<double>> q = m.reals("initial_q", any_number, 0, dynamics::kMaxJoints, d.initial_q);
    if (q && robot != nullptr && !q->empty()) {
      if (q->size() != n) {
        m.error(node->mark, "initial_q",
                "expected an empty list (all zeros) or one value per joint (" + std::to_string(n) +
                    "), found a list of " + std::to_string(q->size()));
      } else {
        for (std::size_t i = 0; i < n; ++i) {
          const dynamics::JointModel& j = robot->joints[i];
          if ((*q)[i] < j.lower || (*q)[i] > j.upper) {
            m.error(node->items[i].mark, "initial_q." + std::to_string(i),
                    "expected a number in [" + deck_detail::format_real(j.lower) + ", " +
                        deck_detail::format_real(j.upper) + "] (the limits of joint '" + j.name + "'), found " +
                        deck_detail::describe_found(node->items[i]));
          }
        }
      }
    }
    c.initial_q = q.value_or(d.initial_q);
  }
  c.initial_q_noise = m.real("initial_q_noise", non_negative_number, d.initial_q_noise).value_or(d.initial_q_noise);
  if (m.has("randomise")) {
    MapReader r = m.mapping("randomise", false);
    if (r.valid()) {
      skills::DynamicsRandomisation& x = c.randomise;
      const skills::DynamicsRandomisation& dx = d.randomise;
      const RealRange fraction{0.0, false, 0.5, false, false};  // [0, 0.5]: the nominal gains stay stable
      x.link_mass = r.real("link_mass", fraction, dx.link_mass).value_or(dx.link_mass);
      x.joint_damping = r.real("joint_damping", fraction, dx.joint_damping).value_or(dx.joint_damping);
      x.joint_friction_nm =
          r.real("joint_friction_nm", non_negative_number, dx.joint_friction_nm).value_or(dx.joint_friction_nm);
      x.actuator_gain = r.real("actuator_gain", fraction, dx.actuator_gain).value_or(dx.actuator_gain);
      x.joint_noise_rad = r.real("joint_noise_rad", non_negative_number, dx.joint_noise_rad).value_or(dx.joint_noise_rad);
      x.joint_velocity_noise_rad_s = r.real("joint_velocity_noise_rad_s", non_negative_number,
                                            dx.joint_velocity_noise_rad_s)
                                         .value_or(dx.joint_velocity_noise_rad_s);
      r.finish(explain_misplaced("training.common.randomise"));
    }
  }
  m.finish(explain_misplaced("training.common"));
}

void read_reach(MapReader& m, skills::ReachConfig& c) {
  const skills::ReachConfig d = c;
  read_box(m, "target_box", c.target_box);
  c.tolerance_m = m.real("tolerance_m", positive_number, d.tolerance_m).value_or(d.tolerance_m);
  c.hold_steps = to_int(m.integer("hold_steps", positive_int, d.hold_steps).value_or(d.hold_steps));
  c.w_distance = m.real("w_distance", any_number, d.w_distance).value_or(d.w_distance);
  c.w_action = m.real("w_action", any_number, d.w_action).value_or(d.w_action);
  c.w_success = m.real("w_success", any_number, d.w_success).value_or(d.w_success);
  m.finish(explain_misplaced("training.reach"));
}

// A direction [x, y, z]: any non-zero vector (normalised where it is used).
void read_direction(MapReader& m, const char* key, std::array<double, 3>& into) {
  const Node* node = m.peek(key);
  const std::optional<std::vector<double>> v =
      m.reals(key, any_number, 3, 3, std::vector<double>(into.begin(), into.end()));
  if (!v) return;
  if ((*v)[0] * (*v)[0] + (*v)[1] * (*v)[1] + (*v)[2] * (*v)[2] > 1e-24)
    std::copy(v->begin(), v->end(), into.begin());
  else
    m.error(node->mark, key, "expected a non-zero vector, found " + format_point({(*v)[0], (*v)[1], (*v)[2]}));
}

void read_weld(MapReader& m, skills::WeldConfig& c, const dynamics::RobotModel* robot) {
  const skills::WeldConfig d = c;
  c.seam_kind = static_cast<skills::SeamKind>(
      m.choice("seam_kind", {"line", "arc", "both"}, static_cast<std::size_t>(d.seam_kind))
          .value_or(static_cast<std::size_t>(d.seam_kind)));
  read_box(m, "start_box", c.start_box);
  read_direction(m, "surface_normal", c.surface_normal);
  read_ordered_pair(m, "yaw_min_rad", "yaw_max_rad", any_number, c.yaw_min_rad, c.yaw_max_rad);
  read_ordered_pair(m, "length_min_m", "length_max_m", positive_number, c.length_min_m, c.length_max_m);
  read_ordered_pair(m, "curvature_min", "curvature_max", positive_number, c.curvature_min, c.curvature_max);
  c.travel_speed_m_s = m.real("travel_speed_m_s", positive_number, d.travel_speed_m_s).value_or(d.travel_speed_m_s);
  c.speed_tolerance = m.real("speed_tolerance", positive_number, d.speed_tolerance).value_or(d.speed_tolerance);
  c.lateral_tolerance_m =
      m.real("lateral_tolerance_m", positive_number, d.lateral_tolerance_m).value_or(d.lateral_tolerance_m);
  c.standoff_m = m.real("standoff_m", any_number, d.standoff_m).value_or(d.standoff_m);
  c.standoff_tolerance_m =
      m.real("standoff_tolerance_m", positive_number, d.standoff_tolerance_m).value_or(d.standoff_tolerance_m);
  c.start_offset_m = m.real("start_offset_m", non_negative_number, d.start_offset_m).value_or(d.start_offset_m);
  c.ik_iterations = to_int(m.integer("ik_iterations", non_negative_int, d.ik_iterations).value_or(d.ik_iterations));
  {
    const Node* node = m.peek("torch_angles");
    c.torch_angles = m.boolean("torch_angles", d.torch_angles).value_or(d.torch_angles);
    // Two angles and the position take five joints; fewer cannot meet the procedure.
    if (node != nullptr && c.torch_angles && robot != nullptr && robot->joints.size() < 5)
      m.error(node->mark, "torch_angles",
              "expected false for an arm of fewer than 5 joints (the torch's work and travel angles and its "
              "position need 5), but robot '" + robot->name + "' has " + std::to_string(robot->joints.size()));
  }
  read_direction(m, "torch_axis", c.torch_axis);
  const RealRange tilt{-0.5 * math::pi, true, 0.5 * math::pi, true, false};
  c.work_angle_rad = m.real("work_angle_rad", tilt, d.work_angle_rad).value_or(d.work_angle_rad);
  c.travel_angle_rad = m.real("travel_angle_rad", tilt, d.travel_angle_rad).value_or(d.travel_angle_rad);
  c.angle_tolerance_rad =
      m.real("angle_tolerance_rad", positive_number, d.angle_tolerance_rad).value_or(d.angle_tolerance_rad);
  c.part_offset_m = m.real("part_offset_m", non_negative_number, d.part_offset_m).value_or(d.part_offset_m);
  c.part_yaw_rad = m.real("part_yaw_rad", non_negative_number, d.part_yaw_rad).value_or(d.part_yaw_rad);
  c.seam_sensor = m.boolean("seam_sensor", d.seam_sensor).value_or(d.seam_sensor);
  c.sensor_noise_m = m.real("sensor_noise_m", non_negative_number, d.sensor_noise_m).value_or(d.sensor_noise_m);
  c.sensor_lag_s = m.real("sensor_lag_s", non_negative_number, d.sensor_lag_s).value_or(d.sensor_lag_s);
  c.quality_threshold = m.real("quality_threshold", RealRange{0.0, true, 1.0, false, false}, d.quality_threshold)
                            .value_or(d.quality_threshold);
  c.w_progress = m.real("w_progress", any_number, d.w_progress).value_or(d.w_progress);
  c.w_track = m.real("w_track", any_number, d.w_track).value_or(d.w_track);
  c.w_error = m.real("w_error", any_number, d.w_error).value_or(d.w_error);
  c.w_action = m.real("w_action", any_number, d.w_action).value_or(d.w_action);
  c.w_success = m.real("w_success", any_number, d.w_success).value_or(d.w_success);
  m.finish(explain_misplaced("training.weld"));
}

void read_pick_place(MapReader& m, skills::PickPlaceConfig& c) {
  const skills::PickPlaceConfig d = c;
  read_box(m, "part_box", c.part_box);
  read_box(m, "place_box", c.place_box);
  read_ordered_pair(m, "part_mass_min_kg", "part_mass_max_kg", positive_number, c.part_mass_min_kg,
                    c.part_mass_max_kg);
  c.part_side_m = m.real("part_side_m", positive_number, d.part_side_m).value_or(d.part_side_m);
  c.grasp_tolerance_m = m.real("grasp_tolerance_m", positive_number, d.grasp_tolerance_m).value_or(d.grasp_tolerance_m);
  c.place_tolerance_m = m.real("place_tolerance_m", positive_number, d.place_tolerance_m).value_or(d.place_tolerance_m);
  c.gripper_threshold = m.real("gripper_threshold", any_number, d.gripper_threshold).value_or(d.gripper_threshold);
  c.part_orientation = m.boolean("part_orientation", d.part_orientation).value_or(d.part_orientation);
  read_direction(m, "jaw_axis", c.jaw_axis);
  read_ordered_pair(m, "part_yaw_min_rad", "part_yaw_max_rad", any_number, c.part_yaw_min_rad, c.part_yaw_max_rad);
  read_ordered_pair(m, "place_yaw_min_rad", "place_yaw_max_rad", any_number, c.place_yaw_min_rad,
                    c.place_yaw_max_rad);
  c.grasp_yaw_tolerance_rad =
      m.real("grasp_yaw_tolerance_rad", positive_number, d.grasp_yaw_tolerance_rad).value_or(d.grasp_yaw_tolerance_rad);
  c.place_yaw_tolerance_rad =
      m.real("place_yaw_tolerance_rad", positive_number, d.place_yaw_tolerance_rad).value_or(d.place_yaw_tolerance_rad);
  c.grip_force_n = m.real("grip_force_n", non_negative_number, d.grip_force_n).value_or(d.grip_force_n);
  c.grip_friction = m.real("grip_friction", positive_number, d.grip_friction).value_or(d.grip_friction);
  c.w_reach = m.real("w_reach", any_number, d.w_reach).value_or(d.w_reach);
  c.w_place = m.real("w_place", any_number, d.w_place).value_or(d.w_place);
  c.w_hold = m.real("w_hold", any_number, d.w_hold).value_or(d.w_hold);
  c.w_grasp = m.real("w_grasp", any_number, d.w_grasp).value_or(d.w_grasp);
  c.w_action = m.real("w_action", any_number, d.w_action).value_or(d.w_action);
  c.w_success = m.real("w_success", any_number, d.w_success).value_or(d.w_success);
  c.w_yaw = m.real("w_yaw", any_number, d.w_yaw).value_or(d.w_yaw);
  c.w_drop = m.real("w_drop", any_number, d.w_drop).value_or(d.w_drop);
  c.w_near_miss = m.real("w_near_miss", any_number, d.w_near_miss).value_or(d.w_near_miss);
  c.w_time = m.real("w_time", any_number, d.w_time).value_or(d.w_time);
  m.finish(explain_misplaced("training.pick_place"));
}

// `key`'s value, which must not exceed `limit` (described by `what`); at the key when given,
// else at the mapping (the default broke the limit).
void check_at_most(MapReader& m, const Node* node, const char* key, std::int64_t value, std::int64_t limit,
                   const std::string& what) {
  if (value <= limit) return;
  m.error(node != nullptr ? node->mark : m.where(), key,
          "expected an integer <= " + what + ", found " +
              (node != nullptr ? deck_detail::describe_found(*node) : std::to_string(value) + " (the default)"));
}

void read_ppo(MapReader& m, learning::LearnerConfig& c, std::uint64_t run_seed, std::int64_t robots, int horizon,
              std::int64_t iterations) {
  const learning::LearnerConfig d;
  const auto widths = [&](const char* key, const std::vector<int>& fallback) {
    const std::optional<std::vector<std::int64_t>> w = m.integers(
        key, layer_width, 1, max_hidden_layers, std::vector<std::int64_t>(fallback.begin(), fallback.end()));
    return w ? std::vector<int>(w->begin(), w->end()) : fallback;
  };
  c.policy_hidden = widths("policy_hidden", d.policy_hidden);
  c.value_hidden = widths("value_hidden", d.value_hidden);
  c.gamma = m.real("gamma", RealRange{0.0, true, 1.0, false, false}, d.gamma).value_or(d.gamma);
  c.gae_lambda = m.real("gae_lambda", unit_interval, d.gae_lambda).value_or(d.gae_lambda);
  c.loss.clip = m.real("clip", RealRange{0.0, true, 1.0, true, false}, d.loss.clip).value_or(d.loss.clip);
  c.loss.value_clip = m.real("value_clip", non_negative_number, d.loss.value_clip).value_or(d.loss.value_clip);
  c.loss.value_coef = m.real("value_coef", non_negative_number, d.loss.value_coef).value_or(d.loss.value_coef);
  c.entropy_coef = m.real("entropy_coef", non_negative_number, d.entropy_coef).value_or(d.entropy_coef);
  c.max_grad_norm = m.real("max_grad_norm", non_negative_number, d.max_grad_norm).value_or(d.max_grad_norm);
  c.learning_rate = m.real("learning_rate", positive_number, d.learning_rate).value_or(d.learning_rate);
  c.anneal_learning_rate =
      m.boolean("anneal_learning_rate", d.anneal_learning_rate).value_or(d.anneal_learning_rate);
  // The schedule's length: by default the run's iterations (a restart keeps it; see
  // inputs/README.md).
  c.total_updates = m.integer("anneal_iterations", positive, iterations).value_or(iterations);
  c.epochs = to_int(m.integer("epochs", positive_int, d.epochs).value_or(d.epochs));
  const Node* minibatches_node = m.peek("minibatches");
  const std::optional<std::int64_t> minibatches = m.integer("minibatches", positive_int, d.minibatches);
  c.minibatches = to_int(minibatches.value_or(d.minibatches));
  c.normalize_advantages =
      m.boolean("normalize_advantages", d.normalize_advantages).value_or(d.normalize_advantages);
  c.normalize_observations =
      m.boolean("normalize_observations", d.normalize_observations).value_or(d.normalize_observations);
  c.observation_clip = m.real("observation_clip", positive_number, d.observation_clip).value_or(d.observation_clip);
  c.init_log_std = m.real("init_log_std", any_number, d.init_log_std).value_or(d.init_log_std);
  {
    MapReader adam = m.mapping("adam", false);
    if (adam.valid()) {
      const RealRange beta{0.0, false, 1.0, true, false};  // [0, 1)
      c.adam.beta1 = adam.real("beta1", beta, d.adam.beta1).value_or(d.adam.beta1);
      c.adam.beta2 = adam.real("beta2", beta, d.adam.beta2).value_or(d.adam.beta2);
      c.adam.epsilon = adam.real("epsilon", positive_number, d.adam.epsilon).value_or(d.adam.epsilon);
      adam.finish();
    }
  }
  const Node* block_node = m.peek("robots_per_block");
  const std::optional<std::int64_t> robots_per_block =
      m.integer("robots_per_block", positive_int, default_robots_per_block);
  c.robots_per_block = to_int(robots_per_block.value_or(default_robots_per_block));
  // The learner's generator key; by default the run's seed, written out so the resolved deck
  // says which.
  c.seed = static_cast<std::uint64_t>(
      m.integer("seed", non_negative, static_cast<std::int64_t>(run_seed)).value_or(static_cast<std::int64_t>(run_seed)));
  m.finish(explain_misplaced("training.ppo"));

  // Every minibatch needs at least one sample; a block of robots lies on one rank.
  if (minibatches && robots > 0 && horizon > 0) {
    const std::int64_t samples = saturating_mul(robots, horizon);
    check_at_most(m, minibatches_node, "minibatches", *minibatches, samples,
                  "robots × horizon (" + std::to_string(robots) + " × " + std::to_string(horizon) + " = " +
                      std::to_string(samples) + ")");
  }
  if (robots_per_block && robots > 0) {
    check_at_most(m, block_node, "robots_per_block", *robots_per_block, robots,
                  "robots (" + std::to_string(robots) + ")");
  }
}

// "FILE:LINE:COL: key.path: message", split; a line without a position keeps it all in `message`.
struct RobotError {
  bool positioned = false;
  std::string file;
  int line = 0;
  int column = 0;
  std::string key_path;
  std::string message;
};

RobotError split_robot_error(const std::string& text) {
  RobotError e;
  e.message = text;
  const auto digits_at = [&](std::size_t i, int& value) -> std::size_t {  // end of the digits from i
    std::size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == i || j - i > 9) return std::string::npos;
    value = std::atoi(text.substr(i, j - i).c_str());
    return j;
  };
  for (std::size_t colon = text.find(':'); colon != std::string::npos; colon = text.find(':', colon + 1)) {
    int line = 0;
    int column = 0;
    const std::size_t a = digits_at(colon + 1, line);
    if (a == std::string::npos || a >= text.size() || text[a] != ':') continue;
    const std::size_t b = digits_at(a + 1, column);
    if (b == std::string::npos || text.compare(b, 2, ": ") != 0) continue;
    e.positioned = true;
    e.file = text.substr(0, colon);
    e.line = line;
    e.column = column;
    std::string rest = text.substr(b + 2);
    const std::size_t sep = rest.find(": ");
    if (sep != std::string::npos && rest.substr(0, sep).find(' ') == std::string::npos) {
      e.key_path = rest.substr(0, sep);
      e.message = rest.substr(sep + 2);
    } else {
      e.message = rest;
    }
    break;
  }
  return e;
}

// The mark of `path` ("training.robot.joints.1.mass") inside `base`, the node at `base_path`;
// the key's own mark when `at_key`; the deepest node found when the path leaves the tree.
Mark locate(const Node& base, const std::string& base_path, const std::string& path, bool at_key) {
  Mark mark = base.mark;
  if (path.compare(0, base_path.size(), base_path) != 0) return mark;
  const Node* cur = &base;
  std::size_t start = base_path.size();
  while (start < path.size() && path[start] == '.') {
    const std::size_t end = std::min(path.find('.', start + 1), path.size());
    const std::string segment = path.substr(start + 1, end - start - 1);
    const bool last = end == path.size();
    if (cur->kind == Node::Kind::mapping) {
      const Entry* found = nullptr;
      for (const Entry& e : cur->entries) {
        if (e.key == segment) found = &e;
      }
      if (found == nullptr) break;
      mark = last && at_key ? found->key_mark : found->value.mark;
      cur = &found->value;
    } else if (cur->kind == Node::Kind::sequence) {
      const auto index = deck_detail::parse_integer(segment);
      if (!index || *index < 0 || static_cast<std::size_t>(*index) >= cur->items.size()) break;
      cur = &cur->items[static_cast<std::size_t>(*index)];
      mark = cur->mark;
    } else {
      break;
    }
    start = end;
  }
  return mark;
}

YAML::Node to_yaml(const Node& n) {
  switch (n.kind) {
    case Node::Kind::null: return YAML::Node(YAML::NodeType::Null);
    case Node::Kind::scalar: return YAML::Node(n.text);
    case Node::Kind::sequence: {
      YAML::Node s(YAML::NodeType::Sequence);
      for (const Node& item : n.items) s.push_back(to_yaml(item));
      return s;
    }
    case Node::Kind::mapping: {
      YAML::Node m(YAML::NodeType::Map);
      for (const Entry& e : n.entries) m[e.key] = to_yaml(e.value);
      return m;
    }
  }
  return YAML::Node();
}

std::string folder_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// training.robot: a robot file (.yaml with a top-level `robot`, or .urdf; relative to the
// deck's folder) or an inline robot block. The robot readers throw kollektiv::Error with one
// "FILE:LINE:COL: key.path: message" line per problem; each becomes a deck error: in the
// referenced file with its own position, inline at the deck position of its key path.
std::optional<dynamics::RobotModel> read_robot(MapReader& m, const DeckSpec& spec, std::string& source) {
  const Node* node = m.get("robot", true);
  if (node == nullptr) return std::nullopt;
  Errors& errors = m.errors();
  const std::string path = m.path_of("robot");
  const FileReader& read_file = *spec.read_file;
  if (node->kind == Node::Kind::scalar && !node->text.empty()) {
    const std::string& name = node->text;
    const bool urdf = ends_with(name, ".urdf");
    if (!urdf && !ends_with(name, ".yaml") && !ends_with(name, ".yml")) {
      m.mismatch("robot", *node, "a robot file ending in .yaml, .yml or .urdf, or a robot mapping");
      return std::nullopt;
    }
    m.out()["robot"] = name;
    const std::string full = name.front() == '/' ? name : folder_of(spec.file) + name;
    const std::optional<std::string> text = read_file(full);
    if (!text) {
      m.error(node->mark, "robot",
              "cannot read robot file '" + name + "'" + (full == name ? "" : " (looked for '" + full + "')") +
                  ": no such file or not readable");
      return std::nullopt;
    }
    source = full;
    try {
      return urdf ? robot_model_from_urdf_text(*text, full) : robot_model_from_yaml_text(*text, full, read_file);
    } catch (const Error& e) {
      std::istringstream lines(e.what());
      for (std::string line; std::getline(lines, line);) {
        const RobotError r = split_robot_error(line);
        if (r.positioned && r.file == full) {
          errors.add_external(node->mark, DeckError{r.file, std::max(r.line, 1), std::max(r.column, 1), r.key_path,
                                                    r.message});
        } else {
          errors.add(node->mark, path, line);
        }
      }
    } catch (const std::exception& e) {
      errors.add(node->mark, path, "cannot read robot file '" + name + "': " + e.what());
    }
    return std::nullopt;
  }
  if (node->kind != Node::Kind::mapping) {
    m.mismatch("robot", *node, "a robot file ending in .yaml, .yml or .urdf, or a robot mapping");
    return std::nullopt;
  }
  const YAML::Node block = to_yaml(*node);
  m.out()["robot"] = block;
  source = "inline";
  try {
    return robot_model_from_yaml(block, spec.file, path, read_file);
  } catch (const Error& e) {
    std::istringstream lines(e.what());
    for (std::string line; std::getline(lines, line);) {
      const RobotError r = split_robot_error(line);
      if (r.positioned && r.file == spec.file) {
        // The block was rebuilt from the deck's tree (so --set applies to it), which has the
        // positions: find the key path there. Unknown keys are marked at the key.
        const bool at_key = r.message.rfind("unknown key", 0) == 0;
        errors.add(locate(*node, path, r.key_path, at_key), r.key_path.empty() ? path : r.key_path, r.message);
      } else {
        errors.add(node->mark, path, line);
      }
    }
  } catch (const std::exception& e) {
    errors.add(node->mark, path, std::string("invalid robot block: ") + e.what());
  }
  return std::nullopt;
}

// The settings blocks of a skill (`common` and the skill's own), read over `skill`, whose
// current values are the defaults: the training block's over the built-in defaults, then a
// site's over the training block's.
void read_skill_settings(MapReader& m, const std::optional<std::size_t>& skill, skills::SkillConfig& into,
                         const dynamics::RobotModel* robot) {
  {
    MapReader common = m.mapping("common", false);
    if (common.valid()) read_common(common, into.common, robot);
  }
  if (skill) {
    MapReader settings = m.mapping(skill_names[*skill], false);
    if (settings.valid()) {
      switch (into.kind) {
        case skills::SkillKind::reach: read_reach(settings, into.reach); break;
        case skills::SkillKind::weld: read_weld(settings, into.weld, robot); break;
        case skills::SkillKind::pick_place: read_pick_place(settings, into.pick_place); break;
      }
    }
  } else {
    // Unknown skill: its settings cannot be checked, but must not show up as unknown keys.
    for (const std::string& name : skill_names) m.get(name, false);
  }
}

// training.curriculum: stages of tolerance scales, each but the last with the target figure
// that advances to the next.
void read_curriculum(MapReader& m, bool in_metres, std::vector<CurriculumStage>& stages) {
  YAML::Node out_items;
  const Node* list = m.sequence("curriculum", false, out_items);
  if (list == nullptr) return;
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    MapReader stage = m.item("curriculum", *list, i, out_items);
    if (!stage.valid()) continue;
    CurriculumStage c;
    c.tolerance_scale = stage.real("tolerance_scale", positive_number, std::nullopt).value_or(1.0);
    const bool last = i + 1 == list->items.size();
    const Node* advance = stage.peek("advance_at");
    if (last && advance != nullptr) {
      stage.error(advance->mark, "advance_at",
                  "expected no advance_at in the last stage (training ends in it; its target is training.target)");
      stage.get("advance_at", false);
    } else if (!last) {
      c.advance_at =
          stage.real("advance_at", in_metres ? non_negative_number : unit_interval, std::nullopt).value_or(0.0);
    }
    c.hold_iterations = stage.integer("hold_iterations", positive_int, c.hold_iterations).value_or(c.hold_iterations);
    // Tolerances only tighten, to the skill's own: a target met at looser ones is no target.
    if (const Node* scale = stage.peek("tolerance_scale")) {
      if (!stages.empty() && c.tolerance_scale > stages.back().tolerance_scale)
        stage.error(scale->mark, "tolerance_scale",
                    "expected at most the previous stage's " + deck_detail::format_real(stages.back().tolerance_scale) +
                        " (a curriculum tightens), found " + deck_detail::format_real(c.tolerance_scale));
      else if (last && c.tolerance_scale != 1.0)
        stage.error(scale->mark, "tolerance_scale",
                    "expected 1 in the last stage (training ends at the skill's own tolerances), found " +
                        deck_detail::format_real(c.tolerance_scale));
    }
    stage.finish(explain_misplaced("training.curriculum"));
    stages.push_back(c);
  }
}

// training.sites: each a name, its robots and its task distribution (the skill's settings
// it changes); `count: K` makes K sites name#0 .. name#K-1 alike. Returns the robots in all.
std::int64_t read_sites(MapReader& m, const std::optional<std::size_t>& skill, const TrainingConfig& t,
                        const dynamics::RobotModel* robot, std::vector<training::SiteConfig>& sites) {
  YAML::Node out_sites;
  std::int64_t total = 0;
  const Node* list = m.sequence("sites", true, out_sites);
  if (list == nullptr) return 0;
  UniqueNames names("a unique site name");
  constexpr std::int64_t max_sites = 65'536;
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    MapReader site = m.item("sites", *list, i, out_sites);
    if (!site.valid()) continue;
    const std::optional<std::string> name = site.name("name");
    names.check(site, name);
    const std::optional<std::int64_t> robots = site.integer("robots", robot_count, std::nullopt);
    const Node* count_node = site.peek("count");
    const std::int64_t count = site.integer("count", IntRange{1, max_sites}, 1).value_or(1);
    training::SiteConfig config;
    config.skill = t.skill;
    read_skill_settings(site, skill, config.skill, robot);
    const std::string chosen = skill ? skill_names[*skill] : std::string();
    site.finish([&](const std::string& key) -> std::optional<std::string> {
      if (skill && std::find(skill_names.begin(), skill_names.end(), key) != skill_names.end())
        return "'" + key + "' is not allowed with skill '" + chosen + "'; a site changes the settings of '" + chosen +
               "' under '" + chosen + "'";
      return explain_misplaced("training.sites")(key);
    });
    if (!name || !robots) continue;
    config.robots = *robots;
    for (std::int64_t k = 0; k < count; ++k) {
      if (sites.size() >= static_cast<std::size_t>(max_sites)) {
        site.error(count_node != nullptr ? count_node->mark : site.where(), "count",
                   "expected at most " + std::to_string(max_sites) + " sites in all");
        return total;
      }
      config.name = count == 1 ? *name : *name + "#" + std::to_string(k);
      sites.push_back(config);
      total = saturating_add(total, *robots);
    }
  }
  if (total > robot_count.hi) {
    m.error(list->mark, "sites",
            "expected at most " + std::to_string(robot_count.hi) + " robots over all sites, found " +
                std::to_string(total));
  }
  return total;
}

// Dense layers of the learner's networks (hidden + output).
int policy_layers(const learning::LearnerConfig& l) { return static_cast<int>(l.policy_hidden.size()) + 1; }
int value_layers(const learning::LearnerConfig& l) { return static_cast<int>(l.value_hidden.size()) + 1; }

// A list of `min_items` to 64 layer names under `key`, each checked by `problem` ("" when
// it is a name the key accepts), an error at the item that is not.
std::optional<std::vector<std::string>> read_layer_names(MapReader& m, const std::string& key, std::size_t min_items,
                                                         const std::vector<std::string>& fallback,
                                                         const std::function<std::string(const std::string&)>& problem) {
  const Node* node = m.peek(key);
  const std::optional<std::vector<std::string>> names = m.list<std::string>(
      key, "a list of layer names", "a layer name",
      [](const std::string& text) -> std::optional<std::string> { return text; },
      [](const std::string& text) { return text; }, min_items, 64, fallback);
  for (std::size_t i = 0; names && i < names->size(); ++i) {
    const std::string why = problem((*names)[i]);
    if (!why.empty()) m.error(node->items[i].mark, key + "." + std::to_string(i), why + ", found '" + (*names)[i] + "'");
  }
  return names;
}

// training.sharing: how the sites' replicas share (see solvers/training/sharing.hpp).
void read_sharing(MapReader& m, training::SharingConfig& s, const learning::LearnerConfig& learner) {
  const training::SharingConfig d;
  s.mode = static_cast<training::SharingMode>(
      m.choice("mode", {"allreduce", "isolated", "gossip", "federated"}, static_cast<std::size_t>(d.mode))
          .value_or(static_cast<std::size_t>(d.mode)));
  const Node* backend_node = m.peek("backend");
  const std::optional<std::size_t> backend = m.choice("backend", {"mpi", "nccl"}, 0);
  s.nccl = backend == std::size_t{1};
  if (s.nccl && !build_info::nccl) {
    m.error(backend_node->mark, "backend",
            "expected mpi: this build has no NCCL backend (configure with -DKOLLEKTIV_ENABLE_NCCL=ON and a CUDA "
            "Kokkos, e.g. the cuda preset)");
  }
  // Both blocks are checked in any mode (a deck can keep both and switch with --set); each
  // is used by its own mode.
  {
    MapReader g = m.mapping("gossip", false);
    if (g.valid()) {
      s.gossip.period = to_int(g.integer("period", positive_int, d.gossip.period).value_or(d.gossip.period));
      s.gossip.schedule = static_cast<training::GossipSchedule>(
          g.choice("schedule", {"ring", "hypercube", "random_pairs"}, static_cast<std::size_t>(d.gossip.schedule))
              .value_or(static_cast<std::size_t>(d.gossip.schedule)));
      s.gossip.average_moments = g.choice("moments", {"keep", "average"}, 1).value_or(1) == 1;
      g.finish(explain_misplaced("training.sharing.gossip"));
    }
  }
  {
    MapReader f = m.mapping("federated", false);
    if (f.valid()) {
      const training::FederatedConfig fd;
      s.federated.local_updates =
          to_int(f.integer("local_updates", positive_int, fd.local_updates).value_or(fd.local_updates));
      const RealRange fraction{0.0, true, 1.0, false, false};  // (0, 1]
      s.federated.participation = f.real("participation", fraction, fd.participation).value_or(fd.participation);
      s.federated.quorum = f.real("quorum", fraction, fd.quorum).value_or(fd.quorum);
      s.federated.unavailable =
          f.real("unavailable", RealRange{0.0, false, 1.0, true, false}, fd.unavailable).value_or(fd.unavailable);
      const std::optional<std::vector<std::string>> names =
          read_layer_names(f, "private", 0, {}, [&](const std::string& name) {
            return training::private_layer_problem(name, policy_layers(learner), value_layers(learner));
          });
      if (names) s.federated.private_layers = *names;
      f.finish(explain_misplaced("training.sharing.federated"));
    }
  }
  m.finish(explain_misplaced("training.sharing"));
}

// training.transfer: the policy file a skill starts from, which layers, and the normaliser.
void read_transfer(MapReader& m, training::TransferConfig& t, const learning::LearnerConfig& learner) {
  const training::TransferConfig d;
  t.policy = m.scalar<std::string>(
                  "policy", "a policy file exported by a kollektiv run",
                  [](const std::string& p) -> std::optional<std::string> {
                    if (!p.empty()) return p;
                    return std::nullopt;
                  },
                  [](const std::string& p) { return p; }, std::nullopt)
                 .value_or(d.policy);
  const std::optional<std::vector<std::string>> layers =
      read_layer_names(m, "layers", 1, d.request.layers, [&](const std::string& name) {
        const int p = policy_layers(learner), v = value_layers(learner);
        return learning::parse_layer_name(name, p, v) ? std::string() : learning::expected_layer_names(p, v);
      });
  if (layers) t.request.layers = *layers;
  t.request.normalizer = static_cast<learning::NormalizerTransfer>(
      m.choice("normalizer", {"auto", "take", "fresh"}, static_cast<std::size_t>(d.request.normalizer))
          .value_or(static_cast<std::size_t>(d.request.normalizer)));
  t.request.shrink =
      m.real("shrink", RealRange{0.0, true, 1.0, false, false}, d.request.shrink).value_or(d.request.shrink);
  m.finish(explain_misplaced("training.transfer"));
}

// The keys of one skill, read into `t` (whose horizon and iterations are already read): the
// training block of a deck of one skill, or an entry of training.skills. Returns the skill's
// robots (nullopt after an error that leaves them unknown).
std::optional<std::int64_t> read_skill_block(MapReader& m, DeckSpec& spec, TrainingConfig& t,
                                             const std::string& section, const std::string& default_export) {
  const TrainingConfig d;
  const std::optional<std::size_t> skill = m.choice("skill", skill_names, std::nullopt);
  if (skill) t.skill.kind = static_cast<skills::SkillKind>(*skill);
  std::optional<dynamics::RobotModel> robot = read_robot(m, spec, t.robot_source);
  if (robot) t.robot = std::move(*robot);

  // With sites, each gives its robots; without, `robots` are one site.
  const bool with_sites = m.has("sites");
  const Node* robots_node = m.peek("robots");
  if (with_sites && robots_node != nullptr) {
    m.error(robots_node->mark, "robots",
            "expected no 'robots' with 'sites' (each site gives its robots), found " +
                deck_detail::describe_found(*robots_node));
  }
  std::optional<std::int64_t> robots =
      with_sites ? std::optional<std::int64_t>(0) : m.integer("robots", robot_count, d.robots);
  if (with_sites && robots_node != nullptr) m.get("robots", false);
  const std::optional<std::size_t> metric = m.choice(
      "target_metric", {"auto", "success", "quality", "final_error"}, static_cast<std::size_t>(d.target_metric));
  if (metric) t.target_metric = static_cast<TargetMetric>(*metric);
  // A fraction for success and quality, metres for final_error.
  const bool in_metres = t.target_metric == TargetMetric::final_error;
  t.target = m.real("target", in_metres ? non_negative_number : unit_interval, d.target).value_or(d.target);
  read_curriculum(m, in_metres, t.curriculum);
  t.export_policy = m.scalar<std::string>(
                         "export_policy", "a relative file path inside the output directory (no '..', not absolute)",
                         [](const std::string& p) -> std::optional<std::string> {
                           if (inside_output_dir(p)) return p;
                           return std::nullopt;
                         },
                         [](const std::string& p) { return p; }, default_export)
                        .value_or(default_export);

  read_skill_settings(m, skill, t.skill, robot ? &t.robot : nullptr);
  t.sites.clear();
  if (with_sites) {
    const std::int64_t total = read_sites(m, skill, t, robot ? &t.robot : nullptr, t.sites);
    robots = total > 0 ? std::optional<std::int64_t>(total) : std::nullopt;
  } else if (robots) {
    t.sites.push_back(training::SiteConfig{"all", *robots, t.skill});
  }
  t.robots = robots.value_or(d.robots);
  {
    MapReader ppo = m.mapping("ppo", false);
    if (ppo.valid()) read_ppo(ppo, t.learner, spec.run.seed, robots ? *robots : 0, t.horizon, t.iterations);
  }
  {
    MapReader sharing = m.mapping("sharing", false);
    if (sharing.valid()) read_sharing(sharing, t.sharing, t.learner);
  }
  if (m.has("transfer")) {
    MapReader transfer = m.mapping("transfer", false);
    if (transfer.valid()) read_transfer(transfer, t.transfer, t.learner);
  }
  t.sites_given = with_sites;

  const std::string chosen = skill ? skill_names[*skill] : std::string();
  const auto explain = explain_misplaced(section);
  m.finish([&](const std::string& key) -> std::optional<std::string> {
    if (skill && std::find(skill_names.begin(), skill_names.end(), key) != skill_names.end()) {
      return "'" + key + "' is not allowed with skill '" + chosen + "'; the settings of '" + chosen + "' go under '" +
             chosen + "'";
    }
    return explain(key);
  });
  return robots;
}

// Reads the sequence `key` of mappings, each with a unique `name`, calling read(entry, name)
// for each: at most `most` of them ("expected at most 64 skills"), or with `at_least_one`
// from 1 to `most` ("expected 1 to 1000 scenarios"). Returns the sequence (nullptr if
// absent or not a sequence).
const Node* read_named_list(MapReader& m, const char* key, const char* noun, std::size_t most, bool at_least_one,
                            const std::function<void(MapReader&, const std::string&)>& read) {
  YAML::Node out;
  const Node* list = m.sequence(key, true, out);
  UniqueNames names(std::string("a unique ") + noun + " name");
  const std::string range = at_least_one ? "1 to " + std::to_string(most) : "at most " + std::to_string(most);
  if (list != nullptr && ((at_least_one && list->items.empty()) || list->items.size() > most))
    m.error(list->mark, key, "expected " + range + " " + noun + "s");
  for (std::size_t i = 0; list != nullptr && i < list->items.size() && i < most; ++i) {
    MapReader entry = m.item(key, *list, i, out);
    if (!entry.valid()) continue;
    const std::optional<std::string> name = entry.name("name");
    names.check(entry, name);
    read(entry, name.value_or(""));
  }
  return list;
}

// The keys of the training block that hold for every skill of the run.
const std::vector<std::string> run_level_keys = {"horizon", "iterations", "checkpoint_every", "policy_file",
                                                 "eval_episodes"};

void read_training(MapReader& m, DeckSpec& spec) {
  TrainingConfig& t = spec.training;
  const TrainingConfig d;
  const std::optional<std::int64_t> horizon = m.integer("horizon", horizon_steps, d.horizon);
  t.horizon = to_int(horizon.value_or(d.horizon));
  const Node* iterations_node = m.peek("iterations");
  const std::optional<std::int64_t> iterations = m.integer("iterations", positive, d.iterations);
  t.iterations = iterations.value_or(d.iterations);
  t.checkpoint_every = read_checkpoint_schedule<std::int64_t>(
      m, spec, "checkpoint_every", "an integer", deck_detail::parse_integer,
      [](const std::int64_t& v) { return std::to_string(v); }, d.checkpoint_every);
  t.policy_file = m.scalar<std::string>(
                       "policy_file", "a file name, or \"\" to train",
                       [](const std::string& s) -> std::optional<std::string> { return s; },
                       [](const std::string& s) { return s; }, d.policy_file)
                      .value_or(d.policy_file);
  t.eval_episodes = m.integer("eval_episodes", IntRange{1, 1'000'000}, d.eval_episodes).value_or(d.eval_episodes);

  std::optional<std::int64_t> robots;
  if (!m.has("skills")) {
    robots = read_skill_block(m, spec, t, "training", d.export_policy);
  } else {
    // Several skills: each entry is a skill block of its own; the training block keeps the
    // run-level keys.
    t.skills.clear();
    std::int64_t total = 0;
    bool known = true;
    const Node* list = read_named_list(m, "skills", "skill", 64, false, [&](MapReader& entry, const std::string& name) {
      TrainingConfig one;
      one.enabled = true;
      one.horizon = t.horizon;
      one.iterations = t.iterations;
      one.checkpoint_every = t.checkpoint_every;
      one.name = name;
      const std::optional<std::int64_t> n =
          read_skill_block(entry, spec, one, "training.skills", "policy_" + one.name + ".h5");
      known = known && n.has_value();
      if (n) total = saturating_add(total, *n);
      t.skills.push_back(std::move(one));
    });
    robots = known && !t.skills.empty() ? std::optional<std::int64_t>(total) : std::nullopt;
    if (robots) t.robots = *robots;
    if (robots && *robots > robot_count.hi)
      m.error(list->mark, "skills",
              "expected at most " + std::to_string(robot_count.hi) + " robots over all skills, found " +
                  std::to_string(*robots));
    const Node* policy_node = m.peek("policy_file");
    if (!t.policy_file.empty() && policy_node != nullptr)
      m.error(policy_node->mark, "policy_file",
              "expected no policy_file with 'skills': an evaluation runs one skill (a deck without 'skills')");
    m.finish([&](const std::string& key) -> std::optional<std::string> {
      const auto& own = training_sections.front().second;
      if (std::find(own.begin(), own.end(), key) != own.end())
        return "with 'skills', '" + key + "' goes into each entry of training.skills; the training block keeps " +
               join(run_level_keys) + " and skills";
      return explain_misplaced("training")(key);
    });
  }
  // env_steps = robots × horizon × iterations must stay an exact 64-bit count.
  if (robots && horizon && iterations &&
      saturating_mul(saturating_mul(*robots, *horizon), *iterations) > max_env_steps) {
    m.error(iterations_node != nullptr ? iterations_node->mark : m.where(), "iterations",
            "expected robots × horizon × iterations <= " + std::to_string(max_env_steps) + " env-steps, found " +
                std::to_string(*robots) + " × " + std::to_string(*horizon) + " × " + std::to_string(*iterations));
  }
  if (!t.transfer.policy.empty() && !t.policy_file.empty()) {
    m.error(m.peek("transfer")->mark, "transfer",
            "expected no transfer in an evaluation (policy_file evaluates a policy as it is)");
  }
}

// ---------------------------------------------------------------------------------------
// cells: the skills of the factory's robot cells

void read_cells(MapReader& m, DeckSpec& spec) {
  CellsConfig& c = spec.cells;
  const CellsConfig d;
  spec.cells_given = true;
  if (const Node* node = m.peek("update_interval_s")) spec.cells_interval_mark = node->mark;
  else spec.cells_interval_mark = m.where();
  c.update_interval_s = m.real("update_interval_s", positive_s, d.update_interval_s).value_or(d.update_interval_s);
  read_named_list(m, "skills", "skill", 64, false, [&](MapReader& entry, const std::string& name) {
    CellSkillDeck one;
    one.name = name;
    one.learn = entry.boolean("learn", true).value_or(true);
    for (const char* key : {"robots", "sites", "target_metric", "target", "export_policy", "curriculum"})
      if (const Node* node = entry.peek(key))
        entry.error(node->mark, key,
                    std::string("expected no '") + key +
                        "' in a cell skill: its robots are the cells' (stations' cell.robots), its sites the "
                        "factories, and it learns for as long as the factory runs");
    one.skill.enabled = true;
    one.skill.name = one.name;
    one.skill.horizon = 1;
    one.skill.iterations = 1;
    // The learning rate: constant unless the deck anneals it, and then over a number of update
    // intervals the deck states (the run's end time may change on a restart; the schedule
    // may not).
    const Node* ppo_node = entry.peek("ppo");
    const Node* anneal = ppo_node != nullptr ? ppo_node->find("anneal_learning_rate") : nullptr;
    const bool anneal_iterations = ppo_node != nullptr && ppo_node->find("anneal_iterations") != nullptr;
    read_skill_block(entry, spec, one.skill, "cells.skills", "policy_" + one.name + ".h5");
    if (anneal == nullptr) {
      one.skill.learner.anneal_learning_rate = false;
      if (entry.valid() && entry.out()["ppo"].IsMap()) entry.out()["ppo"]["anneal_learning_rate"] = "false";
    } else if (one.skill.learner.anneal_learning_rate && !anneal_iterations) {
      entry.error(anneal->mark, "ppo.anneal_learning_rate",
                  "expected ppo.anneal_iterations with anneal_learning_rate: true in a cell skill (the update "
                  "intervals the learning rate decays over), found none");
    }
    // The skill block's defaults for what a cell skill does not have stay out of the
    // resolved deck, which must parse again.
    for (const char* key : {"robots", "target_metric", "target", "export_policy"}) entry.out().remove(key);
    if (one.skill.sharing.nccl) {
      const Node* sharing = entry.peek("sharing");
      entry.error(sharing != nullptr ? sharing->mark : entry.where(), "sharing",
                  "expected no 'backend: nccl' for a cell skill: every rank holds its replicas, and they share "
                  "without messages");
    }
    c.skills.push_back(std::move(one));
  });
  // Episodes to record (names resolved in check_cells).
  if (m.has("record")) {
    YAML::Node out_record;
    const Node* rec = m.sequence("record", false, out_record);
    for (std::size_t i = 0; rec != nullptr && i < rec->items.size() && i < 1000; ++i) {
      MapReader entry = m.item("record", *rec, i, out_record);
      if (!entry.valid()) continue;
      RecordConfig r;
      if (const Node* node = entry.peek("station")) spec.record_marks.push_back(node->mark);
      else spec.record_marks.push_back(entry.where());
      r.station = entry.string("station", std::nullopt).value_or("");
      r.at_s = entry
                   .list<double>(
                       "at_s", "a list of simulated times", "a time >= 0 in s",
                       [](const std::string& t) -> std::optional<double> {
                         char* end = nullptr;
                         const double v = std::strtod(t.c_str(), &end);
                         if (end == t.c_str() || *end != '\0' || !(v >= 0) || !std::isfinite(v)) return std::nullopt;
                         return v;
                       },
                       [](const double& v) {
                         char text[64];
                         std::snprintf(text, sizeof text, "%.17g", v);
                         return std::string(text);
                       },
                       1, 1000, std::nullopt)
                   .value_or(std::vector<double>{});
      entry.finish();
      c.record.push_back(std::move(r));
    }
  } else {
    m.get("record", false);
  }
  m.finish();
}

using factory::replica_name;

std::string seconds_text(double s) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", s);
  return text;
}

// Cross-references once every block is read: each cell names a skill of cells.skills, cells
// need a factory, and the policy changes only at the run's report and checkpoint times.
void check_cells(MapReader& top, DeckSpec& spec) {
  Errors& errors = top.errors();
  bool any_cell = false;
  for (FactorySpec& f : spec.factories)
    for (LineSpec& l : f.lines)
      for (StationSpec& st : l.stations) {
        if (!st.config.cell.enabled) continue;
        any_cell = true;
        const auto& skills = spec.cells.skills;
        const auto it = std::find_if(skills.begin(), skills.end(),
                                     [&](const CellSkillDeck& k) { return k.name == st.cell_skill; });
        if (it == skills.end()) {
          std::string known;
          for (const auto& k : skills) known += (known.empty() ? "" : ", ") + k.name;
          errors.add(st.cell_skill_mark, st.cell_skill_path,
                     "expected the name of a skill in cells.skills (" + (known.empty() ? std::string("none given") : known) +
                         "), found '" + st.cell_skill + "'");
          continue;
        }
        const skills::CommonConfig& common = it->skill.skill.common;
        st.config.cell.skill = static_cast<int>(it - skills.begin());
        st.config.cell.ideal_cycle_s = st.config.cell.handling_s + common.episode_steps * common.control_dt_s;
      }
  if (spec.experiment_mark && spec.training_deck)
    errors.add(*spec.experiment_mark, "experiment",
               "expected 'experiment' with a 'factory' block (replications of a factory run), found a training deck");
  // Recorded stations: "factory/line/station" of a robot cell, as the history names them.
  for (std::size_t i = 0; i < spec.cells.record.size(); ++i) {
    RecordConfig& r = spec.cells.record[i];
    std::int64_t gid = 0;
    bool cell = false;
    for (const FactorySpec& f : spec.factories)
      for (const LineSpec& l : f.lines)
        for (std::int64_t lk = 0; lk < l.count; ++lk)
          for (const StationSpec& st : l.stations)
            for (std::int64_t sk = 0; sk < st.config.count; ++sk, ++gid)
              if (f.name + "/" + replica_name(l.name, l.count, lk) + "/" + replica_name(st.config.name, st.config.count, sk) ==
                  r.station) {
                r.station_gid = gid;
                cell = st.config.cell.enabled;
              }
    if (r.station_gid < 0 || !cell)
      errors.add(spec.record_marks[i], "cells.record." + std::to_string(i) + ".station",
                 "expected a robot cell as \"factory/line/station\" (deck names; copies as name#k), found '" +
                     r.station + "'" + (r.station_gid >= 0 ? " (not a cell)" : ""));
  }
  if (spec.cells_given && spec.training_deck)
    errors.add(spec.cells_interval_mark, "cells",
               "expected 'cells' with a 'factory' block (cells are stations of a factory), found a training deck");
  if (any_cell && !spec.cells_given)
    errors.add(Mark{}, "cells", "expected a 'cells' block: the factory has robot cells (stations with 'cell')");
  if (!spec.cells_given || spec.training_deck) return;
  const double interval = spec.cells.update_interval_s;
  const auto multiple = [interval](double t) {
    const double k = std::round(t / interval);
    return k >= 1 && k * interval == t;
  };
  for (const auto& [what, value] : {std::pair<const char*, double>{"run.end_time_s", spec.run.end_time_s},
                                    {"run.report_interval_s", spec.run.report_interval_s},
                                    {"run.checkpoint_interval_s", spec.run.checkpoint_interval_s}})
    if (!multiple(value) && !(value == 0 && std::string(what) == "run.checkpoint_interval_s"))  // 0: at the end only
      errors.add(spec.cells_interval_mark, "cells.update_interval_s",
                 "expected an interval that divides " + std::string(what) + " (" + seconds_text(value) +
                     " s): the cells' policy changes only between update intervals, and histories and "
                     "checkpoints are taken at their ends; found " + seconds_text(interval) + " s");
}

factory::FactoryModelConfig model_of(const std::vector<FactorySpec>& factories);

// A copy of a named entry: "name" (copy 0, or `own_copy` when the entry has several and
// `own_copy` is given) or "name#k". Returns {entry index, copy}, or an error message.
template <class Spec, class CountOf, class NameOf>
std::variant<std::pair<std::int64_t, std::int64_t>, std::string> find_copy(const std::string& text,
                                                                           const std::vector<Spec>& specs,
                                                                           const NameOf& name_of, const CountOf& count_of,
                                                                           const char* what) {
  const std::size_t hash = text.find('#');
  const std::string name = text.substr(0, hash);
  std::int64_t copy = 0;
  if (hash != std::string::npos) {
    const std::string digits = text.substr(hash + 1);
    if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos)
      return std::string("a copy number after '#' in '") + text + "'";
    copy = std::stoll(digits);
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (name_of(specs[i]) != name) continue;
    if (copy >= count_of(specs[i]))
      return std::string(what) + " '" + name + "' has " + std::to_string(count_of(specs[i])) + " copies, found '" +
             text + "'";
    if (hash == std::string::npos && count_of(specs[i]) > 1) return std::pair<std::int64_t, std::int64_t>{i, -1};
    return std::pair<std::int64_t, std::int64_t>{static_cast<std::int64_t>(i), copy};
  }
  return std::string("no ") + what + " named '" + name + "'";
}

// A route's target, named relative to the sending station (factory f, line entry l), or
// what is wrong with the name.
std::variant<factory::RouteTarget, std::string> resolve_route(const std::string& to, const std::vector<FactorySpec>& factories,
                                                             std::size_t f, std::size_t l) {
  factory::RouteTarget t;
  if (to == "sink") {
    t.sink = true;
    return t;
  }
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = to.find('/', start);
    parts.push_back(to.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  t.factory = static_cast<std::int64_t>(f);
  if (parts.size() == 3) {
    const auto it = std::find_if(factories.begin(), factories.end(), [&](const FactorySpec& x) { return x.name == parts[0]; });
    if (it == factories.end()) return "no factory named '" + parts[0] + "'";
    t.factory = it - factories.begin();
  }
  const std::vector<LineSpec>& lines = factories[static_cast<std::size_t>(t.factory)].lines;
  if (parts.size() >= 2) {
    const auto line = find_copy(
        parts[parts.size() - 2], lines, [](const LineSpec& x) { return x.name; }, [](const LineSpec& x) { return x.count; },
        "line");
    if (const auto* e = std::get_if<std::string>(&line)) return *e;
    std::tie(t.line, t.line_copy) = std::get<std::pair<std::int64_t, std::int64_t>>(line);
    const bool own = static_cast<std::size_t>(t.factory) == f && static_cast<std::size_t>(t.line) == l;
    if (t.line_copy < 0 && !own)
      return "line '" + parts[parts.size() - 2] + "' has " + std::to_string(lines[static_cast<std::size_t>(t.line)].count) +
             " copies: name one as " + parts[parts.size() - 2] + "#k";
  } else {
    t.line = static_cast<std::int64_t>(l);
    t.line_copy = -1;
  }
  const std::vector<StationSpec>& stations = lines[static_cast<std::size_t>(t.line)].stations;
  const auto station = find_copy(
      parts.back(), stations, [](const StationSpec& x) { return x.config.name; },
      [](const StationSpec& x) { return x.config.count; }, "station");
  if (const auto* e = std::get_if<std::string>(&station)) return *e;
  std::tie(t.station, t.station_copy) = std::get<std::pair<std::int64_t, std::int64_t>>(station);
  t.station_copy = std::max<std::int64_t>(t.station_copy, 0);  // a station entry is entered at its first copy
  return t;
}

// Pools: every home names a station of its factory ("line/station"), every robots_from a
// pool of the station's factory. Returns whether the deck has pools and all of them resolved.
bool check_pools(Errors& errors, DeckSpec& spec, bool& any) {
  bool resolved = true;
  for (std::size_t f = 0; f < spec.factories.size(); ++f) {
    FactorySpec& factory = spec.factories[f];
    for (PoolSpec& pool : factory.pools) {
      any = true;
      const RouteSpec& home = pool.home;
      if (home.to.empty()) {
        resolved = false;  // reported where it was read
        continue;
      }
      const auto slashes = std::count(home.to.begin(), home.to.end(), '/');
      auto target = slashes == 1 ? resolve_route(home.to, spec.factories, f, std::numeric_limits<std::size_t>::max())
                                 : std::variant<factory::RouteTarget, std::string>(
                                       slashes == 0 ? "name the line too" : "a pool's home is in the pool's factory");
      if (const auto* t = std::get_if<factory::RouteTarget>(&target)) {  // a station with copies names one
        const std::string station = home.to.substr(home.to.find('/') + 1);
        const std::int64_t copies = factory.lines[static_cast<std::size_t>(t->line)]
                                        .stations[static_cast<std::size_t>(t->station)].config.count;
        if (copies > 1 && station.find('#') == std::string::npos)
          target = "station '" + station + "' has " + std::to_string(copies) + " copies: name one as " + station + "#k";
      }
      if (const auto* e = std::get_if<std::string>(&target)) {
        errors.add(home.mark, home.path, std::string("expected ") + pool_home_expected + ", found '" + home.to + "' (" + *e + ")");
        resolved = false;
        continue;
      }
      pool.config.home = std::get<factory::RouteTarget>(target);
    }
    for (LineSpec& line : factory.lines)
      for (StationSpec& st : line.stations) {
        if (!st.robots_from) continue;
        any = true;
        const RouteSpec& r = *st.robots_from;
        if (r.to.empty()) {
          resolved = false;
          continue;
        }
        const auto it = std::find_if(factory.pools.begin(), factory.pools.end(),
                                     [&](const PoolSpec& p) { return p.config.name == r.to; });
        if (it == factory.pools.end()) {
          std::string list;
          for (const PoolSpec& p : factory.pools) list += (list.empty() ? "" : ", ") + p.config.name;
          errors.add(r.mark, r.path, "expected the name of a pool of factory '" + factory.name + "' (" +
                                         (list.empty() ? std::string("it has none: give them in its 'pools'") : list) +
                                         "), found '" + r.to + "'");
          resolved = false;
          continue;
        }
        st.config.robots_from.pool_index = it - factory.pools.begin();
      }
  }
  return resolved;
}

// Routes: every target names a station (relative to the sender), and what needs the whole
// plant holds (factory::ModelIndex::route_problems: assembly inputs, disassembly routes,
// shortest-queue buffers, pools big enough for their cells).
void check_routes(Errors& errors, DeckSpec& spec) {
  bool any = false;
  bool resolved = check_pools(errors, spec, any);
  for (std::size_t f = 0; f < spec.factories.size(); ++f)
    for (std::size_t l = 0; l < spec.factories[f].lines.size(); ++l)
      for (std::size_t k = 0; k < spec.factories[f].lines[l].stations.size(); ++k) {
        StationSpec& st = spec.factories[f].lines[l].stations[k];
        const auto resolve = [&](const RouteSpec& r, factory::RouteConfig& into, bool rework) {
          any = true;
          if (r.to.empty()) {
            resolved = false;  // reported where it was read
            return;
          }
          const auto target = resolve_route(r.to, spec.factories, f, l);
          if (const auto* e = std::get_if<std::string>(&target)) {
            errors.add(r.mark, r.path, std::string("expected ") + route_name_expected + ", found '" + r.to + "' (" + *e + ")");
            resolved = false;
            return;
          }
          into.target = std::get<factory::RouteTarget>(target);
          const factory::RouteTarget& t = into.target;
          if (t.sink && rework) {
            errors.add(r.mark, r.path, "expected a station to rework at, found the sink");
            resolved = false;
          } else if (!t.sink && static_cast<std::size_t>(t.factory) == f && static_cast<std::size_t>(t.line) == l &&
                     t.line_copy < 0 && static_cast<std::size_t>(t.station) == k && st.config.count == 1) {
            errors.add(r.mark, r.path, "expected another station than the station itself, found '" + r.to + "'");
            resolved = false;
          }
        };
        for (std::size_t r = 0; r < st.next.size(); ++r) resolve(st.next[r], st.config.next[r], false);
        if (st.rework_to) resolve(*st.rework_to, st.config.rework_to, true);
      }
  if (!any || !resolved) return;
  factory::FactoryModelConfig model = model_of(spec.factories);
  model.part_types = spec.part_types;
  try {
    const factory::ModelIndex index(std::move(model));
    std::vector<const StationSpec*> entries;
    for (const FactorySpec& f : spec.factories)
      for (const LineSpec& l : f.lines)
        for (const StationSpec& st : l.stations) entries.push_back(&st);
    for (const auto& [entry, problem] : index.route_problems()) {
      const StationSpec& st = *entries[static_cast<std::size_t>(entry)];
      errors.add(st.mark, st.path, problem);
    }
  } catch (const Error& e) {
    errors.add(Mark{}, "factory", e.what());
  }
}

// Automatic checkpoints need the failure rate they trade against; a failure rate without
// them would be ignored, so it is refused.
void check_checkpoint_auto(const DeckSpec& spec, Errors& errors) {
  if (spec.checkpoint_auto_mark && !spec.node_mtbf_mark)
    errors.add(*spec.checkpoint_auto_mark, spec.training_deck ? "training.checkpoint_every" : "run.checkpoint_interval_s",
               "expected run.node_mtbf_s (the mean time between failures of one node, in seconds) with 'auto': "
               "the interval is Young/Daly's sqrt(2 C M) with M = node_mtbf_s / nodes");
  if (spec.node_mtbf_mark && !spec.checkpoint_auto_mark)
    errors.add(*spec.node_mtbf_mark, "run.node_mtbf_s",
               std::string("is used only by automatic checkpoints; expected it with ") +
                   (spec.training_deck ? "training.checkpoint_every: auto" : "run.checkpoint_interval_s: auto"));
}

// ---------------------------------------------------------------------------------------
// experiment: replications and scenarios of a factory deck

void read_experiment(MapReader& m, DeckSpec& spec) {
  ExperimentConfig& e = spec.experiment;
  const ExperimentConfig d;
  spec.experiment_mark = m.where();
  e.replications = m.integer("replications", IntRange{2, 100'000}, std::nullopt).value_or(2);
  e.confidence = m.real("confidence", RealRange{0.0, true, 1.0, true, false}, d.confidence).value_or(d.confidence);
  e.scenarios.clear();
  if (!m.has("scenarios")) {
    m.get("scenarios", false);
    e.scenarios.push_back(ScenarioConfig{"base", {}});
  } else {
    read_named_list(m, "scenarios", "scenario", 1000, true, [&](MapReader& entry, const std::string& name) {
      ScenarioConfig sc;
      sc.name = name;
      sc.overrides = entry
                         .list<std::string>(
                             "set", "a list of overrides \"key.path=value\"", "\"key.path=value\", not of experiment.*",
                             [](const std::string& o) -> std::optional<std::string> {
                               const std::size_t eq = o.find('=');
                               if (eq == std::string::npos || eq == 0 || o.rfind("experiment", 0) == 0) return std::nullopt;
                               return o;
                             },
                             [](const std::string& o) { return o; }, 0, 1000, std::vector<std::string>{})
                         .value_or(std::vector<std::string>{});
      entry.finish();
      e.scenarios.push_back(std::move(sc));
    });
  }
  m.finish();
}

// ---------------------------------------------------------------------------------------
// The top level: a table, so that a later block is one line here plus its reader (which
// finishes its mapping).

struct Block {
  const char* key;
  // The block says what kind of run the deck is (factory, training): a deck has exactly one
  // of these. Other blocks are optional.
  bool kind;
  void (*read)(MapReader&, DeckSpec&);
  bool optional = false;  // absent: not read at all (rather than read with every default)
};

const Block top_level_blocks[] = {
    {"run", false, read_run},
    {"factory", true, read_factory},
    {"training", true, read_training},
    {"cells", false, read_cells, true},
    {"experiment", false, read_experiment, true},
};

// The solver's configuration keeps each line and station entry once with its count
// (factory::ModelIndex numbers the copies).
factory::FactoryModelConfig model_of(const std::vector<FactorySpec>& factories) {
  factory::FactoryModelConfig model;
  for (const FactorySpec& f : factories) {
    factory::FactoryConfig& fc = model.factories.emplace_back();
    fc.name = f.name;
    fc.shifts = f.shifts;
    for (const PoolSpec& p : f.pools) fc.pools.push_back(p.config);
    for (const LineSpec& l : f.lines) {
      factory::LineConfig& lc = fc.lines.emplace_back();
      lc.name = l.name;
      lc.count = l.count;
      lc.source = l.source;
      for (const StationSpec& s : l.stations) lc.stations.push_back(s.config);
    }
  }
  return model;
}

}  // namespace

std::optional<std::string> read_file_from_disk(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

DeckResult parse_deck(const std::string& text, const std::string& file, const std::vector<std::string>& overrides,
                      const FileReader& read_file, double memory_per_rank_bytes, int ranks) {
  Errors errors(file);
  DeckResult result;
  std::optional<Node> root = deck_detail::load_yaml(text, 0, 0, "", errors);
  if (!root) {
    result.errors = errors.sorted();
    return result;
  }
  for (std::size_t k = 0; k < overrides.size(); ++k) {
    deck_detail::apply_override(*root, overrides[k], static_cast<int>(k) + 1, errors);
  }

  YAML::Node out(YAML::NodeType::Map);
  MapReader top(errors, &*root, Mark{}, "", out);
  DeckSpec spec;
  spec.file = file;
  spec.read_file = &read_file;
  spec.memory_per_rank_bytes = memory_per_rank_bytes;
  spec.ranks = std::max(ranks, 1);
  spec.training_deck = top.has("training");
  std::vector<std::string> kinds;  // the kind blocks the deck has
  for (const Block& block : top_level_blocks) {
    if ((block.kind || block.optional) && !top.has(block.key)) {
      top.get(block.key, false);  // known, and absent
      continue;
    }
    if (block.kind) kinds.emplace_back(block.key);
    MapReader reader = top.mapping(block.key, false);
    if (reader.valid()) block.read(reader, spec);
  }
  if (top.valid() && kinds.size() != 1) {
    std::string expected;
    for (const Block& block : top_level_blocks) {
      if (block.kind) expected += std::string(expected.empty() ? "'" : " or '") + block.key + "'";
    }
    if (kinds.empty()) {
      errors.add(Mark{}, "", "expected exactly one of " + expected + ", found neither");
    } else {
      // At the one that comes last in the deck (or the override that added it).
      const Entry* last = nullptr;
      for (const Entry& e : root->entries) {
        if (std::find(kinds.begin(), kinds.end(), e.key) == kinds.end()) continue;
        const Mark& a = e.key_mark;
        if (last == nullptr || std::tie(a.source, a.line, a.column) >
                                   std::tie(last->key_mark.source, last->key_mark.line, last->key_mark.column)) {
          last = &e;
        }
      }
      errors.add(last->key_mark, last->key, "expected exactly one of " + expected + ", found both");
    }
  }
  check_cells(top, spec);
  check_routes(top.errors(), spec);
  check_checkpoint_auto(spec, errors);
  top.finish();

  if (!errors.empty()) {
    result.errors = errors.sorted();
    return result;
  }
  Deck deck;
  deck.run = spec.run;
  deck.factory = model_of(spec.factories);
  deck.factory.part_types = spec.part_types;
  if (spec.cells_given) deck.cells = std::move(spec.cells);
  if (spec.experiment_mark) deck.experiment = std::move(spec.experiment);
  if (spec.training_deck) {
    deck.training = std::move(spec.training);
    deck.training.enabled = true;
  }
  deck.file = file;
  deck.text = text;
  YAML::Emitter emitter;
  emitter << out;
  deck.resolved_yaml = std::string("# resolved deck: every key with its value, defaults filled in, --set applied\n") +
                       emitter.c_str() + "\n";
  result.deck = std::move(deck);
  return result;
}

}  // namespace kollektiv::io
