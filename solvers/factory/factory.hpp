// Factory: a deterministic, distributed discrete-event simulation of factory flow lines and
// the plants they make when routes join them.
//
// MODEL (this comment is the specification)
//
// A factory has lines; a line is source -> station_0 -> conveyor -> station_1 -> ... ->
// station_{n-1} -> sink. Stations get global ids (gid) in the order factory, line, station;
// lines get global indices in the order factory, line. Each station is a logical process
// (LP) owned by one rank; ranks own contiguous gid ranges (comm::Decomposition over all
// stations), so a line may span ranks.
//
// Source (part of station_0's LP). Inter-arrival times are fixed (interval_s) or
// exponential with mean interval_s, drawn with (seed, Stream::source_arrival, gid of
// station_0, arrival count). Arrival k (k = 0, 1, ...) happens one inter-arrival after
// part k-1 entered the line (the first at time 0 + inter-arrival 0). The part id is
// (global line index << 40) | k. If station_0's buffer is full the part waits at the source
// (source blocked) and enters when a place frees; only then does the next inter-arrival
// start. A part "enters the line" when it enters station_0's buffer.
//
// Buffers (kanban). The buffer before station i has capacity C_i = buffer_capacity
// (0 = unlimited), counting parts on the conveyor into it plus parts waiting in it (for
// station_0: waiting only). Station i-1 holds credits = the free places of buffer i it
// knows of, initially C_i. When station i takes a part from its buffer into service it
// sends a credit that arrives at station i-1 at t + T_{i-1} (T_j = conveyor_time_s of
// station j; the card rides back on the conveyor). No credits flow into an unlimited buffer.
//
// Stations. A station has c >= 1 identical servers (machines) sharing its buffer; an idle
// server takes the oldest part of the buffer when the station is up, the lowest-numbered
// idle server first. The ProcessModel gives the service duration and good/scrap (drawn with
// the station's service count). At service end: scrap leaves the line there (no credit,
// nothing downstream); a good part at the last station goes to the sink (exit time
// recorded, never blocked); otherwise, if credits > 0 (or buffer i+1 is unlimited) the part
// is sent (credits - 1) and arrives at station i+1 at t + T_i; else its server is BLOCKED
// holding it, and the blocked servers send at the credits, the lowest-numbered first.
// Service ends at equal times are processed in server order. Inspection (plain stations with
// rework_probability): a part the ProcessModel marks for rework, with attempts left
// (max_rework), goes back to the end of the buffer at its service end instead; it keeps
// its kanban place, so its service start sent no credit upstream. Failing once more, it is
// scrapped.
//
// Product mix (FactoryModelConfig::part_types). Part k of line l is of the type drawn with
// (seed, Stream::part_type, l, k) over the line's mix: a pure function of its id, computed
// where it is needed. A station draws the part's process time from its type's
// distribution, and a machine whose previous part was of another type first spends the
// changeover time (part of the service). The last station counts sink exits and lead
// times per type. Every message between stations thus has a delay >= T >= L, the
// lookahead L = min conveyor time over all conveyors (stations that are not last in their
// line), routes, calls to pools and robots' travels; L = +inf if there are none.
//
// Routing (StationConfig::next, assembly, disassembly, rework_to; ModelIndex::Edge). A line
// is a chain unless its stations name routes: then the plant is a graph whose routes join any
// two stations, also of other lines and factories. A station's inputs are numbered: 0 is its
// line's source (station_0) or previous station (if that one sends along the chain), then the
// routes into it by (sender gid, sender port); its outputs: its `next` routes (or the chain's
// one), then the rework route. Each input has its own FIFO and its own kanban of the
// receiver's buffer_capacity places (credits go back on that route, after its delay), so
// every FIFO still has one sender. A station with routes keeps parts and credits in these
// ports. Its idle servers take the buffered part that arrived first over its inputs (ties:
// the lower input); an assembly station instead waits for a part in every connected input and
// takes one of each: the first is the product (its id and entry time go on), the others are
// components that leave the plant there (joined), and a genealogy record [time, product,
// components] is kept. At a service end a good part's route is decided (probability: a draw
// with (seed, Stream::route, part id, gid) against the shares; type: the route listing its
// type; round_robin: route_count mod routes; the sink leaves at once); with shortest_queue,
// and for a disassembly, when the part can leave: the free route with the fewest parts known
// in its buffer (capacity - credits; ties: the lowest), or, for a disassembly, every route at
// once (piece k >= 1: the part's id | k << 56, entering the plant at that time; genealogy
// [time, part, pieces]). Blocked servers leave as their routes free, the lowest server first.
// Rework at another station: a part failing inspection with attempts left is sent on the
// rework route (unlimited: no credits) and its count stays with this station
// (rework_counts), which it finds when the part comes back. A part counts for the line where
// it leaves (sink, scrap or joined). Every decision uses the station's own state and the
// part's id, and every route has a delay >= L, so the results stay those of the sequential
// simulation at any rank count.
//
// Pools of robots (PoolConfig, StationConfig::robots_from). A pool is kept by its home station
// (Routing::pools): robots free at home, the calls waiting for robots (oldest first), and per
// client (a borrowing station, numbered in gid order) a FIFO of its calls and one of its
// robots coming home. A borrowing station (Routing::borrow) needs a team (need = 1, or a
// cell's robots) at each service start: after every event, when it is not halted, it calls a
// team for each service it could start but for robots (min(idle servers, parts in the buffer;
// an assembly: complete sets)) beyond its teams here and called; a call reaches the home at
// t + call_time_s; the home, halted or not, sends free robots to the waiting calls in order
// (a call waits until `need` are free, and the calls behind it wait too); a team arrives at
// t + travel_time_s, starts the next service (robots arriving while the station is halted
// wait there), and at that service's end travels home (arriving travel_time_s later, free
// again). Calls and teams are messages with delays >= L (the lookahead counts call and travel
// times), so the results stay those of the sequential simulation at any rank count.
//
// Robot cells. A cell station's service (duration and good/scrap) comes from a CellProcess
// (solvers/cells): at a service start the station pauses, still before taking the part;
// after the window pass every paused station of the rank gets its outcome in one batch, and
// the stations go on from where they paused. An outcome is a pure function of the request
// (station, service count, part, start time), so pausing changes nothing but when the work
// is done: the result is still that of the sequential simulation.
//
// Breakdowns (if enabled). Time to failure k ~ Exp(mtbf_s) drawn with (seed,
// Stream::failure, gid, k), repair k ~ Exp(mttr_s) with (seed, Stream::repair, gid, k),
// k = failures so far. The failure clock starts at 0 and restarts after each repair; it runs
// while the station is up, or only while it is processing if only_when_busy. A failure
// during service suspends it (preempt-resume: the remaining time continues after the
// repair). A failure while idle or blocked makes the station down; after the repair it goes
// back to what it was doing. A failure stops all the station's servers. A down station
// starts, finishes and sends nothing; parts and
// credits still arrive, and the source still fills its buffer.
//
// Shift calendars (ShiftCalendar, the station's own or its factory's). Off shift a station
// is halted like a down one: it starts and sends nothing, and running services pause until
// it runs again (neither down nor off shift). The failure clock runs in calendar time, or,
// if only_when_busy, only while a service runs (never off shift). Shift changes are events
// of the station at ShiftCalendar::change_time.
//
// Event order. Events of one station with equal times are processed in this priority:
//   1 credit arrival, 2 team arrival, 3 robots home, 4 call, 5 part arrival (into the
//   buffer), 6 repair end, 7 service end, 8 shift change, 9 failure, 10 source arrival
//   (credits and parts of several ports: the lowest port first; pool events: the lowest
//   slot, then the lowest client first).
// After every event the station does, at the same time and in this order until nothing
// changes: send a held part if it has a credit; start a service from the buffer; let a
// waiting source part into the buffer if there is room. Incoming FIFOs: parts from the one
// upstream station and credits from the one downstream station, each in non-decreasing
// time order (in send order).
//
// Time stepping: conservative windows with a limit per station (Chandy-Misra-Bryant bounds,
// computed for a whole rank at once). Station j has processed all its events before T_j,
// and, until an input arrives, sends nothing before E_j (its pending repair end, service end,
// credit or part, whichever its state waits for: a station sends only when it makes
// progress). Its next send is thus at x_j >= max(T_j, min(E_j, A_j)), with A_j the earliest
// arrival of anything sent to it: A_i = min over the stations j that send to i of
// x_j + delay(j -> i). A window computes every local A_i from the bounds the last window
// left (a Jacobi step: the line's neighbours as a stencil over dense arrays, other senders
// in a short list; bounds only grow, an old bound stays true), runs every station i
// independently to L_i = min(A_i, cap) (its events with time < L_i; messages go to its
// outbox), then delivers: local messages directly, remote ones through comm::PartExchange
// (plan built once), which also carries each boundary sender's new bound max(x_j, L_j) to
// the ranks it sends to (senders on other ranks announce themselves to their receivers once,
// at construction). Every message arrives at or after its receiver's limit, so it is in the
// receiver's FIFO before it is due: the result is exactly that of a sequential simulation
// for any rank count and any window splitting. Each L_i >= T_min + L (the lookahead): a
// window never does less than one of one lookahead; on a feed-forward line a station runs
// up to where its feeder was a window before. Stations that wait on each other (a kanban
// buffer's parts and credits, a pool's calls and robots) raise each other's bounds by only
// their delays per window, so every A_i is also at least the floor N + L, N the earliest
// event pending anywhere (nothing is sent before it): idle stretches cost no windows. The
// cap (the station's next event plus a span adapted to about `window_messages` messages per
// window, and at most 64 spans past max(factory time, N), which bounds what a stop must
// catch up) bounds the FIFOs. The least T_j over all ranks is the factory's time; several
// ranks agree on it and on N now and then (one 16-byte allreduce: at every window while
// they find idle time, else after 2, 4, ... 64 windows), and advance() ends when it
// reaches t_end. Windows cost O(stations with an event before their limit) plus two passes
// over dense per-station arrays.
//
// KPI accumulation. Each station's events are processed in the same order whatever the rank
// count and window splitting, so per-station plain double sums updated AT EVENTS ONLY have
// the same bits everywhere: a state interval adds (t - start) when it closes; the station
// WIP integral adds wip * (t - last change) at each change; a part leaving the line (scrap
// or sink) adds exit - entry (and the lead-time sum, at the sink). Nothing is accrued at
// window ends: the open intervals (current state, current WIP, parts still in the line)
// are added only in report(), at T.
//
// KPIs (cumulative from t = 0 to T = time_s(); ratios with a zero denominator are 0):
// per station: processed, good, scrapped, reworked, changeovers, joined (components taken into
// assemblies), pieces (made by disassembly beyond the parts themselves), robot_wait (a
// borrowing station: mean over its teams that arrived of arrival - call), pool_utilisation
// (a home: robot-seconds away from home / (robots * T), over its pools), busy/blocked/starved/down fractions (busy =
// processing; blocked = holding a finished part without credit; starved = up with nothing
// to do; off_shift dominates and down the rest; with c servers each is the mean over the
// servers, accumulated in server-seconds), utilisation (= busy fraction), wip (time-average
// parts in buffer + in service/held), ideal_cycle (ProcessModel::ideal_cycle_s / c); over
// the planned production time P = T - off_shift: availability (P - down)/P, performance
// processed * ideal_cycle / (P - down), quality good/processed, oee (product).
// Per line: entered, sink_count, scrapped, throughput (sink parts per hour), yield
// sink/(sink + scrapped), wip (time-average parts entered and not yet exited, conveyors
// included: (sum over parts that left of (exit - entry) + sum over parts in the line of
// (T - entry))/T), lead_time (mean over sink exits of exit - entry), oee (sink_count * max
// ideal cycle of the line / the longest planned time P of its stations), bottleneck (index
// in the line of the largest busy + down fraction, ties -> lowest index).
// Per factory: the same with sums over its lines (throughput, counts, wip; lead time and
// yield from the summed parts), oee = mean of its lines' oee, bottleneck as a station gid.
// Line and factory sums of the stations' doubles use ExactSum (order-independent across
// ranks) and counts int64, so every KPI has the same bits at any rank count.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "solvers/comm/decomposition.hpp"
#include "solvers/comm/part_exchange.hpp"
#include "solvers/comm/span_partials.hpp"
#include "solvers/factory/factory_config.hpp"
#include "solvers/factory/factory_state.hpp"
#include "solvers/factory/kpi_report.hpp"
#include "solvers/factory/process_model.hpp"

