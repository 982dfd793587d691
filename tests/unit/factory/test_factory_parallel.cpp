// Determinism and restart of the factory across decompositions: run at 1, 2 and 4 ranks,
// each rank count compared bitwise with a serial run on MPI_COMM_SELF, with uneven window
// splittings, an early stop, and checkpoints restored on other decompositions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <mpi.h>

#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"
#include "tests/unit/factory/factory_test_models.hpp"

namespace kollektiv::factory {
namespace {

using testing::expect_identical;
using testing::line;
using testing::model_of;
using testing::station;

constexpr std::uint64_t seed = 0x5eed0f5eedULL;

// Two factories, five lines of 5, 3, 4, 1 and 6 stations (19 in all, so lines span rank
// boundaries at 2 and 4 ranks), with every distribution, both breakdown modes, scrap,
// finite and unlimited buffers, both source kinds, stations of three servers, and shift
// calendars (the first factory's, and two stations' own), rework, a product mix of three
// part types with type-dependent times and changeovers, routes of every kind and two pools
// of robots.
FactoryModelConfig mixed_model() {
  const Distribution kinds[] = {Distribution::exponential, Distribution::lognormal, Distribution::uniform,
                                Distribution::fixed};
  int k = 0;
  const auto make_line = [&](int stations, ArrivalKind arrivals, double interval_s) {
    std::vector<StationConfig> s;
    for (int i = 0; i < stations; ++i, ++k) {
      StationConfig c = station(kinds[k % 4], 0.9 + 0.05 * (k % 5), k % 3 == 0 ? 0 : 2 + k % 4, 3.0 + 0.25 * (k % 7));
      c.process.min_s = 0.4;
      c.process.max_s = 1.6;
      c.process.cv = 0.5;
      c.scrap_probability = k % 4 == 1 ? 0.05 : 0.0;
      c.rework_probability = k % 3 == 1 ? 0.2 : 0.0;
      c.max_rework = k % 3 == 1 ? 2 : 0;
      c.breakdown.enabled = k % 2 == 0;
      c.breakdown.mtbf_s = 120.0 + k;
      c.breakdown.mttr_s = 9.0;
      c.breakdown.only_when_busy = k % 4 == 0;
      c.servers = k % 5 == 2 ? 3 : 1;
      if (k % 4 == 2) {  // product mix: other times for type 2, changeovers
        c.process_by_type = {testing::type_process(2, Distribution::exponential, 1.3)};
        c.changeover_s = 0.2;
        c.changeover = {{0, 1, 0.4}, {2, 0, 0.05}};
      }
      if (k == 7 || k == 12) {  // their own calendar, with a period running past its end
        c.shifts.enabled = true;
        c.shifts.period_s = 300.0;
        c.shifts.working = {{60.0, 140.0}, {200.0, 330.0}};
      }
      s.push_back(c);
    }
    return line(arrivals, interval_s, s);
  };
  FactoryModelConfig model =
      model_of({{make_line(5, ArrivalKind::poisson, 1.1), make_line(3, ArrivalKind::fixed, 1.3)},
                {make_line(4, ArrivalKind::poisson, 0.9), make_line(1, ArrivalKind::fixed, 0.7),
                 make_line(6, ArrivalKind::poisson, 1.2)}});
  // Three part types, mixed on three lines (the others make type 0 only).
  model.part_types = {"x", "y", "z"};
  model.factories[0].lines[0].source.mix = {{0, 0.5}, {1, 0.3}, {2, 0.2}};
  model.factories[1].lines[0].source.mix = {{2, 1.0}, {1, 1.0}};
  model.factories[1].lines[2].source.mix = {{1, 0.9}, {2, 0.1}};
  // Routes (the plant is a graph): a round-robin split from line 0 into line 1 (gid 1 ->
  // gids 2, 5), a split by probability across factories (gid 3 -> gids 4, 15), an assembly
  // joining a part from the second factory (gid 12 -> gid 7, which also gets gid 6's), a
  // shortest-queue split (gid 9 -> gids 10, 11), a split by type (gid 10 -> gids 11, 18), a
  // rework loop to an earlier station (gid 16 -> gid 14) and a disassembly into two pieces
  // (gid 17 -> gid 18 and the sink).
  const auto to = [](std::int64_t factory, std::int64_t line, std::int64_t station) {
    return testing::route(line, station, 2.0 + 0.5 * static_cast<double>(station), factory);
  };
  StationConfig& rr = model.factories[0].lines[0].stations[1];
  rr.next = {to(0, 0, 2), to(0, 1, 0)};
  rr.route = RoutePolicy::round_robin;
  StationConfig& coin = model.factories[0].lines[0].stations[3];
  coin.next = {to(0, 0, 4), to(1, 2, 2)};
  coin.next[1].share = 0.3;
  model.factories[1].lines[1].stations[0].next = {to(0, 1, 2)};
  model.factories[0].lines[1].stations[2].assembly = true;
  StationConfig& sq = model.factories[1].lines[0].stations[1];
  sq.next = {to(1, 0, 2), to(1, 0, 3)};
  sq.route = RoutePolicy::shortest_queue;
  StationConfig& typed = model.factories[1].lines[0].stations[2];
  typed.next = {to(1, 0, 3), to(1, 2, 5)};
  typed.next[0].types = {0, 1};
  typed.route = RoutePolicy::type;
  StationConfig& inspect = model.factories[1].lines[2].stations[3];
  inspect.rework_elsewhere = true;
  inspect.rework_to = to(1, 2, 1);
  StationConfig& split = model.factories[1].lines[2].stations[4];
  split.disassembly = true;
  split.next = {to(1, 2, 5), testing::to_sink()};
  // Pools of robots: 4 at gid 0 (breaks down; shifts) for gid 2 (three servers) and the
  // assembly at gid 7 (three servers, its own calendar); 5 at gid 13 for gids 8, 11, 12 and
  // 16 (the inspection), on three ranks at 4. Calls wait for robots now and then.
  const auto pool = [](const char* name, std::int64_t robots, std::int64_t factory, std::int64_t line, double call_s) {
    PoolConfig p;
    p.name = name;
    p.robots = robots;
    p.home.factory = factory;
    p.home.line = line;
    p.home.line_copy = 0;
    p.call_time_s = call_s;
    return p;
  };
  const auto borrow = [](StationConfig& c, double travel_s) {
    c.robots_from.enabled = true;
    c.robots_from.pool_index = 0;
    c.robots_from.travel_time_s = travel_s;
  };
  model.factories[0].pools = {pool("crew", 4, 0, 0, 0.4)};
  borrow(model.factories[0].lines[0].stations[2], 0.5);
  borrow(model.factories[0].lines[1].stations[2], 0.7);
  model.factories[1].pools = {pool("arms", 5, 1, 2, 0.5)};
  borrow(model.factories[1].lines[0].stations[0], 0.6);
  borrow(model.factories[1].lines[0].stations[3], 0.45);
  borrow(model.factories[1].lines[1].stations[0], 0.8);
  borrow(model.factories[1].lines[2].stations[3], 0.55);
  // The first factory works in shifts with two breaks.
  ShiftCalendar& shifts = model.factories[0].shifts;
  shifts.enabled = true;
  shifts.period_s = 500.0;
  shifts.working = {{0.0, 350.0}, {400.0, 480.0}};
  return model;
}

// Advances in uneven chunks that do not line up with the lookahead.
void advance_unevenly(Factory& f, double t_end_s) {
  const double chunks[] = {0.7, 13.3, 0.001, 100.0, 1234.5678};
  for (int i = 0; f.time_s() < t_end_s; ++i) f.advance(std::min(t_end_s, f.time_s() + chunks[i % 5]), {});
}

// The concatenation in gid order of every rank's state, on rank 0.
FactoryState gather_state(MPI_Comm comm, const FactoryState& s) {
  FactoryState all;
  all.station_int = comm::gather_to_root(comm, s.station_int);
  all.station_real = comm::gather_to_root(comm, s.station_real);
  all.part_count = comm::gather_to_root(comm, s.part_count);
  all.part_time_s = comm::gather_to_root(comm, s.part_time_s);
  all.part_id = comm::gather_to_root(comm, s.part_id);
  all.part_entry_time_s = comm::gather_to_root(comm, s.part_entry_time_s);
  all.part_reworks = comm::gather_to_root(comm, s.part_reworks);
  all.station_rework = comm::gather_to_root(comm, s.station_rework);
  all.types = s.types;
  all.station_type = comm::gather_to_root(comm, s.station_type);
  all.type_sink = comm::gather_to_root(comm, s.type_sink);
  all.type_lead_s = comm::gather_to_root(comm, s.type_lead_s);
  all.credit_count = comm::gather_to_root(comm, s.credit_count);
  all.credit_time_s = comm::gather_to_root(comm, s.credit_time_s);
  all.server_count = comm::gather_to_root(comm, s.server_count);
  all.server_int = comm::gather_to_root(comm, s.server_int);
  all.server_real = comm::gather_to_root(comm, s.server_real);
  all.shift_int = comm::gather_to_root(comm, s.shift_int);
  all.off_shift_s = comm::gather_to_root(comm, s.off_shift_s);
  all.route_int_count = comm::gather_to_root(comm, s.route_int_count);
  all.route_int = comm::gather_to_root(comm, s.route_int);
  all.route_real_count = comm::gather_to_root(comm, s.route_real_count);
  all.route_real = comm::gather_to_root(comm, s.route_real);
  all.genealogy_width = comm::gather_to_root(comm, s.genealogy_width);
  all.genealogy_count = comm::gather_to_root(comm, s.genealogy_count);
  all.genealogy = comm::gather_to_root(comm, s.genealogy);
  return all;
}

// A spread report's blocks: every rank's station and line blocks follow each other in rank
// order and cover the whole columns; every column of a kind has its block's length.
void expect_blocks_follow_in_rank_order(const KpiReport& r) {
  const auto check = [](const std::vector<KpiColumn>& columns, const KpiBlock& block, const char* what) {
    const auto n = static_cast<std::int64_t>(columns.front().values.size());
    for (const KpiColumn& c : columns) {
      EXPECT_EQ(static_cast<std::int64_t>(c.values.size()), n) << what << " " << c.name;
    }
    const std::vector<std::int64_t> all = comm::gather_to_root(MPI_COMM_WORLD, std::vector<std::int64_t>{block.first, n, block.total});
    std::int64_t next = 0;
    for (std::size_t r = 0; r < all.size(); r += 3) {
      EXPECT_EQ(all[r], next) << what << " block of rank " << r / 3;
      EXPECT_EQ(all[r + 2], block.total) << what;
      next += all[r + 1];
    }
    if (comm::rank_of(MPI_COMM_WORLD) == 0) {
      EXPECT_EQ(next, block.total) << what;
    }
  };
  check(r.station, r.stations, "stations");
  check(r.line, r.lines, "lines");
  EXPECT_EQ(r.stations.total, 19);
  EXPECT_EQ(r.lines.total, 5);
}

constexpr double t_mid = 2000.0, t_end = 5000.0;

TEST(FactoryParallel, SameBitsAtAnyRankCountAndWindowSplitting) {
  const FactoryModelConfig model = mixed_model();
  const int rank = comm::rank_of(MPI_COMM_WORLD);
  Factory world(model, seed, MPI_COMM_WORLD);
  EXPECT_EQ(world.station_count(), 19);
  EXPECT_EQ(world.line_count(), 5);
  EXPECT_EQ(world.lookahead_s(), 0.4);  // the shortest call to a pool (routes: 2 s and more)
  EXPECT_EQ(world.advance(t_end), t_end);
  const KpiReport spread = world.report();
  expect_blocks_follow_in_rank_order(spread);
  const KpiReport one_go = gather_to_root(MPI_COMM_WORLD, spread);
  const std::int64_t events = comm::allreduce_sum(MPI_COMM_WORLD, world.events_processed());
  EXPECT_EQ(comm::any_rank(MPI_COMM_WORLD, world.bytes_sent() > 0), comm::size_of(MPI_COMM_WORLD) > 1);

  Factory uneven(model, seed, MPI_COMM_WORLD);
  advance_unevenly(uneven, t_end);
  const KpiReport chunked = gather_to_root(MPI_COMM_WORLD, uneven.report());

  if (rank == 0) {
    Factory serial(model, seed, MPI_COMM_SELF);
    advance_unevenly(serial, t_end);
    const KpiReport reference = serial.report();
    EXPECT_EQ(serial.events_processed(), events);
    expect_identical(one_go, reference, "world in one go vs serial");
    expect_identical(chunked, reference, "world in chunks vs serial");
    // The model is busy: lots of traffic, some scrap, some blocking.
    EXPECT_GT(events, 100000);
    EXPECT_GT(testing::value(reference.factory, "scrapped", 0), 0.0);
    // The pools work, and some calls wait for robots (longer than call and travel).
    using testing::value;
    std::printf("pools: utilisation %.3f %.3f, robot waits %.3f %.3f %.3f %.3f %.3f %.3f s\n",
                value(reference.station, "pool_utilisation", 0), value(reference.station, "pool_utilisation", 13),
                value(reference.station, "robot_wait", 2), value(reference.station, "robot_wait", 7),
                value(reference.station, "robot_wait", 8), value(reference.station, "robot_wait", 11),
                value(reference.station, "robot_wait", 12), value(reference.station, "robot_wait", 16));
    EXPECT_GT(value(reference.station, "pool_utilisation", 0), 0.1);
    EXPECT_GT(value(reference.station, "pool_utilisation", 13), 0.1);
    EXPECT_GT(value(reference.station, "robot_wait", 2), 0.4 + 0.5);
    EXPECT_GT(value(reference.station, "robot_wait", 8), 0.5 + 0.6);
    EXPECT_EQ(reference.station[0].values.size(), 19u);
    EXPECT_EQ(reference.line[0].values.size(), 5u);
    EXPECT_EQ(reference.factory[0].values.size(), 2u);
  } else {
    EXPECT_TRUE(one_go.station[0].values.empty());
  }
}

TEST(FactoryParallel, StopRequestReturnsAtAWindowBoundaryAndContinuesIdentically) {
  const FactoryModelConfig model = mixed_model();
  Factory f(model, seed, MPI_COMM_WORLD);
  int calls = 0;
  const auto stop = [&] { return comm::any_rank(MPI_COMM_WORLD, ++calls == 3); };
  const double reached = f.advance(t_end, stop);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(reached, f.time_s());
  double expected = 0.0;
  for (int w = 0; w < 3; ++w) expected += f.lookahead_s();
  // Asked after every window: three windows of at least one lookahead each (more where the
  // next window starts at a later global next-event time), the same on every rank.
  EXPECT_GE(reached, expected);
  std::vector<double> extremes = {reached, -reached};
  comm::allreduce_max(MPI_COMM_WORLD, extremes);
  EXPECT_EQ(extremes[0], -extremes[1]);
  f.advance(t_end, stop);
  Factory straight(model, seed, MPI_COMM_WORLD);
  straight.advance(t_end);
  const KpiReport a = gather_to_root(MPI_COMM_WORLD, f.report()), b = gather_to_root(MPI_COMM_WORLD, straight.report());
  if (comm::rank_of(MPI_COMM_WORLD) == 0) expect_identical(a, b, "stopped and continued vs straight");
}

// The stop check is asked after the last window of a call too (it once was asked only
// every 64th window of a call, never in its last, so a call of fewer windows never stopped).
TEST(FactoryParallel, StopRequestIsAskedAfterEveryWindowIncludingTheLast) {
  const FactoryModelConfig model = mixed_model();
  Factory f(model, seed, MPI_COMM_WORLD);
  int calls = 0;
  const auto count = [&] { return comm::any_rank(MPI_COMM_WORLD, ++calls == 0); };
  const double two_windows = 2.0 * f.lookahead_s();
  EXPECT_EQ(f.advance(two_windows, count), two_windows);
  EXPECT_GE(calls, 1);
  EXPECT_LE(calls, 2);
  const auto stop_now = [&] { return comm::any_rank(MPI_COMM_WORLD, true); };
  const double reached = f.advance(t_end, stop_now);
  EXPECT_LT(reached, t_end);
  EXPECT_GT(reached, two_windows);
}

// A sparse model: a part every 1000 s into two lines of 4 stations with 1 s conveyors and
// buffers of `capacity` (0: unlimited), run for 10^6 s on every rank; returns the windows it
// took after checking the result is the serial one.
std::int64_t sparse_model_windows(std::int64_t capacity, const char* label) {
  std::vector<StationConfig> stations;
  for (int i = 0; i < 4; ++i) stations.push_back(station(Distribution::fixed, 5.0, capacity, 1.0));
  const FactoryModelConfig model = model_of({{line(ArrivalKind::fixed, 1000.0, stations), line(ArrivalKind::poisson, 1000.0, stations)}});
  const double end_s = 1.0e6;
  Factory f(model, seed, MPI_COMM_WORLD);
  EXPECT_EQ(f.lookahead_s(), 1.0);
  std::int64_t windows = 0;
  f.advance(end_s, [&] { return ++windows < 0; });
  EXPECT_EQ(f.time_s(), end_s);
  const KpiReport parallel = gather_to_root(MPI_COMM_WORLD, f.report());
  if (comm::rank_of(MPI_COMM_WORLD) == 0) {
    std::printf("%s: %lld windows on %d ranks\n", label, static_cast<long long>(windows), comm::size_of(MPI_COMM_WORLD));
    Factory serial(model, seed, MPI_COMM_SELF);
    serial.advance(end_s);
    expect_identical(parallel, serial.report(), std::string(label) + ": world vs serial");
    EXPECT_GT(testing::value(parallel.factory, "sink_count", 0), 1900.0);
  }
  return windows;
}

// Stations run to their own limits on any rank count, so idle stretches cost no windows
// (they once cost one window per lookahead on several ranks). About 2000 parts, each through
// 4 stations: each station runs to the earliest arrival of what its senders may send (a
// line's first station is fed by no other), so a window spans many parts: the span grows
// while the cap holds stations back and windows carry few messages. One lookahead per window
// would be a million windows, one per part thousands.
TEST(FactoryParallel, IdleStretchesAreSkippedOnEveryRankCount) {
  EXPECT_LT(sparse_model_windows(0, "sparse model"), 100);
}

// With kanban buffers idle stations wait on each other's credits, a cycle whose bounds grow
// by only two conveyor times per window; the floor from the earliest pending event anywhere
// (agreed on several ranks) takes them to the next part at once. Without it: about 500
// windows per idle 1000 s, a million in all.
TEST(FactoryParallel, IdleKanbanCyclesAreSkippedOnEveryRankCount) {
  EXPECT_LT(sparse_model_windows(2, "sparse kanban model"), 100000);
}

// A lookahead below the time resolution of the clock is an error on every rank, not a
// window loop that never ends (here 1e-20 s conveyors: the first part at 1 s cannot move).
TEST(FactoryParallel, LookaheadBelowTimeResolutionIsAnError) {
  std::vector<StationConfig> stations;
  for (int i = 0; i < 2; ++i) stations.push_back(station(Distribution::fixed, 1.0, 2, 1.0e-20));
  const FactoryModelConfig model = model_of({{line(ArrivalKind::fixed, 1.0, stations)}});
  Factory f(model, seed, MPI_COMM_WORLD);
  try {
    f.advance(100.0);
    ADD_FAILURE() << "advance returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("window does not advance"), std::string::npos) << e.what();
  }
}

TEST(FactoryParallel, RestoreOnAnyDecompositionContinuesBitwise) {
  const FactoryModelConfig model = mixed_model();
  const int rank = comm::rank_of(MPI_COMM_WORLD);
  Factory world(model, seed, MPI_COMM_WORLD);
  world.advance(t_mid);
  const FactoryState saved = world.save();
  EXPECT_EQ(saved.station_count(), world.local_stations().size());
  world.advance(t_end);
  const KpiReport reference = gather_to_root(MPI_COMM_WORLD, world.report());

  // Same decomposition, fresh object.
  Factory same(model, seed, MPI_COMM_WORLD);
  same.restore(t_mid, saved);
  same.advance(t_end);
  const KpiReport same_report = gather_to_root(MPI_COMM_WORLD, same.report());

  // The same object, rewound: nothing it drew ahead for services past t_mid survives.
  world.restore(t_mid, saved);
  world.advance(t_end);
  const KpiReport rewound_report = gather_to_root(MPI_COMM_WORLD, world.report());

  // Every rank's stations collected on rank 0 and continued there alone.
  const FactoryState all = gather_state(MPI_COMM_WORLD, saved);
  if (rank == 0) {
    Factory serial(model, seed, MPI_COMM_SELF);
    serial.restore(t_mid, all);
    serial.advance(t_end);
    expect_identical(serial.report(), reference, "N ranks -> 1 rank");
    expect_identical(same_report, reference, "restore on the same decomposition");
    expect_identical(rewound_report, reference, "restore of the object that ran on");
  }

  // A serial checkpoint cut into this decomposition's ranges.
  Factory serial_first(model, seed, MPI_COMM_SELF);
  serial_first.advance(t_mid);
  const FactoryState whole = serial_first.save();
  Factory split(model, seed, MPI_COMM_WORLD);
  const comm::Range mine = split.local_stations();
  split.restore(t_mid, slice_state(whole, mine.begin, mine.size()));
  split.advance(t_end);
  const KpiReport split_report = gather_to_root(MPI_COMM_WORLD, split.report());
  if (rank == 0) expect_identical(split_report, reference, "1 rank -> N ranks");

  // A state of the wrong size is refused on every rank alike.
  Factory wrong(model, seed, MPI_COMM_WORLD);
  EXPECT_THROW(wrong.restore(t_mid, rank == 0 ? FactoryState{} : slice_state(whole, mine.begin, mine.size())),
               Error);
}

// Every array of two states holds the same bits.
void expect_same_state(const FactoryState& a, const FactoryState& b, const std::string& what) {
  EXPECT_EQ(a.types, b.types) << what;
  int k = 0;  // the array's place in for_each_array's list
  for_each_array([&](auto array) {
    const auto &x = a.*array, &y = b.*array;
    EXPECT_TRUE(x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(x[0])) == 0))
        << what << ": array " << k;
    ++k;
  });
}

