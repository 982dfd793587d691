// The factory flow simulation: station logical processes, conservative windows, KPIs and
// checkpoint arrays. The model is specified in factory.hpp.
#include "solvers/factory/factory.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "solvers/comm/collective.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/comm/exact_reduce.hpp"
#include "solvers/comm/span_partials.hpp"
#include "solvers/core/error.hpp"
#include "solvers/core/exact_sum.hpp"
#include "solvers/core/kokkos_types.hpp"
#include "solvers/core/philox.hpp"

namespace kollektiv::factory {

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr std::int32_t kind_part = 0;    // PartMessage::kind: a part arrives from upstream
constexpr std::int32_t kind_credit = 1;  // a freed place of the sender's buffer arrives
// Pools of robots: a call reaches the pool's home, robots reach the borrowing station, robots
// come back home (calls and robots coming home: reserved is the pool's slot at its home,
// part_id the client number).
constexpr std::int32_t kind_call = 2;
constexpr std::int32_t kind_robots = 3;
constexpr std::int32_t kind_robots_back = 4;
// Between ranks only: the bound of a sender's next send (entry_time_s; part_id: the sender's
// gid; time_s +inf: it is no event, and the exchange's earliest pending time must not count
// it), after every window, and, once, a sender announcing itself to a receiver (time_s: the
// delay).
constexpr std::int32_t kind_bound = 5;
constexpr std::int32_t kind_sender = 6;
// How many active stations ahead of the current one the window loop prefetches the station,
// and (once that has arrived) the heads of its FIFOs.
constexpr std::size_t prefetch_stations = 8;
constexpr std::size_t prefetch_fifos = 4;
// Consumed FIFO entries a station may keep before it moves the rest (Station::compact).
constexpr std::size_t min_compacted = 8;
// A part id is (global line index << part_count_bits) | arrival count at the line's source.
constexpr int part_count_bits = 40;
constexpr std::int64_t part_count_mask = (std::int64_t{1} << part_count_bits) - 1;
// Piece j >= 1 of a disassembled part has its id with j in bits 56..62 (models with
// disassembly have at most 2^16 lines, so a part id fits in the bits below).
constexpr int piece_bits = 56;
constexpr std::int64_t origin_mask = (std::int64_t{1} << piece_bits) - 1;
std::int64_t line_of_part(std::int64_t id) { return (id & origin_mask) >> part_count_bits; }
std::int64_t count_of_part(std::int64_t id) { return id & part_count_mask; }
// The bits of a double as an int64 and back (exact transport in integer arrays).
std::int64_t bits_of(double x) {
  std::int64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
double double_of(std::int64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

enum Phase : std::int64_t { phase_idle = 0, phase_busy = 1, phase_blocked = 2 };
// Off shift dominates down, which dominates the rest.
enum KpiState : std::int64_t { kpi_busy = 0, kpi_blocked = 1, kpi_starved = 2, kpi_down = 3, kpi_off = 4 };
constexpr int kpi_states = 5;
// Event priorities at equal times (factory.hpp): lower value first.
enum Event : int {
  ev_credit, ev_robots, ev_robots_back, ev_call, ev_part, ev_repair, ev_service_end, ev_shift, ev_failure, ev_source,
  ev_none
};

double exponential(std::uint64_t seed, rng::Stream stream, std::int64_t id, std::int64_t counter, double mean) {
  const auto r = rng::draw(seed, stream, static_cast<std::uint64_t>(id), static_cast<std::uint64_t>(counter));
  return -mean * std::log(rng::uniform0(r));
}

// Window spans: at most this many lookaheads, and a station at most this many spans past
// the factory's time (speed and memory only; results do not depend on them).
constexpr double max_span = 65536.0;
constexpr double max_ahead = 64.0;

// Appends a message to an outbox field by field. A message built whole and copied in was
// stored in narrow pieces and read back at once with wide loads, a stalled store forwarding
// at every send (an eighth of the event loop's time on a serial line).
inline void post(std::vector<comm::PartMessage>& outbox, std::int64_t dest_gid, std::int32_t kind, std::int32_t port,
                 double time_s, std::int64_t part_id, double entry_time_s) {
  comm::PartMessage& m = outbox.emplace_back();
  m.dest_gid = dest_gid;
  m.kind = kind;
  m.reserved = port;
  m.time_s = time_s;
  m.part_id = part_id;
  m.entry_time_s = entry_time_s;
}
}  // namespace

namespace detail {

struct PartSlot {
  double time_s;  // arrival at the station
  std::int64_t id;
  double entry_time_s;
};

// The part types of every line of a routed model, where a station sees parts of other lines:
// a part's type from its id through its line's mix.
struct LineTypes {
  std::vector<std::int64_t> first_line;  // by line entry
  std::vector<const PartTypes*> types;
  int type_of(std::uint64_t seed, std::int64_t id) const {
    const std::int64_t line = line_of_part(id);
    const auto e = std::upper_bound(first_line.begin(), first_line.end(), line) - first_line.begin() - 1;
    return types[static_cast<std::size_t>(e)]->type_of(seed, line, count_of_part(id));
  }
};

// A routed station's input (ModelIndex::Edge): its FIFO (on the conveyor into the station,
// then the first `arrived` in its buffer) and where its credits go.
struct InPort {
  std::vector<PartSlot> fifo;
  std::size_t head = 0;
  std::int64_t arrived = 0;
  std::int64_t from = -1;        // sender gid (-1: the line's source, or not connected)
  std::int32_t from_port = 0;
  std::int64_t capacity = 0;     // 0: unlimited (no credits)
  double credit_delay_s = inf;
  bool connected = false;        // something sends here (the source counts)
};

// A routed station's output: the receiver, its credits and the credits on their way back.
struct OutPort {
  std::int64_t to = -1;  // -1: the sink
  std::int32_t to_port = 0;
  double delay_s = 0.0;
  std::int64_t capacity = 0;  // 0: unlimited
  std::int64_t credits = 0;
  bool rework = false;
  std::vector<double> credits_in;
  std::size_t credit_head = 0;
};

// Per server of a routed station: the input its part came from and the route it leaves by
// (-1 until decided).
struct ServerRoute {
  std::int32_t in = 0;
  std::int32_t out = -1;
};

// One machine of a station: the part it processes or holds, and when it is done.
struct Server {
  std::int8_t phase = phase_idle;
  bool good = true;             // outcome of the current service
  bool rework = false;          // it failed inspection (see StationConfig::rework_probability)
  std::int16_t reworks = 0;     // the part's reworks at this station before this service
  std::int16_t last_type = -1;  // type of its current or last part (-1: none yet; typed models)
  std::int64_t part_id = -1;  // part in service or held (blocked)
  double entry_time = 0.0;    // line entry time of that part
  double service_end = inf;   // +inf if idle, blocked or preempted by a failure
  double remaining = 0.0;     // service time left when preempted
};

// A pool of robots, kept by its home station (PoolConfig): its free robots, the calls that
// wait for robots in the order they arrived, and per client (a borrowing station) the calls
// and the robots on their way here, a FIFO each (one sender, one delay).
struct PoolClient {
  std::int64_t gid = 0;
  double travel_s = 0.0;
  std::int64_t need = 1;       // robots per call (robots per service)
  std::vector<double> calls;   // arrival times
  std::size_t call_head = 0;
  std::vector<double> returns; // arrival times of robots coming home (`need` each)
  std::size_t return_head = 0;
};
struct Pool {
  std::int64_t index = 0;         // global pool index (ModelIndex)
  std::int64_t first_client = 0;  // its client 0 in the numbering of all pools' clients
  std::int64_t robots = 0, free = 0;
  std::vector<std::int32_t> waiting;  // clients of the calls waiting for robots, oldest first
  std::size_t waiting_head = 0;
  std::vector<PoolClient> clients;
  double out_area = 0.0;   // integral of the robots away from home over [0, out_since] (robot-seconds)
  double out_since = 0.0;
};
// A station borrowing its robots from a pool (StationConfig::robots_from): a team is the
// robots of one service.
struct Borrow {
  std::int64_t home = -1;
  std::int32_t slot = 0, client = 0;
  std::int64_t pool = 0;           // global pool index
  std::int64_t any_client = 0;     // its number among all pools' clients
  double call_s = 0.0, travel_s = 0.0;
  std::int64_t pool_robots = 0, need = 1;
  std::int64_t here = 0;           // teams at the station, not yet at work
  std::vector<double> asks;        // times of the calls whose team is not here yet, oldest first
  std::size_t ask_head = 0;
  std::vector<double> arrivals;    // arrival times of teams on their way
  std::size_t arrival_head = 0;
  std::int64_t arrived = 0;        // teams received
  double wait_s = 0.0;             // sum over them of arrival - call
  std::int64_t asked() const { return static_cast<std::int64_t>(asks.size() - ask_head); }
};

// The routing state of a routed station (Station::rt).
struct Routing {
  std::vector<InPort> ins;
  std::vector<OutPort> outs;
  std::vector<ServerRoute> server_routes;
  RoutePolicy policy = RoutePolicy::probability;
  std::vector<double> share_cumulative;  // probability: cumulative shares of the routes, the last 1
  std::vector<std::int32_t> type_route;  // type: the route of each part type
  std::int32_t routes = 0;               // routes out for good parts (the rework route after them)
  std::int32_t rework_port = -1;         // the rework route (StationConfig::rework_to), or -1
  bool assembly = false, disassembly = false;
  std::int64_t route_count = 0;          // good parts routed (round_robin)
  std::int64_t joined = 0;               // components joined into products here (assembly)
  std::int64_t pieces = 0;               // pieces made here beyond each part itself (disassembly)
  // Genealogy: per assembly or disassembly, [time bits, product or part id, component or
  // piece ids...] (genealogy_width entries).
  std::vector<std::int64_t> genealogy;
  std::int32_t genealogy_width = 0;
  std::vector<Pool> pools;  // the pools at home here, by slot
  bool borrows = false;     // its robots come from a pool
  Borrow borrow;

  // The earliest call, returning robot or borrowed team due here (+inf if none).
  double robot_event_s() const {
    double t = inf;
    for (const Pool& p : pools)
      for (const PoolClient& c : p.clients) {
        if (c.call_head < c.calls.size()) t = std::min(t, c.calls[c.call_head]);
        if (c.return_head < c.returns.size()) t = std::min(t, c.returns[c.return_head]);
      }
    if (borrows && borrow.arrival_head < borrow.arrivals.size()) t = std::min(t, borrow.arrivals[borrow.arrival_head]);
    return t;
  }
};

// A station's cold fields (Station::cold): read only by several servers, shift changes,
// failures, repairs, source arrivals, reworks, part types, cells and routes.
struct StationCold {
  std::int64_t failure_count = 0;  // failures so far (the failure/repair draw counter)
  std::vector<Server> many;
  double open[kpi_states] = {};     // several servers: servers per state since state_since
  const ShiftCalendar* calendar = nullptr;  // nullptr: always working
  std::int64_t shift_n = 0;         // the calendar's next change (ShiftCalendar numbering)
  double mtbf_s = 0.0, mttr_s = 0.0, interval_s = 0.0;
  std::int64_t downstream_capacity = 0;  // C_{i+1} (0 = unlimited or last): bounds the credits
  std::int64_t max_rework = 0;
  std::int64_t reworked = 0;  // services whose part failed inspection and was processed again
  // Product mix (typed): the types of the line's parts, the changeover times, the
  // changeovers so far, and, at the last station, the sink count and lead-time sum per type.
  const PartTypes* types = nullptr;
  const StationConfig* config = nullptr;
  std::int64_t changeovers = 0;
  std::vector<std::int64_t> type_sink;
  std::vector<double> type_lead_s;
  // The parts this station has reworked and will see again, with their rework counts: in
  // its FIFO (keeping their kanban places) or on their way around a rework_to loop. A few at
  // most; kept apart so that a FIFO entry stays 24 bytes.
  std::vector<std::pair<std::int64_t, std::int64_t>> rework_counts;
  double pause_s = 0.0;
  Part request;
  Outcome ready;
  // Routing (routed stations: those with explicit routes in or out, assembly or disassembly),
  // apart so that a chain's station stays small. Their parts and credits live in the ports,
  // not in parts_in and credits_in.
  std::unique_ptr<Routing> rt;
  const LineTypes* line_types = nullptr;  // routed typed models: the types of other lines' parts
};

struct alignas(64) Station {
  // Hot fields first, which a visit to the station reads (prefetch() loads them), the cold
  // ones in StationCold. What the event loop reads first, in the first cache lines: the
  // pending event times (+inf where none; service_end is the earliest of the servers',
  // service_server the lowest index holding it) and the incoming FIFOs, whose entries
  // before the heads are consumed. parts_in[part_head, part_head + parts_arrived) is the
  // buffer, the rest is still on the conveyor.
  double service_end = inf, fail_at = inf, repair_end = inf, next_arrival = inf;
  double shift_change = inf;  // the calendar's next change (+inf without a calendar)
  std::size_t part_head = 0;
  std::int64_t parts_arrived = 0;
  std::size_t credit_head = 0;
  std::vector<PartSlot> parts_in;
  std::vector<double> credits_in;
  std::vector<comm::PartMessage> outbox;
  std::int32_t service_server = 0;
  std::int32_t servers = 1;
  std::int32_t busy = 0, blocked = 0;  // servers busy (in service or preempted), blocked
  // What a run's earliest send reads (earliest_send_s), in the first three lines.
  bool down = false;
  bool off_shift = false;          // outside the calendar's working time
  bool routed = false;             // ports in `ins` and `outs` (configuration)

  // Configuration.
  bool first = false, last = false;
  bool breakdown = false, only_when_busy = false;
  bool poisson = false;            // source kind (station 0 only)
  bool downstream_limited = false; // buffer i+1 has a capacity: credits are counted
  bool upstream_limited = false;   // own buffer has a capacity and an upstream station
  bool cell = false;               // a robot cell: a service start waits for its outcome
  bool reworks_parts = false;      // max_rework > 0
  bool typed = false;              // the model has part types
  // Dynamic flags, here for the packing.
  bool source_waiting = false;
  bool awaiting = false;       // a cell paused at pause_s before starting a service on `request`
  bool outcome_ready = false;  // a cell's `ready` holds the outcome of that service
  std::int64_t own_capacity = 0;   // C_i (0 = unlimited), enforced here for source entries
  double conveyor_s = inf;         // T_i, to the next station
  std::int64_t gid = 0;
  std::int64_t line = 0;           // global line index
  double upstream_conveyor_s = inf;
  const DistributionProcessModel::Params* process = nullptr;  // with the default process model

  // Dynamic state (see StateInt / StateReal in factory_state.hpp). One server lives in the
  // station; several live in `many` (one allocation per multi-server station).
  Server one;
  // The process-time draw of the next service (number service_count) as a unit variate,
  // drawn at the service start before it; NaN if not drawn (DistributionProcessModel::draw).
  // Derived from the state, so never checkpointed: a restore sets NaN.
  double next_unit = std::numeric_limits<double>::quiet_NaN();
  std::int64_t credits = 0;
  std::int64_t service_count = 0, arrival_count = 0;
  double ttf_left = inf;
  std::int64_t kpi_state = kpi_starved;  // one server: the state of the open interval
  std::int64_t processed = 0, good = 0, scrapped = 0, sink_count = 0, entered = 0, wip_count = 0;
  // KPI accumulators, plain doubles added to at this station's events only (factory.hpp).
  double state_s[kpi_states] = {};  // closed intervals (server-seconds), by KpiState
  double state_since = 0.0;         // start of the open interval
  double wip_area = 0.0;            // integral of wip_count over [0, wip_since]
  double wip_since = 0.0;
  double line_exit_s = 0.0;         // sum of exit - entry of parts leaving the line here
  double lead_s = 0.0;              // the same over sink exits
  std::int64_t events = 0;

  // The cold fields, apart (Factory::cold_), so that a station with this pointer fills 7
  // cache lines (448 bytes): the window loop and the deliveries touch only the hot ones.
  StationCold* cold = nullptr;

  // The rework count of part `id` in the FIFO (0 if it was never reworked here).
  std::int64_t reworks_of(std::int64_t id) const {
    for (const auto& [part, count] : cold->rework_counts)
      if (part == id) return count;
    return 0;
  }
  // Takes part `id`'s count out of the rework counts (it starts a service) and returns it.
  std::int64_t take_reworks(std::int64_t id) {
    for (std::size_t k = 0; k < cold->rework_counts.size(); ++k)
      if (cold->rework_counts[k].first == id) {
        const std::int64_t count = cold->rework_counts[k].second;
        cold->rework_counts.erase(cold->rework_counts.begin() + static_cast<std::ptrdiff_t>(k));
        return count;
      }
    return 0;
  }

  // The setup time of a machine changing over from type `from` to type `to`.
  double changeover_s(int from, int to) const {
    for (const Changeover& c : cold->config->changeover)
      if (c.from == from && c.to == to) return c.time_s;
    return cold->config->changeover_s;
  }

  // The type of part `id` (typed models): its line's mix, which is this station's own in a
  // model without routes.
  int type_of(std::uint64_t seed, std::int64_t id) const {
    return cold->line_types != nullptr ? cold->line_types->type_of(seed, id)
                                       : cold->types->type_of(seed, id >> part_count_bits, id & part_count_mask);
  }
  // Down or off shift: no service runs, starts or sends.
  bool halted() const { return down || off_shift; }
  Server* server_data() { return servers == 1 ? &one : cold->many.data(); }
  const Server* server_data() const { return servers == 1 ? &one : cold->many.data(); }
  std::int32_t idle() const { return servers - busy - blocked; }
  // service_end and service_server from the servers' service ends.
  void refresh_service_end() {
    if (servers == 1) {
      service_end = one.service_end;
      return;
    }
    const Server* v = cold->many.data();
    service_end = v[0].service_end;
    service_server = 0;
    for (std::int32_t j = 1; j < servers; ++j)
      if (v[j].service_end < service_end) {
        service_end = v[j].service_end;
        service_server = j;
      }
  }
  // Servers in each KpiState over the open interval: what the state is now (intervals are
  // closed at every change). One server: the one-hot of kpi_state.
  void open_counts(double n[kpi_states]) const {
    for (int k = 0; k < kpi_states; ++k) n[k] = 0.0;
    if (servers == 1) {
      n[kpi_state] = 1.0;
    } else if (off_shift) {
      n[kpi_off] = servers;
    } else if (down) {
      n[kpi_down] = servers;
    } else {
      n[kpi_busy] = busy;
      n[kpi_blocked] = blocked;
      n[kpi_starved] = idle();
    }
  }

  // Drops the consumed entries of the FIFOs once they are several and at least half (so a
  // FIFO holds at most max(2 * min_compacted, twice its live entries)). Dropping them at
  // nearly every visit, as soon as any was consumed, cost a copy and a mispredicted branch
  // on a busy line.
  void compact() {
    drop_consumed(parts_in, part_head);
    drop_consumed(credits_in, credit_head);
    if (routed) compact_routed();
  }
  // The same for a routed station's ports and pools (out of line: a chain's run inlines compact).
  __attribute__((noinline)) void compact_routed() {
    Routing& rt = *cold->rt;
    for (InPort& in : rt.ins) drop_consumed(in.fifo, in.head);
    for (OutPort& out : rt.outs) drop_consumed(out.credits_in, out.credit_head);
    for (Pool& p : rt.pools) {
      drop_consumed(p.waiting, p.waiting_head);
      for (PoolClient& c : p.clients) {
        drop_consumed(c.calls, c.call_head);
        drop_consumed(c.returns, c.return_head);
      }
    }
    drop_consumed(rt.borrow.asks, rt.borrow.ask_head);
    drop_consumed(rt.borrow.arrivals, rt.borrow.arrival_head);
  }
  template <class T>
  static void drop_consumed(std::vector<T>& fifo, std::size_t& head) {
    if (head >= min_compacted && 2 * head >= fifo.size()) {
      fifo.erase(fifo.begin(), fifo.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
  }
  // The earliest pending event (+inf if none): the candidates StationRunner::run compares.
  double next_event_time() const {
    double t = service_end;
    t = std::min(t, shift_change);
    t = std::min(t, fail_at);
    t = std::min(t, repair_end);
    t = std::min(t, next_arrival);
    if (credit_head < credits_in.size()) t = std::min(t, credits_in[credit_head]);
    const std::size_t next_part = part_head + static_cast<std::size_t>(parts_arrived);
    if (next_part < parts_in.size()) t = std::min(t, parts_in[next_part].time_s);
    if (routed) t = std::min(t, next_port_event_s());
    return t;
  }
  // A routed station's earliest part, credit or pool event (out of line, as above).
  __attribute__((noinline)) double next_port_event_s() const {
    double t = cold->rt->robot_event_s();
    for (const InPort& in : cold->rt->ins) {
      const std::size_t next_in = in.head + static_cast<std::size_t>(in.arrived);
      if (next_in < in.fifo.size()) t = std::min(t, in.fifo[next_in].time_s);
    }
    for (const OutPort& out : cold->rt->outs)
      if (out.credit_head < out.credits_in.size()) t = std::min(t, out.credits_in[out.credit_head]);
    return t;
  }
  // A lower bound on the time of the station's next message, at a window boundary and if
  // nothing more arrives. It sends only when it makes progress (a part at a service end or on
  // a credit, a credit at a service start), and before that it must wait: for the repair if
  // down, the service end if busy, a credit if blocked, a part if idle. (A service may take
  // no time, so a part that arrives may be sent on at once.) A pool's home sends robots when
  // a call or a robot arrives, halted or not; a borrowing station calls when a part arrives
  // and starts a service when its robots arrive.
  double earliest_send_s() const {
    if (routed) return earliest_send_routed_s();
    // Halted, it resumes at the repair's end and the next shift's start, whichever is later
    // (off shift, the next change is a start).
    if (down || off_shift) return std::max(down ? repair_end : -inf, off_shift ? shift_change : -inf);
    double t = service_end;  // +inf unless a server is busy
    if (blocked > 0 && credit_head < credits_in.size()) t = std::min(t, credits_in[credit_head]);
    if (busy + blocked < servers) {
      const double next_part = part_head < parts_in.size() ? parts_in[part_head].time_s : inf;
      t = std::min(t, std::min(next_part, next_arrival));
    }
    return t;
  }
  // The same for a routed station, out of line (a chain's deliveries inline the above): its
  // parts and credits are in its ports, and a pool's home or a borrower also waits for calls,
  // robots coming home and teams.
  __attribute__((noinline)) double earliest_send_routed_s() const {
    const Routing& rt = *cold->rt;
    const double robots = rt.robot_event_s();
    if (down || off_shift) return std::min(robots, std::max(down ? repair_end : -inf, off_shift ? shift_change : -inf));
    double t = std::min(service_end, robots);
    if (blocked > 0)  // any credit may free a held part
      for (const OutPort& out : rt.outs)
        if (out.credit_head < out.credits_in.size()) t = std::min(t, out.credits_in[out.credit_head]);
    if (busy + blocked < servers) {  // any part may start a service (or the source's enter)
      t = std::min(t, next_arrival);
      // Without robots here, a borrowing station's waiting parts wait for the robots called.
      const bool wait_robots = rt.borrows && rt.borrow.here == 0;
      for (const InPort& in : rt.ins) {
        const std::size_t next = wait_robots ? in.head + static_cast<std::size_t>(in.arrived) : in.head;
        if (next < in.fifo.size()) t = std::min(t, in.fifo[next].time_s);
      }
    }
    return t;
  }
  // Sum over the parts in the line held here (in the FIFO: on the conveyor into this
  // station or in its buffer; in service or held) of T - entry time.
  double in_line_s(double T) const {
    double sum = 0.0;
    for (std::size_t i = part_head; i < parts_in.size(); ++i) sum += T - parts_in[i].entry_time_s;
    if (routed)
      for (const InPort& in : cold->rt->ins)
        for (std::size_t i = in.head; i < in.fifo.size(); ++i) sum += T - in.fifo[i].entry_time_s;
    const Server* v = server_data();
    for (std::int32_t j = 0; j < servers; ++j)
      if (v[j].phase != phase_idle) sum += T - v[j].entry_time;
    return sum;
  }
  // Hints the cache to load the station's hot fields (and, with `fifos`, the heads of its
  // FIFOs) ahead of its turn: the active stations of a window are scattered over a working
  // set far larger than the caches, so each visit would otherwise wait for several misses
  // in a row.
  void prefetch(bool fifos) const {
    const char* p = reinterpret_cast<const char*>(this);
    const char* end = reinterpret_cast<const char*>(&cold);
    for (; p < end; p += 64) __builtin_prefetch(p);
    if (fifos) {
      if (credit_head < credits_in.size()) __builtin_prefetch(credits_in.data() + credit_head);
      const std::size_t next_part = part_head + static_cast<std::size_t>(parts_arrived);
      if (next_part < parts_in.size()) __builtin_prefetch(parts_in.data() + next_part);
      if (part_head < parts_in.size()) __builtin_prefetch(parts_in.data() + part_head);
    }
  }
  // The state of a one-server station.
  std::int64_t current_kpi_state() const {
    if (off_shift) return kpi_off;
    if (down) return kpi_down;
    if (busy > 0) return kpi_busy;
    if (blocked > 0) return kpi_blocked;
    return kpi_starved;
  }
};

// Runs one station's events with time < window_end. Touches only `s` (its outbox too).
struct StationRunner {
  std::uint64_t seed;
  const ProcessModel* model;
  const DistributionProcessModel* distribution;

  double interarrival(const Station& s, std::int64_t k) const {
    return s.poisson ? exponential(seed, rng::Stream::source_arrival, s.gid, k, s.cold->interval_s) : s.cold->interval_s;
  }
  // wip_count changes by `delta` at t: close the constant piece since the last change.
  static void change_wip(Station& s, double t, std::int64_t delta) {
    s.wip_area += static_cast<double>(s.wip_count) * (t - s.wip_since);
    s.wip_since = t;
    s.wip_count += delta;
  }
  static void leave_station(Station& s, double t) { change_wip(s, t, -1); }
  static void exit_line(Station& s, const Server& v, double t) { s.line_exit_s += t - v.entry_time; }
  // Server v's part is scrapped at its service end: it leaves the line here.
  static void scrap(Station& s, Server& v, double t) {
    ++s.scrapped;
    exit_line(s, v, t);
    leave_station(s, t);
    v.phase = phase_idle;
  }
  // The station stops (a failure or a shift's end while it ran): running services pause.
  static void halt(Station& s, double t) {
    Server* v = s.server_data();
    for (std::int32_t j = 0; j < s.servers; ++j)
      if (v[j].phase == phase_busy) {
        v[j].remaining = v[j].service_end - t;
        v[j].service_end = inf;
      }
    s.service_end = inf;
  }
  // The station runs again (a repair's end or a shift's start, and it is not halted
  // otherwise): paused services continue for their remaining time.
  static void resume(Station& s, double t) {
    if (s.busy == 0) return;
    Server* v = s.server_data();
    for (std::int32_t j = 0; j < s.servers; ++j)
      if (v[j].phase == phase_busy) v[j].service_end = t + v[j].remaining;
    s.refresh_service_end();
  }

  // The lowest-index server in `phase` (one exists), by index and itself.
  static std::int32_t first_server_index(const Station& s, std::int32_t phase) {
    if (s.servers == 1) return 0;
    const Server* v = s.cold->many.data();
    std::int32_t j = 0;
    while (v[j].phase != phase) ++j;
    return j;
  }
  static Server& first_server(Station& s, std::int32_t phase) { return s.server_data()[first_server_index(s, phase)]; }

  // The outcome of the service of `part` starting at t; false when a cell pauses for it.
  __attribute__((always_inline)) bool draw_outcome(Station& s, const Part& part, double t, Outcome& o) const {
    if (s.cell) {
      if (!s.outcome_ready) {
        s.awaiting = true;
        s.cold->pause_s = t;
        s.cold->request = part;
        return false;
      }
      o = s.cold->ready;
      s.outcome_ready = false;
      return true;
    }
    o = s.process != nullptr ? distribution->draw(s.process[part.type], s.next_unit, s.gid, s.service_count)
                             : model->process(s.gid, s.service_count, part);
    return true;
  }

  // Server v starts part p (taken from the buffer) with outcome o.
  __attribute__((always_inline)) static void begin_service(Station& s, Server& v, const PartSlot& p, int type,
                                                           Outcome o, std::int64_t reworks, double t) {
    ++s.service_count;
    if (s.typed) {  // a machine changing over to another type first spends the setup time
      if (v.last_type >= 0 && v.last_type != type) {
        o.duration_s += s.changeover_s(v.last_type, type);
        ++s.cold->changeovers;
      }
      v.last_type = static_cast<std::int16_t>(type);
    }
    v.part_id = p.id;
    v.entry_time = p.entry_time_s;
    v.reworks = static_cast<std::int16_t>(reworks);
    v.good = o.good;
    v.rework = o.rework;
    v.service_end = t + o.duration_s;
    v.phase = phase_busy;
    // The failure clock of only_when_busy runs while any server is busy.
    if (s.busy++ == 0 && s.breakdown && s.only_when_busy) s.fail_at = t + s.ttf_left;
    s.refresh_service_end();
  }

  // A good part (of `type`) leaves the plant at this station at t.
  static void count_sink(Station& s, double entry_time, int type, double t) {
    ++s.sink_count;
    s.lead_s += t - entry_time;
    s.line_exit_s += t - entry_time;
    if (s.typed) {
      ++s.cold->type_sink[static_cast<std::size_t>(type)];
      s.cold->type_lead_s[static_cast<std::size_t>(type)] += t - entry_time;
    }
  }

  // Server v's good part (of `type`) leaves the plant at its service end.
  static void to_sink(Station& s, Server& v, int type, double t) {
    count_sink(s, v.entry_time, type, t);
    leave_station(s, t);
    v.phase = phase_idle;
  }

  // ---- Routed stations (ports; factory.hpp, Routing) ----

  // The input whose oldest part in the buffer arrived first (ties: the lowest input), or -1.
  static std::int32_t oldest_input(const Station& s) {
    const Routing& rt = *s.cold->rt;
    std::int32_t best = -1;
    double best_t = inf;
    for (std::size_t q = 0; q < rt.ins.size(); ++q) {
      const InPort& in = rt.ins[q];
      if (in.arrived > 0 && (best < 0 || in.fifo[in.head].time_s < best_t)) {
        best = static_cast<std::int32_t>(q);
        best_t = in.fifo[in.head].time_s;
      }
    }
    return best;
  }
  // Assembly: the product's input if every connected input has a part in the buffer, else -1.
  static std::int32_t assembly_ready(const Station& s) {
    const Routing& rt = *s.cold->rt;
    std::int32_t product = -1;
    for (std::size_t q = 0; q < rt.ins.size(); ++q) {
      const InPort& in = rt.ins[q];
      if (!in.connected) continue;
      if (in.arrived == 0) return -1;
      if (product < 0) product = static_cast<std::int32_t>(q);
    }
    return product;
  }
  // Takes the oldest part of input q out of the buffer; a credit goes back unless it stays.
  static PartSlot take_input(Station& s, std::int32_t q, bool credit, double t) {
    Routing& rt = *s.cold->rt;
    InPort& in = rt.ins[static_cast<std::size_t>(q)];
    const PartSlot p = in.fifo[in.head++];
    --in.arrived;
    if (credit && in.capacity > 0)
      post(s.outbox, in.from, kind_credit, in.from_port, t + in.credit_delay_s, -1, 0.0);
    return p;
  }
  // The route of a good part leaving server j, or -1 if it is decided when it can leave.
  std::int32_t choose_route(Station& s, const Server& v) const {
    Routing& rt = *s.cold->rt;
    if (rt.disassembly || (rt.policy == RoutePolicy::shortest_queue && rt.routes > 1)) return -1;
    if (rt.routes == 1) return 0;
    switch (rt.policy) {
      case RoutePolicy::probability: {
        const double u = rng::uniform0(rng::draw(seed, rng::Stream::route, static_cast<std::uint64_t>(v.part_id),
                                                 static_cast<std::uint64_t>(s.gid)));
        std::int32_t k = 0;
        while (k + 1 < rt.routes && !(u <= rt.share_cumulative[static_cast<std::size_t>(k)])) ++k;
        return k;
      }
      case RoutePolicy::type:
        return rt.type_route[static_cast<std::size_t>(v.last_type)];
      default:  // round_robin
        return static_cast<std::int32_t>(rt.route_count++ % rt.routes);
    }
  }
  // shortest_queue: the route with a free place whose buffer holds the fewest parts as far
  // as the station knows (capacity - credits; ties: the lowest), or -1 if none is free.
  static std::int32_t shortest_queue(const Station& s) {
    const Routing& rt = *s.cold->rt;
    std::int32_t best = -1;
    std::int64_t best_queue = 0;
    for (std::int32_t k = 0; k < rt.routes; ++k) {
      const OutPort& o = rt.outs[static_cast<std::size_t>(k)];
      const std::int64_t queue = o.capacity - o.credits;
      if (o.credits > 0 && (best < 0 || queue < best_queue)) {
        best = k;
        best_queue = queue;
      }
    }
    return best;
  }
  static bool free_place(const OutPort& o) { return o.to < 0 || o.capacity == 0 || o.credits > 0; }
  // Sends a part on route k (or lets it leave the plant there).
  static void send(Station& s, std::int32_t k, std::int64_t id, double entry_time, int type, double t) {
    Routing& rt = *s.cold->rt;
    OutPort& o = rt.outs[static_cast<std::size_t>(k)];
    if (o.to < 0) {
      count_sink(s, entry_time, type, t);
      return;
    }
    if (o.capacity > 0) --o.credits;
    post(s.outbox, o.to, kind_part, o.to_port, t + o.delay_s, id, entry_time);
  }
  // Held parts leave at free places, the lowest server first (one waiting for a full route
  // does not hold up one whose route is free).
  __attribute__((noinline)) void release_routed(Station& s, double t) const {
    Routing& rt = *s.cold->rt;
    Server* v = s.server_data();
    for (std::int32_t j = 0; j < s.servers && s.blocked > 0; ++j) {
      if (v[j].phase != phase_blocked) continue;
      std::int32_t& out = rt.server_routes[static_cast<std::size_t>(j)].out;
      const int type = std::max<int>(v[j].last_type, 0);
      if (rt.disassembly && out < 0) {
        bool all_free = true;
        for (std::int32_t k = 0; k < rt.routes; ++k) all_free = all_free && free_place(rt.outs[static_cast<std::size_t>(k)]);
        if (!all_free) continue;
        // Piece k >= 1 is a new part (it enters the plant here); piece 0 is the part itself.
        rt.genealogy.push_back(bits_of(t));
        rt.genealogy.push_back(v[j].part_id);
        for (std::int32_t k = 0; k < rt.routes; ++k) {
          const std::int64_t id = k == 0 ? v[j].part_id : v[j].part_id | (std::int64_t{k} << piece_bits);
          if (k > 0) {
            rt.genealogy.push_back(id);
            ++rt.pieces;
            ++s.entered;
          }
          send(s, k, id, k == 0 ? v[j].entry_time : t, type, t);
        }
      } else {
        const std::int32_t k = out >= 0 ? out : shortest_queue(s);
        if (k < 0 || !free_place(rt.outs[static_cast<std::size_t>(k)])) continue;
        send(s, k, v[j].part_id, v[j].entry_time, type, t);
      }
      out = -1;
      leave_station(s, t);
      v[j].phase = phase_idle;
      --s.blocked;
    }
  }
  // ---- Pools of robots (factory.hpp, Pools) ----

  // The robots away from a pool's home change by `delta` at t.
  static void robots_out(Pool& p, double t, std::int64_t delta) {
    p.out_area += static_cast<double>(p.robots - p.free) * (t - p.out_since);
    p.out_since = t;
    p.free -= delta;
  }
  // A pool's home sends its free robots to the waiting calls, oldest first; a call waits
  // until its team is free (and so do the calls after it).
  static void dispatch(Station& s, double t) {
    for (Pool& p : s.cold->rt->pools)
      while (p.waiting_head < p.waiting.size()) {
        const PoolClient& c = p.clients[static_cast<std::size_t>(p.waiting[p.waiting_head])];
        if (p.free < c.need) break;
        ++p.waiting_head;
        robots_out(p, t, c.need);
        post(s.outbox, c.gid, kind_robots, 0, t + c.travel_s, -1, 0.0);
      }
  }
  // A borrowing station calls a team for every service it could start but for robots (idle
  // servers and parts to take), beyond the teams here and on their way.
  static void call_robots(Station& s, double t) {
    Routing& rt = *s.cold->rt;
    Borrow& b = rt.borrow;
    std::int64_t parts = rt.assembly ? std::numeric_limits<std::int64_t>::max() : 0;
    for (const InPort& in : rt.ins) {
      if (rt.assembly && in.connected) parts = std::min(parts, in.arrived);
      if (!rt.assembly) parts += in.arrived;
    }
    const std::int64_t startable = std::min<std::int64_t>(s.idle(), parts);
    for (std::int64_t k = b.here + b.asked(); k < startable; ++k) {
      post(s.outbox, b.home, kind_call, b.slot, t + b.call_s, b.client, 0.0);
      b.asks.push_back(t);
    }
  }

  // A routed station's progress (see progress()).
  __attribute__((noinline)) bool progress_routed(Station& s, double t) const {
    Routing& rt = *s.cold->rt;
    const bool halted = s.halted();
    if (!rt.pools.empty()) dispatch(s, t);  // the pool works whatever its home does
    for (;;) {
      if (!halted && s.blocked > 0) release_routed(s, t);
      while (!halted && s.busy + s.blocked < s.servers) {
        const std::int32_t q = rt.assembly ? assembly_ready(s) : oldest_input(s);
        if (q < 0 || (rt.borrows && rt.borrow.here == 0)) break;
        const InPort& in = rt.ins[static_cast<std::size_t>(q)];
        const PartSlot head = in.fifo[in.head];
        const int type = s.typed ? s.type_of(seed, head.id) : 0;
        Outcome o;
        if (!draw_outcome(s, Part{head.id, head.entry_time_s, type}, t, o)) return true;
        if (rt.borrows) --rt.borrow.here;  // the team goes to work
        const std::int64_t reworks = s.reworks_parts ? s.take_reworks(head.id) : 0;
        const bool comes_back = rt.rework_port < 0 && o.good && o.rework && reworks < s.cold->max_rework;
        const PartSlot p = take_input(s, q, !comes_back, t);
        if (rt.assembly) {  // the other inputs' parts become components of the product
          rt.genealogy.push_back(bits_of(t));
          rt.genealogy.push_back(p.id);
          for (std::size_t c = static_cast<std::size_t>(q) + 1; c < rt.ins.size(); ++c) {
            if (!rt.ins[c].connected) continue;
            const PartSlot component = take_input(s, static_cast<std::int32_t>(c), true, t);
            rt.genealogy.push_back(component.id);
            ++rt.joined;
            s.line_exit_s += t - component.entry_time_s;
            change_wip(s, t, -1);
          }
        }
        const std::int32_t j = first_server_index(s, phase_idle);
        rt.server_routes[static_cast<std::size_t>(j)] = ServerRoute{q, -1};
        begin_service(s, s.server_data()[j], p, type, o, reworks, t);
      }
      InPort& source = rt.ins[0];
      if (s.source_waiting && (s.own_capacity == 0 || source.arrived < s.own_capacity)) {
        source.fifo.insert(source.fifo.begin() + static_cast<std::ptrdiff_t>(source.head) + source.arrived,
                           PartSlot{t, (s.line << part_count_bits) | (s.arrival_count - 1), t});
        ++source.arrived;
        ++s.entered;
        change_wip(s, t, +1);
        s.source_waiting = false;
        s.next_arrival = t + interarrival(s, s.arrival_count);
        continue;
      }
      if (rt.borrows && !halted) call_robots(s, t);
      return false;
    }
  }
  // A routed station's service end of server j (good, scrap, rework here or elsewhere).
  __attribute__((noinline)) void finish_routed(Station& s, std::int32_t j, double t) const {
    Routing& rt = *s.cold->rt;
    Server& v = s.server_data()[j];
    ServerRoute& r = rt.server_routes[static_cast<std::size_t>(j)];
    if (rt.borrows) {  // the service's team goes home
      const Borrow& b = rt.borrow;
      post(s.outbox, b.home, kind_robots_back, b.slot, t + b.travel_s, b.client, 0.0);
    }
    if (v.good && v.rework && v.reworks < s.cold->max_rework) {
      ++s.cold->reworked;
      s.cold->rework_counts.emplace_back(v.part_id, std::int64_t{v.reworks} + 1);
      if (rt.rework_port < 0) {  // back into the buffer of its input, keeping its place
        InPort& in = rt.ins[static_cast<std::size_t>(r.in)];
        in.fifo.insert(in.fifo.begin() + static_cast<std::ptrdiff_t>(in.head) + in.arrived,
                       PartSlot{t, v.part_id, v.entry_time});
        ++in.arrived;
        v.phase = phase_idle;
      } else {  // to the rework station, on a route that is never full
        r.out = rt.rework_port;
        v.phase = phase_blocked;
        ++s.blocked;
      }
    } else if (!v.good || v.rework) {
      scrap(s, v, t);
    } else {
      ++s.good;
      r.out = choose_route(s, v);
      if (r.out >= 0 && rt.outs[static_cast<std::size_t>(r.out)].to < 0) {  // to the sink: never blocked
        to_sink(s, v, std::max<int>(v.last_type, 0), t);
        r.out = -1;
      } else {
        v.phase = phase_blocked;
        ++s.blocked;
      }
    }
  }

  // A routed station's earliest credit or part arrival (+inf if none; a credit before a part
  // at the same time, the lowest port first). Returned by value: run()'s event time stays in
  // a register.
  // Then a borrowed team, a robot coming home, a call (the lowest slot and client first).
  struct PortEvent {
    double t = inf;
    int ev = ev_none;
    std::size_t port = 0;    // input or output; a pool's slot
    std::size_t client = 0;  // a pool's client
  };
  __attribute__((noinline)) static PortEvent next_port_event(const Station& s) {
    const Routing& rt = *s.cold->rt;
    PortEvent e;
    for (std::size_t q = 0; q < rt.outs.size(); ++q) {
      const OutPort& o = rt.outs[q];
      if (o.credit_head < o.credits_in.size() && o.credits_in[o.credit_head] < e.t) e = {o.credits_in[o.credit_head], ev_credit, q, 0};
    }
    const Borrow& b = rt.borrow;
    if (rt.borrows && b.arrival_head < b.arrivals.size() && b.arrivals[b.arrival_head] < e.t)
      e = {b.arrivals[b.arrival_head], ev_robots, 0, 0};
    for (std::size_t k = 0; k < rt.pools.size(); ++k)
      for (std::size_t c = 0; c < rt.pools[k].clients.size(); ++c) {
        const PoolClient& client = rt.pools[k].clients[c];
        if (client.return_head < client.returns.size() && client.returns[client.return_head] < e.t)
          e = {client.returns[client.return_head], ev_robots_back, k, c};
      }
    for (std::size_t k = 0; k < rt.pools.size(); ++k)
      for (std::size_t c = 0; c < rt.pools[k].clients.size(); ++c) {
        const PoolClient& client = rt.pools[k].clients[c];
        if (client.call_head < client.calls.size() && client.calls[client.call_head] < e.t)
          e = {client.calls[client.call_head], ev_call, k, c};
      }
    for (std::size_t q = 0; q < rt.ins.size(); ++q) {
      const InPort& in = rt.ins[q];
      const std::size_t next_in = in.head + static_cast<std::size_t>(in.arrived);
      if (next_in < in.fifo.size() && in.fifo[next_in].time_s < e.t) e = {in.fifo[next_in].time_s, ev_part, q, 0};
    }
    return e;
  }

  // A pool's event at its home, or a borrowed team's arrival.
  __attribute__((noinline)) static void robot_event(Station& s, int ev, std::size_t slot, std::size_t client, double t) {
    Routing& rt = *s.cold->rt;
    if (ev == ev_robots) {
      Borrow& b = rt.borrow;
      ++b.arrival_head;
      ++b.here;
      ++b.arrived;
      b.wait_s += t - b.asks[b.ask_head++];
      return;
    }
    Pool& p = rt.pools[slot];
    PoolClient& c = p.clients[client];
    if (ev == ev_robots_back) {
      ++c.return_head;
      robots_out(p, t, -c.need);
    } else {
      ++c.call_head;
      p.waiting.push_back(static_cast<std::int32_t>(client));
    }
  }

  // Returns true when a cell pauses before a service start (nothing changed since the
  // last event but what came before that start; calling it again resumes it).
  // Inlined into run(): it follows every event.
  __attribute__((always_inline)) bool progress(Station& s, double t) const {
    const bool halted = s.halted();  // nothing here changes it
    for (;;) {
      // Held parts leave at the credits, the lowest server first.
      while (!halted && s.blocked > 0 && (!s.downstream_limited || s.credits > 0)) {
        Server& v = first_server(s, phase_blocked);
        if (s.downstream_limited) --s.credits;
        post(s.outbox, s.gid + 1, kind_part, 0, t + s.conveyor_s, v.part_id, v.entry_time);
        leave_station(s, t);
        v.phase = phase_idle;
        --s.blocked;
      }
      // Idle servers take the oldest waiting parts, the lowest server first.
      while (!halted && s.busy + s.blocked < s.servers && s.parts_arrived > 0) {
        const PartSlot p = s.parts_in[s.part_head];
        const int type = s.typed ? s.type_of(seed, p.id) : 0;
        Outcome o;
        if (!draw_outcome(s, Part{p.id, p.entry_time_s, type}, t, o)) return true;
        ++s.part_head;
        --s.parts_arrived;
        // A part that will fail inspection and come back keeps its place in the buffer.
        const std::int64_t reworks = s.reworks_parts ? s.take_reworks(p.id) : 0;
        const bool comes_back = o.good && o.rework && reworks < s.cold->max_rework;
        if (s.upstream_limited && !comes_back)
          post(s.outbox, s.gid - 1, kind_credit, 0, t + s.upstream_conveyor_s, -1, 0.0);
        begin_service(s, first_server(s, phase_idle), p, type, o, reworks, t);
      }
      if (s.source_waiting && (s.own_capacity == 0 || s.parts_arrived < s.own_capacity)) {
        // Station 0 has no upstream: its FIFO holds only parts already in the buffer.
        s.parts_in.push_back(PartSlot{t, (s.line << part_count_bits) | (s.arrival_count - 1), t});
        ++s.parts_arrived;
        ++s.entered;
        change_wip(s, t, +1);
        s.source_waiting = false;
        s.next_arrival = t + interarrival(s, s.arrival_count);
        continue;  // the part may start service at once
      }
      return false;
    }
  }

  // Closes the open state interval at t if the state changed. One server: one interval of
  // one state. Several: the interval of the counts of servers per state (kept in
  // `open`, which the station's state determines at every window boundary), adding
  // server-seconds.
  static void close_kpi_interval(Station& s, double t) {
    if (s.servers == 1) {
      const std::int64_t state = s.current_kpi_state();
      if (state != s.kpi_state) {
        s.state_s[s.kpi_state] += t - s.state_since;
        s.state_since = t;
        s.kpi_state = state;
      }
      return;
    }
    double now[kpi_states];
    s.open_counts(now);
    if (std::equal(now, now + kpi_states, s.cold->open)) return;
    for (int k = 0; k < kpi_states; ++k) s.state_s[k] += s.cold->open[k] * (t - s.state_since);
    s.state_since = t;
    std::copy(now, now + kpi_states, s.cold->open);
  }

  // Returns the time of the station's next event (>= window_end), or, for a cell that paused
  // before a service start (s.awaiting), that start's time. Called again once the outcome
  // is ready, it goes on from there.
  double run(Station& s, double window_end) const {
    if (s.outcome_ready) {
      if (s.routed ? progress_routed(s, s.cold->pause_s) : progress(s, s.cold->pause_s)) return s.cold->pause_s;  // started it, and pauses for the next
      close_kpi_interval(s, s.cold->pause_s);
    }
    for (;;) {
      double t = inf;
      int ev = ev_none;
      // Candidates in priority order; strict < keeps the earlier one on ties.
      if (s.credit_head < s.credits_in.size()) {
        t = s.credits_in[s.credit_head];
        ev = ev_credit;
      }
      const std::size_t next_part = s.part_head + static_cast<std::size_t>(s.parts_arrived);
      if (next_part < s.parts_in.size() && s.parts_in[next_part].time_s < t) {
        t = s.parts_in[next_part].time_s;
        ev = ev_part;
      }
      std::size_t port = 0, client = 0;  // of a routed station's port event (its parts_in and credits_in are empty)
      if (s.routed) {
        const PortEvent e = next_port_event(s);
        if (e.t < t) {
          t = e.t;
          ev = e.ev;
          port = e.port;
          client = e.client;
        }
      }
      if (s.repair_end < t) {
        t = s.repair_end;
        ev = ev_repair;
      }
      if (s.service_end < t) {
        t = s.service_end;
        ev = ev_service_end;
      }
      if (s.shift_change < t) {
        t = s.shift_change;
        ev = ev_shift;
      }
      if (s.fail_at < t) {
        t = s.fail_at;
        ev = ev_failure;
      }
      if (s.next_arrival < t) {
        t = s.next_arrival;
        ev = ev_source;
      }
      if (!(t < window_end)) {
        s.compact();
        return t;
      }
      ++s.events;

      switch (ev) {
        case ev_credit:
          if (s.routed) {
            ++s.cold->rt->outs[port].credit_head;
            ++s.cold->rt->outs[port].credits;
          } else {
            ++s.credit_head;
            ++s.credits;
          }
          break;
        case ev_part:
          if (s.routed) ++s.cold->rt->ins[port].arrived;
          else ++s.parts_arrived;
          change_wip(s, t, +1);
          break;
        case ev_robots:
        case ev_robots_back:
        case ev_call:
          robot_event(s, ev, port, client, t);
          break;
        case ev_repair: {
          s.down = false;
          s.repair_end = inf;
          const double ttf = exponential(seed, rng::Stream::failure, s.gid, s.cold->failure_count, s.cold->mtbf_s);
          if (s.only_when_busy) {
            s.ttf_left = ttf;
            if (s.busy > 0 && !s.off_shift) s.fail_at = t + ttf;  // off shift nothing is processed
          } else {
            s.fail_at = t + ttf;
          }
          if (!s.off_shift) resume(s, t);
          break;
        }
        case ev_shift: {
          const bool start = s.cold->shift_n % 2 == 0;
          s.shift_change = s.cold->calendar->change_time(++s.cold->shift_n);
          if (start) {
            s.off_shift = false;
            if (!s.down) {
              resume(s, t);
              if (s.only_when_busy && s.busy > 0) s.fail_at = t + s.ttf_left;
            }
          } else {
            if (!s.down) {
              halt(s, t);
              if (s.only_when_busy && s.busy > 0) {
                s.ttf_left = s.fail_at - t;
                s.fail_at = inf;
              }
            }
            s.off_shift = true;
          }
          break;
        }
        case ev_service_end: {
          Server& v = s.server_data()[s.service_server];
          v.service_end = inf;
          ++s.processed;
          if (--s.busy == 0 && s.breakdown && s.only_when_busy) {
            s.ttf_left = s.fail_at - t;
            s.fail_at = inf;
          }
          if (s.routed) {
            finish_routed(s, s.service_server, t);
          } else if (v.good && v.rework && v.reworks < s.cold->max_rework) {
            // Failed inspection, attempts left: back to the end of the buffer (the part
            // stays at the station, so the WIP and the kanban places do not change).
            ++s.cold->reworked;
            const auto at = s.parts_in.begin() + static_cast<std::ptrdiff_t>(s.part_head) + s.parts_arrived;
            s.parts_in.insert(at, PartSlot{t, v.part_id, v.entry_time});
            s.cold->rework_counts.emplace_back(v.part_id, std::int64_t{v.reworks} + 1);
            ++s.parts_arrived;
            v.phase = phase_idle;
          } else if (!v.good || v.rework) {  // scrap, or failed inspection once too often
            scrap(s, v, t);
          } else {
            ++s.good;
            if (s.last) {
              to_sink(s, v, v.last_type, t);
            } else {
              v.phase = phase_blocked;
              ++s.blocked;
            }
          }
          s.refresh_service_end();
          break;
        }
        case ev_failure: {
          const std::int64_t k = s.cold->failure_count++;
          s.repair_end = t + exponential(seed, rng::Stream::repair, s.gid, k, s.cold->mttr_s);
          if (!s.off_shift) halt(s, t);
          s.down = true;
          s.fail_at = inf;
          if (s.only_when_busy) s.ttf_left = 0.0;
          break;
        }
        case ev_source:
          ++s.arrival_count;
          s.source_waiting = true;
          s.next_arrival = inf;
          break;
        default:
          return t;
      }
      if (s.routed ? progress_routed(s, t) : progress(s, t)) return t;
      close_kpi_interval(s, t);
    }
  }
};

// A routed station's checkpoint record (FactoryState::route_int and route_real). Ints: ins,
// outs, route_count, joined, pieces, rework list length; per input: FIFO length, parts in
// the buffer; per output: credits, credits on the way; per server: input, route; the rework
// list as (part id, count) pairs; per pool kept here: free robots, waiting calls and their
// clients, per client: calls and robots on their way; if it borrows: teams
// here, calls made, teams on their way, teams received; the FIFOs' part ids. Reals: the
// FIFOs' (arrival, entry) times; the credits' arrival times; per pool: robot-seconds out and
// since when, per client: its calls' and robots' arrival times; if it borrows: the sum of
// its waits, its calls' times, its teams' arrival times.
void save_routes(const Station& s, std::vector<std::int64_t>& ints, std::vector<double>& reals) {
  if (!s.routed) return;
  const Routing& rt = *s.cold->rt;
  const std::int64_t header[] = {static_cast<std::int64_t>(rt.ins.size()), static_cast<std::int64_t>(rt.outs.size()),
                                 rt.route_count, rt.joined, rt.pieces, static_cast<std::int64_t>(s.cold->rework_counts.size())};
  ints.insert(ints.end(), std::begin(header), std::end(header));
  for (const InPort& in : rt.ins) {
    ints.push_back(static_cast<std::int64_t>(in.fifo.size() - in.head));
    ints.push_back(in.arrived);
  }
  for (const OutPort& out : rt.outs) {
    ints.push_back(out.credits);
    ints.push_back(static_cast<std::int64_t>(out.credits_in.size() - out.credit_head));
  }
  for (const ServerRoute& r : rt.server_routes) {
    ints.push_back(r.in);
    ints.push_back(r.out);
  }
  for (const auto& [id, count] : s.cold->rework_counts) {
    ints.push_back(id);
    ints.push_back(count);
  }
  const auto pending = [](const auto& fifo, std::size_t head) { return static_cast<std::int64_t>(fifo.size() - head); };
  const auto append = [&reals](const std::vector<double>& fifo, std::size_t head) {
    reals.insert(reals.end(), fifo.begin() + static_cast<std::ptrdiff_t>(head), fifo.end());
  };
  for (const Pool& p : rt.pools) {
    ints.push_back(p.free);
    ints.push_back(pending(p.waiting, p.waiting_head));
    ints.insert(ints.end(), p.waiting.begin() + static_cast<std::ptrdiff_t>(p.waiting_head), p.waiting.end());
    for (const PoolClient& c : p.clients) {
      ints.push_back(pending(c.calls, c.call_head));
      ints.push_back(pending(c.returns, c.return_head));
    }
  }
  const Borrow& b = rt.borrow;
  if (rt.borrows) {
    const std::int64_t borrow_ints[] = {b.here, b.asked(), pending(b.arrivals, b.arrival_head), b.arrived};
    ints.insert(ints.end(), std::begin(borrow_ints), std::end(borrow_ints));
  }
  for (const InPort& in : rt.ins)
    for (std::size_t k = in.head; k < in.fifo.size(); ++k) {
      ints.push_back(in.fifo[k].id);
      reals.push_back(in.fifo[k].time_s);
      reals.push_back(in.fifo[k].entry_time_s);
    }
  for (const OutPort& out : rt.outs) append(out.credits_in, out.credit_head);
  for (const Pool& p : rt.pools) {
    reals.push_back(p.out_area);
    reals.push_back(p.out_since);
    for (const PoolClient& c : p.clients) {
      append(c.calls, c.call_head);
      append(c.returns, c.return_head);
    }
  }
  if (rt.borrows) {
    reals.push_back(b.wait_s);
    append(b.asks, b.ask_head);
    append(b.arrivals, b.arrival_head);
  }
}

// What the records say about the pools, checked across all stations once each record is
// (Factory::restore): entries (index, amount) of a sum over the model that is 0 for every
// client c (index c, numbered over all pools: the calls its home has still to answer minus
// the calls its borrower waits for) and the pool's robots for every pool p (index clients +
// p: the free robots and those coming home, at the home; the teams here, on their way and at
// work, at the borrowers, times their size).
using PoolTally = std::vector<std::pair<std::int64_t, std::int64_t>>;

// Checks a record of save_routes against station s at time_s and, with `into` (s itself),
// restores it; in the check, adds the record's pool entries to `tally` (if given; the
// borrower's teams at work come from its servers, which the caller adds). Returns "" or
// what is wrong (a checkpoint is untrusted input).
std::string load_routes(const Station& s, const std::int64_t* ints, std::size_t n_ints, const double* reals,
                        std::size_t n_reals, double time_s, Station* into, std::int64_t all_clients = 0,
                        PoolTally* tally = nullptr) {
  if (!s.routed) return n_ints == 0 && n_reals == 0 ? "" : "routing state for a station without routes";
  const Routing& rt = *s.cold->rt;
  constexpr std::int64_t most = std::int64_t{1} << 53;
  std::size_t at = 0, real_at = 0;
  const auto next = [&](std::int64_t& v) {
    if (at >= n_ints) return false;
    v = ints[at++];
    return true;
  };
  std::int64_t n_in = 0, n_out = 0, route_count = 0, joined = 0, pieces = 0, reworks = 0;
  if (!next(n_in) || !next(n_out) || !next(route_count) || !next(joined) || !next(pieces) || !next(reworks))
    return "the routing state is cut short";
  if (n_in != static_cast<std::int64_t>(rt.ins.size()) || n_out != static_cast<std::int64_t>(rt.outs.size()))
    return "the routing state has other ports than the deck";
  if (route_count < 0 || route_count > most || joined < 0 || joined > most || pieces < 0 || pieces > most ||
      reworks < 0 || reworks > most)
    return "a routing counter is out of range";
  std::vector<std::int64_t> fifo(static_cast<std::size_t>(n_in)), arrived(fifo.size()), credits(rt.outs.size()),
      on_way(rt.outs.size());
  std::int64_t parts = 0, credit_total = 0;
  for (std::size_t q = 0; q < fifo.size(); ++q) {
    if (!next(fifo[q]) || !next(arrived[q])) return "the routing state is cut short";
    const InPort& in = rt.ins[q];
    if (fifo[q] < 0 || arrived[q] < 0 || arrived[q] > fifo[q] || fifo[q] > most)
      return "input " + std::to_string(q) + ": a FIFO length is out of range";
    if (in.capacity > 0 && in.from >= 0 && fifo[q] > in.capacity)
      return "input " + std::to_string(q) + ": " + std::to_string(fifo[q]) + " parts on the way into a buffer of " +
             std::to_string(in.capacity);
    parts += fifo[q];
  }
  for (std::size_t k = 0; k < credits.size(); ++k) {
    if (!next(credits[k]) || !next(on_way[k])) return "the routing state is cut short";
    const std::int64_t cap = rt.outs[k].capacity;
    if (credits[k] < 0 || on_way[k] < 0 || credits[k] > cap || on_way[k] > cap)
      return "route " + std::to_string(k) + ": " + std::to_string(credits[k]) + " credits and " +
             std::to_string(on_way[k]) + " on the way for a buffer of " + std::to_string(cap);
    credit_total += on_way[k];
  }
  std::vector<ServerRoute> routes(static_cast<std::size_t>(s.servers));
  for (ServerRoute& r : routes) {
    std::int64_t in = 0, out = 0;
    if (!next(in) || !next(out)) return "the routing state is cut short";
    if (in < 0 || in >= n_in || out < -1 || out >= n_out) return "a server's input or route is out of range";
    r = ServerRoute{static_cast<std::int32_t>(in), static_cast<std::int32_t>(out)};
  }
  if (reworks > static_cast<std::int64_t>(n_ints)) return "the routing state is cut short";
  std::vector<std::pair<std::int64_t, std::int64_t>> rework_counts(static_cast<std::size_t>(reworks));
  for (auto& [id, count] : rework_counts)
    if (!next(id) || !next(count) || count < 1 || count > s.cold->max_rework) return "a rework count is out of range";
  // Pools and borrowing: every count is bounded by the record's size before it sizes anything.
  const auto bound = static_cast<std::int64_t>(n_ints + n_reals);
  struct PoolRecord {
    std::int64_t free = 0;
    std::vector<std::int32_t> waiting;
    std::vector<std::int64_t> calls, returns;
  };
  std::vector<PoolRecord> pools(rt.pools.size());
  std::int64_t pool_reals = 0;
  for (std::size_t k = 0; k < pools.size(); ++k) {
    PoolRecord& p = pools[k];
    const Pool& model = rt.pools[k];
    std::int64_t waiting = 0;
    if (!next(p.free) || !next(waiting)) return "the routing state is cut short";
    if (p.free < 0 || p.free > model.robots || waiting < 0 || waiting > bound)
      return "pool " + std::to_string(k) + ": its free robots or waiting calls are out of range";
    for (std::int64_t w = 0; w < waiting; ++w) {
      std::int64_t client = 0;
      if (!next(client)) return "the routing state is cut short";
      if (client < 0 || client >= static_cast<std::int64_t>(model.clients.size()))
        return "pool " + std::to_string(k) + ": a waiting call's client is out of range";
      p.waiting.push_back(static_cast<std::int32_t>(client));
    }
    p.calls.resize(model.clients.size());
    p.returns.resize(model.clients.size());
    pool_reals += 2;
    for (std::size_t c = 0; c < model.clients.size(); ++c) {
      if (!next(p.calls[c]) || !next(p.returns[c])) return "the routing state is cut short";
      if (p.calls[c] < 0 || p.calls[c] > bound || p.returns[c] < 0 || p.returns[c] > bound)
        return "pool " + std::to_string(k) + ": calls or robots on their way out of range";
      pool_reals += p.calls[c] + p.returns[c];
    }
  }
  std::int64_t here = 0, asked = 0, teams_on_way = 0, received = 0;
  if (rt.borrows) {
    if (!next(here) || !next(asked) || !next(teams_on_way) || !next(received)) return "the routing state is cut short";
    // Teams here or called are for services it could start: at most one per server.
    if (here < 0 || here > rt.borrow.pool_robots / rt.borrow.need || asked < 0 || asked > bound || teams_on_way < 0 ||
        teams_on_way > asked || received < 0 || received > most || here + asked > s.servers)
      return "its borrowed robots are out of range";
    pool_reals += 1 + asked + teams_on_way;
  }
  if (n_ints - at != static_cast<std::size_t>(parts) ||
      n_reals != static_cast<std::size_t>(2 * parts + credit_total + pool_reals))
    return "the routing state's FIFOs do not match their lengths";
  for (std::size_t q = 0, r = 0; q < fifo.size(); ++q)
    for (std::int64_t k = 0; k < fifo[q]; ++k, r += 2) {
      const double t = reals[r];
      if (std::isnan(t) || std::isnan(reals[r + 1]) || (k >= arrived[q] && t < time_s))
        return "input " + std::to_string(q) + ": a part on its way arrives before the time";
    }
  // Messages on their way arrive at the time or later, at finite times, in the order they
  // were sent (each FIFO has one sender and one delay); what happened did so before.
  std::size_t r = 2 * static_cast<std::size_t>(parts);
  const auto arrive_later = [&](std::int64_t n) {
    for (const std::size_t end = r + static_cast<std::size_t>(n), first = r; r < end; ++r)
      if (!(reals[r] >= time_s) || !std::isfinite(reals[r]) || (r > first && reals[r] < reals[r - 1])) return false;
    return true;
  };
  for (std::size_t k = 0; k < credits.size(); ++k)
    if (!arrive_later(on_way[k])) return "a credit on its way arrives before the time, or out of order";
  for (const PoolRecord& p : pools) {
    if (!(reals[r] >= 0.0) || !std::isfinite(reals[r]) || !(reals[r + 1] >= 0.0 && reals[r + 1] <= time_s))
      return "a pool's time away from home is out of range";
    r += 2;
    for (std::size_t c = 0; c < p.calls.size(); ++c)
      if (!arrive_later(p.calls[c]) || !arrive_later(p.returns[c]))
        return "a call or robot on its way arrives before the time, or out of order";
  }
  if (rt.borrows) {
    if (!(reals[r] >= 0.0) || !std::isfinite(reals[r])) return "the borrowed robots' waiting time is out of range";
    ++r;
    for (const std::size_t end = r + static_cast<std::size_t>(asked), first = r; r < end; ++r)
      if (!(reals[r] >= 0.0 && reals[r] <= time_s) || (r > first && reals[r] < reals[r - 1]))
        return "a call for robots is made after the time, or out of order";
    if (!arrive_later(teams_on_way)) return "borrowed robots on their way arrive before the time, or out of order";
  }
  if (tally != nullptr) {
    for (std::size_t k = 0; k < pools.size(); ++k) {
      const Pool& model = rt.pools[k];
      std::int64_t robots = pools[k].free;
      std::vector<std::int64_t> waiting(model.clients.size(), 0);
      for (const std::int32_t c : pools[k].waiting) ++waiting[static_cast<std::size_t>(c)];
      for (std::size_t c = 0; c < model.clients.size(); ++c) {
        tally->emplace_back(model.first_client + static_cast<std::int64_t>(c), pools[k].calls[c] + waiting[c]);
        robots += model.clients[c].need * pools[k].returns[c];
      }
      tally->emplace_back(all_clients + model.index, robots);
    }
    if (rt.borrows) {
      tally->emplace_back(rt.borrow.any_client, -(asked - teams_on_way));
      tally->emplace_back(all_clients + rt.borrow.pool, rt.borrow.need * (here + teams_on_way));
    }
  }
  if (into == nullptr) return "";
  Station& d = *into;
  Routing& into_rt = *d.cold->rt;
  into_rt.route_count = route_count;
  into_rt.joined = joined;
  into_rt.pieces = pieces;
  into_rt.server_routes = routes;
  d.cold->rework_counts = rework_counts;
  for (std::size_t q = 0; q < fifo.size(); ++q) {
    InPort& in = into_rt.ins[q];
    in.fifo.clear();
    in.head = 0;
    in.arrived = arrived[q];
    for (std::int64_t k = 0; k < fifo[q]; ++k, real_at += 2) in.fifo.push_back(PartSlot{reals[real_at], ints[at++], reals[real_at + 1]});
  }
  const auto take = [&](std::vector<double>& fifo, std::size_t& head, std::int64_t n) {
    head = 0;
    fifo.assign(reals + real_at, reals + real_at + n);
    real_at += static_cast<std::size_t>(n);
  };
  for (std::size_t k = 0; k < credits.size(); ++k) {
    OutPort& out = into_rt.outs[k];
    out.credits = credits[k];
    take(out.credits_in, out.credit_head, on_way[k]);
  }
  for (std::size_t k = 0; k < pools.size(); ++k) {
    Pool& p = into_rt.pools[k];
    p.free = pools[k].free;
    p.waiting = pools[k].waiting;
    p.waiting_head = 0;
    p.out_area = reals[real_at++];
    p.out_since = reals[real_at++];
    for (std::size_t c = 0; c < p.clients.size(); ++c) {
      take(p.clients[c].calls, p.clients[c].call_head, pools[k].calls[c]);
      take(p.clients[c].returns, p.clients[c].return_head, pools[k].returns[c]);
    }
  }
  if (into_rt.borrows) {
    Borrow& b = into_rt.borrow;
    b.here = here;
    b.arrived = received;
    b.wait_s = reals[real_at++];
    take(b.asks, b.ask_head, asked);
    take(b.arrivals, b.arrival_head, teams_on_way);
  }
  return "";
}

}  // namespace detail

using detail::Station;

Factory::Factory(const FactoryModelConfig& config, std::uint64_t seed, MPI_Comm comm)
    : Factory(config, seed, comm, std::make_shared<DistributionProcessModel>(config, seed)) {}

Factory::Factory(const FactoryModelConfig& config, std::uint64_t seed, MPI_Comm comm,
                 std::shared_ptr<const ProcessModel> process_model)
    : comm_(comm), seed_(seed), process_model_(std::move(process_model)), index_(config) {
  require(process_model_ != nullptr, "factory: no process model");
  distribution_model_ = dynamic_cast<const DistributionProcessModel*>(process_model_.get());

  // Global numbering and the lookahead, identical on every rank; only the local stations
  // are built, so a rank's memory grows with its own stations.
  station_count_ = index_.station_count();
  type_count_ = index_.config().type_count();
  lookahead_s_ = index_.lookahead_s();
  const comm::Decomposition decomposition(station_count_, comm::rank_of(comm), comm::size_of(comm));
  local_ = decomposition.local();
  // A station of c servers can finish a part every ideal cycle / c.
  for (std::int64_t g = local_.begin; g < local_.end; ++g)
    station_ideal_cycle_s_.push_back(process_model_->ideal_cycle_s(g) /
                                     static_cast<double>(index_.place(g).config->servers));

  // In a routed model a station may see parts of any line: their types come from their
  // lines' mixes.
  if (index_.routed() && !index_.config().part_types.empty()) {
    line_types_ = std::make_unique<detail::LineTypes>();
    std::int64_t line = 0;
    for (const FactoryConfig& f : index_.config().factories)
      for (const LineConfig& l : f.lines) {
        line_types_->first_line.push_back(line);
        line_types_->types.push_back(&part_types_.try_emplace(&l, l.source).first->second);
        line += l.count;
      }
  }
  // Every pool's clients numbered after the previous pools' (the restore's check of the pools).
  pool_first_client_.assign(1, 0);
  for (std::int64_t p = 0; p < index_.pool_count(); ++p)
    pool_first_client_.push_back(pool_first_client_.back() + index_.pool_client_count(p));
  stations_.resize(static_cast<std::size_t>(local_.size()));
  cold_.resize(stations_.size());
  for (std::size_t i = 0; i < stations_.size(); ++i) stations_[i].cold = &cold_[i];
  for (std::int64_t g = local_.begin; g < local_.end; ++g) {
    Station& s = stations_[static_cast<std::size_t>(g - local_.begin)];
    const ModelIndex::Place here = index_.place(g);
    const StationConfig& c = *here.config;
    s.gid = g;
    s.line = here.line;
    s.first = g == here.line_begin;
    s.last = g + 1 == here.line_end;
    s.own_capacity = c.buffer_capacity;
    s.cold->max_rework = c.max_rework;
    s.reworks_parts = c.max_rework > 0;
    s.typed = !index_.config().part_types.empty();
    s.cold->config = &c;
    if (s.typed) {
      s.cold->types = &part_types_.try_emplace(here.line_config, here.line_config->source).first->second;
      s.cold->line_types = line_types_.get();
      if (s.last) {
        s.cold->type_sink.assign(static_cast<std::size_t>(type_count_), 0);
        s.cold->type_lead_s.assign(static_cast<std::size_t>(type_count_), 0.0);
      }
    }
    require(c.servers >= 1 && c.servers <= std::numeric_limits<std::int32_t>::max(), "factory: servers out of range");
    require(c.servers == 1 || !c.cell.enabled, "factory: a robot cell has one server (use count for more cells)");
    s.servers = static_cast<std::int32_t>(c.servers);
    if (s.servers > 1) s.cold->many.resize(static_cast<std::size_t>(s.servers));
    const ShiftCalendar& factory_shifts = index_.config().factories[static_cast<std::size_t>(here.factory)].shifts;
    s.cold->calendar = c.shifts.enabled ? &c.shifts : factory_shifts.enabled ? &factory_shifts : nullptr;
    if (s.cold->calendar != nullptr) {
      require(s.cold->calendar->problem().empty(), "factory: shifts of station " + index_.station_name(g) + ": " +
                                                 s.cold->calendar->problem());
      s.cold->shift_n = s.cold->calendar->first_change();
      s.off_shift = s.cold->shift_n % 2 == 0;  // the next change starts a working period
      s.shift_change = s.cold->calendar->change_time(s.cold->shift_n);
    }
    s.kpi_state = s.current_kpi_state();
    s.open_counts(s.cold->open);
    s.upstream_limited = !s.first && c.buffer_capacity > 0;
    if (!s.last) {
      const StationConfig& next = *index_.place(g + 1).config;
      s.conveyor_s = c.conveyor_time_s;
      s.downstream_limited = next.buffer_capacity > 0;
      s.cold->downstream_capacity = next.buffer_capacity;
      s.credits = next.buffer_capacity;
    }
    if (!s.first) s.upstream_conveyor_s = index_.place(g - 1).config->conveyor_time_s;
    s.cell = c.cell.enabled;
    has_cells_ = has_cells_ || s.cell;
    if (distribution_model_ != nullptr) s.process = &distribution_model_->params(g);
    s.breakdown = c.breakdown.enabled;
    s.only_when_busy = c.breakdown.only_when_busy;
    s.cold->mtbf_s = c.breakdown.mtbf_s;
    s.cold->mttr_s = c.breakdown.mttr_s;
    if (s.breakdown) {
      const double ttf = exponential(seed_, rng::Stream::failure, g, 0, s.cold->mtbf_s);
      if (s.only_when_busy) s.ttf_left = ttf;
      else s.fail_at = ttf;
    }
    if (index_.routed()) build_ports(s, here);
    if (s.first) {
      s.poisson = here.line_config->source.kind == ArrivalKind::poisson;
      s.cold->interval_s = here.line_config->source.interval_s;
      s.next_arrival = detail::StationRunner{seed_, nullptr, nullptr}.interarrival(s, 0);
    }
  }

  // The exchange plan: the ranks holding the neighbours of our first and last station in
  // their line, and the other ends of the routes of routed stations. Symmetric because the
  // other rank sees us the same way.
  std::vector<int> neighbours;
  for (const Station& s : stations_) {
    if (!s.routed) continue;
    for (const detail::InPort& in : s.cold->rt->ins)
      if (in.from >= 0 && !local_.contains(in.from)) neighbours.push_back(decomposition.owner(in.from));
    for (const detail::OutPort& out : s.cold->rt->outs)
      if (out.to >= 0 && !local_.contains(out.to)) neighbours.push_back(decomposition.owner(out.to));
    for (const detail::Pool& p : s.cold->rt->pools)
      for (const detail::PoolClient& c : p.clients)
        if (!local_.contains(c.gid)) neighbours.push_back(decomposition.owner(c.gid));
    if (s.cold->rt->borrows && !local_.contains(s.cold->rt->borrow.home))
      neighbours.push_back(decomposition.owner(s.cold->rt->borrow.home));
  }
  std::sort(neighbours.begin(), neighbours.end());
  neighbours.erase(std::unique(neighbours.begin(), neighbours.end()), neighbours.end());
  std::int64_t head_begin = 0, tail_begin = 0, tail_end = 0;
  if (local_.size() > 0) {
    const ModelIndex::Place head = index_.place(local_.begin), tail = index_.place(local_.end - 1);
    if (head.line_begin < local_.begin) neighbours.push_back(decomposition.owner(local_.begin - 1));
    if (tail.line_end > local_.end) neighbours.push_back(decomposition.owner(local_.end));
    head_begin = head.line_begin;
    tail_begin = tail.line_begin;
    tail_end = tail.line_end;
  }
  exchange_ = std::make_unique<comm::PartExchange>(comm_, decomposition, neighbours);
  line_partials_ = std::make_unique<comm::SpanPartials>(comm_, decomposition, head_begin, tail_begin, tail_end);
  build_senders();
  span_s_ = lookahead_s_;
  refresh_next_events();
}

void Factory::build_senders() {
  // Who sends to whom (StationRunner's sends): a chain station sends its parts to the next
  // station and, into its own limited buffer, credits back to the previous one; a routed
  // station sends parts along its routes (not the sink), credits back on its limited inputs,
  // robots to its pools' clients, and calls and robots going home to the pool it borrows from.
  // Senders on other ranks announce themselves to their receivers once, here; their bounds
  // then come with every window's exchange (in sender_bound_s_ after the local stations').
  // The station before and after a receiver are the stencil's (most stations have no other
  // senders); the rest are listed, in compressed rows of the stations that have them.
  const std::size_t n = stations_.size();
  from_previous_s_.assign(n, inf);
  from_next_s_.assign(n, inf);
  struct Edge {
    std::size_t to;
    std::int32_t sender;
    double delay_s;
  };
  std::vector<Edge> others;
  remote_receivers_.clear();
  std::vector<comm::PartMessage> announcements;
  const auto add = [&](std::int64_t from, std::int64_t to, double delay_s) {
    if (to < 0) return;
    const auto sender = static_cast<std::int32_t>(from - local_.begin);
    if (!local_.contains(to)) {
      remote_receivers_.push_back(RemoteReceiver{sender, to});
      post(announcements, to, kind_sender, 0, delay_s, from, 0.0);
      return;
    }
    const auto i = static_cast<std::size_t>(to - local_.begin);
    if (to == from + 1) from_previous_s_[i] = std::min(from_previous_s_[i], delay_s);
    else if (to == from - 1) from_next_s_[i] = std::min(from_next_s_[i], delay_s);
    else others.push_back(Edge{i, sender, delay_s});
  };
  for (const Station& s : stations_) {
    if (!s.routed) {
      if (!s.last) add(s.gid, s.gid + 1, s.conveyor_s);
      if (s.upstream_limited) add(s.gid, s.gid - 1, s.upstream_conveyor_s);
      continue;
    }
    const detail::Routing& rt = *s.cold->rt;
    for (const detail::OutPort& out : rt.outs) add(s.gid, out.to, out.delay_s);
    for (const detail::InPort& in : rt.ins)
      if (in.capacity > 0) add(s.gid, in.from, in.credit_delay_s);
    for (const detail::Pool& p : rt.pools)
      for (const detail::PoolClient& c : p.clients) add(s.gid, c.gid, c.travel_s);
    if (rt.borrows) add(s.gid, rt.borrow.home, std::min(rt.borrow.call_s, rt.borrow.travel_s));
  }
  remote_senders_.clear();
  if (!exchange_->alone()) {
    const std::vector<comm::PartMessage> received = exchange_->exchange(announcements, false, inf, inf);
    for (const comm::PartMessage& m : received) remote_senders_.push_back(m.part_id);
    std::sort(remote_senders_.begin(), remote_senders_.end());
    remote_senders_.erase(std::unique(remote_senders_.begin(), remote_senders_.end()), remote_senders_.end());
    for (const comm::PartMessage& m : received)
      others.push_back(Edge{static_cast<std::size_t>(m.dest_gid - local_.begin), remote_slot(m.part_id), m.time_s});
  }
  std::sort(others.begin(), others.end(),
            [](const Edge& a, const Edge& b) { return a.to != b.to ? a.to < b.to : a.sender < b.sender; });
  other_station_.clear();
  other_begin_.assign(1, 0);
  other_senders_.clear();
  for (const Edge& e : others) {
    const bool new_station = other_station_.empty() || static_cast<std::size_t>(other_station_.back()) != e.to;
    if (new_station) {
      other_station_.push_back(static_cast<std::int32_t>(e.to));
      other_begin_.push_back(other_begin_.back());
    }
    if (!new_station && other_senders_.back().station == e.sender) {
      other_senders_.back().delay_s = std::min(other_senders_.back().delay_s, e.delay_s);
      continue;
    }
    other_senders_.push_back(Sender{e.sender, e.delay_s});
    ++other_begin_.back();
  }
}

void Factory::build_ports(Station& s, const ModelIndex::Place& here) {
  const StationConfig& c = *here.config;
  const std::vector<ModelIndex::Edge> outputs = index_.outputs(s.gid);
  const std::vector<ModelIndex::Edge> inputs = index_.inputs(s.gid);
  const bool explicit_in = !inputs.empty() && inputs.back().to_port > 0;
  const bool explicit_out = c.rework_elsewhere || !c.next.empty();
  const std::vector<std::int64_t> pools = index_.pools_at(s.gid);
  s.routed = explicit_in || explicit_out || c.assembly || c.disassembly || c.robots_from.enabled || !pools.empty();
  if (!s.routed) return;
  s.cold->rt = std::make_unique<detail::Routing>();
  detail::Routing& rt = *s.cold->rt;
  // Port 0 is the chain's input (the source, or the previous station), connected or not.
  rt.ins.resize(1);
  rt.ins[0].connected = s.first;
  rt.ins[0].capacity = s.first ? 0 : c.buffer_capacity;
  for (const ModelIndex::Edge& e : inputs) {
    if (static_cast<std::size_t>(e.to_port) >= rt.ins.size()) rt.ins.resize(static_cast<std::size_t>(e.to_port) + 1);
    detail::InPort& in = rt.ins[static_cast<std::size_t>(e.to_port)];
    in.connected = true;
    in.from = e.from;
    in.from_port = e.from_port;
    in.capacity = e.capacity;
    in.credit_delay_s = e.delay_s;
  }
  for (const ModelIndex::Edge& e : outputs) {
    detail::OutPort& out = rt.outs.emplace_back();
    out.to = e.to;
    out.to_port = e.to_port;
    out.delay_s = e.delay_s;
    out.capacity = e.to >= 0 ? e.capacity : 0;
    out.credits = out.capacity;
    out.rework = e.rework;
    if (e.rework) rt.rework_port = static_cast<std::int32_t>(rt.outs.size()) - 1;
  }
  rt.routes = static_cast<std::int32_t>(rt.outs.size()) - (rt.rework_port >= 0 ? 1 : 0);
  rt.server_routes.assign(static_cast<std::size_t>(s.servers), detail::ServerRoute{});
  rt.policy = c.next.size() > 1 ? c.route : RoutePolicy::probability;
  rt.assembly = c.assembly;
  rt.disassembly = c.disassembly;
  s.reworks_parts = s.reworks_parts || c.rework_elsewhere;
  if (rt.policy == RoutePolicy::probability && rt.routes > 1) {
    double total = 0.0;
    for (const RouteConfig& r : c.next) total += r.share;
    double sum = 0.0;
    for (const RouteConfig& r : c.next) rt.share_cumulative.push_back((sum += r.share) / total);
    rt.share_cumulative.back() = 1.0;
  }
  if (rt.policy == RoutePolicy::type) {
    // Each type to the route listing it, else to the first route listing none.
    std::int32_t rest = -1;
    for (std::size_t k = 0; k < c.next.size(); ++k)
      if (c.next[k].types.empty() && rest < 0) rest = static_cast<std::int32_t>(k);
    rt.type_route.assign(static_cast<std::size_t>(type_count_), rest);
    for (std::size_t k = 0; k < c.next.size(); ++k)
      for (int type : c.next[k].types) rt.type_route[static_cast<std::size_t>(type)] = static_cast<std::int32_t>(k);
    for (std::int32_t route : rt.type_route)
      require(route >= 0, "factory: station " + index_.station_name(s.gid) + " routes by type but not every type");
  }
  if (c.assembly) rt.genealogy_width = static_cast<std::int32_t>(std::count_if(
                      rt.ins.begin(), rt.ins.end(), [](const detail::InPort& in) { return in.connected; })) + 1;
  if (c.disassembly) rt.genealogy_width = rt.routes + 1;
  if (s.typed) {
    s.cold->type_sink.assign(static_cast<std::size_t>(type_count_), 0);
    s.cold->type_lead_s.assign(static_cast<std::size_t>(type_count_), 0.0);
  }
  // Pools kept here, and the pool it borrows from: calls, robots sent and robots going home.
  for (const std::int64_t pool : pools) {
    const PoolConfig& pc = index_.pool_config(pool);
    detail::Pool& p = rt.pools.emplace_back();
    p.index = pool;
    p.first_client = pool_first_client_[static_cast<std::size_t>(pool)];
    p.robots = p.free = pc.robots;
    for (const std::int64_t gid : index_.pool_clients(pool)) {
      detail::PoolClient& client = p.clients.emplace_back();
      const StationConfig& borrower = *index_.place(gid).config;
      client.gid = gid;
      client.travel_s = borrower.robots_from.travel_time_s;
      client.need = borrower.robots_per_service();
    }
  }
  if (c.robots_from.enabled) {
    const ModelIndex::PoolPlace from = index_.borrows_from(s.gid);
    detail::Borrow& b = rt.borrow;
    rt.borrows = true;
    b.home = from.home;
    b.slot = from.slot;
    b.client = from.client;
    b.pool = from.pool;
    b.any_client = pool_first_client_[static_cast<std::size_t>(from.pool)] + from.client;
    b.call_s = index_.pool_config(from.pool).call_time_s;
    b.travel_s = c.robots_from.travel_time_s;
    b.pool_robots = index_.pool_config(from.pool).robots;
    b.need = c.robots_per_service();
    // A team larger than its pool would hold up the pool's calls for ever (the deck says so
    // at the station; a model built otherwise stops here).
    require(b.need >= 1 && b.need <= b.pool_robots,
            "factory: station " + index_.station_name(s.gid) + " needs " + std::to_string(b.need) +
                " robots per service from pool '" + index_.pool_config(from.pool).name + "' of " +
                std::to_string(b.pool_robots));
  }
  s.last = false;
  s.downstream_limited = false;
  s.upstream_limited = false;
  s.credits = 0;
}

Factory::~Factory() = default;
Factory::Factory(Factory&&) noexcept = default;
Factory& Factory::operator=(Factory&&) noexcept = default;

void Factory::refresh_next_events() {
  routed_.resize(stations_.size());
  for (std::size_t i = 0; i < stations_.size(); ++i) routed_[i] = stations_[i].routed ? 1 : 0;
  next_event_s_.resize(stations_.size());
  for (std::size_t i = 0; i < stations_.size(); ++i) next_event_s_[i] = stations_[i].next_event_time();
  const std::size_t n = stations_.size();
  earliest_send_s_.resize(n);
  for (std::size_t i = 0; i < n; ++i) earliest_send_s_[i] = stations_[i].earliest_send_s();
  // Every station has processed its events before time_s_ (on every rank), so it sends
  // nothing earlier.
  reached_s_.assign(n, time_s_);
  arrival_floor_s_ = time_s_ + lookahead_s_;
  for (std::vector<double>& bounds : sender_bound_s_) {
    bounds.assign(n + 2 + remote_senders_.size(), time_s_);
    bounds[0] = bounds[n + 1] = 0.0;  // the stencil's ends, read with infinite delays only
  }
  other_arrival_s_.resize(other_station_.size());
  active_.resize(stations_.size());
  active_count_ = 0;
}

namespace {

// Windows with fewer active stations than this run them in a plain loop: a parallel
// dispatch costs more than it can save there (with Kokkos 3.4's Serial backend a quarter of
// a sparse line's run went to dispatching one-station windows). Stations are independent
// within a window, so this changes speed only.
constexpr std::int64_t min_parallel_stations = 64;

template <class F>
void for_stations(const char* label, std::int64_t count, const F& f) {
  if (count < min_parallel_stations) {
    for (std::int64_t k = 0; k < count; ++k) f(k);
  } else {
    Kokkos::parallel_for(label, Kokkos::RangePolicy<HostExecSpace>(0, count), f);
  }
}

}  // namespace

void Factory::run_window() {
  // set_limits listed the stations with an event before their limit, in station order.
  std::int32_t* active = active_.data();
  const std::size_t n = active_count_;
  const auto count = static_cast<std::int64_t>(n);
  const detail::StationRunner runner{seed_, process_model_.get(), distribution_model_};
  Station* stations = stations_.data();
  double* next_out = next_event_s_.data();
  double* send_out = earliest_send_s_.data();
  const double* limits = reached_s_.data();  // each station's limit (set_limits)
  // Stations are independent within a window: each touches only itself, its outbox, its
  // next-event time and its earliest send.
  const auto run_one = [=](std::int64_t k) {
    if (k + static_cast<std::int64_t>(prefetch_stations) < count) stations[active[k + prefetch_stations]].prefetch(false);
    if (k + static_cast<std::int64_t>(prefetch_fifos) < count) stations[active[k + prefetch_fifos]].prefetch(true);
    const std::int32_t i = active[k];
    next_out[i] = runner.run(stations[i], limits[i]);
    send_out[i] = stations[i].earliest_send_s();
  };
  for_stations("factory::window", count, run_one);
  resolve_cells();
}

// Cells that paused before a service start get their outcomes in one batch per pass, in
// station order, and run on; a station pauses at most once per service, so this ends.
void Factory::resolve_cells() {
  if (!has_cells_) return;
  const detail::StationRunner runner{seed_, process_model_.get(), distribution_model_};
  for (;;) {
    paused_.clear();
    requests_.clear();
    for (std::size_t k = 0; k < active_count_; ++k) {
      const Station& st = stations_[static_cast<std::size_t>(active_[k])];
      if (!st.awaiting) continue;
      paused_.push_back(active_[k]);
      requests_.push_back(ServiceRequest{st.gid, st.service_count, st.cold->request, st.cold->pause_s, Outcome{}});
    }
    if (paused_.empty()) return;
    require(cells_ != nullptr, "factory: robot-cell stations need a CellProcess (Factory::set_cells)");
    cells_->resolve(requests_);
    for (std::size_t k = 0; k < paused_.size(); ++k) {
      Station& st = stations_[static_cast<std::size_t>(paused_[k])];
      const Outcome& o = requests_[k].outcome;
      require(std::isfinite(o.duration_s) && o.duration_s >= 0,
              "factory: a robot cell returned a non-finite or negative service time");
      st.awaiting = false;
      st.outcome_ready = true;
      st.cold->ready = o;
    }
    Station* stations = stations_.data();
    double* next_out = next_event_s_.data();
    double* send_out = earliest_send_s_.data();
    const double* limits = reached_s_.data();
    const std::int32_t* paused = paused_.data();
    for_stations("factory::resume_cells", static_cast<std::int64_t>(paused_.size()), [=](std::int64_t k) {
      const std::int32_t i = paused[k];
      next_out[i] = runner.run(stations[i], limits[i]);
      send_out[i] = stations[i].earliest_send_s();
    });
  }
}

namespace {
// A pool's message into its FIFO at the receiver (PartMessage::reserved: the pool's slot at
// its home; part_id: the client).
__attribute__((noinline)) void deliver_robots(detail::Routing& rt, const comm::PartMessage& m) {
  if (m.kind == kind_robots) {
    rt.borrow.arrivals.push_back(m.time_s);
    return;
  }
  detail::PoolClient& c = rt.pools[static_cast<std::size_t>(m.reserved)].clients[static_cast<std::size_t>(m.part_id)];
  (m.kind == kind_call ? c.calls : c.returns).push_back(m.time_s);
}
}  // namespace

std::int32_t Factory::remote_slot(std::int64_t gid) const {
  const auto at = std::lower_bound(remote_senders_.begin(), remote_senders_.end(), gid) - remote_senders_.begin();
  require(static_cast<std::size_t>(at) < remote_senders_.size() && remote_senders_[static_cast<std::size_t>(at)] == gid,
          "factory: a bound from station " + std::to_string(gid) + ", which sends nothing here");
  return static_cast<std::int32_t>(stations_.size() + 1 + static_cast<std::size_t>(at));
}

void Factory::receive(const comm::PartMessage& m) {
  const auto i = static_cast<std::size_t>(m.dest_gid - local_.begin);
  Station& d = stations_[i];
  // A routed station's FIFOs are its ports' (the dense flags keep the station's other cache
  // lines out of the delivery loop).
  const bool routed = routed_[i] != 0;
  const auto port = static_cast<std::size_t>(m.reserved);
  if (m.kind == kind_part) {
    (routed ? d.cold->rt->ins[port].fifo : d.parts_in).push_back(detail::PartSlot{m.time_s, m.part_id, m.entry_time_s});
  } else if (m.kind == kind_credit) {
    (routed ? d.cold->rt->outs[port].credits_in : d.credits_in).push_back(m.time_s);
  } else {
    deliver_robots(*d.cold->rt, m);
  }
  // FIFOs are in non-decreasing time order, so this is exact, not just a lower bound.
  next_event_s_[i] = std::min(next_event_s_[i], m.time_s);
  // Receiving changes no state but the FIFOs, so the station's earliest send is now the
  // earlier of what it was and something at or after this arrival: a lower bound (exact
  // again once the station runs), without reading the station.
  earliest_send_s_[i] = std::min(earliest_send_s_[i], m.time_s);
}

std::size_t Factory::deliver_local() {
  remote_out_.clear();
  std::size_t delivered = 0;
  // Only the stations that ran have outbox entries. Each FIFO has one sender, so delivering
  // in station order keeps every FIFO in send order.
  for (std::size_t k = 0; k < active_count_; ++k) {
    // Prefetch the outbox and the receivers' FIFO headers (a station's messages go to its
    // neighbours) of a station ahead, then, once those have arrived, the data they point to.
    if (k + prefetch_stations < active_count_) {
      const auto a = static_cast<std::size_t>(active_[k + prefetch_stations]);
      __builtin_prefetch(&stations_[a].outbox);
      if (a + 1 < stations_.size()) __builtin_prefetch(&stations_[a + 1].parts_in);
      if (a > 0) __builtin_prefetch(&stations_[a - 1].credits_in);
    }
    if (k + prefetch_fifos < active_count_) {
      const auto a = static_cast<std::size_t>(active_[k + prefetch_fifos]);
      __builtin_prefetch(stations_[a].outbox.data());
      if (a + 1 < stations_.size()) {
        const auto& fifo = stations_[a + 1].parts_in;
        __builtin_prefetch(fifo.data() + fifo.size());
      }
      if (a > 0) {
        const auto& fifo = stations_[a - 1].credits_in;
        __builtin_prefetch(fifo.data() + fifo.size());
      }
    }
    Station& s = stations_[static_cast<std::size_t>(active_[k])];
    for (const comm::PartMessage& m : s.outbox) {
      if (local_.contains(m.dest_gid)) {
        receive(m);
        ++delivered;
      } else {
        remote_out_.push_back(m);
      }
    }
    s.outbox.clear();
  }
  active_count_ = 0;
  return delivered;
}

double Factory::exchange(bool agree, double local_front_s) {
  // The senders' bounds for the next window on the ranks they send to (what they send after
  // this window comes no earlier).
  std::vector<double>& bounds = sender_bound_s_[current_bounds_];
  const double* bound = bounds.data() + 1;
  for (const RemoteReceiver& r : remote_receivers_)
    post(remote_out_, r.gid, kind_bound, 0, inf, stations_[static_cast<std::size_t>(r.sender)].gid, bound[r.sender]);
  // With `agree`: the earliest event pending here (local messages are delivered; the
  // exchange counts those in flight), so that the agreed one is the earliest anywhere.
  const double local_next = !agree || next_event_s_.empty()
                                ? inf
                                : *std::min_element(next_event_s_.begin(), next_event_s_.end());
  for (const comm::PartMessage& m : exchange_->exchange(remote_out_, agree, local_next, local_front_s)) {
    if (m.kind == kind_bound) {
      double& b = bounds[1 + static_cast<std::size_t>(remote_slot(m.part_id))];
      b = std::max(b, m.entry_time_s);
    } else {
      receive(m);
    }
  }
  if (!agree) return -inf;
  // Nothing is sent before the earliest pending event, so nothing arrives before it + the
  // lookahead; idle time ahead when that is a lookahead or more past the least time reached.
  const double next = exchange_->next_s();
  arrival_floor_s_ = std::max(arrival_floor_s_, next + lookahead_s_);
  found_idle_ = next >= exchange_->front_s() + lookahead_s_;
  return exchange_->front_s();
}

Factory::Limits Factory::set_limits(double t_end_s) {
  const std::size_t n = reached_s_.size();
  // The senders' bounds as the last window left them (old[1 + j]: max(x_j, T_j)), read while
  // the new ones go to the other buffer: a Jacobi step, one stencil pass over dense arrays.
  const std::vector<double>& old_bounds = sender_bound_s_[current_bounds_];
  std::vector<double>& new_bounds = sender_bound_s_[1 - current_bounds_];
  const double* old = old_bounds.data();
  double* out = new_bounds.data();
  for (std::size_t r = 0; r < other_station_.size(); ++r) {
    double a = inf;
    for (std::size_t k = other_begin_[r]; k < other_begin_[r + 1]; ++k)
      a = std::min(a, old[1 + static_cast<std::size_t>(other_senders_[k].station)] + other_senders_[k].delay_s);
    other_arrival_s_[r] = a;
  }
  const double* from_previous = from_previous_s_.data();
  const double* from_next = from_next_s_.data();
  const double* next = next_event_s_.data();
  const double* earliest = earliest_send_s_.data();
  double* reached = reached_s_.data();
  std::int32_t* active = active_.data();
  std::size_t other = 0;
  std::size_t next_other = other_station_.empty() ? n : static_cast<std::size_t>(other_station_[0]);
  double least = inf;
  double soonest = inf;  // the earliest pending event
  const double floor = arrival_floor_s_;
  // The factory's time, or the earliest event pending anywhere if later (the time between
  // is idle everywhere, free to catch up).
  const double horizon = std::max(time_s_, arrival_floor_s_ - lookahead_s_) + max_ahead * span_s_;
  std::size_t count = 0;
  int capped = 0;
  for (std::size_t i = 0; i < n; ++i) {
    // A_i from the stations before and after it (old[i], old[i + 2]) and any others.
    double arrival = std::min(old[i] + from_previous[i], old[i + 2] + from_next[i]);
    if (i == next_other) {
      arrival = std::min(arrival, other_arrival_s_[other]);
      next_other = ++other < other_station_.size() ? static_cast<std::size_t>(other_station_[other]) : n;
    }
    // Nothing arrives anywhere before the floor (a cycle of waiting stations, whose bounds
    // grow by its delays per window, needs it to reach the next event in one).
    arrival = std::max(arrival, floor);
    soonest = std::min(soonest, next[i]);
    // Nothing happens at a station before its next event: it runs at most a span past that,
    // and at most max_ahead spans past the factory's time or the earliest pending event
    // (what a stop must catch up).
    const double cap = std::min(std::min(t_end_s, next[i] + span_s_), horizon);
    // A_i never falls (the bounds only grow) and T_i <= A_i, so the limit is never below
    // T_i (where the cap is, the station waits).
    const double limit = std::min(arrival, std::max(reached[i], cap));
    capped |= static_cast<int>(limit == cap) & static_cast<int>(cap < t_end_s);
    // x_i >= max(T_i, min(E_i, A_i)) before it runs; after the window it sends nothing
    // before max(x_i, L_i).
    out[i + 1] = std::max(std::max(old[i + 1], std::min(earliest[i], arrival)), limit);
    reached[i] = limit;
    least = std::min(least, limit);
    active[count] = static_cast<std::int32_t>(i);
    count += next[i] < limit ? 1 : 0;
  }
  // Remote senders' bounds carry over (the exchange raises them).
  std::copy(old_bounds.begin() + static_cast<std::ptrdiff_t>(n + 2), old_bounds.end(),
            new_bounds.begin() + static_cast<std::ptrdiff_t>(n + 2));
  current_bounds_ = 1 - current_bounds_;
  active_count_ = count;
  // On one rank the earliest pending event is known here: nothing is sent before it (on
  // several ranks the agreements tell it).
  if (exchange_->alone()) arrival_floor_s_ = std::max(arrival_floor_s_, soonest + lookahead_s_);
  return Limits{least, capped != 0};
}

double Factory::advance(double t_end_s, const std::function<bool()>& stop_requested) {
  // About this many messages per window: enough work to hide the window's passes over the
  // dense arrays, few enough to keep the FIFOs in cache and their memory small (2^20
  // messages, some 60 MB). The span adapts to it, doubling while the cap held a station back
  // and windows carry fewer, halving while they carry more, within [1, max_span] lookaheads
  // (after a long idle stretch the first busy window is bounded by it); results do not
  // depend on it.
  const double window_messages = std::clamp(16.0 * static_cast<double>(stations_.size()), 4096.0, 1048576.0);
  const bool alone = exchange_->alone();
  // Several ranks agree on the least time reached (the factory's time) and the earliest
  // pending event now and then: after the first window, at every window while they find idle
  // time, else after 2, 4, ... up to max_agree_every windows, sooner where the progress
  // between the last two agreements says the end is near. Agreed values and window counts
  // only decide it, so every rank runs the same windows.
  constexpr std::int64_t max_agree_every = 64;
  std::int64_t to_agreement = 0, since_agreement = 0, agree_every = 1;
  bool stopping = false;
  while (time_s_ < t_end_s) {
    const Limits limits = set_limits(t_end_s);
    if (alone) require(limits.least > time_s_, "factory: window does not advance (lookahead below time resolution)");
    run_window();
    const auto messages = static_cast<double>(deliver_local());
    const double front = std::min(limits.least, t_end_s);
    ++since_agreement;
    if (alone) {
      time_s_ = front;
    } else {
      const bool agree = to_agreement == 0;
      const double agreed = exchange(agree, front);
      if (agree) {
        require(agreed > time_s_, "factory: window does not advance (lookahead below time resolution)");
        const double per_window = (agreed - time_s_) / static_cast<double>(since_agreement);
        time_s_ = std::min(agreed, t_end_s);
        const double windows_left = std::ceil((t_end_s - time_s_) / per_window);
        // Again at once while it finds idle time (its floor then skips it) or stopping, else
        // after twice as many windows as last time, or as many as seem left if fewer.
        agree_every = stopping || found_idle_ ? 1 : std::min(2 * agree_every, max_agree_every);
        to_agreement = static_cast<std::int64_t>(std::clamp(windows_left, 1.0, double(agree_every))) - 1;
        since_agreement = 0;
      } else {
        --to_agreement;
      }
    }
    if (limits.capped && messages < 0.5 * window_messages) span_s_ = std::min(2.0 * span_s_, max_span * lookahead_s_);
    else if (messages > 2.0 * window_messages) span_s_ = std::max(0.5 * span_s_, lookahead_s_);
    if (!stopping && stop_requested && stop_requested()) {
      // Stop where the stations ahead are: the others catch up first (several ranks agree
      // on that time, and then at every window).
      stopping = true;
      const double ahead = reached_s_.empty() ? time_s_ : *std::max_element(reached_s_.begin(), reached_s_.end());
      t_end_s = alone ? ahead : comm::allreduce_max(comm_, ahead);
      to_agreement = 0;
    }
  }
  return time_s_;
}

std::vector<std::int64_t> Factory::local_cells() const {
  std::vector<std::int64_t> gids;
  for (const Station& s : stations_)
    if (s.cell) gids.push_back(s.gid);
  return gids;
}

std::int64_t Factory::events_processed() const {
  std::int64_t n = 0;
  for (const Station& s : stations_) n += s.events;
  return n;
}

namespace {

// The bottleneck of a group of stations: the largest busy + down fraction, at the lowest
// gid holding it; combines in any order to the same station.
struct Busiest {
  double load = -1.0;
  std::int64_t gid = -1;

  void add(double station_load, std::int64_t station_gid) {
    if (station_gid < 0) return;  // an empty group
    if (station_load > load || (station_load == load && station_gid < gid)) {
      load = station_load;
      gid = station_gid;
    }
  }
};

using NameUnit = std::array<const char*, 2>;  // a KPI column's name and unit

template <std::size_t N>
std::vector<NameUnit> name_units(const char* const (&names)[N][2]) {
  std::vector<NameUnit> out;
  for (const auto& n : names) out.push_back({n[0], n[1]});
  return out;
}

// KPI columns filled a row at a time, each value straight into its column: a row-major
// table transposed afterwards was read once per column (21 passes over every station's row:
// half of the KPIs' time at 2 x 10^6 stations) and held every value twice.
class KpiColumns {
 public:
  KpiColumns(const std::vector<NameUnit>& names, std::size_t rows) {
    for (const NameUnit& n : names) {
      columns_.push_back(KpiColumn{n[0], n[1], {}});
      columns_.back().values.reserve(rows);
    }
  }
  // values[0, columns) of the next row.
  void add(const double* values) {
    for (std::size_t c = 0; c < columns_.size(); ++c) columns_[c].values.push_back(values[c]);
  }
  void move_to(std::vector<KpiColumn>& out) {
    for (KpiColumn& c : columns_) out.push_back(std::move(c));
    columns_.clear();
  }

 private:
  std::vector<KpiColumn> columns_;
};

// A line's KPI sums over some of its stations; complete once every rank the line spans has
// added its part (comm::SpanPartials). Every field combines exactly and in any order.
struct LinePartial {
  std::int64_t entered = 0, sink = 0, scrapped = 0;
  double ideal_cycle_s = 0.0;  // max over the stations
  double planned_s = 0.0;      // the longest planned production time (on shift) of the stations
  Busiest busiest;
  ExactSum wip_area, lead;
  std::vector<std::int64_t> type_sink;  // per part type (models with part types)
  std::vector<ExactSum> type_lead;

  explicit LinePartial(std::size_t types = 0) : type_sink(types, 0), type_lead(types) {}

  void add(const LinePartial& o) {
    for (std::size_t k = 0; k < type_sink.size(); ++k) {
      type_sink[k] += o.type_sink[k];
      type_lead[k] += o.type_lead[k];
    }
    entered += o.entered;
    sink += o.sink;
    scrapped += o.scrapped;
    ideal_cycle_s = std::max(ideal_cycle_s, o.ideal_cycle_s);
    planned_s = std::max(planned_s, o.planned_s);
    busiest.add(o.busiest.load, o.busiest.gid);
    wip_area += o.wip_area;
    lead += o.lead;
  }

  static std::size_t width(std::size_t types) { return 7 + (2 + types) * ExactSum::word_count + types; }
  std::vector<std::int64_t> pack() const {
    std::vector<ExactSum> sums{wip_area, lead};
    sums.insert(sums.end(), type_lead.begin(), type_lead.end());
    std::vector<std::int64_t> r{entered,      sink, scrapped, bits_of(ideal_cycle_s), bits_of(busiest.load),
                                busiest.gid,  bits_of(planned_s)};
    const std::vector<std::int64_t> words = comm::exact_words(sums);
    r.insert(r.end(), words.begin(), words.end());
    r.insert(r.end(), type_sink.begin(), type_sink.end());
    return r;
  }
  static LinePartial unpack(const std::vector<std::int64_t>& r, std::size_t types) {
    LinePartial p(types);
    p.entered = r[0];
    p.sink = r[1];
    p.scrapped = r[2];
    p.ideal_cycle_s = double_of(r[3]);
    p.planned_s = double_of(r[6]);
    p.busiest = Busiest{double_of(r[4]), r[5]};
    std::vector<ExactSum> sums(2 + types);
    const auto words_end = r.begin() + static_cast<std::ptrdiff_t>(7 + (2 + types) * ExactSum::word_count);
    comm::from_exact_words(std::vector<std::int64_t>(r.begin() + 7, words_end), sums);
    p.wip_area = sums[0];
    p.lead = sums[1];
    std::copy(sums.begin() + 2, sums.end(), p.type_lead.begin());
    std::copy(words_end, r.end(), p.type_sink.begin());
    return p;
  }
};

}  // namespace

std::int64_t Factory::first_owned_line() const {
  if (local_.begin >= station_count_) return line_count();
  const ModelIndex::Place place = index_.place(local_.begin);
  return place.line_begin == local_.begin ? place.line : place.line + 1;
}

KpiReport Factory::report() const {
  const double T = time_s_;
  const auto ratio = [](double a, double b) { return b != 0.0 ? a / b : 0.0; };

  // Per-station columns, computed where the station lives; each station adds itself to its
  // line's partial sums on the way.
  static const char* const station_names[][2] = {
      {"processed", "parts"},   {"good", "parts"},        {"scrapped", "parts"},  {"reworked", "parts"},
      {"changeovers", "1"},     {"joined", "parts"},      {"pieces", "parts"},    {"robot_wait", "s"},
      {"pool_utilisation", "1"}, {"busy_fraction", "1"},
      {"blocked_fraction", "1"}, {"starved_fraction", "1"}, {"down_fraction", "1"}, {"off_shift_fraction", "1"},
      {"utilisation", "1"},
      {"wip", "parts"},         {"ideal_cycle", "s"},     {"availability", "1"},  {"performance", "1"},
      {"quality", "1"},         {"oee", "1"}};
  constexpr int station_columns = sizeof(station_names) / sizeof(station_names[0]);
  KpiColumns station_table(name_units(station_names), stations_.size());
  const std::int64_t first_line = stations_.empty() ? 0 : stations_.front().line;
  // Sink counts and lead times per part type, in a model that names its part types.
  const std::size_t types = index_.config().part_types.empty() ? 0 : static_cast<std::size_t>(type_count_);
  static const char* const group_names[][2] = {{"entered", "parts"},  {"sink_count", "parts"},
                                               {"scrapped", "parts"}, {"throughput", "1/h"},
                                               {"yield", "1"},        {"wip", "parts"},
                                               {"lead_time", "s"},    {"oee", "1"},
                                               {"bottleneck", "index"}};
  constexpr int group_columns = sizeof(group_names) / sizeof(group_names[0]);
  // One row of group KPIs from summed parts: the wip area and lead are exact sums of the
  // stations' contributions.
  const auto group_row = [&](std::int64_t entered, std::int64_t sink, std::int64_t scrapped, const ExactSum& wip_sum,
                             const ExactSum& lead_sum, double oee, std::int64_t bottleneck_value, double* out) {
    const double values[group_columns] = {static_cast<double>(entered),
                                          static_cast<double>(sink),
                                          static_cast<double>(scrapped),
                                          ratio(static_cast<double>(sink), T) * 3600.0,
                                          ratio(static_cast<double>(sink), static_cast<double>(sink + scrapped)),
                                          ratio(wip_sum.to_double(), T),
                                          ratio(lead_sum.to_double(), static_cast<double>(sink)),
                                          oee,
                                          static_cast<double>(bottleneck_value)};
    std::copy(values, values + group_columns, out);
  };

  // The owned lines' rows, and their factories' partial sums.
  const std::int64_t factories = factory_count();
  std::vector<std::int64_t> factory_counts(static_cast<std::size_t>(3 * factories), 0);  // entered, sink, scrapped
  std::vector<ExactSum> factory_sums(static_cast<std::size_t>(3 * factories));          // wip area, lead, oee sum
  std::vector<Busiest> factory_busiest(static_cast<std::size_t>(factories));
  std::vector<std::int64_t> factory_type_sink(static_cast<std::size_t>(factories) * types, 0);
  std::vector<ExactSum> factory_type_lead(static_cast<std::size_t>(factories) * types);
  // Per part type: "sink_count.<type>" and "lead_time.<type>" of lines and factories.
  std::vector<std::string> type_names;
  for (const std::string& type : index_.config().part_types) type_names.push_back("sink_count." + type);
  for (const std::string& type : index_.config().part_types) type_names.push_back("lead_time." + type);
  std::vector<NameUnit> type_name_units;
  for (std::size_t c = 0; c < 2 * types; ++c) type_name_units.push_back({type_names[c].c_str(), c < types ? "parts" : "s"});
  const std::int64_t last_line = stations_.empty() ? first_line - 1 : stations_.back().line;
  const bool sends_head = line_partials_->sends_head();  // the first line began on an earlier rank
  const auto owned_lines = static_cast<std::size_t>(std::max<std::int64_t>(0, last_line - first_line + 1 - (sends_head ? 1 : 0)));
  KpiColumns line_table(name_units(group_names), owned_lines);
  KpiColumns line_type_table(type_name_units, owned_lines);
  std::vector<double> type_row(2 * types);
  std::int64_t factory = 0;
  // An owned, complete line: its row, and its part of its factory's sums.
  const auto emit_line = [&](const LinePartial& l, std::int64_t line) {
    while (index_.factory_first_line(factory + 1) <= line) ++factory;
    const double oee = ratio(static_cast<double>(l.sink) * l.ideal_cycle_s, l.planned_s);
    double row[group_columns];
    group_row(l.entered, l.sink, l.scrapped, l.wip_area, l.lead, oee,
              l.busiest.gid - index_.line_begin(line), row);
    line_table.add(row);
    const auto f = static_cast<std::size_t>(factory);
    factory_counts[3 * f] += l.entered;
    factory_counts[3 * f + 1] += l.sink;
    factory_counts[3 * f + 2] += l.scrapped;
    factory_sums[3 * f] += l.wip_area;
    factory_sums[3 * f + 1] += l.lead;
    factory_sums[3 * f + 2] += oee;
    factory_busiest[f].add(l.busiest.load, l.busiest.gid);
    for (std::size_t k = 0; k < types; ++k) {
      type_row[k] = static_cast<double>(l.type_sink[k]);
      type_row[types + k] = ratio(l.type_lead[k].to_double(), static_cast<double>(l.type_sink[k]));
      factory_type_sink[f * types + k] += l.type_sink[k];
      factory_type_lead[f * types + k] += l.type_lead[k];
    }
    if (types > 0) line_type_table.add(type_row.data());
  };
  // Lines cut by rank boundaries: the ranks after a line's first station send their part
  // to the rank that holds that station, which owns the line. The rank's first line, if it
  // began on an earlier rank, is that part (packed as it closes); its last line may go on
  // to later ranks, whose parts it takes once every station here is summed.
  std::vector<std::int64_t> head;
  const auto close_line = [&](const LinePartial& l, std::int64_t line) {
    if (line == first_line && sends_head)
      head = l.pack();
    else
      emit_line(l, line);
  };
  // One line's partial at a time (a vector of every local line's, 1.2 kB each with their
  // exact sums, took about 600 MB at 10^7 stations in 5 x 10^5 lines).
  LinePartial current(types);
  std::int64_t current_line = first_line;
  for (const Station& s : stations_) {
    // The open intervals are added here only, never accrued at window ends. Several
    // servers: the mean over the servers.
    double open[kpi_states], state_s[kpi_states];
    s.open_counts(open);
    for (int k = 0; k < kpi_states; ++k)
      state_s[k] = (s.state_s[k] + open[k] * (T - s.state_since)) / static_cast<double>(s.servers);
    double fraction[kpi_states];
    for (int k = 0; k < kpi_states; ++k) fraction[k] = ratio(state_s[k], T);
    // OEE over the planned production time: the time on shift.
    const double planned_s = T - state_s[kpi_off];
    const double up_s = planned_s - state_s[kpi_down];
    const double wip_area = s.wip_area + static_cast<double>(s.wip_count) * (T - s.wip_since);
    const double wip = ratio(wip_area, T);
    const double ideal = station_ideal_cycle_s_[static_cast<std::size_t>(s.gid - local_.begin)];
    const double availability = ratio(up_s, planned_s);
    const double performance = ratio(static_cast<double>(s.processed) * ideal, up_s);
    const double quality = ratio(static_cast<double>(s.good), static_cast<double>(s.processed));
    // Pools: the mean wait of a borrowing station's teams (call to arrival), and the share of
    // the robot time of the pools at home here spent away (travelling or at work).
    double robot_wait = 0.0, robots_out_s = 0.0, robot_s = 0.0;
    if (s.routed) {
      const detail::Routing& rt = *s.cold->rt;
      robot_wait = ratio(rt.borrow.wait_s, static_cast<double>(rt.borrow.arrived));
      for (const detail::Pool& p : rt.pools) {
        robots_out_s += p.out_area + static_cast<double>(p.robots - p.free) * (T - p.out_since);
        robot_s += static_cast<double>(p.robots) * T;
      }
    }
    const double row[station_columns] = {static_cast<double>(s.processed),
                                         static_cast<double>(s.good),
                                         static_cast<double>(s.scrapped),
                                         static_cast<double>(s.cold->reworked),
                                         static_cast<double>(s.cold->changeovers),
                                         static_cast<double>(s.routed ? s.cold->rt->joined : 0),
                                         static_cast<double>(s.routed ? s.cold->rt->pieces : 0),
                                         robot_wait,
                                         ratio(robots_out_s, robot_s),
                                         fraction[kpi_busy],
                                         fraction[kpi_blocked],
                                         fraction[kpi_starved],
                                         fraction[kpi_down],
                                         fraction[kpi_off],
                                         fraction[kpi_busy],
                                         wip,
                                         ideal,
                                         availability,
                                         performance,
                                         quality,
                                         availability * performance * quality};
    station_table.add(row);
    if (s.line != current_line) {  // the stations of a line are consecutive: the last one is complete
      close_line(current, current_line);
      current = LinePartial(types);
      current_line = s.line;
    }
    LinePartial& l = current;
    l.wip_area += s.line_exit_s;
    l.wip_area += s.in_line_s(T);
    l.lead += s.lead_s;
    l.entered += s.entered;
    l.sink += s.sink_count;
    l.scrapped += s.scrapped;
    l.ideal_cycle_s = std::max(l.ideal_cycle_s, ideal);
    l.planned_s = std::max(l.planned_s, planned_s);
    l.busiest.add(fraction[kpi_busy] + fraction[kpi_down], s.gid);
    for (std::size_t k = 0; k < s.cold->type_sink.size(); ++k) {
      l.type_sink[k] += s.cold->type_sink[k];
      l.type_lead[k] += s.cold->type_lead_s[k];
    }
  }
  // The last line: this rank's part of a line begun on an earlier rank (when it is also the
  // first), or owned here and completed by the parts of the ranks it goes on to.
  const bool last_is_head = !stations_.empty() && current_line == first_line && sends_head;
  if (last_is_head) head = current.pack();
  for (const std::vector<std::int64_t>& tail : line_partials_->combine(head, LinePartial::width(types)))
    current.add(LinePartial::unpack(tail, types));
  if (!stations_.empty() && !last_is_head) emit_line(current, current_line);
  // Factories: O(factories) collectives. The bottleneck is the largest load over all
  // ranks, then the lowest gid holding it.
  comm::allreduce_sum(comm_, factory_counts);
  comm::allreduce_exact(comm_, factory_sums);
  if (types > 0) {
    comm::allreduce_sum(comm_, factory_type_sink);
    comm::allreduce_exact(comm_, factory_type_lead);
  }
  std::vector<double> best_load(factory_busiest.size());
  for (std::size_t f = 0; f < best_load.size(); ++f) best_load[f] = factory_busiest[f].load;
  comm::allreduce_max(comm_, best_load);
  std::vector<std::int64_t> factory_gid(factory_busiest.size(), std::numeric_limits<std::int64_t>::max());
  for (std::size_t f = 0; f < factory_gid.size(); ++f)
    if (factory_busiest[f].gid >= 0 && factory_busiest[f].load == best_load[f]) factory_gid[f] = factory_busiest[f].gid;
  comm::allreduce_min(comm_, factory_gid);

  // This rank's blocks: its stations, and the lines whose first station it holds.
  KpiReport report;
  report.time_s = T;
  report.stations = {local_.begin, station_count_};
  report.lines = {first_owned_line(), line_count()};
  station_table.move_to(report.station);
  line_table.move_to(report.line);
  KpiColumns factory_table(name_units(group_names), static_cast<std::size_t>(factories));
  KpiColumns factory_type_table(type_name_units, static_cast<std::size_t>(factories));
  for (std::int64_t f = 0; f < factories; ++f) {
    const auto u = static_cast<std::size_t>(f);
    const std::int64_t lines_in_f = index_.factory_first_line(f + 1) - index_.factory_first_line(f);
    const std::int64_t gid = factory_gid[u] == std::numeric_limits<std::int64_t>::max() ? -1 : factory_gid[u];
    double row[group_columns];
    group_row(factory_counts[3 * u], factory_counts[3 * u + 1], factory_counts[3 * u + 2], factory_sums[3 * u],
              factory_sums[3 * u + 1], lines_in_f > 0 ? factory_sums[3 * u + 2].to_double() / static_cast<double>(lines_in_f) : 0.0,
              gid, row);
    factory_table.add(row);
    for (std::size_t k = 0; k < types; ++k) {
      type_row[k] = static_cast<double>(factory_type_sink[u * types + k]);
      type_row[types + k] =
          ratio(factory_type_lead[u * types + k].to_double(), static_cast<double>(factory_type_sink[u * types + k]));
    }
    if (types > 0) factory_type_table.add(type_row.data());
  }
  factory_table.move_to(report.factory);
  report.factory.back().unit = "gid";
  if (types > 0) {
    line_type_table.move_to(report.line);
    factory_type_table.move_to(report.factory);
  }
  return report;
}

// Columns per part type only in a model that names its part types.
std::int64_t Factory::state_types() const { return index_.config().part_types.empty() ? 0 : type_count_; }

FactoryState Factory::save() const {
  FactoryState st;
  save(0, static_cast<std::int64_t>(stations_.size()), st);
  return st;
}

void Factory::save(std::int64_t first, std::int64_t count, FactoryState& st) const {
  require(first >= 0 && count >= 0 && first + count <= static_cast<std::int64_t>(stations_.size()),
          "factory: save of stations [" + std::to_string(first) + ", " + std::to_string(first + count) +
              ") outside the rank's " + std::to_string(stations_.size()));
  clear_state(st);
  const Station* const begin = stations_.data() + first;
  const Station* const end = begin + count;
  const std::int64_t types = state_types();
  st.types = types;
  // The per-station arrays' sizes are known: each allocated once (a piece of a checkpoint
  // reuses the previous piece's memory; the FIFO entries grow as they come).
  const auto n = static_cast<std::size_t>(count);
  st.station_int.reserve(n * int_field_count);
  st.station_real.reserve(n * real_field_count);
  st.station_rework.reserve(n * rework_int_count);
  st.shift_int.reserve(2 * n);
  st.station_type.reserve(2 * n);
  for (auto* per_station : {&st.part_count, &st.credit_count, &st.server_count, &st.route_int_count,
                            &st.route_real_count, &st.genealogy_width, &st.genealogy_count})
    per_station->reserve(n);
  st.off_shift_s.reserve(n);
  for (const Station* p = begin; p != end; ++p) {
    const Station& s = *p;
    const detail::Server* v = s.server_data();
    const detail::Server& v0 = v[0];
    const std::int64_t ints[int_field_count] = {
        v0.phase,         s.down ? 1 : 0,    s.credits,     s.service_count,      s.cold->failure_count,
        s.arrival_count,  s.source_waiting,  v0.part_id,    v0.good ? 1 : 0,      s.kpi_state,
        s.processed,      s.good,            s.scrapped,    s.sink_count,         s.entered,
        s.wip_count,      s.parts_arrived};
    st.station_int.insert(st.station_int.end(), ints, ints + int_field_count);
    st.server_count.push_back(s.servers - 1);
    st.shift_int.push_back(s.off_shift ? 1 : 0);
    st.shift_int.push_back(s.cold->shift_n);
    st.off_shift_s.push_back(s.state_s[kpi_off]);
    const std::int64_t rework_ints[rework_int_count] = {v0.rework ? 1 : 0, v0.reworks, s.cold->reworked};
    st.station_rework.insert(st.station_rework.end(), rework_ints, rework_ints + rework_int_count);
    st.station_type.push_back(v0.last_type);
    st.station_type.push_back(s.cold->changeovers);
    if (types > 0) {  // every station has the columns; only the lines' last stations count
      if (s.cold->type_sink.empty()) {
        st.type_sink.insert(st.type_sink.end(), static_cast<std::size_t>(types), 0);
        st.type_lead_s.insert(st.type_lead_s.end(), static_cast<std::size_t>(types), 0.0);
      } else {
        st.type_sink.insert(st.type_sink.end(), s.cold->type_sink.begin(), s.cold->type_sink.end());
        st.type_lead_s.insert(st.type_lead_s.end(), s.cold->type_lead_s.begin(), s.cold->type_lead_s.end());
      }
    }
    for (std::int32_t j = 1; j < s.servers; ++j) {
      const std::int64_t server_ints[server_int_count] = {v[j].phase, v[j].part_id, v[j].good ? 1 : 0,
                                                          v[j].rework ? 1 : 0, v[j].reworks, v[j].last_type};
      const double server_reals[server_real_count] = {v[j].service_end, v[j].remaining, v[j].entry_time};
      st.server_int.insert(st.server_int.end(), server_ints, server_ints + server_int_count);
      st.server_real.insert(st.server_real.end(), server_reals, server_reals + server_real_count);
    }
    const double reals[real_field_count] = {v0.service_end, v0.remaining, v0.entry_time, s.fail_at,
                                            s.ttf_left,    s.repair_end,  s.next_arrival,       s.state_s[kpi_busy],
                                            s.state_s[kpi_blocked],       s.state_s[kpi_starved],
                                            s.state_s[kpi_down],          s.state_since,        s.wip_area,
                                            s.wip_since,   s.line_exit_s, s.lead_s};
    st.station_real.insert(st.station_real.end(), reals, reals + real_field_count);
    st.part_count.push_back(static_cast<std::int64_t>(s.parts_in.size() - s.part_head));
    for (std::size_t i = s.part_head; i < s.parts_in.size(); ++i) {
      st.part_time_s.push_back(s.parts_in[i].time_s);
      st.part_id.push_back(s.parts_in[i].id);
      st.part_entry_time_s.push_back(s.parts_in[i].entry_time_s);
      st.part_reworks.push_back(s.routed ? 0 : s.reworks_of(s.parts_in[i].id));
    }
    st.credit_count.push_back(static_cast<std::int64_t>(s.credits_in.size() - s.credit_head));
    st.credit_time_s.insert(st.credit_time_s.end(),
                            s.credits_in.begin() + static_cast<std::ptrdiff_t>(s.credit_head), s.credits_in.end());
    const std::size_t ints_before = st.route_int.size(), reals_before = st.route_real.size();
    detail::save_routes(s, st.route_int, st.route_real);
    st.route_int_count.push_back(static_cast<std::int64_t>(st.route_int.size() - ints_before));
    st.route_real_count.push_back(static_cast<std::int64_t>(st.route_real.size() - reals_before));
    st.genealogy_width.push_back(s.routed ? s.cold->rt->genealogy_width : 0);
    st.genealogy_count.push_back(s.routed ? static_cast<std::int64_t>(s.cold->rt->genealogy.size()) : 0);
    if (s.routed) st.genealogy.insert(st.genealogy.end(), s.cold->rt->genealogy.begin(), s.cold->rt->genealogy.end());
  }
}

namespace {

// Why `state` cannot be the state of `stations` at `time_s`, or "". A checkpoint is
// untrusted input: everything that indexes or sizes something (phase, KPI state, FIFO
// lengths, parts in the buffer, credits) is checked against the model before anything is
// restored, and so are the ranges the model keeps (counters >= 0, no NaN times).
std::string restore_problem(double time_s, const FactoryState& state, const std::vector<detail::Station>& stations,
                            std::int64_t types, std::int64_t all_clients, detail::PoolTally& tally) {
  if (state.station_count() != static_cast<std::int64_t>(stations.size()))
    return "the state holds " + std::to_string(state.station_count()) + " stations, the rank " +
           std::to_string(stations.size());
  try {
    check_state(state);
  } catch (const Error& e) {
    return e.what();
  }
  if (state.types != types)
    return "the state counts " + std::to_string(state.types) + " part types, the model " + std::to_string(types);
  // A last part type is -1 (none yet) or a type of the model.
  const std::int64_t last_type_max = types == 0 ? -1 : types - 1;
  for (std::size_t i = 0; i < stations.size(); ++i) {
    const auto bad = [&](const std::string& what) { return "station " + std::to_string(stations[i].gid) + ": " + what; };
    const std::int64_t last_type = state.station_type[2 * i], changeovers = state.station_type[2 * i + 1];
    if (last_type < -1 || last_type > last_type_max || changeovers < 0)
      return bad("a part type or changeover count is out of range");
    for (std::int64_t k = 0; k < types; ++k) {
      const std::size_t at = i * static_cast<std::size_t>(types) + static_cast<std::size_t>(k);
      if (state.type_sink[at] < 0 || !(state.type_lead_s[at] >= 0.0))
        return bad("a count or time per part type is out of range");
    }
  }
  if (!(time_s >= 0.0) || !std::isfinite(time_s)) return "the time " + std::to_string(time_s) + " is not a time";
  for (std::size_t i = 0; i < stations.size(); ++i) {
    const detail::Station& s = stations[i];
    const std::int64_t* v = state.station_int.data() + i * int_field_count;
    const double* r = state.station_real.data() + i * real_field_count;
    const std::int64_t parts = state.part_count[i], credits_on_way = state.credit_count[i];
    const auto bad = [&](const std::string& what) { return "station " + std::to_string(s.gid) + ": " + what; };
    const auto flag = [](std::int64_t x) { return x == 0 || x == 1; };
    if (v[si_phase] < phase_idle || v[si_phase] > phase_blocked) return bad("phase " + std::to_string(v[si_phase]));
    if (v[si_kpi_state] < kpi_busy || v[si_kpi_state] > kpi_off)
      return bad("KPI state " + std::to_string(v[si_kpi_state]));
    if (!flag(v[si_down]) || !flag(v[si_source_waiting]) || !flag(v[si_current_good])) return bad("a flag is not 0 or 1");
    // Counters are incremented: far from the int64 limit (2^53 events take years of any run).
    constexpr std::int64_t most_counted = std::int64_t{1} << 53;
    for (int k : {si_service_count, si_failure_count, si_arrival_count, si_processed, si_good, si_scrapped,
                  si_sink_count, si_entered, si_wip_count})
      if (v[k] < 0 || v[k] > most_counted) return bad("a counter is out of range");
    if (parts < 0 || credits_on_way < 0) return bad("a FIFO length is negative");
    if (v[si_parts_arrived] < 0 || v[si_parts_arrived] > parts)
      return bad(std::to_string(v[si_parts_arrived]) + " parts in the buffer of a FIFO of " + std::to_string(parts));
    if (s.own_capacity > 0 && !s.first && parts > s.own_capacity)
      return bad(std::to_string(parts) + " parts on the way into a buffer of " + std::to_string(s.own_capacity));
    if (s.downstream_limited &&
        (v[si_credits] < 0 || v[si_credits] > s.cold->downstream_capacity || credits_on_way > s.cold->downstream_capacity))
      return bad(std::to_string(v[si_credits]) + " credits and " + std::to_string(credits_on_way) +
                 " on the way for a buffer of " + std::to_string(s.cold->downstream_capacity));
    for (int k = 0; k < real_field_count; ++k)
      if (std::isnan(r[k])) return bad("a time or KPI sum is NaN");
    // At a window boundary every pending event lies at or after the time, and every open
    // interval started at or before it (a later time would make the first window process
    // everything in between at once).
    for (int k : {sr_service_end, sr_fail_at, sr_repair_end, sr_next_arrival})
      if (r[k] < time_s) return bad("an event is pending before the time " + std::to_string(time_s));
    if (r[sr_state_since] > time_s || r[sr_wip_since] > time_s) return bad("an interval starts after the time");
    const std::int64_t off = state.shift_int[2 * i], next_change = state.shift_int[2 * i + 1];
    if (s.cold->calendar == nullptr) {
      if (off != 0 || next_change != 0 || state.off_shift_s[i] != 0.0 || v[si_kpi_state] == kpi_off)
        return bad("shift state without a shift calendar");
    } else {
      // The next change lies after the time and the one before it at or before it (whose
      // kind says whether the station is off shift). Changes are numbered from -1.
      constexpr std::int64_t most_changes = std::int64_t{1} << 53;
      if (next_change < s.cold->calendar->first_change() || next_change > most_changes)
        return bad("the shift change " + std::to_string(next_change) + " is out of range");
      if (!(s.cold->calendar->change_time(next_change) >= time_s) ||
          (next_change > s.cold->calendar->first_change() && !(s.cold->calendar->change_time(next_change - 1) <= time_s)))
        return bad("the next shift change is not the first after the time " + std::to_string(time_s));
      if (off != (next_change % 2 == 0 ? 1 : 0)) return bad("off shift does not match the calendar");
      if (!(state.off_shift_s[i] >= 0.0)) return bad("the off-shift time is negative or NaN");
    }
    const std::int64_t* rework = state.station_rework.data() + i * rework_int_count;
    if (!flag(rework[ri_rework]) || rework[ri_reworks] < 0 || rework[ri_reworks] > s.cold->max_rework ||
        rework[ri_reworked] < 0 || rework[ri_reworked] > most_counted)
      return bad("a rework flag or count is out of range");
    if (state.server_count[i] != s.servers - 1)
      return bad(std::to_string(state.server_count[i] + 1) + " servers in the state, " + std::to_string(s.servers) +
                 " in the deck");
  }
  std::size_t server = 0;
  for (std::size_t i = 0; i < stations.size(); ++i) {
    for (std::int64_t j = 0; j < state.server_count[i]; ++j, ++server) {
      const std::int64_t* v = state.server_int.data() + server * server_int_count;
      const double* r = state.server_real.data() + server * server_real_count;
      const auto bad = [&](const std::string& what) {
        return "station " + std::to_string(stations[i].gid) + " server " + std::to_string(j + 1) + ": " + what;
      };
      if (v[vi_phase] < phase_idle || v[vi_phase] > phase_blocked) return bad("phase " + std::to_string(v[vi_phase]));
      if (v[vi_good] != 0 && v[vi_good] != 1) return bad("a flag is not 0 or 1");
      if ((v[vi_rework] != 0 && v[vi_rework] != 1) || v[vi_reworks] < 0 || v[vi_reworks] > stations[i].cold->max_rework)
        return bad("a rework flag or count is out of range");
      if (v[vi_last_type] < -1 || v[vi_last_type] > last_type_max) return bad("a part type is out of range");
      for (int k = 0; k < server_real_count; ++k)
        if (std::isnan(r[k])) return bad("a time is NaN");
      if (r[vr_service_end] < time_s) return bad("a service ends before the time " + std::to_string(time_s));
    }
  }
  std::size_t route_int = 0, route_real = 0, genealogy = 0, server_row = 0;
  for (std::size_t i = 0; i < stations.size(); ++i) {
    const detail::Station& s = stations[i];
    const std::size_t first_server_row = server_row;
    server_row += static_cast<std::size_t>(state.server_count[i]);
    const auto n_ints = static_cast<std::size_t>(state.route_int_count[i]);
    const auto n_reals = static_cast<std::size_t>(state.route_real_count[i]);
    const std::string problem = detail::load_routes(s, state.route_int.data() + route_int, n_ints,
                                                    state.route_real.data() + route_real, n_reals, time_s, nullptr,
                                                    all_clients, &tally);
    if (!problem.empty()) return "station " + std::to_string(s.gid) + ": " + problem;
    if (s.routed && s.cold->rt->borrows) {  // each service at work holds a team
      std::int64_t busy = state.station_int[i * int_field_count + si_phase] == phase_busy ? 1 : 0;
      for (std::int64_t j = 0; j < state.server_count[i]; ++j)
        busy += state.server_int[(first_server_row + static_cast<std::size_t>(j)) * server_int_count + vi_phase] == phase_busy ? 1 : 0;
      tally.emplace_back(all_clients + s.cold->rt->borrow.pool, s.cold->rt->borrow.need * busy);
    }
    if (s.routed && (state.part_count[i] != 0 || state.credit_count[i] != 0))
      return "station " + std::to_string(s.gid) + ": a routed station with parts or credits outside its ports";
    route_int += n_ints;
    route_real += n_reals;
    const std::int64_t entries = state.genealogy_count[i];
    const std::int64_t width = s.routed ? s.cold->rt->genealogy_width : 0;
    if (state.genealogy_width[i] != width || entries < 0 || (width == 0 ? entries != 0 : entries % width != 0))
      return "station " + std::to_string(s.gid) + ": the genealogy does not fit the station";
    for (std::int64_t k = 0; k < entries; k += std::max<std::int64_t>(width, 1)) {
      const double t = double_of(state.genealogy[genealogy + static_cast<std::size_t>(k)]);
      if (!(t >= 0.0 && t <= time_s)) return "station " + std::to_string(s.gid) + ": a genealogy time is out of range";
    }
    genealogy += static_cast<std::size_t>(entries);
  }
  std::size_t part = 0, credit = 0;
  for (std::size_t i = 0; i < stations.size(); ++i) {
    const std::int64_t arrived = state.station_int[i * int_field_count + si_parts_arrived];
    for (std::int64_t k = 0; k < state.part_count[i]; ++k, ++part) {
      const double t = state.part_time_s[part];
      if (std::isnan(t) || (k >= arrived && t < time_s))
        return "station " + std::to_string(stations[i].gid) + ": a part on its way arrives before the time";
      if (state.part_reworks[part] < 0 || state.part_reworks[part] > stations[i].cold->max_rework)
        return "station " + std::to_string(stations[i].gid) + ": a part's rework count is out of range";
    }
    for (std::int64_t k = 0; k < state.credit_count[i]; ++k, ++credit) {
      if (!(state.credit_time_s[credit] >= time_s))
        return "station " + std::to_string(stations[i].gid) + ": a credit on its way arrives before the time";
    }
  }
  return std::string();
}

}  // namespace

void Factory::restore(double time_s, const FactoryState& state) {
  // Agreed first, so that a bad state on one rank fails every rank alike, and before
  // anything changes.
  const std::int64_t types = index_.config().part_types.empty() ? 0 : type_count_;
  detail::PoolTally tally;
  const std::int64_t all_clients = pool_first_client_.back();
  const std::string problem =
      comm::first_problem(comm_, restore_problem(time_s, state, stations_, types, all_clients, tally));
  if (!problem.empty()) throw Error("factory state out of range: " + problem, ExitCode::bad_checkpoint);
  // Each record is sound; together they must keep every pool's robots and calls.
  if (index_.has_pools()) {
    std::vector<std::int64_t> sums(static_cast<std::size_t>(all_clients + index_.pool_count()), 0);
    for (const auto& [at, amount] : tally) sums[static_cast<std::size_t>(at)] += amount;
    comm::allreduce_sum(comm_, sums);  // the same sums, and so the same verdict, on every rank
    for (std::int64_t p = 0; p < index_.pool_count(); ++p) {
      const PoolConfig& pool = index_.pool_config(p);
      const std::int64_t robots = sums[static_cast<std::size_t>(all_clients + p)];
      if (robots != pool.robots)
        throw Error("factory state out of range: pool '" + pool.name + "' has " + std::to_string(robots) +
                        " robots in the state, the model " + std::to_string(pool.robots),
                    ExitCode::bad_checkpoint);
      for (std::int64_t c = pool_first_client_[static_cast<std::size_t>(p)]; c < pool_first_client_[static_cast<std::size_t>(p) + 1]; ++c)
        if (sums[static_cast<std::size_t>(c)] != 0)
          throw Error("factory state out of range: pool '" + pool.name + "': the calls of client " +
                          std::to_string(c - pool_first_client_[static_cast<std::size_t>(p)]) +
                          " at its home and at the station do not match",
                      ExitCode::bad_checkpoint);
    }
  }
  time_s_ = time_s;
  std::size_t part = 0, credit = 0, server = 0, route_int = 0, route_real = 0, genealogy = 0;
  for (std::size_t i = 0; i < stations_.size(); ++i) {
    Station& s = stations_[i];
    const std::int64_t* v = state.station_int.data() + i * int_field_count;
    detail::Server& v0 = s.server_data()[0];
    v0.phase = static_cast<std::int8_t>(v[si_phase]);
    s.down = v[si_down] != 0;
    s.off_shift = state.shift_int[2 * i] != 0;
    s.cold->shift_n = state.shift_int[2 * i + 1];
    s.shift_change = s.cold->calendar != nullptr ? s.cold->calendar->change_time(s.cold->shift_n) : inf;
    s.state_s[kpi_off] = state.off_shift_s[i];
    s.credits = v[si_credits];
    s.service_count = v[si_service_count];
    s.next_unit = std::numeric_limits<double>::quiet_NaN();  // drawn again at the next start
    s.cold->failure_count = v[si_failure_count];
    s.arrival_count = v[si_arrival_count];
    s.source_waiting = v[si_source_waiting] != 0;
    v0.part_id = v[si_current_part_id];
    v0.good = v[si_current_good] != 0;
    const std::int64_t* rework = state.station_rework.data() + i * rework_int_count;
    v0.rework = rework[ri_rework] != 0;
    v0.reworks = static_cast<std::int16_t>(rework[ri_reworks]);
    s.cold->reworked = rework[ri_reworked];
    v0.last_type = static_cast<std::int16_t>(state.station_type[2 * i]);
    s.cold->changeovers = state.station_type[2 * i + 1];
    if (!s.cold->type_sink.empty()) {
      const auto first = state.type_sink.begin() + static_cast<std::ptrdiff_t>(i * static_cast<std::size_t>(types));
      std::copy(first, first + types, s.cold->type_sink.begin());
      const auto lead = state.type_lead_s.begin() + static_cast<std::ptrdiff_t>(i * static_cast<std::size_t>(types));
      std::copy(lead, lead + types, s.cold->type_lead_s.begin());
    }
    s.kpi_state = v[si_kpi_state];
    s.processed = v[si_processed];
    s.good = v[si_good];
    s.scrapped = v[si_scrapped];
    s.sink_count = v[si_sink_count];
    s.entered = v[si_entered];
    s.wip_count = v[si_wip_count];
    s.parts_arrived = v[si_parts_arrived];
    const double* r = state.station_real.data() + i * real_field_count;
    v0.service_end = r[sr_service_end];
    v0.remaining = r[sr_remaining];
    v0.entry_time = r[sr_current_entry_time];
    s.fail_at = r[sr_fail_at];
    s.ttf_left = r[sr_ttf_left];
    s.repair_end = r[sr_repair_end];
    s.next_arrival = r[sr_next_arrival];
    for (int k = 0; k < 4; ++k) s.state_s[k] = r[sr_busy_s + k];
    s.state_since = r[sr_state_since];
    s.wip_area = r[sr_wip_area];
    s.wip_since = r[sr_wip_since];
    s.line_exit_s = r[sr_line_exit_s];
    s.lead_s = r[sr_lead_s];
    s.parts_in.clear();
    s.part_head = 0;
    s.cold->rework_counts.clear();
    for (std::int64_t n = 0; n < state.part_count[i]; ++n, ++part) {
      s.parts_in.push_back(detail::PartSlot{state.part_time_s[part], state.part_id[part], state.part_entry_time_s[part]});
      if (state.part_reworks[part] > 0) s.cold->rework_counts.emplace_back(state.part_id[part], state.part_reworks[part]);
    }
    s.credits_in.assign(state.credit_time_s.begin() + static_cast<std::ptrdiff_t>(credit),
                        state.credit_time_s.begin() + static_cast<std::ptrdiff_t>(credit + state.credit_count[i]));
    credit += static_cast<std::size_t>(state.credit_count[i]);
    s.credit_head = 0;
    detail::Server* servers = s.server_data();
    for (std::int32_t j = 1; j < s.servers; ++j, ++server) {
      const std::int64_t* vi = state.server_int.data() + server * server_int_count;
      const double* vr = state.server_real.data() + server * server_real_count;
      servers[j].phase = static_cast<std::int8_t>(vi[vi_phase]);
      servers[j].part_id = vi[vi_part_id];
      servers[j].good = vi[vi_good] != 0;
      servers[j].rework = vi[vi_rework] != 0;
      servers[j].reworks = static_cast<std::int16_t>(vi[vi_reworks]);
      servers[j].last_type = static_cast<std::int16_t>(vi[vi_last_type]);
      servers[j].service_end = vr[vr_service_end];
      servers[j].remaining = vr[vr_remaining];
      servers[j].entry_time = vr[vr_entry_time];
    }
    s.busy = s.blocked = 0;
    for (std::int32_t j = 0; j < s.servers; ++j) {
      s.busy += servers[j].phase == phase_busy ? 1 : 0;
      s.blocked += servers[j].phase == phase_blocked ? 1 : 0;
    }
    s.refresh_service_end();
    s.open_counts(s.cold->open);  // the state at a window boundary is that of the open interval
    const auto n_ints = static_cast<std::size_t>(state.route_int_count[i]);
    const auto n_reals = static_cast<std::size_t>(state.route_real_count[i]);
    detail::load_routes(s, state.route_int.data() + route_int, n_ints, state.route_real.data() + route_real, n_reals,
                        time_s, &s);
    route_int += n_ints;
    route_real += n_reals;
    if (s.routed)
      s.cold->rt->genealogy.assign(state.genealogy.begin() + static_cast<std::ptrdiff_t>(genealogy),
                       state.genealogy.begin() + static_cast<std::ptrdiff_t>(genealogy + state.genealogy_count[i]));
    genealogy += static_cast<std::size_t>(state.genealogy_count[i]);
    s.outbox.clear();
    s.events = 0;
  }
  refresh_next_events();
}

}  // namespace kollektiv::factory