namespace kollektiv::factory {

namespace detail {
struct Station;
struct StationCold;
struct LineTypes;
}

class Factory {
 public:
  // Collective over `comm`. Uses DistributionProcessModel(config, seed).
  Factory(const FactoryModelConfig& config, std::uint64_t seed, MPI_Comm comm);
  // With another process model (shared, must be a pure function; see ProcessModel).
  Factory(const FactoryModelConfig& config, std::uint64_t seed, MPI_Comm comm,
          std::shared_ptr<const ProcessModel> process_model);
  ~Factory();
  Factory(Factory&&) noexcept;
  Factory& operator=(Factory&&) noexcept;
  Factory(const Factory&) = delete;
  Factory& operator=(const Factory&) = delete;

  double time_s() const { return time_s_; }
  double lookahead_s() const { return lookahead_s_; }

  // Collective. Advances to t_end_s in windows. After every window (the same windows on all
  // ranks) it calls stop_requested(), if set: the caller's check, which may be collective and
  // must return the same on every rank; if it returns true, advance returns once every
  // station has reached the latest time any station had reached (a few more windows).
  // Returns the time reached.
  double advance(double t_end_s, const std::function<bool()>& stop_requested = {});

  std::int64_t station_count() const { return station_count_; }
  std::int64_t line_count() const { return index_.line_count(); }
  std::int64_t factory_count() const { return index_.factory_count(); }
  // The model's numbering and names (the configuration, with copies counted).
  const ModelIndex& index() const { return index_; }
  comm::Range local_stations() const { return local_; }

