// Plain, validated configuration of the factory model, as io::Deck produces it, so the
// solver never sees YAML. A deck's `count` copies of a line or a station stay one entry
// with its count: the configuration grows with the deck's text, not with the model, and
// ModelIndex numbers the copies. Units are seconds unless a name says otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kollektiv::factory {

enum class ArrivalKind { fixed, poisson };

// A product mix: part type `type` (an index into FactoryModelConfig::part_types) makes up
// `share` of a source's parts (shares are normalised over the mix).
struct TypeShare {
  int type = 0;
  double share = 1.0;
};

struct SourceConfig {
  ArrivalKind kind = ArrivalKind::poisson;
  double interval_s = 60.0;  // fixed interval, or mean of the exponential inter-arrival time
  std::vector<TypeShare> mix;  // empty: every part is of type 0
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

// A calendar of working time repeating every period_s: the working periods [start_s, end_s)
// of one period, as offsets from its start (shifts; the gaps between them are breaks, nights
// and planned maintenance: planned downtime). Sorted, each ends before the next starts, and
// the last may run past the period's end (a night shift) but ends before the first starts
// again. Its changes are numbered: change n (n >= -1) happens at change_time(n); an even n is
// the start of a working period, an odd n its end.
struct WorkingPeriod {
  double start_s = 0.0;
  double end_s = 0.0;
};

struct ShiftCalendar {
  bool enabled = false;  // false: always working
  double period_s = 86400.0;
  std::vector<WorkingPeriod> working;