// A checkpoint packs a rank's stations a piece at a time into the same memory: the pieces,
// joined, are save()'s whole state for any piece size (routes, pools, servers, shifts and
// rework included), and a piece no larger than the last reuses its memory.
TEST(FactoryParallel, SavedPiecesJoinToTheWholeState) {
  Factory f(mixed_model(), seed, MPI_COMM_WORLD);
  f.advance(t_mid);
  const FactoryState whole = f.save();
  const std::int64_t n = f.local_stations().size();
  EXPECT_EQ(whole.types, f.state_types());
  for (const std::int64_t per : {1, 2, 3, 7, 1000}) {
    FactoryState piece, joined;
    const std::int64_t* memory = nullptr;
    for (std::int64_t at = 0; at < n; at += per) {
      f.save(at, std::min(per, n - at), piece);
      if (memory != nullptr && piece.part_count.size() == static_cast<std::size_t>(per)) {
        EXPECT_EQ(piece.station_int.data(), memory) << "a piece of " << per << " stations reallocated";
      }
      memory = piece.station_int.data();
      append_state(joined, piece);
    }
    if (n > 0) expect_same_state(joined, whole, "pieces of " + std::to_string(per) + " stations");
  }
  FactoryState piece;
  EXPECT_THROW(f.save(n, 1, piece), Error);
  EXPECT_THROW(f.save(-1, 1, piece), Error);
}