  // Collective. The station and line columns hold this rank's block (its stations, and the
  // lines whose first station it holds; see KpiReport), factory columns are whole on every
  // rank. O(local stations + factories) per rank; gather_to_root() for a whole small report.
  KpiReport report() const;

  // The local stations' state (a checkpoint at time_s()). Not collective.
  FactoryState save() const;
  // The state of local stations [first, first + count) (positions in local_stations()) into
  // `state`, which is cleared first and keeps its capacity: a checkpoint packs a rank's
  // stations a piece at a time into the same memory (io/factory_checkpoint.cpp). save() is
  // every local station into a fresh state. Not collective.
  void save(std::int64_t first, std::int64_t count, FactoryState& state) const;
  // FactoryState::types of this model's states: its part types, 0 if it names none.
  std::int64_t state_types() const;
  // Collective. Sets the time to `time_s` and the local stations to `state`, which must hold
  // exactly local_stations().size() stations (from any earlier decomposition). A state that
  // does not fit the model (sizes, phases, FIFO lengths against capacities, credits, NaN
  // times) is refused with Error(bad_checkpoint) on every rank before anything changes.
  void restore(double time_s, const FactoryState& state);

  // Robot cells (StationConfig::cell) pause before each service start; the outcomes come in
  // one batch per window pass from `cells` (not owned; must outlive advance()). Needed
  // before advance() when the model has cells.
  void set_cells(CellProcess* cells) { cells_ = cells; }
  // The local stations' gids in global order whose config is a robot cell.
  std::vector<std::int64_t> local_cells() const;