  double change_time(std::int64_t n) const;
  // The first change after t = 0 (-1 if the last period runs from the period before into
  // t = 0, 1 if the first starts at 0, else 0): working at t = 0 iff it is odd.
  std::int64_t first_change() const;
  // "" or what is wrong with the periods (for the deck's message).
  std::string problem() const;
};

// How long a station takes for parts of one type (instead of StationConfig::process).
struct TypeProcess {
  int type = 0;
  ProcessConfig process;
};

// Sequence-dependent setup: a machine that takes a part of type `to` after one of type
// `from` first spends time_s changing over.
struct Changeover {
  int from = 0;
  int to = 0;
  double time_s = 0.0;
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

// Routing (a line as a graph). Where an explicit route goes: the sink (the part leaves the
// plant there) or a station of the model, resolved from its deck name (io::Deck).
struct RouteTarget {
  bool sink = false;
  std::int64_t factory = 0;       // factory index
  std::int64_t line = 0;          // line entry within the factory
  std::int64_t line_copy = -1;    // copy of that line entry; -1: the sender's own copy (the same entry)
  std::int64_t station = 0;       // station entry within the line
  std::int64_t station_copy = 0;  // copy of that station entry
};

struct RouteConfig {
  std::string to;  // the target as the deck names it (messages)
  RouteTarget target;
  double share = 1.0;         // RoutePolicy::probability: its share (normalised over the routes)
  std::vector<int> types;     // RoutePolicy::type: the part types sent here (empty: every type no route lists)
  double conveyor_time_s = 10.0;  // transport time (> 0 unless to the sink)
};

// How a station with several routes chooses one for a good part: from the part's own random
// stream (Stream::route, keyed by the part id and the station: the same part always takes the
// same branch here), by its type, in turn (a counter of the station), or to the route whose
// buffer holds the fewest parts as far as the station knows (its capacity - credits; ties to
// the lowest route), decided when the part can leave.
enum class RoutePolicy { probability, type, round_robin, shortest_queue };

// A station that borrows its robots from a pool of its factory (FactoryConfig::pools) instead
// of having its own: every service needs one robot (a robot cell: cell.robots), which the
// station calls when a part waits for an idle server, which travels travel_time_s from the
// pool's home to the station, stays for the service and travels back.
struct BorrowConfig {
  bool enabled = false;
  std::string pool;            // the pool's name (messages)
  std::int64_t pool_index = 0; // index in its factory's pools
  double travel_time_s = 10.0; // one way between the pool's home and this station (> 0)
};

struct StationConfig {
  std::string name;
  std::int64_t count = 1;  // identical copies, one after another in the line
  // Identical machines sharing the station's buffer (an M/M/c station when the process is
  // exponential): each takes the oldest waiting part when it is idle. Not for robot cells.
  std::int64_t servers = 1;
  CellConfig cell;
  ProcessConfig process;
  double scrap_probability = 0.0;
  // Inspection at the end of a service (plain stations; a cell reworks by its own rules): a
  // part that is not scrapped fails it with this probability and is processed again (it
  // returns to the end of this station's buffer), at most max_rework times; failing once
  // more, it is scrapped.
  double rework_probability = 0.0;
  std::int64_t max_rework = 0;
  // Product mix: other process times for some part types, and the changeover of a machine
  // between two types (changeover_s for every pair that `changeover` does not list; none
  // before a machine's first part).
  std::vector<TypeProcess> process_by_type;
  double changeover_s = 0.0;
  std::vector<Changeover> changeover;
  // Places for parts between the upstream station and this one: on the conveyor into it
  // plus waiting in its buffer (kanban). 0 means unlimited.
  std::int64_t buffer_capacity = 10;
  // Transport time from this station to the next one (ignored for the last station, which
  // hands parts straight to the sink). Must be > 0: it is the lookahead of the simulation.
  double conveyor_time_s = 10.0;
  BreakdownConfig breakdown;
  // The station's own working time; when not enabled, the factory's calendar applies.
  ShiftCalendar shifts;
  // Routing of the entry's last copy (the others send to the next copy). Empty `next`: to the
  // next station of the line, or to the sink at the line's end.
  std::vector<RouteConfig> next;
  RoutePolicy route = RoutePolicy::probability;
  // Assembly: a service takes one part from each input (in input order; the first input's
  // part is the product, which keeps its id; the others are its components). Disassembly: a
  // finished part leaves as one piece on each route (the first keeps its id).
  bool assembly = false;
  bool disassembly = false;
  // Rework at another (an earlier) station: a part failing inspection goes there (on a route
  // of unlimited capacity, so that a loop of finite buffers cannot deadlock), and comes back
  // through the line; its rework count stays with this station.
  bool rework_elsewhere = false;
  RouteConfig rework_to;  // if rework_elsewhere
  // Robots from a pool (see BorrowConfig).
  BorrowConfig robots_from;
  // Robots a service needs from the pool.
  std::int64_t robots_per_service() const { return cell.enabled ? cell.robots : 1; }
};

struct LineConfig {
  std::string name;
  std::int64_t count = 1;  // identical copies, one after another in the factory
  SourceConfig source;
  std::vector<StationConfig> stations;
};

// A pool of robots (mobile manipulators, or workers) shared by the stations that borrow from
// it (StationConfig::robots_from). Its robots wait at their home, a station of the factory
// whose process keeps the pool (it works as any other station besides). A call reaches the
// pool call_time_s after it is made; the pool sends its free robots to the calls in the order
// they reach it (equal times: the lower client), a call for k robots waiting until k are free.
struct PoolConfig {
  std::string name;
  std::int64_t robots = 1;
  RouteTarget home;          // a station (line and station named, in this factory)
  std::string home_name;     // as the deck names it (messages)
  double call_time_s = 1.0;  // > 0: part of the lookahead
};

struct FactoryConfig {
  std::string name;
  std::vector<LineConfig> lines;
  ShiftCalendar shifts;  // every station's working time, unless the station has its own
  std::vector<PoolConfig> pools;
};

struct FactoryModelConfig {
  std::vector<FactoryConfig> factories;
  // Names of the part types (a product mix); empty: one type, and no KPIs per type.
  std::vector<std::string> part_types;
  int type_count() const { return part_types.empty() ? 1 : static_cast<int>(part_types.size()); }
};

// The name of copy k of `count`: "name" for a single copy, "name#k" for several.
std::string replica_name(const std::string& name, std::int64_t count, std::int64_t k);

// The global numbering of a model's copies, in O(entries of the configuration) memory:
// lines get global indices in the order factory, line entry, copy; stations get gids in
// the order of their line, then station entry, copy. Lookups by gid cost O(log entries).
// Holds the configuration (shared by copies of the index), so places stay valid.
class ModelIndex {
 public:
  explicit ModelIndex(FactoryModelConfig config);

  const FactoryModelConfig& config() const { return *config_; }
  std::int64_t station_count() const { return station_count_; }
  std::int64_t line_count() const { return line_count_; }
  std::int64_t factory_count() const { return static_cast<std::int64_t>(factory_first_line_.size()) - 1; }
  std::int64_t station_entries() const { return station_entries_; }  // station entries of the deck
  // Smallest delay of any message between stations (+inf if none): conveyor times of the
  // stations that are not last in their line, routes, pool calls and robot travels; the
  // lookahead of the simulation.
  double lookahead_s() const { return lookahead_s_; }

  struct Place {
    std::int64_t line = 0;            // global line index
    std::int64_t line_begin = 0;      // gids of the line's stations: [line_begin, line_end)
    std::int64_t line_end = 0;
    std::int64_t factory = 0;
    std::int64_t position = 0;        // index of the station in its line
    std::int64_t entry = 0;           // the station's entry among all station entries, in deck order
    const LineConfig* line_config = nullptr;
    const StationConfig* config = nullptr;
  };
  Place place(std::int64_t gid) const;