// Checkpoints are untrusted: a value that would index or size something out of range is
// refused as a bad checkpoint on every rank, before the factory changes.
TEST(FactoryParallel, RestoreRefusesOutOfRangeValues) {
  const FactoryModelConfig model = mixed_model();
  Factory serial(model, seed, MPI_COMM_SELF);
  serial.advance(20.0);
  const FactoryState whole = serial.save();
  // Station 1 has a buffer of 3 and station 0 counts credits for it (mixed_model: k = 1).
  const auto with = [&](auto change) {
    FactoryState bad = whole;
    change(bad);
    return bad;
  };
  // Where station gid's routing record starts, and where its pool or borrowing section does
  // (after the header, two entries per input, output and server, and the rework pairs).
  const auto record = [](const FactoryState& s, std::int64_t gid) {
    std::int64_t at = 0;
    for (std::int64_t g = 0; g < gid; ++g) at += s.route_int_count[static_cast<std::size_t>(g)];
    return static_cast<std::size_t>(at);
  };
  const auto pool_section = [&](const FactoryState& s, std::int64_t gid, std::int64_t servers) {
    const std::size_t at = record(s, gid);
    const std::int64_t* r = s.route_int.data() + at;
    return at + static_cast<std::size_t>(6 + 2 * (r[0] + r[1] + servers + r[5]));
  };
  // A borrower's (not a home's) call times: after its FIFOs' (arrival, entry) pairs, its
  // credits on the way and the sum of its waits.
  const auto call_times = [&](const FactoryState& s, std::int64_t gid) {
    std::size_t at = 0;
    for (std::int64_t g = 0; g < gid; ++g) at += static_cast<std::size_t>(s.route_real_count[static_cast<std::size_t>(g)]);
    const std::int64_t* r = s.route_int.data() + record(s, gid);
    for (std::int64_t q = 0; q < r[0]; ++q) at += static_cast<std::size_t>(2 * r[6 + 2 * q]);
    for (std::int64_t k = 0; k < r[1]; ++k) at += static_cast<std::size_t>(r[6 + 2 * r[0] + 2 * k + 1]);
    return at + 1;
  };
  // The first window end at which a borrower of three servers has two calls out (for the
  // order check).
  std::int64_t calling = -1;
  Factory later(model, seed, MPI_COMM_SELF);
  FactoryState calls_out;
  while (calling < 0 && later.time_s() < 2000.0) {
    later.advance(later.time_s() + 1.0);
    calls_out = later.save();
    for (const std::int64_t gid : {2, 7})
      if (calling < 0 && calls_out.route_int[pool_section(calls_out, gid, 3) + 1] >= 2) calling = gid;
  }
  ASSERT_GE(calling, 0) << "no borrower with two calls out before t = 2000";
  const std::vector<std::pair<const char*, FactoryState>> cases = {
      {"KPI state", with([](FactoryState& s) { s.station_int[1 * int_field_count + si_kpi_state] = 7; })},
      {"phase", with([](FactoryState& s) { s.station_int[2 * int_field_count + si_phase] = -1; })},
      {"parts in the buffer",
       with([](FactoryState& s) { s.station_int[1 * int_field_count + si_parts_arrived] = s.part_count[1] + 1; })},
      {"credits", with([](FactoryState& s) { s.station_int[6 * int_field_count + si_credits] = 1000; })},
      {"counter", with([](FactoryState& s) { s.station_int[3 * int_field_count + si_processed] = -5; })},
      // found by tests/fuzz: the next service overflowed the counter
      {"counter at the int64 limit",
       with([](FactoryState& s) { s.station_int[2 * int_field_count + si_service_count] = INT64_MAX; })},
      {"NaN time", with([](FactoryState& s) { s.station_real[4 * real_field_count + sr_state_since] = std::nan(""); })},
      // Station 2 has three servers (mixed_model: k = 2): the first two server rows are its.
      {"server phase", with([](FactoryState& s) { s.server_int[0 * server_int_count + vi_phase] = 9; })},
      {"server time", with([](FactoryState& s) { s.server_real[1 * server_real_count + vr_service_end] = 1.0; })},
      // Station 3 follows the first factory's calendar; station 10, in the second, has none.
      {"shift change", with([](FactoryState& s) { s.shift_int[2 * 3 + 1] += 2; })},
      {"off shift", with([](FactoryState& s) { s.shift_int[2 * 3] = 1 - s.shift_int[2 * 3]; })},
      {"shift state without a calendar", with([](FactoryState& s) { s.shift_int[2 * 10] = 1; })},
      // Station 1 reworks at most twice (mixed_model: k = 1).
      {"rework count", with([](FactoryState& s) { s.station_rework[1 * rework_int_count + ri_reworks] = 3; })},
      {"rework flag", with([](FactoryState& s) { s.station_rework[1 * rework_int_count + ri_rework] = 2; })},
      {"part type", with([](FactoryState& s) { s.station_type[2 * 2] = 3; })},
      {"sink count per type", with([](FactoryState& s) { s.type_sink[3 * 4 + 1] = -1; })},
      // Routed stations (mixed_model's routes): gid 1 has inputs 0 and outputs 2.
      {"route ports", with([&](FactoryState& s) { s.route_int[record(s, 1)] = 5; })},
      {"route state cut short", with([](FactoryState& s) {
         s.route_int_count[1] -= 1;
         s.route_int.erase(s.route_int.begin() + s.route_int_count[1]);
       })},
      {"route credits", with([&](FactoryState& s) {
         // gid 1's first output (to gid 2, a buffer of 2): its credits follow the header and
         // the input's two entries.
         s.route_int[record(s, 1) + 6 + 2] = 99;
       })},
      // Pools: gid 13 keeps 5 robots (one server); gid 8 borrows teams of one (one server).
      {"pool's free robots", with([&](FactoryState& s) { s.route_int[pool_section(s, 13, 1)] = 6; })},
      {"pool's waiting client", with([&](FactoryState& s) {
         const std::size_t at = pool_section(s, 13, 1);
         s.route_int[at + 1] += 1;  // one more waiting call, of client 9 of 4
         s.route_int.insert(s.route_int.begin() + static_cast<std::ptrdiff_t>(at + 2), 9);
         s.route_int_count[13] += 1;
       })},
      {"borrowed teams", with([&](FactoryState& s) { s.route_int[pool_section(s, 8, 1)] = 6; })},
      // Sound records that together lose a robot, or a call.
      {"pool's robots across stations", with([&](FactoryState& s) {
         std::int64_t& free = s.route_int[pool_section(s, 13, 1)];
         free = free > 0 ? free - 1 : 1;
       })},
      {"pool's calls across stations", with([&](FactoryState& s) {
         const std::size_t at = pool_section(s, 13, 1);
         s.route_int[at + 1] += 1;  // a waiting call of client 0 (gid 8) that gid 8 never made
         s.route_int.insert(s.route_int.begin() + static_cast<std::ptrdiff_t>(at + 2), 0);
         s.route_int_count[13] += 1;
       })},
      {"genealogy width", with([](FactoryState& s) { s.genealogy_width[7] = 2; })},
      {"route state of a chain station", with([&](FactoryState& s) {  // gid 6 sends along its line
         ASSERT_EQ(s.route_int_count[6], 0);
         s.route_int_count[6] = 1;
         s.route_int.insert(s.route_int.begin() + static_cast<std::ptrdiff_t>(record(s, 6)), 1);
       })},
      {"server count", with([](FactoryState& s) {
         s.server_count[2] = 1;
         s.server_int.erase(s.server_int.begin() + server_int_count, s.server_int.begin() + 2 * server_int_count);
         s.server_real.erase(s.server_real.begin() + server_real_count, s.server_real.begin() + 2 * server_real_count);
       })},
  };
  for (const auto& [what, bad] : cases) {
    Factory f(model, seed, MPI_COMM_WORLD);
    const comm::Range mine = f.local_stations();
    try {
      f.restore(20.0, slice_state(bad, mine.begin, mine.size()));
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::bad_checkpoint) << what;
      EXPECT_NE(std::string(e.what()).find("factory state out of range"), std::string::npos) << e.what();
    }
    EXPECT_EQ(f.time_s(), 0.0) << what << ": changed before refusing";
  }
  {  // Calls out of order.
    FactoryState bad = calls_out;
    const std::size_t at = call_times(bad, calling);
    bad.route_real[at] = bad.route_real[at + 1] + 0.5;
    Factory f(model, seed, MPI_COMM_WORLD);
    const comm::Range mine = f.local_stations();
    try {
      f.restore(later.time_s(), slice_state(bad, mine.begin, mine.size()));
      ADD_FAILURE() << "calls out of order: accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("a call for robots is made after the time, or out of order"),
                std::string::npos) << e.what();
    }
    Factory g(model, seed, MPI_COMM_WORLD);  // and in order they are taken
    g.restore(later.time_s(), slice_state(calls_out, mine.begin, mine.size()));
  }
  // A time after the pending events (found by tests/fuzz: the first window then processed
  // every event up to 2^32 s at once) is refused too.
  {
    Factory f(model, seed, MPI_COMM_WORLD);
    const comm::Range mine = f.local_stations();
    EXPECT_THROW(f.restore(4294967296.0, slice_state(whole, mine.begin, mine.size())), Error);
    EXPECT_EQ(f.time_s(), 0.0);
  }
  Factory good(model, seed, MPI_COMM_WORLD);
  const comm::Range mine = good.local_stations();
  good.restore(20.0, slice_state(whole, mine.begin, mine.size()));
  EXPECT_EQ(good.time_s(), 20.0);
}

}  // namespace
}  // namespace kollektiv::factory