  // Events processed by the local stations since construction or restore (timing figures).
  std::int64_t events_processed() const;
  // Bytes this rank sent to other ranks through the part exchange (parts, credits, robots
  // and the senders' bounds).
  std::int64_t bytes_sent() const { return exchange_->bytes_sent(); }

 private:
  void build_ports(detail::Station& s, const ModelIndex::Place& here);  // routed models
  void refresh_next_events();  // next_event_s_, earliest sends and bounds from the stations' state at time_s_
  void build_senders();        // the senders of every local station (collective: remote ones announce themselves)
  std::int32_t remote_slot(std::int64_t gid) const;  // a remote sender's index (local ones 0..n-1) in sender_bound_s_ + 1
  std::int64_t first_owned_line() const;  // the first line whose first station is local (or after)
  // Each station's limit for the next window (at most t_end_s) into reached_s_,
  // the senders' bounds updated and the stations to run listed; returns the least limit and
  // whether the window's cap held a station back.
  struct Limits {
    double least;
    bool capped;
  };
  Limits set_limits(double t_end_s);
  // Runs every station that set_limits listed to its limit (reached_s_), then the cells
  // that paused before a service start, with their outcomes.
  void run_window();
  void resolve_cells();
  // Delivers the local stations' outboxes to local stations (the others' messages go to
  // remote_out_); returns how many were delivered.
  std::size_t deliver_local();
  void receive(const comm::PartMessage& m);  // into its local receiver's FIFO
  // Sends remote_out_ and the local senders' bounds to the other ranks and delivers what
  // they sent; with `agree` (the same on every rank) returns the least time any station has
  // reached (from every rank's local front) and raises the arrival floor from the earliest
  // event pending anywhere, else returns -infinity.
  double exchange(bool agree, double local_front_s);

