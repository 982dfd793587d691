// The deck schema (one reader per block, the top level a table of blocks), replication of
// lines and stations, and parse_deck. The generic checking lives in deck_tree.cpp.
#include "io/deck.hpp"

#include <algorithm>
#include <limits>

#include "io/deck_tree.hpp"

namespace kollektiv::io {

std::string DeckError::format() const {
  std::string s = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!key_path.empty()) s += key_path + ": ";
  return s + message;
}

namespace {

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

// Defaults that are not a struct's own default.
constexpr std::int64_t default_count = 1;
constexpr std::int64_t default_buffer_capacity = 10;
constexpr double default_conveyor_time_s = 10.0;
constexpr double default_lognormal_cv = 0.25;

// What the deck says before replication: `count` is still a number.
struct StationSpec {
  factory::StationConfig config;
  std::int64_t count = default_count;
};

struct LineSpec {
  std::string name;
  std::int64_t count = default_count;
  factory::SourceConfig source;
  std::vector<StationSpec> stations;
};

struct FactorySpec {
  std::string name;
  std::vector<LineSpec> lines;
};

struct DeckSpec {
  RunConfig run;
  std::vector<FactorySpec> factories;
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

void read_run(MapReader& m, DeckSpec& spec) {
  RunConfig& run = spec.run;
  const RunConfig defaults;
  run.seed = static_cast<std::uint64_t>(m.integer("seed", non_negative, 1).value_or(1));
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
  run.deterministic = m.boolean("deterministic", defaults.deterministic).value_or(defaults.deterministic);
  run.output_dir = m.string("output_dir", defaults.output_dir).value_or(defaults.output_dir);
  run.checkpoint_interval_s = m.real("checkpoint_interval_s", non_negative_s, defaults.checkpoint_interval_s)
                                  .value_or(defaults.checkpoint_interval_s);
  run.checkpoint_keep = static_cast<int>(
      m.integer("checkpoint_keep", IntRange{1, 1000}, defaults.checkpoint_keep).value_or(defaults.checkpoint_keep));
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

StationSpec read_station(MapReader& m, UniqueNames& names, double line_conveyor_s, std::int64_t line_capacity) {
  StationSpec s;
  factory::StationConfig& c = s.config;
  const std::optional<std::string> name = m.name("name");
  names.check(m, name);
  c.name = name.value_or("");
  s.count = m.integer("count", positive, default_count).value_or(default_count);
  {
    MapReader process = m.mapping("process", true);
    if (process.valid()) read_process(process, c.process);
  }
  c.scrap_probability = m.real("scrap_probability", probability, 0.0).value_or(0.0);
  c.buffer_capacity = read_capacity(m, line_capacity).value_or(line_capacity);
  c.conveyor_time_s = m.real("conveyor_time_s", positive_s, line_conveyor_s).value_or(line_conveyor_s);
  if (m.has("breakdown")) {
    MapReader breakdown = m.mapping("breakdown", false);
    if (breakdown.valid()) read_breakdown(breakdown, c.breakdown);
  } else {
    m.get("breakdown", false);  // known, and absent: no breakdowns
  }
  m.finish();
  return s;
}

LineSpec read_line(MapReader& m, UniqueNames& names) {
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
      if (station.valid()) line.stations.push_back(read_station(station, station_names, conveyor_s, capacity));
    }
  }
  m.finish();
  return line;
}

FactorySpec read_one_factory(MapReader& m, UniqueNames& names) {
  FactorySpec f;
  const std::optional<std::string> name = m.name("name");
  names.check(m, name);
  f.name = name.value_or("");
  YAML::Node out_lines;
  if (const Node* lines = m.sequence("lines", true, out_lines)) {
    UniqueNames line_names("a line name unique within its factory");
    for (std::size_t i = 0; i < lines->items.size(); ++i) {
      MapReader line = m.item("lines", *lines, i, out_lines);
      if (line.valid()) f.lines.push_back(read_line(line, line_names));
    }
  }
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
  YAML::Node out_factories;
  if (const Node* factories = m.sequence("factories", true, out_factories)) {
    UniqueNames names("a unique factory name");
    for (std::size_t i = 0; i < factories->items.size(); ++i) {
      MapReader f = m.item("factories", *factories, i, out_factories);
      if (f.valid()) spec.factories.push_back(read_one_factory(f, names));
    }
  }
  std::int64_t total = 0;
  for (const FactorySpec& f : spec.factories) {
    for (const LineSpec& l : f.lines) {
      std::int64_t per_line = 0;
      for (const StationSpec& s : l.stations) per_line = saturating_add(per_line, s.count);
      total = saturating_add(total, saturating_mul(per_line, l.count));
    }
  }
  if (total > max_total_stations) {
    m.errors().add(m.where(), m.path(),
                   "expected at most " + std::to_string(max_total_stations) +
                       " stations counting replicas, found " + std::to_string(total));
  }
}

// ---------------------------------------------------------------------------------------
// The top level: a table, so that a later block (robots, skills, training) is one line here
// plus its reader.

struct Block {
  const char* key;
  bool required;
  void (*read)(MapReader&, DeckSpec&);
};

const Block top_level_blocks[] = {
    {"run", false, read_run},
    {"factory", true, read_factory},
};

// "name" for one copy, "name#0", "name#1", ... for several.
std::string replica_name(const std::string& name, std::int64_t count, std::int64_t k) {
  return count == 1 ? name : name + "#" + std::to_string(k);
}

factory::FactoryModelConfig expand(const std::vector<FactorySpec>& factories) {
  factory::FactoryModelConfig model;
  for (const FactorySpec& f : factories) {
    factory::FactoryConfig& fc = model.factories.emplace_back();
    fc.name = f.name;
    for (const LineSpec& l : f.lines) {
      for (std::int64_t lk = 0; lk < l.count; ++lk) {
        factory::LineConfig& lc = fc.lines.emplace_back();
        lc.name = replica_name(l.name, l.count, lk);
        lc.source = l.source;
        for (const StationSpec& s : l.stations) {
          for (std::int64_t sk = 0; sk < s.count; ++sk) {
            factory::StationConfig& sc = lc.stations.emplace_back(s.config);
            sc.name = replica_name(s.config.name, s.count, sk);
          }
        }
      }
    }
  }
  return model;
}

}  // namespace

DeckResult parse_deck(const std::string& text, const std::string& file, const std::vector<std::string>& overrides) {
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
  for (const Block& block : top_level_blocks) {
    MapReader reader = top.mapping(block.key, block.required);
    if (!reader.valid()) continue;
    block.read(reader, spec);
    reader.finish();
  }
  top.finish();

  if (!errors.empty()) {
    result.errors = errors.sorted();
    return result;
  }
  Deck deck;
  deck.run = spec.run;
  deck.factory = expand(spec.factories);
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