  // A route between two stations, or from a station to the sink (to = -1). Ports number a
  // station's routes out (`next`, or the chain's one, then the rework route) and in (port 0:
  // the line's source or previous station, whether or not it sends here; then the explicit
  // routes into the station, ordered by sender gid and port).
  struct Edge {
    std::int64_t from = 0, to = -1;
    std::int32_t from_port = 0, to_port = 0;
    double delay_s = 0.0;
    std::int64_t capacity = 0;  // places of the receiving buffer for this route (0: unlimited)
    bool rework = false;        // a rework route (StationConfig::rework_to)
  };
  std::vector<Edge> outputs(std::int64_t gid) const;
  std::vector<Edge> inputs(std::int64_t gid) const;  // port 0 only if connected
  // Any explicit route or pool (not only chains): stations keep their parts in ports.
  bool routed() const { return !explicit_.empty() || !pools_.empty(); }
  // Whether gid's previous station (or source) feeds its port 0.
  bool chain_input(std::int64_t gid) const;
  // The global gid of a resolved target, from the sender's line copy (Place::line).
  std::int64_t target_gid(const RouteTarget& target, const Place& sender) const;
  // Problems of the routing that the deck reports at the station entry (flat entry index).
  std::vector<std::pair<std::int64_t, std::string>> route_problems() const;

  // Pools of robots (PoolConfig), numbered over all factories in order. A pool's clients (the
  // stations borrowing from it) are numbered in gid order; the pools at one home are
  // numbered there in pool order (a station's pool slots).
  bool has_pools() const { return !pools_.empty(); }
  std::int64_t pool_count() const { return static_cast<std::int64_t>(pools_.size()); }
  struct PoolPlace {
    std::int64_t pool = -1;   // global pool index
    std::int64_t home = -1;   // gid of its home station
    std::int32_t slot = 0;    // the pool's slot at its home
    std::int32_t client = 0;  // the station's client number in the pool
  };
  // The pool that station gid borrows from (pool = -1 if none).
  PoolPlace borrows_from(std::int64_t gid) const;
  // The global indices of the pools at home gid, in slot order.
  std::vector<std::int64_t> pools_at(std::int64_t gid) const;
  const PoolConfig& pool_config(std::int64_t pool) const;
  // The clients of a pool (gids, in client order). O(clients).
  std::vector<std::int64_t> pool_clients(std::int64_t pool) const;
  // Their number, in O(entries).
  std::int64_t pool_client_count(std::int64_t pool) const;

  std::int64_t line_begin(std::int64_t line) const;  // first gid of a line
  std::int64_t factory_first_line(std::int64_t factory) const {
    return factory_first_line_[static_cast<std::size_t>(factory)];
  }
  // Deck names: "factory", "factory/line", "factory/line/station".
  std::string factory_name(std::int64_t factory) const;
  std::string line_name(std::int64_t line) const;
  std::string station_name(std::int64_t gid) const;

 private:
  struct LineEntry {
    std::int64_t factory;
    const LineConfig* config;
    std::int64_t first_line;  // global index of copy 0
    std::int64_t first_gid;   // first gid of copy 0
    std::int64_t size;        // stations per copy
    std::vector<std::int64_t> station_first;  // position of each station entry's copy 0, then size
    std::int64_t first_entry;                 // flat index of its first station entry
  };
  const LineEntry& entry_of_line(std::int64_t line) const;
  void build_routes();
  // Whether gid (at `p`) sends by the chain (not the last copy of an entry with routes).
  static bool sends_by_chain(const Place& p, std::int64_t gid);

  void build_pools();
  struct PoolEntry {
    std::int64_t factory, index;  // in its factory's pools
    std::int64_t home;            // gid
  };
  std::vector<PoolEntry> pools_;  // every pool, in global order

  std::vector<Edge> explicit_;                 // routes by (from, from_port), sinks and chains not included
  std::vector<std::size_t> explicit_by_to_;    // indices of explicit_ by (to, from, from_port)

  std::shared_ptr<const FactoryModelConfig> config_;
  std::int64_t station_entries_ = 0;
  std::vector<LineEntry> entries_;
  std::vector<std::int64_t> entry_first_gid_, entry_first_line_;  // by entry, for the searches
  std::vector<std::int64_t> factory_first_line_;                  // by factory, plus the end
  std::vector<std::size_t> factory_first_entry_;                  // by factory: its first line entry
  std::int64_t station_count_ = 0, line_count_ = 0;
  double lookahead_s_ = 0.0;
};

// Every name of a model, each list in global order (O(model): for small models, tests and
// experiments; large runs ask ModelIndex for the names they need).
struct ModelNames {
  std::vector<std::string> factories, lines, stations;
};
ModelNames model_names(const FactoryModelConfig& config);

}  // namespace kollektiv::factory