  MPI_Comm comm_;
  std::uint64_t seed_;
  std::shared_ptr<const ProcessModel> process_model_;
  const DistributionProcessModel* distribution_model_ = nullptr;  // devirtualised fast path
  std::int64_t station_count_ = 0;
  comm::Range local_;
  double time_s_ = 0.0;
  double lookahead_s_ = 0.0;
  ModelIndex index_;
  std::vector<double> station_ideal_cycle_s_;     // local stations
  int type_count_ = 1;                            // part types (FactoryModelConfig::type_count)
  std::map<const LineConfig*, PartTypes> part_types_;  // the mix of each line entry (typed models)
  std::unique_ptr<detail::LineTypes> line_types_;      // routed typed models: every line's mix
  std::vector<detail::Station> stations_;         // local stations
  std::vector<detail::StationCold> cold_;         // their cold fields (Station::cold points here)
  std::vector<std::int64_t> pool_first_client_;   // by pool: its first client among all pools', then the total
  // Hot per-window data, dense by local station: the earliest pending event of each station
  // and E_j, its earliest send if nothing more arrives (both exact after every run and
  // delivery), its routed flag, the time T_j it has reached (its limit once the window ran),
  // the stations that run in the current window, the bounds of the senders' next sends, and
  // who sends to each station with the least delay (the stations before and after it in the
  // rank's order as a stencil; others, local or remote, in compressed rows:
  // other_senders_[other_begin_[r], other_begin_[r + 1]) for station other_station_[r]).
  std::vector<double> next_event_s_;
  std::vector<std::uint8_t> routed_;  // Station::routed, dense (deliver reads it per message)
  std::vector<double> earliest_send_s_;
  std::vector<double> reached_s_;
  struct Sender {
    std::int32_t station;  // local index; a remote sender's is remote_slot()
    double delay_s;
  };
  std::vector<double> from_previous_s_, from_next_s_;  // delay from the station before / after it (+inf: none)
  std::vector<std::int32_t> other_station_;            // stations with other senders, and those
  std::vector<std::size_t> other_begin_;
  std::vector<Sender> other_senders_;
  // [1 + j]: max(x_j, T_j), for local senders and then remote ones (the two ends: the
  // stencil's, read with infinite delays only); two buffers, the current one read while a
  // window's limits are set, the other written.
  std::vector<double> sender_bound_s_[2];
  int current_bounds_ = 0;
  std::vector<std::int64_t> remote_senders_;  // their gids, ascending
  struct RemoteReceiver {
    std::int32_t sender;  // local index
    std::int64_t gid;     // the receiver on another rank
  };
  std::vector<RemoteReceiver> remote_receivers_;  // where the local senders' bounds go after every window
  // Nothing arrives anywhere before this: the earliest event pending anywhere (one rank: at
  // the last window's start; several: at the last agreement) plus the lookahead.
  double arrival_floor_s_ = 0.0;
  bool found_idle_ = false;  // the last agreement found idle time ahead (several ranks)
  std::vector<double> other_arrival_s_;  // A_i of the other senders' stations, while limits are set
  double span_s_ = 0.0;  // how far past its next event a station may run in a window
  std::vector<std::int32_t> active_;
  std::size_t active_count_ = 0;
  std::unique_ptr<comm::PartExchange> exchange_;
  std::unique_ptr<comm::SpanPartials> line_partials_;  // completes lines cut by rank boundaries
  std::vector<comm::PartMessage> remote_out_;
  bool has_cells_ = false;  // on this rank
  CellProcess* cells_ = nullptr;
  std::vector<std::int32_t> paused_;
  std::vector<ServiceRequest> requests_;
};

}  // namespace kollektiv::factory
