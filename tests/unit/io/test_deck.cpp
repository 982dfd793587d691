// io::Deck: every error path with its exact message and position, --set overrides,
// replication, defaults, the resolved deck round trip, and the decks shipped in inputs/;
// training decks (skill, robot files through the reader, PPO settings) likewise.
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "io/deck.hpp"

namespace kollektiv::io {
namespace {

using Strings = std::vector<std::string>;

// The smallest valid deck. Tests change one piece of it, so the positions of everything
// before that piece stay as listed here:
//   line 3 "- name: f" (name col 7, value col 13); line 5 "- name: l" (name col 11, value
//   col 17); line 6 "source:" col 11; line 7 "interval_s" col 13, value col 25; line 8
//   "stations:" col 11; line 9 "- name: s" (name col 15, value col 21); line 10 "process:"
//   col 15; line 11 "distribution" col 17, value col 31; line 12 "time_s" col 17, value col 25.
const std::string minimal = R"(factory:
  factories:
    - name: f
      lines:
        - name: l
          source:
            interval_s: 60
          stations:
            - name: s
              process:
                distribution: fixed
                time_s: 30
)";

// `text` with the first `from` replaced by `to`.
std::string with(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The minimal deck with more keys for the station (indented under "- name: s").
std::string station_with(const std::string& keys) { return minimal + keys; }

Strings errors_of(const std::string& text, const Strings& overrides = {}) {
  const DeckResult r = parse_deck(text, "deck.yaml", overrides);
  EXPECT_FALSE(r.deck.has_value());
  Strings out;
  for (const DeckError& e : r.errors) out.push_back(e.format());
  return out;
}

// `text` (an error message) holds `part`.
void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << text;
}

Deck deck_of(const std::string& text, const Strings& overrides = {}) {
  DeckResult r = parse_deck(text, "deck.yaml", overrides);
  for (const DeckError& e : r.errors) ADD_FAILURE() << e.format();
  EXPECT_TRUE(r.deck.has_value());
  return r.deck ? *r.deck : Deck{};
}

// Field-by-field equality of everything a deck produces.
void expect_same_config(const Deck& a, const Deck& b) {
  EXPECT_EQ(a.run.seed, b.run.seed);
  EXPECT_EQ(a.run.end_time_s, b.run.end_time_s);
  EXPECT_EQ(a.run.report_interval_s, b.run.report_interval_s);
  EXPECT_EQ(a.run.output_dir, b.run.output_dir);
  EXPECT_EQ(a.run.checkpoint_interval_s, b.run.checkpoint_interval_s);
  EXPECT_EQ(a.run.checkpoint_keep, b.run.checkpoint_keep);
  EXPECT_EQ(a.run.history_publish_s, b.run.history_publish_s);
  ASSERT_EQ(a.factory.factories.size(), b.factory.factories.size());
  for (std::size_t f = 0; f < a.factory.factories.size(); ++f) {
    const auto& fa = a.factory.factories[f];
    const auto& fb = b.factory.factories[f];
    EXPECT_EQ(fa.name, fb.name);
    ASSERT_EQ(fa.lines.size(), fb.lines.size());
    for (std::size_t l = 0; l < fa.lines.size(); ++l) {
      const auto& la = fa.lines[l];
      const auto& lb = fb.lines[l];
      EXPECT_EQ(la.name, lb.name);
      EXPECT_EQ(la.count, lb.count);
      EXPECT_EQ(la.source.kind, lb.source.kind);
      EXPECT_EQ(la.source.interval_s, lb.source.interval_s);
      ASSERT_EQ(la.stations.size(), lb.stations.size());
      for (std::size_t s = 0; s < la.stations.size(); ++s) {
        const auto& sa = la.stations[s];
        const auto& sb = lb.stations[s];
        EXPECT_EQ(sa.name, sb.name);
        EXPECT_EQ(sa.count, sb.count);
        EXPECT_EQ(sa.servers, sb.servers);
        EXPECT_EQ(sa.process.distribution, sb.process.distribution);
        EXPECT_EQ(sa.process.mean_s, sb.process.mean_s);
        EXPECT_EQ(sa.process.min_s, sb.process.min_s);
        EXPECT_EQ(sa.process.max_s, sb.process.max_s);
        EXPECT_EQ(sa.process.cv, sb.process.cv);
        EXPECT_EQ(sa.scrap_probability, sb.scrap_probability);
        EXPECT_EQ(sa.buffer_capacity, sb.buffer_capacity);
        EXPECT_EQ(sa.conveyor_time_s, sb.conveyor_time_s);
        EXPECT_EQ(sa.breakdown.enabled, sb.breakdown.enabled);
        EXPECT_EQ(sa.breakdown.mtbf_s, sb.breakdown.mtbf_s);
        EXPECT_EQ(sa.breakdown.mttr_s, sb.breakdown.mttr_s);
        EXPECT_EQ(sa.breakdown.only_when_busy, sb.breakdown.only_when_busy);
        EXPECT_EQ(sa.route, sb.route);
        EXPECT_EQ(sa.assembly, sb.assembly);
        EXPECT_EQ(sa.disassembly, sb.disassembly);
        EXPECT_EQ(sa.rework_elsewhere, sb.rework_elsewhere);
        EXPECT_EQ(sa.rework_to.to, sb.rework_to.to);
        ASSERT_EQ(sa.next.size(), sb.next.size());
        for (std::size_t k = 0; k < sa.next.size(); ++k) {
          EXPECT_EQ(sa.next[k].to, sb.next[k].to);
          EXPECT_EQ(sa.next[k].share, sb.next[k].share);
          EXPECT_EQ(sa.next[k].types, sb.next[k].types);
          EXPECT_EQ(sa.next[k].conveyor_time_s, sb.next[k].conveyor_time_s);
          EXPECT_EQ(sa.next[k].target.line, sb.next[k].target.line);
          EXPECT_EQ(sa.next[k].target.station, sb.next[k].target.station);
        }
      }
    }
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------
// Valid decks

TEST(Deck, MinimalDeckTakesEveryDefault) {
  const Deck d = deck_of(minimal);
  const RunConfig defaults;
  EXPECT_EQ(d.run.seed, 1u);
  EXPECT_EQ(d.run.end_time_s, 28800.0);
  EXPECT_EQ(d.run.report_interval_s, 600.0);
  EXPECT_EQ(d.run.output_dir, "output");
  EXPECT_EQ(d.run.checkpoint_interval_s, 0.0);
  EXPECT_EQ(d.run.checkpoint_keep, 3);
  EXPECT_EQ(d.run.history_publish_s, 1.0);
  ASSERT_EQ(d.factory.factories.size(), 1u);
  const auto& line = d.factory.factories[0].lines.at(0);
  EXPECT_EQ(line.name, "l");
  EXPECT_EQ(line.source.kind, factory::ArrivalKind::poisson);
  EXPECT_EQ(line.source.interval_s, 60.0);
  const auto& s = line.stations.at(0);
  EXPECT_EQ(s.name, "s");
  EXPECT_EQ(s.process.distribution, factory::Distribution::fixed);
  EXPECT_EQ(s.process.mean_s, 30.0);
  EXPECT_EQ(s.scrap_probability, 0.0);
  EXPECT_EQ(s.buffer_capacity, 10);
  EXPECT_EQ(s.conveyor_time_s, 10.0);
  EXPECT_FALSE(s.breakdown.enabled);
  EXPECT_EQ(d.file, "deck.yaml");
  EXPECT_EQ(d.text, minimal);
}

TEST(Deck, EveryDistributionAndBreakdown) {
  const Deck d = deck_of(R"(factory:
  factories:
    - name: f
      lines:
        - name: l
          source: {kind: fixed, interval_s: 12.5}
          stations:
            - name: u
              process: {distribution: uniform, min_s: 0, max_s: 4}
            - name: e
              process: {distribution: exponential, mean_s: 7}
              breakdown: {mtbf_s: 100, mttr_s: 5, only_when_busy: true}
            - name: ln
              process: {distribution: lognormal, mean_s: 9, cv: 0.5}
            - name: ln2
              process: {distribution: lognormal, mean_s: 9}
)");
  const auto& line = d.factory.factories.at(0).lines.at(0);
  EXPECT_EQ(line.source.kind, factory::ArrivalKind::fixed);
  EXPECT_EQ(line.source.interval_s, 12.5);
  ASSERT_EQ(line.stations.size(), 4u);
  EXPECT_EQ(line.stations[0].process.distribution, factory::Distribution::uniform);
  EXPECT_EQ(line.stations[0].process.min_s, 0.0);
  EXPECT_EQ(line.stations[0].process.max_s, 4.0);
  EXPECT_EQ(line.stations[1].process.distribution, factory::Distribution::exponential);
  EXPECT_EQ(line.stations[1].process.mean_s, 7.0);
  EXPECT_TRUE(line.stations[1].breakdown.enabled);
  EXPECT_EQ(line.stations[1].breakdown.mtbf_s, 100.0);
  EXPECT_EQ(line.stations[1].breakdown.mttr_s, 5.0);
  EXPECT_TRUE(line.stations[1].breakdown.only_when_busy);
  EXPECT_EQ(line.stations[2].process.distribution, factory::Distribution::lognormal);
  EXPECT_EQ(line.stations[2].process.mean_s, 9.0);
  EXPECT_EQ(line.stations[2].process.cv, 0.5);
  EXPECT_EQ(line.stations[3].process.cv, 0.25);
}

TEST(Deck, LineDefaultsReachStationsAndStationsOverrideThem) {
  const Deck d = deck_of(R"(factory:
  factories:
    - name: f
      lines:
        - name: l
          source: {interval_s: 60}
          conveyor_time_s: 3
          buffer_capacity: unlimited
          stations:
            - name: a
              process: {distribution: fixed, time_s: 1}
            - name: b
              process: {distribution: fixed, time_s: 1}
              buffer_capacity: 2
              conveyor_time_s: 0.5
)");
  const auto& st = d.factory.factories.at(0).lines.at(0).stations;
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].buffer_capacity, 0);  // unlimited
  EXPECT_EQ(st[0].conveyor_time_s, 3.0);
  EXPECT_EQ(st[1].buffer_capacity, 2);
  EXPECT_EQ(st[1].conveyor_time_s, 0.5);
}

TEST(Deck, StationServers) {
  const Deck d = deck_of(station_with("              servers: 4\n"));
  EXPECT_EQ(d.factory.factories[0].lines[0].stations[0].servers, 4);
  EXPECT_EQ(deck_of(minimal).factory.factories[0].lines[0].stations[0].servers, 1);
  EXPECT_EQ(errors_of(station_with("              servers: 0\n")),
            Strings{"deck.yaml:13:24: factory.factories.0.lines.0.stations.0.servers: expected an integer in [1, "
                    "1000000], found '0'"});
  EXPECT_EQ(errors_of(station_with("              servers: 1.5\n")).size(), 1u);
}

TEST(Deck, StationRework) {
  const Deck d = deck_of(station_with("              rework_probability: 0.25\n              max_rework: 3\n"));
  const factory::StationConfig& s = d.factory.factories[0].lines[0].stations[0];
  EXPECT_EQ(s.rework_probability, 0.25);
  EXPECT_EQ(s.max_rework, 3);
  EXPECT_EQ(errors_of(station_with("              rework_probability: 1\n")),
            Strings{"deck.yaml:13:35: factory.factories.0.lines.0.stations.0.rework_probability: expected a number in "
                    "[0, 1), found '1'"});
  EXPECT_EQ(errors_of(station_with("              max_rework: -1\n")).size(), 1u);
}

// A small plant: line l splits to a and b, which merge at m; line k's station j feeds an
// assembly at m. Routes name stations relative to the sender.
const std::string routed = R"(factory:
  part_types: [p, q]
  factories:
    - name: f
      lines:
        - name: l
          source: {interval_s: 60}
          stations:
            - name: s
              process: {distribution: fixed, time_s: 30}
              route: probability
              next: [{to: a, share: 2}, {to: b, conveyor_time_s: 4}]
            - name: a
              process: {distribution: fixed, time_s: 30}
              next: [{to: m}]
            - name: b
              process: {distribution: fixed, time_s: 30}
            - name: m
              assembly: true
              process: {distribution: fixed, time_s: 30}
              rework_probability: 0.1
              max_rework: 1
              rework_to: a
        - name: k
          count: 2
          source: {interval_s: 60}
          stations:
            - name: j
              process: {distribution: fixed, time_s: 30}
              next: [{to: l/m}]
)";

TEST(Deck, RoutesResolveRelativeToTheSender) {
  const Deck d = deck_of(routed);
  const auto& lines = d.factory.factories[0].lines;
  const factory::StationConfig& s = lines[0].stations[0];
  ASSERT_EQ(s.next.size(), 2u);
  EXPECT_EQ(s.next[0].share, 2.0);
  EXPECT_EQ(s.next[0].target.station, 1);
  EXPECT_EQ(s.next[0].target.line_copy, -1);  // the sender's own copy
  EXPECT_EQ(s.next[1].conveyor_time_s, 4.0);
  EXPECT_EQ(s.next[1].target.station, 2);
  EXPECT_TRUE(lines[0].stations[3].assembly);
  EXPECT_TRUE(lines[0].stations[3].rework_elsewhere);
  EXPECT_EQ(lines[0].stations[3].rework_to.target.station, 1);
  EXPECT_EQ(lines[1].stations[0].next[0].target.line, 0);
  EXPECT_EQ(lines[1].stations[0].next[0].target.line_copy, 0);
  // Both copies of line k feed m: m has its chain input (from b) and three routes in.
  const factory::ModelIndex index(d.factory);
  EXPECT_EQ(index.inputs(3).size(), 4u);  // b (the chain), a, k#0/j and k#1/j
  EXPECT_EQ(index.inputs(3).front().from, 2);
  EXPECT_EQ(index.outputs(0).size(), 2u);
  EXPECT_EQ(index.lookahead_s(), 4.0);
  const Deck again = deck_of(d.resolved_yaml);
  expect_same_config(d, again);

  const auto first_error = [&](const std::string& from, const std::string& to) {
    const Strings e = errors_of(with(routed, from, to));
    return e.empty() ? std::string("no error") : e.front();
  };
  expect_contains(first_error("{to: a, share: 2}", "{to: nowhere}"),
                  "deck.yaml:12:27: factory.factories.0.lines.0.stations.0.next.0.to: expected a station as");
  expect_contains(first_error("{to: a, share: 2}", "{to: nowhere}"), "(no station named 'nowhere')");
  expect_contains(first_error("[{to: l/m}]", "[{to: x/l/m}]"), "(no factory named 'x')");
  expect_contains(first_error("[{to: l/m}]", "[{to: l#3/m}]"), "line 'l' has 1 copies, found 'l#3'");
  expect_contains(first_error("[{to: m}]", "[{to: k/j}]"), "line 'k' has 2 copies: name one as k#k");
  expect_contains(first_error("[{to: m}]", "[{to: a}]"), "expected another station than the station itself");
  expect_contains(first_error("rework_to: a", "rework_to: sink"), "expected a station to rework at, found the sink");
  expect_contains(first_error("max_rework: 1\n", "max_rework: 0\n"), "expected rework_probability > 0 and max_rework >= 1");
  expect_contains(first_error("{to: a, share: 2}", "{to: a, share: 0}"), "next.0.share: expected");
  expect_contains(first_error("{to: a, share: 2}", "{to: a, share: 2, types: [p]}"), "expected 'types' only with route: type");
  expect_contains(first_error("route: probability", "route: type"), "expected 'share' only with route: probability");
  expect_contains(errors_of(with(with(routed, "route: probability", "route: type"), "{to: a, share: 2}, {to: b, conveyor_time_s: 4}",
                                 "{to: a, types: [p]}, {to: b, types: [p]}")).front(),
                  "expected each part type on one route, found 'p' on 2");
  expect_contains(errors_of(with(with(routed, "route: probability", "route: type"), "{to: a, share: 2}, {to: b, conveyor_time_s: 4}",
                                 "{to: a, types: [p]}, {to: b, types: [r]}")).front(),
                  "expected one of the part types in factory.part_types (p, q), found 'r'");
  // A route without types takes the rest.
  const Deck by_type = deck_of(with(with(routed, "route: probability", "route: type"),
                                    "{to: a, share: 2}, {to: b, conveyor_time_s: 4}", "{to: a, types: [q]}, {to: b}"));
  EXPECT_EQ(by_type.factory.factories[0].lines[0].stations[0].next[0].types, std::vector<int>{1});
  expect_contains(errors_of(with(with(routed, "route: probability", "route: type"), "{to: a, share: 2}, {to: b, conveyor_time_s: 4}",
                                 "{to: a, types: [p]}, {to: b, types: [p]}")).back(),
                  "expected every part type on a route (or a route without 'types' for the rest), found none for 'q'");
  expect_contains(first_error("route: probability", "route: sideways"), "route: expected 'probability', 'type'");
  expect_contains(errors_of(with(with(routed, "route: probability", "route: shortest_queue"),
                                 "{to: a, share: 2}, {to: b, conveyor_time_s: 4}", "{to: a}, {to: sink}"))
                      .front(),
                  "expected every route of a shortest_queue split to go to a station with a buffer_capacity");
  expect_contains(first_error("[{to: a, share: 2}, {to: b, conveyor_time_s: 4}]", "[{to: a, conveyor_time_s: 0}, {to: b}]"),
                  "next.0.conveyor_time_s: expected");
  // An assembly needs two inputs; a disassembly two routes; not both at once.
  deck_of(with(routed, "              next: [{to: l/m}]\n", ""));  // m keeps two inputs (b and a)
  expect_contains(errors_of(with(with(routed, "              next: [{to: l/m}]\n", ""), "              next: [{to: m}]\n", "")).front(),
                  "f/l/m: expected an assembly station with at least two inputs");
  expect_contains(first_error("assembly: true", "disassembly: true"),
                  "expected a disassembly station with at least two routes in 'next'");
  const Strings both = errors_of(with(routed, "assembly: true", "assembly: true\n              disassembly: true"));
  EXPECT_TRUE(std::any_of(both.begin(), both.end(), [](const std::string& e) {
    return e.find("disassembly: expected a station that assembles or disassembles, not both") != std::string::npos;
  }));
}

// A pool of robots at l/s, borrowed by a and by both copies of line k's station j.
const std::string pooled = R"(factory:
  factories:
    - name: f
      pools:
        - {name: arms, robots: 3, home: l/s, call_time_s: 2}
        - {name: crew, robots: 1, home: "k#1/j"}
      lines:
        - name: l
          source: {interval_s: 60}
          stations:
            - name: s
              process: {distribution: fixed, time_s: 30}
            - name: a
              process: {distribution: fixed, time_s: 30}
              robots_from: {pool: arms, travel_time_s: 20}
        - name: k
          count: 2
          source: {interval_s: 60}
          stations:
            - name: j
              process: {distribution: fixed, time_s: 30}
              robots_from: {pool: arms, travel_time_s: 5}
)";

TEST(Deck, PoolsOfRobots) {
  const Deck d = deck_of(pooled);
  const factory::FactoryConfig& f = d.factory.factories[0];
  ASSERT_EQ(f.pools.size(), 2u);
  EXPECT_EQ(f.pools[0].robots, 3);
  EXPECT_EQ(f.pools[0].call_time_s, 2.0);
  EXPECT_EQ(f.pools[1].call_time_s, 1.0);  // the default
  EXPECT_EQ(f.pools[1].home.line, 1);
  EXPECT_EQ(f.pools[1].home.line_copy, 1);
  const factory::StationConfig& a = f.lines[0].stations[1];
  EXPECT_TRUE(a.robots_from.enabled);
  EXPECT_EQ(a.robots_from.pool_index, 0);
  EXPECT_EQ(a.robots_from.travel_time_s, 20.0);
  // gids: l/s 0, l/a 1, k#0/j 2, k#1/j 3. The pool's clients in gid order.
  const factory::ModelIndex index(d.factory);
  EXPECT_EQ(index.pool_clients(0), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_TRUE(index.pool_clients(1).empty());
  EXPECT_EQ(index.pool_client_count(0), 3);
  EXPECT_EQ(index.pool_client_count(1), 0);
  EXPECT_EQ(index.pools_at(0), std::vector<std::int64_t>{0});
  EXPECT_EQ(index.pools_at(3), std::vector<std::int64_t>{1});
  const factory::ModelIndex::PoolPlace p = index.borrows_from(3);
  EXPECT_EQ(p.pool, 0);
  EXPECT_EQ(p.home, 0);
  EXPECT_EQ(p.client, 2);
  EXPECT_EQ(index.borrows_from(0).pool, -1);
  EXPECT_EQ(index.lookahead_s(), 2.0);  // the call time (the conveyors take 10 s)
  const Deck again = deck_of(d.resolved_yaml);
  expect_same_config(d, again);
  EXPECT_EQ(again.factory.factories[0].pools[1].home.line_copy, 1);

  const auto first_error = [&](const std::string& from, const std::string& to) {
    const Strings e = errors_of(with(pooled, from, to));
    return e.empty() ? std::string("no error") : e.front();
  };
  expect_contains(first_error("{pool: arms, travel_time_s: 20}", "{pool: arm, travel_time_s: 20}"),
                  "deck.yaml:15:35: factory.factories.0.lines.0.stations.1.robots_from.pool: expected the name of a "
                  "pool of factory 'f' (arms, crew), found 'arm'");
  expect_contains(first_error("{pool: arms, travel_time_s: 20}", "{pool: arms}"),
                  "robots_from: missing required key 'travel_time_s'");
  expect_contains(first_error("{pool: arms, travel_time_s: 20}", "{pool: arms, travel_time_s: 0}"),
                  "robots_from.travel_time_s: expected");
  expect_contains(first_error("home: l/s,", "home: s,"),
                  "pools.0.home: expected a station of this factory as \"line/station\" (copies as name#k), found 's' "
                  "(name the line too)");
  expect_contains(first_error("home: l/s,", "home: f/l/s,"), "(a pool's home is in the pool's factory)");
  expect_contains(errors_of(with(pooled, "            - name: s\n", "            - name: s\n              count: 2\n")).front(),
                  "found 'l/s' (station 's' has 2 copies: name one as s#k)");
  EXPECT_EQ(deck_of(with(with(pooled, "            - name: s\n", "            - name: s\n              count: 2\n"),
                         "home: l/s,", "home: \"l/s#1\",")).factory.factories[0].pools[0].home.station_copy, 1);
  expect_contains(first_error("home: l/s,", "home: l/x,"), "found 'l/x' (no station named 'x')");
  expect_contains(first_error("home: \"k#1/j\"", "home: k/j"), "line 'k' has 2 copies: name one as k#k");
  expect_contains(first_error("robots: 3", "robots: 0"), "pools.0.robots: expected");
  expect_contains(first_error("call_time_s: 2", "call_time_s: 0"), "pools.0.call_time_s: expected");
  expect_contains(first_error("name: crew", "name: arms"), "expected a pool name unique within its factory");
  expect_contains(first_error("      pools:\n        - {name: arms, robots: 3, home: l/s, call_time_s: 2}\n"
                              "        - {name: crew, robots: 1, home: \"k#1/j\"}\n", ""),
                  "(it has none: give them in its 'pools')");
}

TEST(Deck, ProductMix) {
  const std::string deck = with(with(station_with("              process_by_type:\n"
                                                  "                - {type: b, process: {distribution: fixed, time_s: 45}}\n"
                                                  "              changeover_s: 20\n"
                                                  "              changeover: [{from: b, to: a, time_s: 5}]\n"),
                                     "factory:\n", "factory:\n  part_types: [a, b]\n"),
                                "            interval_s: 60\n",
                                "            interval_s: 60\n            mix: [{type: a, share: 3}, {type: b, share: 1}]\n");
  const Deck d = deck_of(deck);
  EXPECT_EQ(d.factory.part_types, (Strings{"a", "b"}));
  const factory::LineConfig& l = d.factory.factories[0].lines[0];
  ASSERT_EQ(l.source.mix.size(), 2u);
  EXPECT_EQ(l.source.mix[1].type, 1);
  EXPECT_EQ(l.source.mix[1].share, 1.0);
  const factory::StationConfig& s = l.stations[0];
  ASSERT_EQ(s.process_by_type.size(), 1u);
  EXPECT_EQ(s.process_by_type[0].type, 1);
  EXPECT_EQ(s.process_by_type[0].process.mean_s, 45.0);
  EXPECT_EQ(s.changeover_s, 20.0);
  ASSERT_EQ(s.changeover.size(), 1u);
  EXPECT_EQ(s.changeover[0].from, 1);
  EXPECT_EQ(s.changeover[0].to, 0);
  const Deck again = deck_of(d.resolved_yaml);
  EXPECT_EQ(again.factory.part_types, d.factory.part_types);
  EXPECT_EQ(again.factory.factories[0].lines[0].stations[0].changeover[0].time_s, 5.0);

  const auto first_error = [&](const std::string& from, const std::string& to) {
    const Strings e = errors_of(with(deck, from, to));
    return e.empty() ? std::string("no error") : e.front();
  };
  expect_contains(first_error("{type: b, share: 1}", "{type: c, share: 1}"),
                  "mix.1.type: expected one of the part types in factory.part_types (a, b), found 'c'");
  expect_contains(first_error("{type: b, share: 1}", "{type: a, share: 1}"),
                  "expected each part type once, found 'a' again");
  expect_contains(first_error("{type: b, share: 1}", "{type: b, share: 0}"), "mix.1.share: expected");
  expect_contains(first_error("{from: b, to: a, time_s: 5}", "{from: b, to: b, time_s: 5}"),
                  "expected another type than 'from'");
  expect_contains(first_error("{from: b, to: a, time_s: 5}", "{from: b, to: a, time_s: -5}"),
                  "changeover.0.time_s: expected");
  expect_contains(first_error("part_types: [a, b]", "part_types: [a, a]"),
                  "expected a unique part type name, found 'a' again");
  expect_contains(first_error("part_types: [a, b]", "part_types: []"),
                  "part_types: expected a list of 1 to 1000 part type names");
  expect_contains(first_error("  part_types: [a, b]\n", ""), "and factory.part_types names none");
}

TEST(Deck, ShiftCalendarsOfFactoriesAndStations) {
  const std::string deck = with(station_with("              shifts:\n"
                                             "                period_s: 604800\n"
                                             "                working: [{start_s: 0, end_s: 432000}]\n"),
                                "    - name: f\n",
                                "    - name: f\n"
                                "      shifts:\n"
                                "        working:\n"
                                "          - {start_s: 21600, end_s: 43200}\n"
                                "          - {start_s: 45000, end_s: 100000}\n");
  const Deck d = deck_of(deck);
  const factory::ShiftCalendar& f = d.factory.factories[0].shifts;
  EXPECT_TRUE(f.enabled);
  EXPECT_EQ(f.period_s, 86400.0);  // a day unless given
  ASSERT_EQ(f.working.size(), 2u);
  EXPECT_EQ(f.working[1].start_s, 45000.0);
  EXPECT_EQ(f.working[1].end_s, 100000.0);  // a night shift into the next day
  const factory::ShiftCalendar& s = d.factory.factories[0].lines[0].stations[0].shifts;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.period_s, 604800.0);
  EXPECT_FALSE(deck_of(minimal).factory.factories[0].shifts.enabled);
  const Deck again = deck_of(d.resolved_yaml);
  EXPECT_EQ(again.factory.factories[0].shifts.working[1].end_s, 100000.0);
  EXPECT_EQ(again.factory.factories[0].lines[0].stations[0].shifts.period_s, 604800.0);

  const auto error_of = [](const std::string& working) {
    const Strings e = errors_of(station_with("              shifts: {working: " + working + "}\n"));
    return e.size() == 1 ? e.front() : "errors: " + std::to_string(e.size());
  };
  EXPECT_EQ(error_of("[{start_s: 0, end_s: 100}, {start_s: 100, end_s: 200}]"),
            "deck.yaml:13:33: factory.factories.0.lines.0.stations.0.shifts.working: expected working periods "
            "[start_s, end_s) of one period, sorted, each ending before the next starts and the last before the "
            "first starts again one period later; found that working period 0 does not end before the next starts "
            "(merge touching periods into one)");
  EXPECT_NE(error_of("[{start_s: 0, end_s: 86400}]").find("a calendar without breaks needs no shifts"),
            std::string::npos);
  EXPECT_NE(error_of("[{start_s: 100, end_s: 50}]").find("working period 0 does not end after it starts"),
            std::string::npos);
  EXPECT_NE(error_of("[{start_s: 90000, end_s: 95000}]").find("does not start within the period"),
            std::string::npos);
  EXPECT_NE(error_of("[{start_s: 0}]").find("shifts.working.0: missing required key 'end_s'"), std::string::npos);
  EXPECT_NE(error_of("[{start_s: -1, end_s: 10}]").find("shifts.working.0.start_s: expected"), std::string::npos);
  EXPECT_NE(error_of("[]").find("working"), std::string::npos);
  EXPECT_NE(error_of("[{start_s: 0, end_s: 10, colour: red}]").find("unknown key 'colour'"), std::string::npos);
}

TEST(Deck, RunBlock) {
  const Deck d = deck_of(R"(run:
  seed: 42
  end_time_s: 3600
  report_interval_s: 60
  output_dir: out/x
  checkpoint_interval_s: 1200
  checkpoint_keep: 1000
  history_publish_s: 0
)" + minimal);
  EXPECT_EQ(d.run.seed, 42u);
  EXPECT_EQ(d.run.history_publish_s, 0.0);
  EXPECT_EQ(d.run.end_time_s, 3600.0);
  EXPECT_EQ(d.run.report_interval_s, 60.0);
  EXPECT_EQ(d.run.output_dir, "out/x");
  EXPECT_EQ(d.run.checkpoint_interval_s, 1200.0);
  EXPECT_EQ(d.run.checkpoint_keep, 1000);
}

TEST(Deck, AutomaticCheckpointsNeedTheNodeFailureRate) {
  const Deck d = deck_of("run:\n  checkpoint_interval_s: auto\n  node_mtbf_s: 3.6e6\n" + minimal);
  EXPECT_TRUE(d.run.checkpoint_auto);
  EXPECT_EQ(d.run.checkpoint_interval_s, 0.0);
  EXPECT_EQ(d.run.node_mtbf_s, 3.6e6);
  EXPECT_NE(d.resolved_yaml.find("checkpoint_interval_s: auto"), std::string::npos);
  const Deck plain = deck_of(minimal);
  EXPECT_FALSE(plain.run.checkpoint_auto);
  EXPECT_EQ(errors_of("run:\n  checkpoint_interval_s: auto\n" + minimal),
            Strings{"deck.yaml:2:26: run.checkpoint_interval_s: expected run.node_mtbf_s (the mean time between "
                    "failures of one node, in seconds) with 'auto': the interval is Young/Daly's sqrt(2 C M) with "
                    "M = node_mtbf_s / nodes"});
  EXPECT_EQ(errors_of("run:\n  checkpoint_interval_s: 600\n  node_mtbf_s: 1000\n" + minimal),
            Strings{"deck.yaml:3:16: run.node_mtbf_s: is used only by automatic checkpoints; expected it with "
                    "run.checkpoint_interval_s: auto"});
  EXPECT_EQ(errors_of("run:\n  checkpoint_interval_s: automatic\n" + minimal),
            Strings{"deck.yaml:2:26: run.checkpoint_interval_s: expected a number of seconds >= 0 or 'auto', found "
                    "'automatic'"});
  EXPECT_EQ(errors_of("run:\n  checkpoint_interval_s: auto\n  node_mtbf_s: 0\n" + minimal),
            Strings{"deck.yaml:3:16: run.node_mtbf_s: expected a number of seconds > 0, found '0'"});
}

TEST(Deck, IterationsCountReportIntervals) {
  const Deck d = deck_of("run:\n  iterations: 12\n  report_interval_s: 300\n" + minimal);
  EXPECT_EQ(d.run.end_time_s, 3600.0);
  // The resolved deck says end_time_s, never iterations: feeding it back cannot give both.
  EXPECT_NE(d.resolved_yaml.find("end_time_s: 3600"), std::string::npos);
  EXPECT_EQ(d.resolved_yaml.find("iterations"), std::string::npos);
}

TEST(Deck, NullRunBlockTakesDefaults) {
  const Deck d = deck_of("run:\n" + minimal);
  EXPECT_EQ(d.run.seed, 1u);
}

TEST(Deck, ReplicasAreNamedWithIndex) {
  const Deck d = deck_of(R"(factory:
  factories:
    - name: f
      lines:
        - name: l
          count: 3
          source: {interval_s: 60}
          stations:
            - name: a
              count: 2
              process: {distribution: fixed, time_s: 1}
            - name: b
              process: {distribution: fixed, time_s: 2}
        - name: single
          source: {interval_s: 60}
          stations:
            - name: c
              process: {distribution: fixed, time_s: 1}
)");
  // The configuration keeps each entry once with its count; the index numbers the copies.
  const auto& lines = d.factory.factories.at(0).lines;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].count, 3);
  EXPECT_EQ(lines[0].stations.at(0).count, 2);
  EXPECT_EQ(lines[0].stations.at(1).count, 1);
  const factory::ModelIndex index(d.factory);
  ASSERT_EQ(index.line_count(), 4);
  ASSERT_EQ(index.station_count(), 10);
  EXPECT_EQ(index.line_name(0), "f/l#0");
  EXPECT_EQ(index.line_name(2), "f/l#2");
  EXPECT_EQ(index.line_name(3), "f/single");
  for (int i = 0; i < 3; ++i) {
    const std::string line = "f/l#" + std::to_string(i);
    EXPECT_EQ(index.station_name(3 * i), line + "/a#0");
    EXPECT_EQ(index.station_name(3 * i + 1), line + "/a#1");
    EXPECT_EQ(index.station_name(3 * i + 2), line + "/b");
    EXPECT_EQ(index.place(3 * i + 2).config->process.mean_s, 2.0);
    EXPECT_EQ(index.place(3 * i + 1).position, 1);
    EXPECT_EQ(index.place(3 * i + 1).line_begin, 3 * i);
    EXPECT_EQ(index.line_begin(i), 3 * i);
  }
  EXPECT_EQ(index.station_name(9), "f/single/c");
  EXPECT_EQ(index.place(9).line, 3);
  EXPECT_EQ(index.place(9).line_end, 10);
  EXPECT_EQ(factory::model_names(d.factory).stations.size(), 10u);
  // The resolved deck keeps count: it describes the deck, not the expansion.
  EXPECT_NE(d.resolved_yaml.find("count: 3"), std::string::npos);
  EXPECT_EQ(d.resolved_yaml.find("l#0"), std::string::npos);
}

TEST(Deck, ResolvedDeckFillsInDefaults) {
  const Deck d = deck_of(minimal);
  EXPECT_EQ(d.resolved_yaml,
            R"(# resolved deck: every key with its value, defaults filled in, --set applied
run:
  seed: 1
  end_time_s: 28800
  report_interval_s: 600
  output_dir: output
  checkpoint_interval_s: 0
  checkpoint_keep: 3
  history_publish_s: 1
factory:
  factories:
    - name: f
      lines:
        - name: l
          count: 1
          source:
            kind: poisson
            interval_s: 60
          conveyor_time_s: 10
          buffer_capacity: 10
          stations:
            - name: s
              count: 1
              servers: 1
              process:
                distribution: fixed
                time_s: 30
              scrap_probability: 0
              rework_probability: 0
              max_rework: 0
              buffer_capacity: 10
              conveyor_time_s: 10
              changeover_s: 0
              route: probability
              assembly: false
              disassembly: false
)");
}

TEST(Deck, ResolvedDeckRoundTrips) {
  const std::string text = R"(run: {seed: 9, iterations: 7, report_interval_s: 0.1}
factory:
  factories:
    - name: "007"
      lines:
        - name: l
          count: 2
          source: {kind: fixed, interval_s: 0.3}
          buffer_capacity: unlimited
          conveyor_time_s: 1e-3
          stations:
            - name: a
              count: 4
              process: {distribution: uniform, min_s: 0.1, max_s: 0.7}
              scrap_probability: 0.125
              breakdown: {mtbf_s: 1e5, mttr_s: 3.3}
            - name: b
              process: {distribution: lognormal, mean_s: 2.2}
              buffer_capacity: 7
)";
  const Deck first = deck_of(text, {"factory.factories.0.lines.0.stations.1.process.cv=0.7"});
  const Deck second = deck_of(first.resolved_yaml);
  expect_same_config(first, second);
  EXPECT_EQ(second.resolved_yaml, first.resolved_yaml);
  EXPECT_EQ(first.factory.factories[0].lines[0].stations[1].process.cv, 0.7);
}

TEST(Deck, ShippedDecksParseAndRoundTrip) {
  const std::string root = KOLLEKTIV_SOURCE_DIR;
  for (const char* name : {"inputs/quickstart.yaml", "inputs/factory_basic.yaml", "inputs/factory_multiline.yaml",
                           "inputs/plant_example.yaml", "inputs/bench/factory_large.yaml", "inputs/bench/serial_line.yaml",
                           "inputs/bench/sparse_line.yaml", "inputs/bench/factory_10m.yaml"}) {
    SCOPED_TRACE(name);
    const std::string path = root + "/" + name;
    const DeckResult r = parse_deck(read_file(path), path, {});
    for (const DeckError& e : r.errors) ADD_FAILURE() << e.format();
    ASSERT_TRUE(r.deck.has_value());
    DeckResult again = parse_deck(r.deck->resolved_yaml, path, {});  // files relative to the same folder
    for (const DeckError& e : again.errors) ADD_FAILURE() << e.format();
    ASSERT_TRUE(again.deck.has_value());
    expect_same_config(*r.deck, *again.deck);
  }
}

TEST(Deck, ShippedDecksHaveTheirAdvertisedShape) {
  const std::string root = KOLLEKTIV_SOURCE_DIR;
  const auto load = [&](const std::string& name) {
    const std::string path = root + "/" + name;  // robot files are relative to the deck
    DeckResult r = parse_deck(read_file(path), path, {});
    for (const DeckError& e : r.errors) ADD_FAILURE() << e.format();
    return r.deck ? *r.deck : Deck{};
  };
  const Deck large = load("inputs/bench/factory_large.yaml");
  ASSERT_EQ(large.factory.factories.size(), 1u);
  const factory::ModelIndex large_index(large.factory);
  EXPECT_EQ(large_index.line_count(), 1000);
  EXPECT_EQ(large_index.station_count(), 20000);
  // 10^7 stations parse into one line entry of 20 stations: the deck's size, not the model's.
  const Deck huge = load("inputs/bench/factory_10m.yaml");
  ASSERT_EQ(huge.factory.factories.at(0).lines.size(), 1u);
  EXPECT_EQ(factory::ModelIndex(huge.factory).station_count(), 10000000);

  const Deck serial = load("inputs/bench/serial_line.yaml");
  const auto& line = serial.factory.factories.at(0).lines.at(0);
  EXPECT_EQ(line.source.kind, factory::ArrivalKind::poisson);
  ASSERT_EQ(line.stations.size(), 5u);
  for (const auto& s : line.stations) {
    EXPECT_EQ(s.process.distribution, factory::Distribution::exponential);
    EXPECT_EQ(s.buffer_capacity, 0);
  }

  const Deck basic = load("inputs/factory_basic.yaml");
  EXPECT_EQ(basic.run.end_time_s, 8 * 3600.0);
  EXPECT_EQ(basic.run.report_interval_s, 600.0);
  EXPECT_GE(basic.run.end_time_s / basic.run.checkpoint_interval_s, 2.0);
  EXPECT_TRUE(basic.cells.skills.empty());

  // The quickstart: one shift of two lines, each with a robot cell of the one learning skill.
  const Deck quick = load("inputs/quickstart.yaml");
  EXPECT_EQ(quick.run.end_time_s, 8 * 3600.0);
  ASSERT_EQ(quick.cells.skills.size(), 1u);
  EXPECT_TRUE(quick.cells.skills[0].learn);
  int cells = 0;
  for (const auto& l : quick.factory.factories.at(0).lines)
    for (const auto& s : l.stations)
      if (s.cell.enabled) {
        ++cells;
        EXPECT_EQ(s.cell.skill, 0);
        EXPECT_EQ(s.cell.robots, 4);
        EXPECT_DOUBLE_EQ(s.cell.ideal_cycle_s, 10.0 + 100 * 0.02);
      }
  EXPECT_EQ(cells, 2);

  const Deck multi = load("inputs/factory_multiline.yaml");
  EXPECT_EQ(multi.factory.factories.size(), 2u);
  EXPECT_EQ(multi.factory.factories[1].lines[1].stations[0].servers, 2);
}

// ---------------------------------------------------------------------------------------
// Malformed decks: the exact messages

TEST(DeckErrors, YamlSyntaxError) {
  EXPECT_EQ(errors_of("run:\n  seed: [1, 2\nfactory: {}\n"),
            Strings{"deck.yaml:3:8: invalid YAML: end of sequence flow not found"});
}

TEST(DeckErrors, TabIndentation) {
  EXPECT_EQ(errors_of("run:\n\tseed: 1\n"), Strings{"deck.yaml:2:6: invalid YAML: illegal map value"});
}

TEST(DeckErrors, RecursiveAlias) {
  EXPECT_EQ(errors_of("factory: &f {factories: [*f]}\n"),
            Strings{"deck.yaml:1:10: expected at most 64 levels of nesting, found more (a recursive alias?)"});
}

TEST(DeckErrors, EmptyDeckMissesFactory) {
  EXPECT_EQ(errors_of(""), Strings{"deck.yaml:1:1: expected exactly one of 'factory' or 'training', found neither"});
  EXPECT_EQ(errors_of("# nothing but a comment\n"),
            Strings{"deck.yaml:1:1: expected exactly one of 'factory' or 'training', found neither"});
}

TEST(DeckErrors, TopLevelNotAMapping) {
  EXPECT_EQ(errors_of("- run\n- factory\n"), Strings{"deck.yaml:1:1: expected a mapping, found a sequence"});
  EXPECT_EQ(errors_of("hello\n"), Strings{"deck.yaml:1:1: expected a mapping, found 'hello'"});
}

TEST(DeckErrors, UnknownTopLevelKeyWithSuggestion) {
  EXPECT_EQ(errors_of("rnu:\n  seed: 1\n" + minimal),
            Strings{"deck.yaml:1:1: rnu: unknown key 'rnu'; did you mean 'run'?"});
}

TEST(DeckErrors, UnknownKeyWithoutSuggestionListsKeys) {
  EXPECT_EQ(errors_of("robots: []\n" + minimal),
            Strings{"deck.yaml:1:1: robots: unknown key 'robots'; expected one of: run, factory, training, cells, experiment"});
}

TEST(DeckErrors, MisspelledBlockAlsoMissesRequiredOne) {
  EXPECT_EQ(errors_of(with(minimal, "factory:", "factroy:")),
            (Strings{"deck.yaml:1:1: expected exactly one of 'factory' or 'training', found neither",
                     "deck.yaml:1:1: factroy: unknown key 'factroy'; did you mean 'factory'?"}));
}

TEST(DeckErrors, SeedNotANumber) {
  EXPECT_EQ(errors_of("run:\n  seed: abc\n" + minimal),
            Strings{"deck.yaml:2:9: run.seed: expected a non-negative integer, found 'abc'"});
}

TEST(DeckErrors, SeedNegativeOrFractional) {
  EXPECT_EQ(errors_of("run:\n  seed: -1\n" + minimal),
            Strings{"deck.yaml:2:9: run.seed: expected a non-negative integer, found '-1'"});
  EXPECT_EQ(errors_of("run:\n  seed: 1.5\n" + minimal),
            Strings{"deck.yaml:2:9: run.seed: expected a non-negative integer, found '1.5'"});
}

TEST(DeckErrors, IntegerTooLarge) {
  EXPECT_EQ(errors_of("run:\n  seed: 99999999999999999999\n" + minimal),
            Strings{"deck.yaml:2:9: run.seed: expected a non-negative integer, found '99999999999999999999'"});
}

TEST(DeckErrors, EndTimeNotPositive) {
  EXPECT_EQ(errors_of("run:\n  end_time_s: 0\n" + minimal),
            Strings{"deck.yaml:2:15: run.end_time_s: expected a number of seconds > 0, found '0'"});
}

TEST(DeckErrors, NonFiniteNumbers) {
  EXPECT_EQ(errors_of("run:\n  end_time_s: .inf\n  report_interval_s: nan\n  checkpoint_interval_s: 1e999\n" + minimal),
            (Strings{"deck.yaml:2:15: run.end_time_s: expected a number of seconds > 0, found '.inf'",
                     "deck.yaml:3:22: run.report_interval_s: expected a number of seconds > 0, found 'nan'",
                     "deck.yaml:4:26: run.checkpoint_interval_s: expected a number of seconds >= 0 or 'auto', found '1e999'"}));
}

TEST(DeckErrors, EndTimeAndIterationsBoth) {
  EXPECT_EQ(errors_of("run:\n  end_time_s: 100\n  iterations: 3\n" + minimal),
            Strings{"deck.yaml:3:15: run.iterations: expected end_time_s or iterations, found both"});
}

TEST(DeckErrors, KeyWithoutValue) {
  EXPECT_EQ(errors_of("run:\n  seed:\n" + minimal),
            Strings{"deck.yaml:2:3: run.seed: expected a non-negative integer, found nothing"});
}

TEST(DeckErrors, IterationsZero) {
  EXPECT_EQ(errors_of("run:\n  iterations: 0\n" + minimal),
            Strings{"deck.yaml:2:15: run.iterations: expected a positive integer, found '0'"});
}

TEST(DeckErrors, BooleanSpelledYes) {
  EXPECT_EQ(errors_of("factory:\n  factories:\n    - name: f\n      lines:\n        - name: l\n          source: {interval_s: 60}\n          stations:\n            - name: s\n              process: {distribution: fixed, time_s: 30}\n              breakdown: {mtbf_s: 10, mttr_s: 1, only_when_busy: yes}\n"),
            Strings{"deck.yaml:10:66: factory.factories.0.lines.0.stations.0.breakdown.only_when_busy: expected true or "
                    "false, found 'yes'"});
}

// A "billion laughs": every level multiplies the one below by ten. yaml-cpp shares aliased
// nodes, but the deck's tree copies them; the parse stops at the node budget instead of
// expanding to gigabytes on every rank.
TEST(DeckErrors, AliasBombIsRefused) {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string prev = "*a" + std::to_string(level - 1);
    bomb += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [" + prev;
    for (int k = 1; k < 10; ++k) bomb += ", " + prev;
    bomb += "]\n";
  }
  const Strings errors = errors_of(bomb + minimal);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("expected at most 500000 YAML nodes with aliases expanded, found more"),
            std::string::npos)
      << errors[0];
  EXPECT_EQ(errors[0].rfind("deck.yaml:", 0), 0u) << errors[0];
}

TEST(DeckErrors, DeterministicWasRemoved) {
  EXPECT_EQ(errors_of("run:\n  deterministic: true\n" + minimal),
            Strings{"deck.yaml:2:3: run.deterministic: 'deterministic' was removed: results are always bitwise "
                    "identical at any rank count (the exact sums cost little; see README \"Determinism\"); delete "
                    "the key"});
}

TEST(DeckErrors, TooManyReportsOrCheckpoints) {
  EXPECT_EQ(errors_of("run:\n  end_time_s: 1e12\n  report_interval_s: 1e-3\n  checkpoint_interval_s: 1\n" + minimal),
            (Strings{"deck.yaml:3:22: run.report_interval_s: expected a number of seconds >= end_time_s / 1e9 (1000; "
                     "at most 1e9 of them in a run), found 0.001",
                     "deck.yaml:4:26: run.checkpoint_interval_s: expected a number of seconds >= end_time_s / 1e9 "
                     "(1000; at most 1e9 of them in a run), found 1"}));
}

TEST(DeckErrors, CheckpointKeepOutOfRange) {
  EXPECT_EQ(errors_of("run:\n  checkpoint_keep: 1001\n" + minimal),
            Strings{"deck.yaml:2:20: run.checkpoint_keep: expected an integer in [1, 1000], found '1001'"});
  EXPECT_EQ(errors_of("run:\n  history_publish_s: -1\n" + minimal),
            Strings{"deck.yaml:2:22: run.history_publish_s: expected a number of seconds >= 0, found '-1'"});
}

TEST(DeckErrors, CheckpointIntervalNegative) {
  EXPECT_EQ(errors_of("run:\n  checkpoint_interval_s: -600\n" + minimal),
            Strings{"deck.yaml:2:26: run.checkpoint_interval_s: expected a number of seconds >= 0 or 'auto', found '-600'"});
}

TEST(DeckErrors, OutputDirEmptyOrNotAString) {
  EXPECT_EQ(errors_of("run:\n  output_dir: \"\"\n" + minimal),
            Strings{"deck.yaml:2:15: run.output_dir: expected a non-empty string, found ''"});
  EXPECT_EQ(errors_of("run:\n  output_dir: [a]\n" + minimal),
            Strings{"deck.yaml:2:15: run.output_dir: expected a non-empty string, found a sequence"});
}

TEST(DeckErrors, RunIsNotAMapping) {
  EXPECT_EQ(errors_of("run: [1, 2]\n" + minimal), Strings{"deck.yaml:1:6: run: expected a mapping, found a sequence"});
}

TEST(DeckErrors, DuplicateKey) {
  EXPECT_EQ(errors_of("run:\n  seed: 1\n  seed: 2\n" + minimal),
            Strings{"deck.yaml:3:3: run.seed: duplicate key 'seed' (first at deck.yaml:2:3)"});
}

TEST(DeckErrors, FactoriesMissingOrEmpty) {
  EXPECT_EQ(errors_of("factory:\n  plants: []\n"),
            (Strings{"deck.yaml:2:3: factory: missing required key 'factories'",
                     "deck.yaml:2:3: factory.plants: unknown key 'plants'; expected one of: part_types, factories"}));
  EXPECT_EQ(errors_of("factory:\n  factories: []\n"),
            Strings{"deck.yaml:2:14: factory.factories: expected a non-empty sequence, found an empty sequence"});
  EXPECT_EQ(errors_of("factory:\n  factories:\n"),
            Strings{"deck.yaml:2:3: factory.factories: expected a non-empty sequence, found nothing"});
  EXPECT_EQ(errors_of("factory:\n"), Strings{"deck.yaml:1:1: factory: missing required key 'factories'"});
}

TEST(DeckErrors, FactoryItemNotAMapping) {
  EXPECT_EQ(errors_of("factory:\n  factories:\n    - plant\n"),
            Strings{"deck.yaml:3:7: factory.factories.0: expected a mapping, found 'plant'"});
}

TEST(DeckErrors, FactoryNameMissing) {
  EXPECT_EQ(errors_of(with(minimal, "- name: f\n      lines:", "- lines:")),
            Strings{"deck.yaml:3:7: factory.factories.0: missing required key 'name'"});
}

TEST(DeckErrors, DuplicateFactoryNames) {
  const std::string twice = minimal + "    - name: f\n      lines: [{name: l, source: {interval_s: 1}, stations: "
                                      "[{name: s, process: {distribution: exponential, mean_s: 1}}]}]\n";
  EXPECT_EQ(errors_of(twice),
            Strings{"deck.yaml:13:13: factory.factories.1.name: expected a unique factory name, found 'f' "
                    "(first at deck.yaml:3:13)"});
}

TEST(DeckErrors, DuplicateLineAndStationNames) {
  const std::string text = R"(factory:
  factories:
    - name: f
      lines:
        - name: l
          source: {interval_s: 60}
          stations:
            - {name: s, process: {distribution: fixed, time_s: 1}}
            - {name: s, process: {distribution: fixed, time_s: 1}}
        - name: l
          source: {interval_s: 60}
          stations:
            - {name: s, process: {distribution: fixed, time_s: 1}}
)";
  EXPECT_EQ(errors_of(text),
            (Strings{"deck.yaml:9:22: factory.factories.0.lines.0.stations.1.name: expected a station name unique "
                     "within its line, found 's' (first at deck.yaml:8:22)",
                     "deck.yaml:10:17: factory.factories.0.lines.1.name: expected a line name unique within its "
                     "factory, found 'l' (first at deck.yaml:5:17)"}));
}

TEST(DeckErrors, NameWithReservedCharacters) {
  EXPECT_EQ(errors_of(with(minimal, "name: l", "name: l#0")),
            Strings{"deck.yaml:5:17: factory.factories.0.lines.0.name: expected a non-empty name without '#' or "
                    "'/', found 'l#0'"});
  EXPECT_EQ(errors_of(with(minimal, "name: s", "name: a/b")),
            Strings{"deck.yaml:9:21: factory.factories.0.lines.0.stations.0.name: expected a non-empty name "
                    "without '#' or '/', found 'a/b'"});
}

TEST(DeckErrors, LineCountNotPositive) {
  EXPECT_EQ(errors_of(with(minimal, "- name: l\n", "- name: l\n          count: 0\n")),
            Strings{"deck.yaml:6:18: factory.factories.0.lines.0.count: expected a positive integer, found '0'"});
  EXPECT_EQ(errors_of(with(minimal, "- name: l\n", "- name: l\n          count: two\n")),
            Strings{"deck.yaml:6:18: factory.factories.0.lines.0.count: expected a positive integer, found 'two'"});
}

TEST(DeckErrors, SourceMissing) {
  EXPECT_EQ(errors_of(with(minimal, "          source:\n            interval_s: 60\n", "")),
            Strings{"deck.yaml:5:11: factory.factories.0.lines.0: missing required key 'source'"});
}

TEST(DeckErrors, SourceIntervalMissingAndKindMisspelled) {
  EXPECT_EQ(errors_of(with(minimal, "interval_s: 60", "kind: posson")),
            (Strings{"deck.yaml:7:13: factory.factories.0.lines.0.source: missing required key 'interval_s'",
                     "deck.yaml:7:19: factory.factories.0.lines.0.source.kind: expected 'fixed' or 'poisson', "
                     "found 'posson'; did you mean 'poisson'?"}));
}

TEST(DeckErrors, BufferCapacityZero) {
  EXPECT_EQ(errors_of(station_with("              buffer_capacity: 0\n")),
            Strings{"deck.yaml:13:32: factory.factories.0.lines.0.stations.0.buffer_capacity: expected a positive "
                    "integer or 'unlimited', found '0'"});
}

TEST(DeckErrors, LineBufferCapacityWord) {
  EXPECT_EQ(errors_of(with(minimal, "          stations:", "          buffer_capacity: infinite\n          stations:")),
            Strings{"deck.yaml:8:28: factory.factories.0.lines.0.buffer_capacity: expected a positive integer or "
                    "'unlimited', found 'infinite'"});
}

TEST(DeckErrors, StationsNotASequence) {
  EXPECT_EQ(errors_of("factory:\n  factories:\n    - name: f\n      lines:\n        - name: l\n"
                      "          source: {interval_s: 1}\n          stations: {name: s}\n"),
            Strings{"deck.yaml:7:21: factory.factories.0.lines.0.stations: expected a non-empty sequence, found a "
                    "mapping"});
}

TEST(DeckErrors, ProcessMissing) {
  EXPECT_EQ(errors_of(with(minimal, "              process:\n                distribution: fixed\n"
                                    "                time_s: 30\n", "")),
            Strings{"deck.yaml:9:15: factory.factories.0.lines.0.stations.0: missing required key 'process'"});
}

TEST(DeckErrors, DistributionMissing) {
  EXPECT_EQ(errors_of(with(minimal, "                distribution: fixed\n", "")),
            Strings{"deck.yaml:11:17: factory.factories.0.lines.0.stations.0.process: missing required key "
                    "'distribution'"});
}

TEST(DeckErrors, DistributionUnknownWithSuggestion) {
  EXPECT_EQ(errors_of(with(minimal, "distribution: fixed", "distribution: exponentail")),
            Strings{"deck.yaml:11:31: factory.factories.0.lines.0.stations.0.process.distribution: expected "
                    "'fixed', 'uniform', 'exponential' or 'lognormal', found 'exponentail'; did you mean "
                    "'exponential'?"});
}

TEST(DeckErrors, KeyOfAnotherDistribution) {
  EXPECT_EQ(errors_of(minimal + "                max_s: 40\n"),
            Strings{"deck.yaml:13:17: factory.factories.0.lines.0.stations.0.process.max_s: 'max_s' is not a key of "
                    "a fixed process; expected one of: time_s"});
  EXPECT_EQ(errors_of(with(minimal, "distribution: fixed\n                time_s: 30",
                           "distribution: exponential\n                mean_s: 30\n                cv: 1")),
            Strings{"deck.yaml:13:17: factory.factories.0.lines.0.stations.0.process.cv: 'cv' is not a key of an "
                    "exponential process; expected one of: mean_s"});
}

TEST(DeckErrors, FixedTimeMissing) {
  EXPECT_EQ(errors_of(with(minimal, "                time_s: 30\n", "")),
            Strings{"deck.yaml:11:17: factory.factories.0.lines.0.stations.0.process: missing required key "
                    "'time_s'"});
}

TEST(DeckErrors, UniformMinAboveMax) {
  EXPECT_EQ(errors_of(with(minimal, "distribution: fixed\n                time_s: 30",
                           "distribution: uniform\n                min_s: 5\n                max_s: 3")),
            Strings{"deck.yaml:13:24: factory.factories.0.lines.0.stations.0.process.max_s: expected a number of "
                    "seconds > min_s (5), found '3'"});
}

TEST(DeckErrors, UniformMissingMaxAndNegativeMin) {
  EXPECT_EQ(errors_of(with(minimal, "distribution: fixed\n                time_s: 30",
                           "distribution: uniform\n                min_s: -1")),
            (Strings{"deck.yaml:11:17: factory.factories.0.lines.0.stations.0.process: missing required key 'max_s'",
                     "deck.yaml:12:24: factory.factories.0.lines.0.stations.0.process.min_s: expected a number of "
                     "seconds >= 0, found '-1'"}));
}

TEST(DeckErrors, LognormalCvNotPositive) {
  EXPECT_EQ(errors_of(with(minimal, "distribution: fixed\n                time_s: 30",
                           "distribution: lognormal\n                mean_s: 30\n                cv: 0")),
            Strings{"deck.yaml:13:21: factory.factories.0.lines.0.stations.0.process.cv: expected a number > 0, "
                    "found '0'"});
}

TEST(DeckErrors, ScrapProbabilityOne) {
  EXPECT_EQ(errors_of(station_with("              scrap_probability: 1\n")),
            Strings{"deck.yaml:13:34: factory.factories.0.lines.0.stations.0.scrap_probability: expected a number "
                    "in [0, 1), found '1'"});
}

TEST(DeckErrors, ConveyorTimeZero) {
  EXPECT_EQ(errors_of(station_with("              conveyor_time_s: 0\n")),
            Strings{"deck.yaml:13:32: factory.factories.0.lines.0.stations.0.conveyor_time_s: expected a number of "
                    "seconds > 0, found '0'"});
}

TEST(DeckErrors, BreakdownIncomplete) {
  EXPECT_EQ(errors_of(station_with("              breakdown:\n                mtbf_s: 3600\n")),
            Strings{"deck.yaml:14:17: factory.factories.0.lines.0.stations.0.breakdown: missing required key "
                    "'mttr_s'"});
  EXPECT_EQ(errors_of(station_with("              breakdown:\n")),
            (Strings{"deck.yaml:13:15: factory.factories.0.lines.0.stations.0.breakdown: missing required key "
                     "'mtbf_s'",
                     "deck.yaml:13:15: factory.factories.0.lines.0.stations.0.breakdown: missing required key "
                     "'mttr_s'"}));
}

TEST(DeckErrors, BreakdownTypoAndWrongType) {
  EXPECT_EQ(errors_of(station_with("              breakdown: {mtfb_s: 10, mttr_s: 1, only_when_busy: 1}\n")),
            (Strings{"deck.yaml:13:26: factory.factories.0.lines.0.stations.0.breakdown: missing required key "
                     "'mtbf_s'",
                     "deck.yaml:13:27: factory.factories.0.lines.0.stations.0.breakdown.mtfb_s: unknown key "
                     "'mtfb_s'; did you mean 'mtbf_s'?",
                     "deck.yaml:13:66: factory.factories.0.lines.0.stations.0.breakdown.only_when_busy: expected "
                     "true or false, found '1'"}));
}

TEST(DeckErrors, StationItemNotAMapping) {
  EXPECT_EQ(errors_of(with(minimal, "            - name: s\n", "            - s\n            - name: s\n")),
            Strings{"deck.yaml:9:15: factory.factories.0.lines.0.stations.0: expected a mapping, found 's'"});
}

TEST(DeckErrors, TooManyStations) {
  EXPECT_EQ(errors_of(with(with(minimal, "- name: l\n", "- name: l\n          count: 100000\n"), "- name: s\n",
                           "- name: s\n              count: 1001\n")),
            Strings{"deck.yaml:2:3: factory: expected at most 100000000 stations counting replicas, found "
                    "100100000"});
  // Counts whose product overflows int64 are still caught.
  EXPECT_EQ(errors_of(with(with(minimal, "- name: l\n", "- name: l\n          count: 9223372036854775807\n"),
                           "- name: s\n", "- name: s\n              count: 9223372036854775807\n")),
            Strings{"deck.yaml:2:3: factory: expected at most 100000000 stations counting replicas, found "
                    "9223372036854775807"});
}

// Each rank holds its share of the stations: a share that would not fit the memory a rank
// may use is a deck error, before anything is allocated; more ranks make it fit.
TEST(DeckErrors, FactoryLargerThanMemory) {
  const std::string deck = with(minimal, "- name: l\n", "- name: l\n          count: 1000000\n");
  const DeckResult fits = parse_deck(deck, "deck.yaml", {}, read_file_from_disk, 64.0 * 1073741824.0);
  EXPECT_TRUE(fits.deck.has_value());
  const DeckResult r = parse_deck(deck, "deck.yaml", {}, read_file_from_disk, 0.1 * 1073741824.0, 2);
  ASSERT_EQ(r.errors.size(), 1u);
  const std::string e = r.errors[0].format();
  EXPECT_EQ(e.rfind("deck.yaml:2:3: factory: expected a factory that fits in memory: 1000000 stations on 2 ranks need "
                    "about ",
                    0),
            0u)
      << e;
  EXPECT_NE(e.find("GiB on each rank (500000 stations each), 0.1 GiB are available per rank; run on more ranks or "
                   "nodes"),
            std::string::npos)
      << e;
  const DeckResult spread = parse_deck(deck, "deck.yaml", {}, read_file_from_disk, 0.1 * 1073741824.0, 16);
  EXPECT_TRUE(spread.deck.has_value());
}

TEST(DeckErrors, AllErrorsReportedTogetherInFileOrder) {
  const std::string text = R"(run:
  sed: 1
  report_interval_s: -1
factory:
  factories:
    - name: f
      lines:
        - name: l
          source: {interval_s: zero}
          stations:
            - name: s
              process: {distribution: fixed, time_s: 30, mean_s: 4}
              scrap_probability: 2
)";
  EXPECT_EQ(errors_of(text),
            (Strings{"deck.yaml:2:3: run.sed: unknown key 'sed'; did you mean 'seed'?",
                     "deck.yaml:3:22: run.report_interval_s: expected a number of seconds > 0, found '-1'",
                     "deck.yaml:9:32: factory.factories.0.lines.0.source.interval_s: expected a number of seconds > "
                     "0, found 'zero'",
                     "deck.yaml:12:58: factory.factories.0.lines.0.stations.0.process.mean_s: 'mean_s' is not a key "
                     "of a fixed process; expected one of: time_s",
                     "deck.yaml:13:34: factory.factories.0.lines.0.stations.0.scrap_probability: expected a number "
                     "in [0, 1), found '2'"}));
}

TEST(DeckErrors, FormatWithoutKeyPath) {
  DeckError e{"d.yaml", 3, 4, "", "invalid YAML: x"};
  EXPECT_EQ(e.format(), "d.yaml:3:4: invalid YAML: x");
  e.key_path = "run.seed";
  EXPECT_EQ(e.format(), "d.yaml:3:4: run.seed: invalid YAML: x");
}

// ---------------------------------------------------------------------------------------
// --set overrides

TEST(DeckOverrides, ValidOverridesApply) {
  const std::string text = with(minimal, "- name: l\n", "- name: l\n          count: 2\n");
  const Deck d = deck_of(text, {"run.seed=7", "factory.factories.0.lines.0.count=5",
                                "factory.factories.0.lines.0.stations.0.process.time_s=2.5",
                                "factory.factories.0.lines.0.source.kind=fixed"});
  EXPECT_EQ(d.run.seed, 7u);
  EXPECT_EQ(d.factory.factories[0].lines[0].count, 5);
  EXPECT_EQ(factory::ModelIndex(d.factory).line_name(4), "f/l#4");
  EXPECT_EQ(d.factory.factories[0].lines[0].stations[0].process.mean_s, 2.5);
  EXPECT_EQ(d.factory.factories[0].lines[0].source.kind, factory::ArrivalKind::fixed);
  EXPECT_NE(d.resolved_yaml.find("seed: 7"), std::string::npos);
  EXPECT_NE(d.resolved_yaml.find("count: 5"), std::string::npos);
  EXPECT_EQ(d.text, text);  // the original bytes, not the overridden deck
}

TEST(DeckOverrides, LaterOverrideWins) {
  EXPECT_EQ(deck_of(minimal, {"run.seed=3", "run.seed=4"}).run.seed, 4u);
}

TEST(DeckOverrides, OverrideAddsBlocksAndKeys) {
  const Deck d = deck_of(minimal, {"run.checkpoint_keep=9",
                                   "factory.factories.0.lines.0.stations.0.breakdown.mtbf_s=100",
                                   "factory.factories.0.lines.0.stations.0.breakdown.mttr_s=10"});
  EXPECT_EQ(d.run.checkpoint_keep, 9);
  EXPECT_TRUE(d.factory.factories[0].lines[0].stations[0].breakdown.enabled);
}

TEST(DeckOverrides, OverrideWithFlowMapping) {
  const Deck d = deck_of(minimal, {"factory.factories.0.lines.0.stations.0.process={distribution: exponential, "
                                   "mean_s: 8}"});
  EXPECT_EQ(d.factory.factories[0].lines[0].stations[0].process.distribution, factory::Distribution::exponential);
}

TEST(DeckOverrides, OverrideOfEndTimeReplacesIterationsInFile) {
  const Deck d = deck_of("run:\n  iterations: 10\n" + minimal, {"run.end_time_s=60"});
  EXPECT_EQ(d.run.end_time_s, 60.0);
  const Deck e = deck_of("run:\n  end_time_s: 100\n  report_interval_s: 5\n" + minimal, {"run.iterations=3"});
  EXPECT_EQ(e.run.end_time_s, 15.0);
  EXPECT_EQ(errors_of(minimal, {"run.end_time_s=6", "run.iterations=3"}),
            Strings{"--set:1:16: run.iterations: expected end_time_s or iterations, found both"});
}

TEST(DeckOverrides, WrongType) {
  EXPECT_EQ(errors_of(minimal, {"run.seed=abc"}),
            Strings{"--set:1:10: run.seed: expected a non-negative integer, found 'abc'"});
  EXPECT_EQ(errors_of(minimal, {"run.end_time_s="}),
            Strings{"--set:1:16: run.end_time_s: expected a number of seconds > 0, found nothing"});
  EXPECT_EQ(errors_of(minimal, {"factory.factories.0.lines.0.stations.0.process.distribution=normal"}),
            Strings{"--set:1:61: factory.factories.0.lines.0.stations.0.process.distribution: expected 'fixed', "
                    "'uniform', 'exponential' or 'lognormal', found 'normal'"});
}

TEST(DeckOverrides, UnknownPathWithSuggestion) {
  EXPECT_EQ(errors_of(minimal, {"run.sed=4"}), Strings{"--set:1:5: run.sed: unknown key 'sed'; did you mean 'seed'?"});
  EXPECT_EQ(errors_of(minimal, {"factory.factories.0.lines.0.stations.0.proces.time_s=1"}),
            Strings{"--set:1:40: factory.factories.0.lines.0.stations.0.proces: unknown key 'proces'; did you mean "
                    "'process'?"});
  EXPECT_EQ(errors_of(minimal, {"nonsense.x=1"}),
            Strings{"--set:1:1: nonsense: unknown key 'nonsense'; expected one of: run, factory, training, cells, experiment"});
}

TEST(DeckOverrides, Malformed) {
  EXPECT_EQ(errors_of(minimal, {"run.seed"}), Strings{"--set:1:9: run.seed: expected 'key.path=value', found no '='"});
  EXPECT_EQ(errors_of(minimal, {"=5"}), Strings{"--set:1:1: expected a key path before '=', found nothing"});
  EXPECT_EQ(errors_of(minimal, {"run..seed=5"}), Strings{"--set:1:5: run: expected a key, found an empty path segment"});
  EXPECT_EQ(errors_of(minimal, {"run.seed=[1"}), Strings{"--set:1:10: run.seed: invalid YAML: end of sequence flow not found"});
}

TEST(DeckOverrides, BadSequenceIndex) {
  EXPECT_EQ(errors_of(minimal, {"factory.factories.1.name=g"}),
            Strings{"--set:1:19: factory.factories.1: expected an index in [0, 0], found '1'"});
  EXPECT_EQ(errors_of(minimal, {"factory.factories.first.name=g"}),
            Strings{"--set:1:19: factory.factories.first: expected an index in [0, 0], found 'first'"});
}

TEST(DeckOverrides, IndexIntoEmptySequence) {
  EXPECT_EQ(errors_of("factory:\n  factories: []\n", {"factory.factories.0.name=g"}),
            (Strings{"deck.yaml:2:14: factory.factories: expected a non-empty sequence, found an empty sequence",
                     "--set:1:19: factory.factories.0: expected no index (the sequence is empty), found '0'"}));
}

TEST(DeckOverrides, DeckNotAMappingIsReportedNotReplaced) {
  EXPECT_EQ(errors_of("hello\n", {"run.seed=1"}), Strings{"deck.yaml:1:1: expected a mapping, found 'hello'"});
}

TEST(DeckOverrides, EmptyDeckBuiltFromOverrides) {
  const Deck d = deck_of("", {"factory.factories=[{name: f, lines: [{name: l, source: {interval_s: 1}, stations: "
                              "[{name: s, process: {distribution: fixed, time_s: 1}}]}]}]"});
  EXPECT_EQ(d.factory.factories.at(0).lines.at(0).stations.at(0).name, "s");
}

TEST(DeckOverrides, KeyInsideAScalar) {
  EXPECT_EQ(errors_of(minimal, {"factory.factories.0.name.x=g"}),
            Strings{"--set:1:21: factory.factories.0.name: expected a non-empty name without '#' or '/', found a "
                    "mapping"});
}

TEST(DeckOverrides, ErrorsOrderedByOverrideAfterFile) {
  EXPECT_EQ(errors_of("run:\n  seed: x\n" + minimal, {"run.checkpoint_keep=0", "run.seed=y"}),
            (Strings{"--set:1:21: run.checkpoint_keep: expected an integer in [1, 1000], found '0'",
                     "--set:1:10: run.seed: expected a non-negative integer, found 'y'"}));
  // The deck file's errors come first.
  EXPECT_EQ(errors_of("run:\n  sed: x\n" + minimal, {"run.checkpoint_keep=0"}),
            (Strings{"deck.yaml:2:3: run.sed: unknown key 'sed'; did you mean 'seed'?",
                     "--set:1:21: run.checkpoint_keep: expected an integer in [1, 1000], found '0'"}));
}

TEST(DeckOverrides, SyntaxErrorInDeckStopsBeforeOverrides) {
  EXPECT_EQ(errors_of("run: [\n", {"run.seed=1"}), Strings{"deck.yaml:2:1: invalid YAML: end of sequence flow not found"});
}

// ---------------------------------------------------------------------------------------
// Training decks

// Files a training deck may refer to, served from memory so that the tests do not depend on
// the working directory; the planar arm is the shipped one.
std::optional<std::string> test_files(const std::string& path) {
  const std::string root = KOLLEKTIV_SOURCE_DIR;
  static const std::map<std::string, std::string> files = {
      {"robots/planar2.yaml", read_file(root + "/inputs/robots/planar2.yaml")},
      {"robots/planar2.urdf", read_file(root + "/inputs/robots/planar2.urdf")},
      {"robots/ur5.yaml", read_file(root + "/inputs/robots/ur5.yaml")},
      {"robots/bad.yaml", "robot:\n  joints:\n    - mass: -1\n      inertia: [1, 1, 1, 0, 0, 0]\n"},
      {"robots/broken.yaml", "robot:\n  joints: [\n"},
      {"robots/broken.urdf", "<robot name=\"x\"><link name=\"a\"/>"},
  };
  const auto it = files.find(path);
  if (it == files.end()) return std::nullopt;
  return it->second;
}

// The smallest valid training deck: line 2 "  skill: reach" (value col 10), line 3
// "  robot: robots/planar2.yaml" (value col 10).
const std::string training_minimal = R"(training:
  skill: reach
  robot: robots/planar2.yaml
)";

Strings training_errors(const std::string& text, const Strings& overrides = {},
                        const std::string& file = "deck.yaml") {
  const DeckResult r = parse_deck(text, file, overrides, test_files);
  EXPECT_FALSE(r.deck.has_value());
  Strings out;
  for (const DeckError& e : r.errors) out.push_back(e.format());
  return out;
}

Deck training_deck_of(const std::string& text, const Strings& overrides = {}) {
  DeckResult r = parse_deck(text, "deck.yaml", overrides, test_files);
  for (const DeckError& e : r.errors) ADD_FAILURE() << e.format();
  EXPECT_TRUE(r.deck.has_value());
  return r.deck ? *r.deck : Deck{};
}

TEST(DeckTraining, AutomaticCheckpoints) {
  const Deck d = training_deck_of("run:\n  node_mtbf_s: 86400\n" + training_minimal + "  checkpoint_every: auto\n");
  EXPECT_TRUE(d.run.checkpoint_auto);
  EXPECT_EQ(d.training.checkpoint_every, 0);
  EXPECT_EQ(d.run.node_mtbf_s, 86400.0);
  EXPECT_EQ(training_errors(training_minimal + "  checkpoint_every: auto\n"),
            Strings{"deck.yaml:4:21: training.checkpoint_every: expected run.node_mtbf_s (the mean time between "
                    "failures of one node, in seconds) with 'auto': the interval is Young/Daly's sqrt(2 C M) with "
                    "M = node_mtbf_s / nodes"});
  EXPECT_EQ(training_errors("run:\n  node_mtbf_s: 86400\n" + training_minimal),
            Strings{"deck.yaml:2:16: run.node_mtbf_s: is used only by automatic checkpoints; expected it with "
                    "training.checkpoint_every: auto"});
}

// The precision keys of weld (torch angles, part placement, seam sensor) and a curriculum:
// the parse, the resolved deck round trip, and every error.
TEST(DeckTraining, PrecisionWeldAndCurriculum) {
  const std::string weld = with(with(training_minimal, "reach", "weld"), "planar2", "ur5");
  const std::string deck = weld + R"(  curriculum:
    - {tolerance_scale: 4, advance_at: 0.8, hold_iterations: 5}
    - {tolerance_scale: 2, advance_at: 0.85}
    - {tolerance_scale: 1}
  weld:
    torch_angles: true
    torch_axis: [0, 0, 2]
    work_angle_rad: -0.1
    travel_angle_rad: 0.2
    angle_tolerance_rad: 0.05
    part_offset_m: 0.003
    part_yaw_rad: 0.02
    seam_sensor: true
    sensor_noise_m: 0.0002
    sensor_lag_s: 0.04
)";
  const Deck d = training_deck_of(deck);
  const skills::WeldConfig& w = d.training.skill.weld;
  EXPECT_TRUE(w.torch_angles);
  EXPECT_EQ(w.torch_axis, (std::array<double, 3>{0, 0, 2}));
  EXPECT_EQ(w.work_angle_rad, -0.1);
  EXPECT_EQ(w.travel_angle_rad, 0.2);
  EXPECT_EQ(w.angle_tolerance_rad, 0.05);
  EXPECT_EQ(w.part_offset_m, 0.003);
  EXPECT_EQ(w.part_yaw_rad, 0.02);
  EXPECT_TRUE(w.seam_sensor);
  EXPECT_EQ(w.sensor_noise_m, 0.0002);
  EXPECT_EQ(w.sensor_lag_s, 0.04);
  const std::vector<CurriculumStage>& c = d.training.curriculum;
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].tolerance_scale, 4.0);
  EXPECT_EQ(c[0].advance_at, 0.8);
  EXPECT_EQ(c[0].hold_iterations, 5);
  EXPECT_EQ(c[1].advance_at, 0.85);
  EXPECT_EQ(c[1].hold_iterations, 1);
  EXPECT_EQ(c[2].tolerance_scale, 1.0);
  const Deck again = training_deck_of(d.resolved_yaml);
  EXPECT_EQ(again.training.skill.weld.sensor_lag_s, 0.04);
  EXPECT_EQ(again.training.skill.weld.torch_axis, w.torch_axis);
  ASSERT_EQ(again.training.curriculum.size(), 3u);
  EXPECT_EQ(again.training.curriculum[1].advance_at, 0.85);
  // Defaults: everything off, as the easy decks had it.
  const skills::WeldConfig plain = training_deck_of(weld).training.skill.weld;
  EXPECT_FALSE(plain.torch_angles);
  EXPECT_FALSE(plain.seam_sensor);
  EXPECT_EQ(plain.part_offset_m, 0.0);
  EXPECT_TRUE(training_deck_of(weld).training.curriculum.empty());

  // The torch's angles and position take 5 joints.
  EXPECT_EQ(training_errors(with(weld, "ur5", "planar2") + "  weld:\n    torch_angles: true\n"),
            Strings{"deck.yaml:5:19: training.weld.torch_angles: expected false for an arm of fewer than 5 joints "
                    "(the torch's work and travel angles and its position need 5), but robot 'planar2' has 2"});
  EXPECT_EQ(training_errors(weld + "  weld:\n    torch_axis: [0, 0, 0]\n"),
            Strings{"deck.yaml:5:17: training.weld.torch_axis: expected a non-zero vector, found [0, 0, 0]"});
  EXPECT_EQ(training_errors(weld + "  weld:\n    travel_angle_rad: 1.6\n"),
            Strings{"deck.yaml:5:23: training.weld.travel_angle_rad: expected a number in (-1.5707963267948966, "
                    "1.5707963267948966), found '1.6'"});
  EXPECT_EQ(training_errors(weld + "  weld:\n    sensor_lag_s: -1\n"),
            Strings{"deck.yaml:5:19: training.weld.sensor_lag_s: expected a number >= 0, found '-1'"});
  EXPECT_EQ(training_errors(weld + "  common:\n    randomise: {link_mass: 1}\n"),
            Strings{"deck.yaml:5:28: training.common.randomise.link_mass: expected a number in [0, 0.5], found '1'"});
  EXPECT_EQ(training_errors(weld + "  curriculum:\n    - {tolerance_scale: 2, advance_at: 0.5}\n"
                                   "    - {tolerance_scale: 3, advance_at: 0.5}\n    - {tolerance_scale: 1.5}\n"),
            (Strings{"deck.yaml:6:25: training.curriculum.1.tolerance_scale: expected at most the previous stage's 2 "
                     "(a curriculum tightens), found 3",
                     "deck.yaml:7:25: training.curriculum.2.tolerance_scale: expected 1 in the last stage (training "
                     "ends at the skill's own tolerances), found 1.5"}));
  EXPECT_EQ(training_errors(weld + "  common:\n    randomise: {joint_friction: 1}\n"),
            Strings{"deck.yaml:5:17: training.common.randomise.joint_friction: unknown key 'joint_friction'; expected "
                    "one of: link_mass, joint_damping, joint_friction_nm, actuator_gain, joint_noise_rad, "
                    "joint_velocity_noise_rad_s"});
  EXPECT_EQ(training_errors(weld + "  curriculum: []\n"),
            Strings{"deck.yaml:4:15: training.curriculum: expected a non-empty sequence, found an empty sequence"});
  EXPECT_EQ(training_errors(weld + "  curriculum:\n    - {tolerance_scale: 2}\n    - {tolerance_scale: 1}\n"),
            Strings{"deck.yaml:5:7: training.curriculum.0: missing required key 'advance_at'"});
  EXPECT_EQ(training_errors(weld + "  curriculum:\n    - {tolerance_scale: 1, advance_at: 0.9}\n"),
            Strings{"deck.yaml:5:40: training.curriculum.0.advance_at: expected no advance_at in the last stage "
                    "(training ends in it; its target is training.target)"});
  EXPECT_EQ(training_errors(weld + "  curriculum:\n    - {tolerance_scale: 0}\n"),
            Strings{"deck.yaml:5:25: training.curriculum.0.tolerance_scale: expected a number > 0, found '0'"});
  EXPECT_EQ(training_errors(weld + "  curriculum:\n    - {advance_at: 1.5, tolerance_scale: 2}\n    - {}\n"),
            (Strings{"deck.yaml:5:20: training.curriculum.0.advance_at: expected a number in [0, 1], found '1.5'",
                     "deck.yaml:6:7: training.curriculum.1: missing required key 'tolerance_scale'"}));
}

// The precision keys of pick_place: the parse, the resolved deck round trip, the errors.
TEST(DeckTraining, PrecisionPickPlace) {
  const std::string pick = with(training_minimal, "reach", "pick_place");
  const Deck d = training_deck_of(pick + R"(  pick_place:
    part_orientation: true
    jaw_axis: [0, 1, 0]
    part_yaw_min_rad: 0.5
    part_yaw_max_rad: 1.5
    place_yaw_min_rad: -1
    place_yaw_max_rad: 1
    grasp_yaw_tolerance_rad: 0.1
    place_yaw_tolerance_rad: 0.05
    grip_force_n: 20
    grip_friction: 0.6
    w_yaw: 0.3
    w_drop: 7
    w_near_miss: 4
    w_time: 0.25
)");
  const skills::PickPlaceConfig& k = d.training.skill.pick_place;
  EXPECT_TRUE(k.part_orientation);
  EXPECT_EQ(k.jaw_axis, (std::array<double, 3>{0, 1, 0}));
  EXPECT_EQ(k.part_yaw_min_rad, 0.5);
  EXPECT_EQ(k.part_yaw_max_rad, 1.5);
  EXPECT_EQ(k.place_yaw_min_rad, -1.0);
  EXPECT_EQ(k.place_yaw_max_rad, 1.0);
  EXPECT_EQ(k.grasp_yaw_tolerance_rad, 0.1);
  EXPECT_EQ(k.place_yaw_tolerance_rad, 0.05);
  EXPECT_EQ(k.grip_force_n, 20.0);
  EXPECT_EQ(k.grip_friction, 0.6);
  EXPECT_EQ(k.w_yaw, 0.3);
  EXPECT_EQ(k.w_drop, 7.0);
  EXPECT_EQ(k.w_near_miss, 4.0);
  EXPECT_EQ(k.w_time, 0.25);
  const skills::PickPlaceConfig again = training_deck_of(d.resolved_yaml).training.skill.pick_place;
  EXPECT_EQ(again.jaw_axis, k.jaw_axis);
  EXPECT_EQ(again.w_near_miss, 4.0);
  EXPECT_EQ(again.w_time, 0.25);
  EXPECT_EQ(again.grip_force_n, 20.0);
  const skills::PickPlaceConfig plain = training_deck_of(pick).training.skill.pick_place;
  EXPECT_FALSE(plain.part_orientation);
  EXPECT_EQ(plain.grip_force_n, 0.0);
  EXPECT_EQ(training_errors(pick + "  pick_place:\n    grip_force_n: -1\n"),
            Strings{"deck.yaml:5:19: training.pick_place.grip_force_n: expected a number >= 0, found '-1'"});
  EXPECT_EQ(training_errors(pick + "  pick_place:\n    jaw_axis: [0, 0, 0]\n"),
            Strings{"deck.yaml:5:15: training.pick_place.jaw_axis: expected a non-zero vector, found [0, 0, 0]"});
  EXPECT_EQ(training_errors(pick + "  pick_place:\n    part_yaw_min_rad: 1\n    part_yaw_max_rad: 0\n"),
            Strings{"deck.yaml:6:23: training.pick_place.part_yaw_max_rad: expected a number >= part_yaw_min_rad (1), "
                    "found '0'"});
}

void expect_same_box(const skills::Box& a, const skills::Box& b) {
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.max, b.max);
}

// Field-by-field equality of everything a training deck produces.
void expect_same_training(const TrainingConfig& a, const TrainingConfig& b) {
  EXPECT_EQ(a.enabled, b.enabled);
  EXPECT_EQ(a.skill.kind, b.skill.kind);
  const skills::CommonConfig& ca = a.skill.common;
  const skills::CommonConfig& cb = b.skill.common;
  EXPECT_EQ(ca.episode_steps, cb.episode_steps);
  EXPECT_EQ(ca.control_dt_s, cb.control_dt_s);
  EXPECT_EQ(ca.substeps, cb.substeps);
  EXPECT_EQ(ca.integrator, cb.integrator);
  EXPECT_EQ(ca.action_mode, cb.action_mode);
  EXPECT_EQ(ca.action_scale, cb.action_scale);
  EXPECT_EQ(ca.kp, cb.kp);
  EXPECT_EQ(ca.kd, cb.kd);
  EXPECT_EQ(ca.pd_frequency_hz, cb.pd_frequency_hz);
  EXPECT_EQ(ca.pd_damping_ratio, cb.pd_damping_ratio);
  EXPECT_EQ(ca.gravity_compensation, cb.gravity_compensation);
  EXPECT_EQ(ca.joint_limits, cb.joint_limits);
  EXPECT_EQ(ca.stagger_start, cb.stagger_start);
  EXPECT_EQ(ca.initial_q, cb.initial_q);
  EXPECT_EQ(ca.initial_q_noise, cb.initial_q_noise);
  const skills::ReachConfig& ra = a.skill.reach;
  const skills::ReachConfig& rb = b.skill.reach;
  expect_same_box(ra.target_box, rb.target_box);
  EXPECT_EQ(ra.tolerance_m, rb.tolerance_m);
  EXPECT_EQ(ra.hold_steps, rb.hold_steps);
  EXPECT_EQ(ra.w_distance, rb.w_distance);
  EXPECT_EQ(ra.w_action, rb.w_action);
  EXPECT_EQ(ra.w_success, rb.w_success);
  const skills::WeldConfig& wa = a.skill.weld;
  const skills::WeldConfig& wb = b.skill.weld;
  EXPECT_EQ(wa.seam_kind, wb.seam_kind);
  expect_same_box(wa.start_box, wb.start_box);
  EXPECT_EQ(wa.surface_normal, wb.surface_normal);
  EXPECT_EQ(wa.yaw_min_rad, wb.yaw_min_rad);
  EXPECT_EQ(wa.yaw_max_rad, wb.yaw_max_rad);
  EXPECT_EQ(wa.length_min_m, wb.length_min_m);
  EXPECT_EQ(wa.length_max_m, wb.length_max_m);
  EXPECT_EQ(wa.curvature_min, wb.curvature_min);
  EXPECT_EQ(wa.curvature_max, wb.curvature_max);
  EXPECT_EQ(wa.travel_speed_m_s, wb.travel_speed_m_s);
  EXPECT_EQ(wa.speed_tolerance, wb.speed_tolerance);
  EXPECT_EQ(wa.lateral_tolerance_m, wb.lateral_tolerance_m);
  EXPECT_EQ(wa.standoff_m, wb.standoff_m);
  EXPECT_EQ(wa.standoff_tolerance_m, wb.standoff_tolerance_m);
  EXPECT_EQ(wa.start_offset_m, wb.start_offset_m);
  EXPECT_EQ(wa.ik_iterations, wb.ik_iterations);
  EXPECT_EQ(wa.quality_threshold, wb.quality_threshold);
  EXPECT_EQ(wa.w_progress, wb.w_progress);
  EXPECT_EQ(wa.w_track, wb.w_track);
  EXPECT_EQ(wa.w_error, wb.w_error);
  EXPECT_EQ(wa.w_action, wb.w_action);
  EXPECT_EQ(wa.w_success, wb.w_success);
  const skills::PickPlaceConfig& pa = a.skill.pick_place;
  const skills::PickPlaceConfig& pb = b.skill.pick_place;
  expect_same_box(pa.part_box, pb.part_box);
  expect_same_box(pa.place_box, pb.place_box);
  EXPECT_EQ(pa.part_mass_min_kg, pb.part_mass_min_kg);
  EXPECT_EQ(pa.part_mass_max_kg, pb.part_mass_max_kg);
  EXPECT_EQ(pa.part_side_m, pb.part_side_m);
  EXPECT_EQ(pa.grasp_tolerance_m, pb.grasp_tolerance_m);
  EXPECT_EQ(pa.place_tolerance_m, pb.place_tolerance_m);
  EXPECT_EQ(pa.gripper_threshold, pb.gripper_threshold);
  EXPECT_EQ(pa.w_reach, pb.w_reach);
  EXPECT_EQ(pa.w_place, pb.w_place);
  EXPECT_EQ(pa.w_hold, pb.w_hold);
  EXPECT_EQ(pa.w_grasp, pb.w_grasp);
  EXPECT_EQ(pa.w_action, pb.w_action);
  EXPECT_EQ(pa.w_success, pb.w_success);
  EXPECT_EQ(a.robot.name, b.robot.name);
  EXPECT_EQ(a.robot.gravity, b.robot.gravity);
  EXPECT_EQ(a.robot.tool_xyz, b.robot.tool_xyz);
  EXPECT_EQ(a.robot.tool_rpy, b.robot.tool_rpy);
  ASSERT_EQ(a.robot.joints.size(), b.robot.joints.size());
  for (std::size_t j = 0; j < a.robot.joints.size(); ++j) {
    EXPECT_EQ(a.robot.joints[j].name, b.robot.joints[j].name);
    EXPECT_EQ(a.robot.joints[j].mass, b.robot.joints[j].mass);
    EXPECT_EQ(a.robot.joints[j].inertia, b.robot.joints[j].inertia);
    EXPECT_EQ(a.robot.joints[j].lower, b.robot.joints[j].lower);
    EXPECT_EQ(a.robot.joints[j].upper, b.robot.joints[j].upper);
  }
  EXPECT_EQ(a.robot_source, b.robot_source);
  EXPECT_EQ(a.robots, b.robots);
  EXPECT_EQ(a.horizon, b.horizon);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.checkpoint_every, b.checkpoint_every);
  EXPECT_EQ(a.policy_file, b.policy_file);
  EXPECT_EQ(a.eval_episodes, b.eval_episodes);
  EXPECT_EQ(a.export_policy, b.export_policy);
  EXPECT_EQ(a.target, b.target);
  const learning::LearnerConfig& la = a.learner;
  const learning::LearnerConfig& lb = b.learner;
  EXPECT_EQ(la.policy_hidden, lb.policy_hidden);
  EXPECT_EQ(la.value_hidden, lb.value_hidden);
  EXPECT_EQ(la.gamma, lb.gamma);
  EXPECT_EQ(la.gae_lambda, lb.gae_lambda);
  EXPECT_EQ(la.loss.clip, lb.loss.clip);
  EXPECT_EQ(la.loss.value_clip, lb.loss.value_clip);
  EXPECT_EQ(la.loss.value_coef, lb.loss.value_coef);
  EXPECT_EQ(la.entropy_coef, lb.entropy_coef);
  EXPECT_EQ(la.max_grad_norm, lb.max_grad_norm);
  EXPECT_EQ(la.learning_rate, lb.learning_rate);
  EXPECT_EQ(la.anneal_learning_rate, lb.anneal_learning_rate);
  EXPECT_EQ(la.total_updates, lb.total_updates);
  EXPECT_EQ(la.epochs, lb.epochs);
  EXPECT_EQ(la.minibatches, lb.minibatches);
  EXPECT_EQ(la.normalize_advantages, lb.normalize_advantages);
  EXPECT_EQ(la.normalize_observations, lb.normalize_observations);
  EXPECT_EQ(la.observation_clip, lb.observation_clip);
  EXPECT_EQ(la.init_log_std, lb.init_log_std);
  EXPECT_EQ(la.adam.beta1, lb.adam.beta1);
  EXPECT_EQ(la.adam.beta2, lb.adam.beta2);
  EXPECT_EQ(la.adam.epsilon, lb.adam.epsilon);
  EXPECT_EQ(la.seed, lb.seed);
  EXPECT_EQ(la.robots_per_block, lb.robots_per_block);
}

// A weld deck that sets every key to something other than its default.
const std::string training_every_key = R"(run:
  seed: 11
  output_dir: out/w
  checkpoint_keep: 5
  history_publish_s: 0.25
training:
  skill: weld
  robot: robots/planar2.yaml
  robots: 96
  horizon: 8
  iterations: 40
  checkpoint_every: 10
  target: 0.75
  policy_file: best.h5
  eval_episodes: 3
  export_policy: p.h5
  common:
    episode_steps: 80
    control_dt_s: 0.01
    substeps: 2
    integrator: rk4
    action_mode: torque
    action_scale: 5
    kp: [100]
    kd: [3, 4]
    pd_frequency_hz: 2.5
    pd_damping_ratio: 0.7
    gravity_compensation: false
    joint_limits: false
    stagger_start: false
    initial_q: [-0.6, 1.2]
    initial_q_noise: 0
    randomise:
      link_mass: 0.1
      joint_damping: 0.2
      joint_friction_nm: 0.3
      actuator_gain: 0.4
      joint_noise_rad: 0.001
      joint_velocity_noise_rad_s: 0.01
  weld:
    seam_kind: arc
    start_box: {min: [0.9, -0.6, 0], max: [1.3, 0.2, 0]}
    surface_normal: [0, 0, 2]
    yaw_min_rad: 1.2
    yaw_max_rad: 1.9
    length_min_m: 0.2
    length_max_m: 0.3
    curvature_min: 0.5
    curvature_max: 2
    travel_speed_m_s: 0.2
    speed_tolerance: 0.25
    lateral_tolerance_m: 0.02
    standoff_m: 0.001
    standoff_tolerance_m: 0.03
    start_offset_m: 0
    ik_iterations: 0
    torch_angles: false
    torch_axis: [1, 0, 0]
    work_angle_rad: 0.1
    travel_angle_rad: -0.2
    angle_tolerance_rad: 0.03
    part_offset_m: 0.002
    part_yaw_rad: 0.01
    seam_sensor: true
    sensor_noise_m: 0.0001
    sensor_lag_s: 0.03
    quality_threshold: 1
    w_progress: 2
    w_track: -1
    w_error: 0.2
    w_action: 0
    w_success: 5
  ppo:
    policy_hidden: [16, 8, 4]
    value_hidden: [256]
    gamma: 1
    gae_lambda: 0
    clip: 0.1
    value_clip: 0
    value_coef: 1
    entropy_coef: 0.01
    max_grad_norm: 0
    learning_rate: 1e-3
    anneal_learning_rate: false
    anneal_iterations: 77
    epochs: 3
    minibatches: 768
    normalize_advantages: false
    normalize_observations: false
    observation_clip: 5
    init_log_std: -0.5
    adam: {beta1: 0.8, beta2: 0.99, epsilon: 1e-8}
    robots_per_block: 96
    seed: 0
)";

TEST(TrainingDeck, MinimalTakesEveryDefault) {
  const Deck d = training_deck_of(training_minimal);
  const TrainingConfig& t = d.training;
  const TrainingConfig defaults;
  EXPECT_TRUE(t.enabled);
  EXPECT_TRUE(d.factory.factories.empty());
  EXPECT_EQ(t.skill.kind, skills::SkillKind::reach);
  EXPECT_EQ(t.robot_source, "robots/planar2.yaml");
  EXPECT_EQ(t.robot.name, "planar2");
  EXPECT_EQ(t.robot.joints.size(), 2u);
  EXPECT_EQ(t.robots, 512);
  EXPECT_EQ(t.horizon, 32);
  EXPECT_EQ(t.iterations, 100);
  EXPECT_EQ(t.checkpoint_every, 0);
  EXPECT_EQ(t.target, 0.9);
  EXPECT_EQ(t.policy_file, "");
  EXPECT_EQ(t.eval_episodes, 1);
  EXPECT_EQ(t.export_policy, "policy.h5");
  // Skill settings: the struct defaults.
  TrainingConfig expected = defaults;
  expected.enabled = true;
  expected.robot = t.robot;
  expected.robot_source = t.robot_source;
  expected.learner.robots_per_block = 64;  // the deck's default; the struct's is 1
  expected.learner.total_updates = 100;
  expect_same_training(t, expected);
  EXPECT_EQ(t.learner.policy_hidden, (std::vector<int>{64, 64}));
  EXPECT_EQ(t.learner.seed, 1u);  // run.seed
  // The run keys that apply to training runs.
  EXPECT_EQ(d.run.seed, 1u);
  EXPECT_EQ(d.run.output_dir, "output");
  EXPECT_EQ(d.run.checkpoint_keep, 3);
  // A factory deck is not a training run.
  EXPECT_FALSE(deck_of(minimal).training.enabled);
}

TEST(TrainingDeck, EveryKeyIsRead) {
  const Deck d = training_deck_of(training_every_key);
  const TrainingConfig& t = d.training;
  EXPECT_EQ(d.run.seed, 11u);
  EXPECT_EQ(d.run.output_dir, "out/w");
  EXPECT_EQ(d.run.checkpoint_keep, 5);
  EXPECT_EQ(d.run.history_publish_s, 0.25);
  EXPECT_EQ(t.skill.kind, skills::SkillKind::weld);
  EXPECT_EQ(t.robots, 96);
  EXPECT_EQ(t.horizon, 8);
  EXPECT_EQ(t.iterations, 40);
  EXPECT_EQ(t.checkpoint_every, 10);
  EXPECT_EQ(t.target, 0.75);
  EXPECT_EQ(t.policy_file, "best.h5");
  EXPECT_EQ(t.eval_episodes, 3);
  EXPECT_EQ(t.export_policy, "p.h5");
  const skills::CommonConfig& c = t.skill.common;
  EXPECT_EQ(c.episode_steps, 80);
  EXPECT_EQ(c.control_dt_s, 0.01);
  EXPECT_EQ(c.substeps, 2);
  EXPECT_EQ(c.integrator, dynamics::Integrator::rk4);
  EXPECT_EQ(c.action_mode, skills::ActionMode::torque);
  EXPECT_EQ(c.action_scale, 5.0);
  EXPECT_EQ(c.kp, std::vector<double>{100});
  EXPECT_EQ(c.kd, (std::vector<double>{3, 4}));
  EXPECT_EQ(c.pd_frequency_hz, 2.5);
  EXPECT_EQ(c.pd_damping_ratio, 0.7);
  EXPECT_FALSE(c.gravity_compensation);
  EXPECT_FALSE(c.joint_limits);
  EXPECT_FALSE(c.stagger_start);
  EXPECT_EQ(c.initial_q, (std::vector<double>{-0.6, 1.2}));
  EXPECT_EQ(c.initial_q_noise, 0.0);
  const skills::WeldConfig& w = t.skill.weld;
  EXPECT_EQ(w.seam_kind, skills::SeamKind::arc);
  EXPECT_EQ(w.start_box.min, (std::array<double, 3>{0.9, -0.6, 0}));
  EXPECT_EQ(w.start_box.max, (std::array<double, 3>{1.3, 0.2, 0}));
  EXPECT_EQ(w.surface_normal, (std::array<double, 3>{0, 0, 2}));  // normalised by the skill
  EXPECT_EQ(w.yaw_min_rad, 1.2);
  EXPECT_EQ(w.yaw_max_rad, 1.9);
  EXPECT_EQ(w.length_min_m, 0.2);
  EXPECT_EQ(w.length_max_m, 0.3);
  EXPECT_EQ(w.curvature_min, 0.5);
  EXPECT_EQ(w.curvature_max, 2.0);
  EXPECT_EQ(w.travel_speed_m_s, 0.2);
  EXPECT_EQ(w.speed_tolerance, 0.25);
  EXPECT_EQ(w.lateral_tolerance_m, 0.02);
  EXPECT_EQ(w.standoff_m, 0.001);
  EXPECT_EQ(w.standoff_tolerance_m, 0.03);
  EXPECT_EQ(w.start_offset_m, 0.0);
  EXPECT_EQ(w.ik_iterations, 0);
  const skills::DynamicsRandomisation& rz = t.skill.common.randomise;
  EXPECT_EQ(rz.link_mass, 0.1);
  EXPECT_EQ(rz.joint_damping, 0.2);
  EXPECT_EQ(rz.joint_friction_nm, 0.3);
  EXPECT_EQ(rz.actuator_gain, 0.4);
  EXPECT_EQ(rz.joint_noise_rad, 0.001);
  EXPECT_EQ(rz.joint_velocity_noise_rad_s, 0.01);
  EXPECT_FALSE(w.torch_angles);  // the planar arm cannot hold the angles: see PrecisionWeldAndCurriculum
  EXPECT_EQ(w.torch_axis, (std::array<double, 3>{1, 0, 0}));
  EXPECT_EQ(w.work_angle_rad, 0.1);
  EXPECT_EQ(w.travel_angle_rad, -0.2);
  EXPECT_EQ(w.angle_tolerance_rad, 0.03);
  EXPECT_EQ(w.part_offset_m, 0.002);
  EXPECT_EQ(w.part_yaw_rad, 0.01);
  EXPECT_TRUE(w.seam_sensor);
  EXPECT_EQ(w.sensor_noise_m, 0.0001);
  EXPECT_EQ(w.sensor_lag_s, 0.03);
  EXPECT_EQ(w.quality_threshold, 1.0);
  EXPECT_EQ(w.w_progress, 2.0);
  EXPECT_EQ(w.w_track, -1.0);
  EXPECT_EQ(w.w_error, 0.2);
  EXPECT_EQ(w.w_action, 0.0);
  EXPECT_EQ(w.w_success, 5.0);
  const learning::LearnerConfig& l = t.learner;
  EXPECT_EQ(l.policy_hidden, (std::vector<int>{16, 8, 4}));
  EXPECT_EQ(l.value_hidden, std::vector<int>{256});
  EXPECT_EQ(l.gamma, 1.0);
  EXPECT_EQ(l.gae_lambda, 0.0);
  EXPECT_EQ(l.loss.clip, 0.1);
  EXPECT_EQ(l.loss.value_clip, 0.0);
  EXPECT_EQ(l.loss.value_coef, 1.0);
  EXPECT_EQ(l.entropy_coef, 0.01);
  EXPECT_EQ(l.max_grad_norm, 0.0);
  EXPECT_EQ(l.learning_rate, 1e-3);
  EXPECT_FALSE(l.anneal_learning_rate);
  EXPECT_EQ(l.total_updates, 77);
  EXPECT_EQ(l.epochs, 3);
  EXPECT_EQ(l.minibatches, 768);  // = robots × horizon, the most allowed
  EXPECT_FALSE(l.normalize_advantages);
  EXPECT_FALSE(l.normalize_observations);
  EXPECT_EQ(l.observation_clip, 5.0);
  EXPECT_EQ(l.init_log_std, -0.5);
  EXPECT_EQ(l.adam.beta1, 0.8);
  EXPECT_EQ(l.adam.beta2, 0.99);
  EXPECT_EQ(l.adam.epsilon, 1e-8);
  EXPECT_EQ(l.robots_per_block, 96);
  EXPECT_EQ(l.seed, 0u);  // given: not run.seed
}

TEST(TrainingDeck, ReachAndPickPlaceSettings) {
  const Deck r = training_deck_of(training_minimal + R"(  reach:
    target_box: {min: [0.3, -1.2, 0], max: [1.5, 1.2, 0]}
    tolerance_m: 0.1
    hold_steps: 3
    w_distance: 2
    w_action: 0.5
    w_success: 1
)");
  EXPECT_EQ(r.training.skill.reach.target_box.min, (std::array<double, 3>{0.3, -1.2, 0}));
  EXPECT_EQ(r.training.skill.reach.target_box.max, (std::array<double, 3>{1.5, 1.2, 0}));
  EXPECT_EQ(r.training.skill.reach.tolerance_m, 0.1);
  EXPECT_EQ(r.training.skill.reach.hold_steps, 3);
  EXPECT_EQ(r.training.skill.reach.w_distance, 2.0);
  EXPECT_EQ(r.training.skill.reach.w_action, 0.5);
  EXPECT_EQ(r.training.skill.reach.w_success, 1.0);
  const Deck p = training_deck_of(with(training_minimal, "reach", "pick_place") + R"(  pick_place:
    part_box: {min: [1.0, -0.5, 0], max: [1.3, -0.2, 0]}
    place_box: {min: [1.0, 0.2, 0], max: [1.3, 0.5, 0]}
    part_mass_min_kg: 0.5
    part_mass_max_kg: 0.5
    part_side_m: 0.1
    grasp_tolerance_m: 0.05
    place_tolerance_m: 0.06
    gripper_threshold: 0.2
    w_reach: 2
    w_place: 3
    w_hold: 0.1
    w_grasp: 4
    w_action: 0
    w_success: 20
)");
  const skills::PickPlaceConfig& pp = p.training.skill.pick_place;
  EXPECT_EQ(p.training.skill.kind, skills::SkillKind::pick_place);
  EXPECT_EQ(pp.part_box.min, (std::array<double, 3>{1.0, -0.5, 0}));
  EXPECT_EQ(pp.place_box.max, (std::array<double, 3>{1.3, 0.5, 0}));
  EXPECT_EQ(pp.part_mass_min_kg, 0.5);
  EXPECT_EQ(pp.part_mass_max_kg, 0.5);
  EXPECT_EQ(pp.part_side_m, 0.1);
  EXPECT_EQ(pp.grasp_tolerance_m, 0.05);
  EXPECT_EQ(pp.place_tolerance_m, 0.06);
  EXPECT_EQ(pp.gripper_threshold, 0.2);
  EXPECT_EQ(pp.w_reach, 2.0);
  EXPECT_EQ(pp.w_place, 3.0);
  EXPECT_EQ(pp.w_hold, 0.1);
  EXPECT_EQ(pp.w_grasp, 4.0);
  EXPECT_EQ(pp.w_action, 0.0);
  EXPECT_EQ(pp.w_success, 20.0);
}

TEST(TrainingDeck, RobotFromYamlUrdfOrInline) {
  const Deck yaml = training_deck_of(training_minimal);
  const Deck urdf = training_deck_of(with(training_minimal, "planar2.yaml", "planar2.urdf"));
  EXPECT_EQ(urdf.training.robot_source, "robots/planar2.urdf");
  ASSERT_EQ(urdf.training.robot.joints.size(), 2u);
  EXPECT_EQ(urdf.training.robot.joints[1].mass, yaml.training.robot.joints[1].mass);
  const Deck inline_robot = training_deck_of(R"(training:
  skill: reach
  robot:
    name: stick
    gravity: [0, -9.81, 0]
    joints:
      - {mass: 2, inertia: [0.01, 0.2, 0.2, 0, 0, 0], com: [0.5, 0, 0], lower: -1, upper: 1}
)");
  EXPECT_EQ(inline_robot.training.robot_source, "inline");
  EXPECT_EQ(inline_robot.training.robot.name, "stick");
  ASSERT_EQ(inline_robot.training.robot.joints.size(), 1u);
  EXPECT_EQ(inline_robot.training.robot.joints[0].mass, 2.0);
  // An inline block may name a URDF, read through the same reader.
  const Deck inline_urdf = training_deck_of(with(training_minimal, "robot: robots/planar2.yaml",
                                                 "robot: {urdf: robots/planar2.urdf, armature: [0.1, 0.2]}"));
  ASSERT_EQ(inline_urdf.training.robot.joints.size(), 2u);
  EXPECT_EQ(inline_urdf.training.robot.joints[1].armature, 0.2);
}

TEST(TrainingDeck, ReferencedFilesAreReadThroughTheReaderRelativeToTheDeck) {
  Strings asked;
  const FileReader reader = [&](const std::string& path) -> std::optional<std::string> {
    asked.push_back(path);
    return test_files(path.substr(path.find("robots/")));
  };
  EXPECT_TRUE(parse_deck(training_minimal, "cases/a/deck.yaml", {}, reader).deck.has_value());
  EXPECT_TRUE(parse_deck(with(training_minimal, "robots/", "/abs/robots/"), "cases/deck.yaml", {}, reader)
                  .deck.has_value());
  EXPECT_EQ(asked, (Strings{"cases/a/robots/planar2.yaml", "/abs/robots/planar2.yaml"}));
  // A factory deck reads nothing.
  asked.clear();
  EXPECT_TRUE(parse_deck(minimal, "deck.yaml", {}, reader).deck.has_value());
  EXPECT_TRUE(asked.empty());
}

TEST(TrainingDeck, OverridesApply) {
  const Deck d = training_deck_of(training_minimal, {"training.robots=128", "training.ppo.epochs=2",
                                                     "training.common.initial_q=[0.1, 0.2]",
                                                     "training.reach.target_box={min: [0, 0, 0], max: [1, 1, 0]}", "run.seed=9"});
  EXPECT_EQ(d.training.robots, 128);
  EXPECT_EQ(d.training.learner.epochs, 2);
  EXPECT_EQ(d.training.skill.common.initial_q, (std::vector<double>{0.1, 0.2}));
  EXPECT_EQ(d.training.skill.reach.target_box.min, (std::array<double, 3>{0, 0, 0}));
  EXPECT_EQ(d.training.learner.seed, 9u);
  // A box is given whole: an override of one corner of a box the file leaves out lacks the other.
  EXPECT_EQ(training_errors(training_minimal, {"training.reach.target_box.min=[0, 0, 0]"}),
            Strings{"--set:1:16: training.reach.target_box: missing required key 'max'"});
}

TEST(TrainingDeck, ResolvedDeckFillsInDefaults) {
  const Deck d = training_deck_of(training_minimal);
  EXPECT_EQ(d.resolved_yaml,
            R"(# resolved deck: every key with its value, defaults filled in, --set applied
run:
  seed: 1
  output_dir: output
  checkpoint_keep: 3
  history_publish_s: 1
training:
  horizon: 32
  iterations: 100
  checkpoint_every: 0
  policy_file: ""
  eval_episodes: 1
  skill: reach
  robot: robots/planar2.yaml
  robots: 512
  target_metric: auto
  target: 0.9
  export_policy: policy.h5
  common:
    episode_steps: 150
    control_dt_s: 0.02
    substeps: 4
    integrator: semi_implicit_euler
    action_mode: pd_delta
    action_scale: 0.1
    kp: []
    kd: []
    pd_frequency_hz: 4
    pd_damping_ratio: 1
    gravity_compensation: true
    joint_limits: true
    stagger_start: true
    initial_q: []
    initial_q_noise: 0.05
  reach:
    target_box: {min: [0.35, -0.25, 0.25], max: [0.6, 0.25, 0.55]}
    tolerance_m: 0.05
    hold_steps: 10
    w_distance: 1
    w_action: 0.01
    w_success: 0.5
  ppo:
    policy_hidden: [64, 64]
    value_hidden: [64, 64]
    gamma: 0.99
    gae_lambda: 0.95
    clip: 0.2
    value_clip: 0.2
    value_coef: 0.5
    entropy_coef: 0
    max_grad_norm: 0.5
    learning_rate: 3e-04
    anneal_learning_rate: true
    anneal_iterations: 100
    epochs: 5
    minibatches: 8
    normalize_advantages: true
    normalize_observations: true
    observation_clip: 10
    init_log_std: 0
    adam:
      beta1: 0.9
      beta2: 0.999
      epsilon: 1e-05
    robots_per_block: 64
    seed: 1
  sharing:
    mode: allreduce
    backend: mpi
    gossip:
      period: 1
      schedule: ring
      moments: average
    federated:
      local_updates: 4
      participation: 0.5
      quorum: 1
      unavailable: 0
      private: []
)");
}

TEST(TrainingDeck, ResolvedDeckRoundTrips) {
  for (const std::string& text :
       {training_every_key, training_minimal,
        with(training_minimal, "robot: robots/planar2.yaml",
             "robot:\n    name: stick\n    joints:\n      - {mass: 2, inertia: [0.01, 0.2, 0.2, 0, 0, 0]}")}) {
    const Deck first = training_deck_of(text, {"training.ppo.learning_rate=2.5e-4"});
    const Deck second = training_deck_of(first.resolved_yaml);
    expect_same_training(first.training, second.training);
    EXPECT_EQ(first.run.seed, second.run.seed);
    EXPECT_EQ(first.run.output_dir, second.run.output_dir);
    EXPECT_EQ(first.run.checkpoint_keep, second.run.checkpoint_keep);
    EXPECT_EQ(first.run.history_publish_s, second.run.history_publish_s);
    EXPECT_EQ(second.resolved_yaml, first.resolved_yaml);
    EXPECT_EQ(second.training.learner.learning_rate, 2.5e-4);
  }
}

TEST(TrainingDeck, ShippedTrainingDecksParseAndRoundTrip) {
  const std::string root = KOLLEKTIV_SOURCE_DIR;
  std::map<std::string, Deck> decks;
  for (const char* name : {"train_reach", "train_reach_ur5", "train_weld", "train_pick_place", "train_smoke",
                           "train_weld_precision", "train_weld_precision_smoke", "train_pick_place_precision"}) {
    SCOPED_TRACE(name);
    const std::string path = root + "/inputs/" + name + ".yaml";
    const DeckResult r = parse_deck(read_file(path), path);  // robots read from disk
    for (const DeckError& e : r.errors) ADD_FAILURE() << e.format();
    ASSERT_TRUE(r.deck.has_value());
    const DeckResult again = parse_deck(r.deck->resolved_yaml, path);
    for (const DeckError& e : again.errors) ADD_FAILURE() << e.format();
    ASSERT_TRUE(again.deck.has_value());
    expect_same_training(r.deck->training, again.deck->training);
    decks[name] = *r.deck;
  }
  // The CleanRL-comparable setting of issue 4.
  const TrainingConfig& reach = decks["train_reach"].training;
  EXPECT_EQ(reach.skill.kind, skills::SkillKind::reach);
  EXPECT_EQ(reach.robot.name, "planar2");
  EXPECT_EQ(reach.robots, 512);
  EXPECT_EQ(reach.horizon, 32);
  EXPECT_EQ(reach.learner.epochs, 5);
  EXPECT_EQ(reach.learner.minibatches, 8);
  EXPECT_EQ(reach.learner.policy_hidden, (std::vector<int>{64, 64}));
  EXPECT_EQ(reach.learner.value_hidden, (std::vector<int>{64, 64}));
  EXPECT_EQ(reach.skill.reach.target_box.min[2], 0.0);  // in the arm's plane
  EXPECT_EQ(reach.skill.reach.target_box.max[2], 0.0);
  EXPECT_EQ(reach.target_metric, TargetMetric::final_error);
  EXPECT_EQ(reach.target, 0.1);  // 5% of the 2 m arm
  EXPECT_EQ(decks["train_reach_ur5"].training.robot.joints.size(), 6u);
  EXPECT_EQ(decks["train_reach_ur5"].training.target_metric, TargetMetric::final_error);
  EXPECT_EQ(decks["train_weld"].training.skill.kind, skills::SkillKind::weld);
  EXPECT_EQ(decks["train_weld"].training.robot.joints.size(), 6u);
  EXPECT_EQ(decks["train_pick_place"].training.skill.kind, skills::SkillKind::pick_place);
  EXPECT_EQ(decks["train_pick_place"].training.robot.joints.size(), 6u);
  const TrainingConfig& smoke = decks["train_smoke"].training;
  EXPECT_EQ(smoke.skill.kind, skills::SkillKind::reach);
  EXPECT_EQ(smoke.robot.name, "planar2");
  EXPECT_EQ(smoke.robots, 64);
  EXPECT_EQ(smoke.horizon, 16);
  EXPECT_LE(smoke.iterations, 10);
  EXPECT_EQ(smoke.learner.policy_hidden, (std::vector<int>{32, 32}));
  EXPECT_EQ(smoke.learner.value_hidden, (std::vector<int>{32, 32}));
  EXPECT_EQ(smoke.learner.robots_per_block, 8);
}

// Malformed training decks: the exact messages

TEST(TrainingDeckErrors, UnknownSkillWithSuggestion) {
  EXPECT_EQ(training_errors(with(training_minimal, "skill: reach", "skill: wled")),
            Strings{"deck.yaml:2:10: training.skill: expected 'reach', 'weld' or 'pick_place', found 'wled'; did you "
                    "mean 'weld'?"});
}

TEST(TrainingDeckErrors, SkillAndRobotMissing) {
  EXPECT_EQ(training_errors("training:\n  robots: 64\n"),
            (Strings{"deck.yaml:2:3: training: missing required key 'skill'",
                     "deck.yaml:2:3: training: missing required key 'robot'"}));
}

TEST(TrainingDeckErrors, FactoryAndTraining) {
  EXPECT_EQ(training_errors(minimal + training_minimal),
            Strings{"deck.yaml:13:1: training: expected exactly one of 'factory' or 'training', found both"});
  // Added by an override: reported there.
  EXPECT_EQ(training_errors(training_minimal, {"factory.factories=[]"}),
            (Strings{"--set:1:1: factory: expected exactly one of 'factory' or 'training', found both",
                     "--set:1:19: factory.factories: expected a non-empty sequence, found an empty sequence"}));
}

TEST(TrainingDeckErrors, NeitherFactoryNorTraining) {
  EXPECT_EQ(training_errors("run:\n  seed: 3\n"),
            Strings{"deck.yaml:1:1: expected exactly one of 'factory' or 'training', found neither"});
  EXPECT_EQ(training_errors("trainig:\n  skill: reach\n"),
            (Strings{"deck.yaml:1:1: expected exactly one of 'factory' or 'training', found neither",
                     "deck.yaml:1:1: trainig: unknown key 'trainig'; did you mean 'training'?"}));
}

TEST(TrainingDeckErrors, FactoryRunKeysInATrainingDeck) {
  EXPECT_EQ(training_errors("run:\n  end_time_s: 60\n  report_interval_s: 1\n  checkpoint_interval_s: 10\n" +
                            training_minimal),
            (Strings{"deck.yaml:2:15: run.end_time_s: applies to factory runs only; in a training deck use "
                     "training.iterations",
                     "deck.yaml:3:22: run.report_interval_s: applies to factory runs only; a training run reports "
                     "once per iteration",
                     "deck.yaml:4:26: run.checkpoint_interval_s: applies to factory runs only; in a training deck "
                     "use training.checkpoint_every"}));
  EXPECT_EQ(training_errors(training_minimal, {"run.iterations=5"}),
            Strings{"--set:1:16: run.iterations: applies to factory runs only; in a training deck use "
                    "training.iterations"});
}

TEST(TrainingDeckErrors, BoxMinAboveMax) {
  EXPECT_EQ(training_errors(training_minimal + "  reach:\n    target_box: {min: [0.3, -1.2, 0], max: [1.5, -1.3, 0]}\n"),
            Strings{"deck.yaml:5:44: training.reach.target_box.max: expected max >= min on every axis, found max.y = "
                    "-1.3 < min.y = -1.2"});
  EXPECT_EQ(training_errors(training_minimal + "  reach:\n    target_box: {min: [0.3, -1.2]}\n"),
            (Strings{"deck.yaml:5:17: training.reach.target_box: missing required key 'max'",
                     "deck.yaml:5:23: training.reach.target_box.min: expected a list of 3 numbers, found a list of "
                     "2"}));
}

TEST(TrainingDeckErrors, OrderedPairs) {
  EXPECT_EQ(training_errors(with(training_minimal, "reach", "weld") +
                            "  weld:\n    length_min_m: 0.3\n    length_max_m: 0.2\n    curvature_min: 5\n"),
            (Strings{"deck.yaml:6:19: training.weld.length_max_m: expected a number >= length_min_m (0.3), found "
                     "'0.2'",
                     "deck.yaml:7:20: training.weld.curvature_min: expected a number <= curvature_max (4, its "
                     "default), found '5'"}));
}

TEST(TrainingDeckErrors, MissingRobotFile) {
  EXPECT_EQ(training_errors(with(training_minimal, "planar2.yaml", "nope.yaml")),
            Strings{"deck.yaml:3:10: training.robot: cannot read robot file 'robots/nope.yaml': no such file or not "
                    "readable"});
  EXPECT_EQ(training_errors(with(training_minimal, "planar2.yaml", "nope.yaml"), {}, "cases/deck.yaml"),
            Strings{"cases/deck.yaml:3:10: training.robot: cannot read robot file 'robots/nope.yaml' (looked for "
                    "'cases/robots/nope.yaml'): no such file or not readable"});
  // The URDF an inline block names.
  EXPECT_EQ(training_errors(with(training_minimal, "robot: robots/planar2.yaml", "robot: {urdf: arm.urdf}")),
            Strings{"deck.yaml:3:17: training.robot.urdf: cannot read robot file 'arm.urdf': no such file or not "
                    "readable"});
}

TEST(TrainingDeckErrors, RobotNeitherFileNorMapping) {
  EXPECT_EQ(training_errors(with(training_minimal, "robots/planar2.yaml", "[1, 2]")),
            Strings{"deck.yaml:3:10: training.robot: expected a robot file ending in .yaml, .yml or .urdf, or a robot "
                    "mapping, found a sequence"});
  EXPECT_EQ(training_errors(with(training_minimal, "robots/planar2.yaml", "arm.txt")),
            Strings{"deck.yaml:3:10: training.robot: expected a robot file ending in .yaml, .yml or .urdf, or a robot "
                    "mapping, found 'arm.txt'"});
}

TEST(TrainingDeckErrors, ErrorsInsideAnInlineRobotBlock) {
  const std::string text = R"(training:
  skill: reach
  robot:
    name: arm
    joints:
      - mass: -1
        inertia: [1, 1, 1, 0, 0, 0]
        colour: red
)";
  EXPECT_EQ(training_errors(text),
            (Strings{"deck.yaml:6:15: training.robot.joints.0.mass: expected a positive number, found -1",
                     "deck.yaml:8:9: training.robot.joints.0.colour: unknown key (expected one of: armature, axis, "
                     "com, damping, effort, inertia, lower, mass, name, rpy, type, upper, velocity, xyz)"}));
  // An override inside the block is reported at the override.
  EXPECT_EQ(training_errors(with(text, "        colour: red\n", ""), {"training.robot.joints.0.inertia=[1, 1]"}),
            (Strings{"deck.yaml:6:15: training.robot.joints.0.mass: expected a positive number, found -1",
                     "--set:1:33: training.robot.joints.0.inertia: expected a list of 6 finite numbers, found a list "
                     "of 2"}));
}

TEST(TrainingDeckErrors, ErrorsInsideAReferencedRobotFile) {
  EXPECT_EQ(training_errors(with(training_minimal, "planar2.yaml", "bad.yaml")),
            Strings{"robots/bad.yaml:3:13: robot.joints.0.mass: expected a positive number, found -1"});
  EXPECT_EQ(training_errors(with(training_minimal, "planar2.yaml", "broken.yaml")),
            Strings{"robots/broken.yaml:3:1: invalid YAML: end of sequence flow not found"});
  // URDF messages carry no position: they are reported at the deck's robot key.
  EXPECT_EQ(training_errors(with(training_minimal, "planar2.yaml", "broken.urdf")),
            Strings{"deck.yaml:3:10: training.robot: robots/broken.urdf: not a valid URDF (urdfdom could not parse it "
                    "into a tree)"});
}

TEST(TrainingDeckErrors, WrongWidths) {
  EXPECT_EQ(training_errors(training_minimal + "  ppo:\n    policy_hidden: [64, 0]\n    value_hidden: 64\n"),
            (Strings{"deck.yaml:5:25: training.ppo.policy_hidden.1: expected an integer in [1, 256], found '0'",
                     "deck.yaml:6:19: training.ppo.value_hidden: expected a list of 1 to 8 integers in [1, 256], "
                     "found '64'"}));
  EXPECT_EQ(training_errors(training_minimal, {"training.ppo.value_hidden=[]"}),
            Strings{"--set:1:27: training.ppo.value_hidden: expected a list of 1 to 8 integers in [1, 256], found "
                    "an empty sequence"});
}

TEST(TrainingDeckErrors, TooManyMinibatches) {
  EXPECT_EQ(training_errors(training_minimal +
                            "  robots: 4\n  horizon: 2\n  ppo:\n    minibatches: 16\n    robots_per_block: 4\n"),
            Strings{"deck.yaml:7:18: training.ppo.minibatches: expected an integer <= robots × horizon (4 × 2 = 8), "
                    "found '16'"});
}

TEST(TrainingDeckErrors, RobotsPerBlockAboveRobots) {
  EXPECT_EQ(training_errors(training_minimal + "  robots: 64\n  ppo:\n    robots_per_block: 128\n"),
            Strings{"deck.yaml:6:23: training.ppo.robots_per_block: expected an integer <= robots (64), found "
                    "'128'"});
  // The default (64) is too many for 16 robots.
  EXPECT_EQ(training_errors(training_minimal + "  robots: 16\n"),
            Strings{"deck.yaml:2:3: training.ppo.robots_per_block: expected an integer <= robots (16), found 64 (the "
                    "default)"});
}

TEST(TrainingDeckErrors, KeysInTheWrongMapping) {
  EXPECT_EQ(training_errors(training_minimal + "  reach:\n    seam_kind: arc\n"),
            Strings{"deck.yaml:5:5: training.reach.seam_kind: 'seam_kind' is a key of training.weld, not of "
                    "training.reach; expected one of: target_box, tolerance_m, hold_steps, w_distance, w_action, "
                    "w_success"});
  EXPECT_EQ(training_errors(training_minimal + "  weld:\n    seam_kind: arc\n"),
            Strings{"deck.yaml:4:3: training.weld: 'weld' is not allowed with skill 'reach'; the settings of 'reach' "
                    "go under 'reach'"});
  EXPECT_EQ(training_errors(training_minimal + "  episode_steps: 10\n"),
            Strings{"deck.yaml:4:3: training.episode_steps: 'episode_steps' is a key of training.common, not of "
                    "training; expected one of: skill, robot, robots, horizon, iterations, checkpoint_every, target_metric, "
                    "target, curriculum, "
                    "policy_file, eval_episodes, export_policy, common, reach, weld, pick_place, sites, sharing, transfer, ppo, "
                    "skills"});
  EXPECT_EQ(training_errors(training_minimal + "  common:\n    w_action: 1\n"),
            Strings{"deck.yaml:5:5: training.common.w_action: 'w_action' is a key of training.reach, training.weld or "
                    "training.pick_place, not of training.common; expected one of: episode_steps, control_dt_s, "
                    "substeps, integrator, action_mode, action_scale, kp, kd, pd_frequency_hz, pd_damping_ratio, "
                    "gravity_compensation, joint_limits, stagger_start, initial_q, initial_q_noise, randomise"});
  EXPECT_EQ(training_errors(training_minimal + "  ppo:\n    lerning_rate: 1\n"),
            Strings{"deck.yaml:5:5: training.ppo.lerning_rate: unknown key 'lerning_rate'; did you mean "
                    "'learning_rate'?"});
}

TEST(TrainingDeckErrors, JointListsSizedByTheRobot) {
  EXPECT_EQ(training_errors(training_minimal + "  common:\n    kp: [1, 2, 3]\n    kd: [-1]\n    initial_q: [0, 4]\n"),
            (Strings{"deck.yaml:5:9: training.common.kp: expected an empty list, one value or one per joint (2), found "
                     "a list of 3",
                     "deck.yaml:6:10: training.common.kd.0: expected a number >= 0, found '-1'",
                     "deck.yaml:7:20: training.common.initial_q.1: expected a number in [-3.141592653589793, "
                     "3.141592653589793] (the limits of joint 'elbow'), found '4'"}));
  EXPECT_EQ(training_errors(training_minimal + "  common:\n    initial_q: [0]\n"),
            Strings{"deck.yaml:5:16: training.common.initial_q: expected an empty list (all zeros) or one value per "
                    "joint (2), found a list of 1"});
}

TEST(TrainingDeckErrors, ValuesOutOfRange) {
  EXPECT_EQ(training_errors(training_minimal + "  target: 1.5\n  horizon: 0\n  common:\n    action_mode: torqe\n",
                            {"training.ppo.gamma=0", "training.ppo.clip=1", "training.ppo.adam.beta2=1"}),
            (Strings{"deck.yaml:4:11: training.target: expected a number in [0, 1], found '1.5'",
                     "deck.yaml:5:12: training.horizon: expected an integer in [1, 65536], found '0'",
                     "deck.yaml:7:18: training.common.action_mode: expected 'torque', 'pd_target' or 'pd_delta', "
                     "found 'torqe'; did you mean 'torque'?",
                     "--set:1:20: training.ppo.gamma: expected a number in (0, 1], found '0'",
                     "--set:1:19: training.ppo.clip: expected a number in (0, 1), found '1'",
                     "--set:1:25: training.ppo.adam.beta2: expected a number in [0, 1), found '1'"}));
}

}  // namespace
// Every size that is multiplied into an allocation is bounded in the deck, so that no deck
// can ask for an overflowing buffer (robots × horizon rows) or env-step count.
TEST(TrainingDeckErrors, SizesThatWouldOverflowAreRefused) {
  EXPECT_EQ(training_errors(training_minimal + "  robots: 1000000000000\n  horizon: 1000000000\n"),
            (Strings{"deck.yaml:4:11: training.robots: expected an integer in [1, 2147483647], found '1000000000000'",
                     "deck.yaml:5:12: training.horizon: expected an integer in [1, 65536], found '1000000000'"}));
  EXPECT_EQ(training_errors(training_minimal + "  robots: 2147483647\n  horizon: 65536\n  iterations: 2000000\n"),
            Strings{"deck.yaml:6:15: training.iterations: expected robots × horizon × iterations <= "
                    "4611686018427387904 env-steps, found 2147483647 × 65536 × 2000000"});
  EXPECT_EQ(training_errors(training_minimal + "  eval_episodes: 1000000000000\n"),
            Strings{"deck.yaml:4:18: training.eval_episodes: expected an integer in [1, 1000000], found "
                    "'1000000000000'"});
  // 1024 robots × 4194304 steps once overflowed the int row count to 0.
  EXPECT_EQ(training_errors(training_minimal + "  robots: 1024\n  horizon: 4194304\n"),
            Strings{"deck.yaml:5:12: training.horizon: expected an integer in [1, 65536], found '4194304'"});
}

TEST(TrainingDeckErrors, ExportedPolicyStaysInsideTheOutputDirectory) {
  const std::string expected = "expected a relative file path inside the output directory (no '..', not absolute)";
  for (const std::string bad : {"/etc/policy.h5", "../policy.h5", "a/../../policy.h5", "", "lib/"}) {
    EXPECT_EQ(training_errors(training_minimal + "  export_policy: \"" + bad + "\"\n"),
              Strings{"deck.yaml:4:18: training.export_policy: " + expected + ", found '" + bad + "'"})
        << bad;
  }
  EXPECT_EQ(training_deck_of(training_minimal + "  export_policy: library/weld.h5\n").training.export_policy,
            "library/weld.h5");
}

TEST(TrainingDeck, AnnealingRunsOverTheIterationsUnlessSet) {
  EXPECT_EQ(training_deck_of(training_minimal + "  iterations: 300\n").training.learner.total_updates, 300);
  EXPECT_EQ(training_deck_of(training_minimal + "  iterations: 300\n  ppo:\n    anneal_iterations: 600\n")
                .training.learner.total_updates,
            600);
  EXPECT_EQ(training_errors(training_minimal + "  ppo:\n    anneal_iterations: 0\n"),
            Strings{"deck.yaml:5:24: training.ppo.anneal_iterations: expected a positive integer, found '0'"});
}

TEST(TrainingDeck, TargetMetricSetsTheTargetsUnit) {
  EXPECT_EQ(training_deck_of(training_minimal).training.target_metric, TargetMetric::automatic);
  const Deck d = training_deck_of(training_minimal + "  target_metric: final_error\n  target: 2.5\n");
  EXPECT_EQ(d.training.target_metric, TargetMetric::final_error);
  EXPECT_EQ(d.training.target, 2.5);  // metres: not limited to [0, 1]
  EXPECT_EQ(training_errors(training_minimal + "  target_metric: quality\n  target: 2.5\n"),
            Strings{"deck.yaml:5:11: training.target: expected a number in [0, 1], found '2.5'"});
  EXPECT_EQ(training_errors(training_minimal + "  target_metric: final_eror\n  target: -1\n"),
            (Strings{"deck.yaml:4:18: training.target_metric: expected 'auto', 'success', 'quality' or "
                     "'final_error', found 'final_eror'; did you mean 'final_error'?",
                     "deck.yaml:5:11: training.target: expected a number in [0, 1], found '-1'"}));
}

}  // namespace kollektiv::io

namespace kollektiv::io {
namespace {

const std::string sites_deck = training_minimal + R"(  reach: {tolerance_m: 0.2}
  sites:
    - {name: a, robots: 8}
    - {name: b, robots: 4, count: 2, reach: {tolerance_m: 0.05}, common: {initial_q_noise: 0.2}}
  sharing:
    mode: federated
    federated: {local_updates: 3, participation: 0.5, quorum: 0.5, unavailable: 0.25, private: [policy.output, normalizer]}
    gossip: {period: 2, schedule: hypercube, moments: keep}
  ppo: {robots_per_block: 4}
)";

TEST(DeckSites, SitesInheritTheSkillAndChangeTheirOwnSettings) {
  const Deck d = training_deck_of(sites_deck);
  const TrainingConfig& t = d.training;
  ASSERT_EQ(t.sites.size(), 3u);
  EXPECT_TRUE(t.sites_given);
  EXPECT_EQ(t.robots, 16);
  EXPECT_EQ(t.sites[0].name, "a");
  EXPECT_EQ(t.sites[1].name, "b#0");
  EXPECT_EQ(t.sites[2].name, "b#1");
  EXPECT_EQ(t.sites[0].skill.reach.tolerance_m, 0.2);  // the training block's
  EXPECT_EQ(t.sites[1].skill.reach.tolerance_m, 0.05);  // the site's own
  EXPECT_EQ(t.sites[2].skill.common.initial_q_noise, 0.2);
  EXPECT_EQ(t.sites[0].skill.common.initial_q_noise, skills::CommonConfig{}.initial_q_noise);
  EXPECT_EQ(t.sharing.mode, training::SharingMode::federated);
  EXPECT_EQ(t.sharing.federated.local_updates, 3);
  EXPECT_EQ(t.sharing.federated.private_layers, (std::vector<std::string>{"policy.output", "normalizer"}));
  EXPECT_EQ(t.sharing.gossip.schedule, training::GossipSchedule::hypercube);
  EXPECT_FALSE(t.sharing.gossip.average_moments);
  // The resolved deck reads back to the same sites.
  const Deck again = training_deck_of(d.resolved_yaml);
  ASSERT_EQ(again.training.sites.size(), 3u);
  EXPECT_EQ(again.training.sites[1].skill.reach.tolerance_m, 0.05);
  // Without sites: one site with every robot, sharing by allreduce.
  const Deck plain = training_deck_of(training_minimal);
  ASSERT_EQ(plain.training.sites.size(), 1u);
  EXPECT_EQ(plain.training.sites[0].robots, plain.training.robots);
  EXPECT_EQ(plain.training.sharing.mode, training::SharingMode::allreduce);
}

bool has_error(const Strings& errors, const std::string& part) {
  for (const std::string& e : errors)
    if (e.find(part) != std::string::npos) return true;
  ADD_FAILURE() << "no error containing '" << part << "' in:\n" << ::testing::PrintToString(errors);
  return false;
}

TEST(DeckSites, EveryNewKeyIsChecked) {
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  robots: 8\n  sites: [{name: a, robots: 8}]\n"),
                        "deck.yaml:4:11: training.robots: expected no 'robots' with 'sites'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: []\n"), "training.sites"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: [{name: a}]\n"), "deck.yaml:4:11: training.sites.0: missing required key 'robots'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: [{name: a, robots: 0}]\n"),
                        "training.sites.0.robots: expected an integer in [1, 2147483647], found '0'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: [{name: a, robots: 1}, {name: a, robots: 2}]\n"),
                        "expected a unique site name, found 'a'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: [{name: a, robots: 1, weld: {}}]\n"),
                        "'weld' is not allowed with skill 'reach'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: [{name: a, robots: 1, horizon: 3}]\n"),
                        "training.sites.0.horizon"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: [{name: a, robots: 1, count: 0}]\n"),
                        "training.sites.0.count"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sites: [{name: a, robots: 1, reach: {tolerance_m: -1}}]\n"),
                        "training.sites.0.reach.tolerance_m"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {mode: swarm}\n"),
                        "training.sharing.mode: expected 'allreduce', 'isolated', 'gossip' or 'federated', found 'swarm'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {backend: nccl}\n"),
                        "training.sharing.backend: expected mpi: this build has no NCCL backend"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {gossip: {period: 0}}\n"),
                        "training.sharing.gossip.period"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {gossip: {schedule: star}}\n"),
                        "training.sharing.gossip.schedule"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {gossip: {moments: some}}\n"),
                        "training.sharing.gossip.moments"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {federated: {participation: 0}}\n"),
                        "training.sharing.federated.participation"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {federated: {quorum: 1.5}}\n"),
                        "training.sharing.federated.quorum"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {federated: {unavailable: 1}}\n"),
                        "training.sharing.federated.unavailable"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {federated: {local_updates: 0}}\n"),
                        "training.sharing.federated.local_updates"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {federated: {private: [policy.7]}}\n"),
                        "training.sharing.federated.private.0: expected policy, policy.<k> (k < 3)"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  sharing: {period: 2}\n"),
                        "'period' is a key of training.sharing.gossip, not of training.sharing"));
}

TEST(DeckTransfer, KeysAreReadAndChecked) {
  const Deck d = training_deck_of(training_minimal +
                                  "  transfer: {policy: lib/reach.h5, layers: [policy.0, value], normalizer: fresh}\n");
  EXPECT_EQ(d.training.transfer.policy, "lib/reach.h5");
  EXPECT_EQ(d.training.transfer.request.layers, (std::vector<std::string>{"policy.0", "value"}));
  EXPECT_EQ(d.training.transfer.request.normalizer, learning::NormalizerTransfer::fresh);
  const Deck again = training_deck_of(d.resolved_yaml);
  EXPECT_EQ(again.training.transfer.request.layers, d.training.transfer.request.layers);
  // Defaults: every layer of both networks, the normaliser where the observation is the same.
  const Deck plain = training_deck_of(training_minimal + "  transfer: {policy: a.h5}\n");
  EXPECT_EQ(plain.training.transfer.request.layers, (std::vector<std::string>{"policy", "value"}));
  EXPECT_EQ(plain.training.transfer.request.normalizer, learning::NormalizerTransfer::automatic);
  EXPECT_TRUE(training_deck_of(training_minimal).training.transfer.policy.empty());

  EXPECT_TRUE(has_error(training_errors(training_minimal + "  transfer: {layers: [policy]}\n"),
                        "deck.yaml:4:13: training.transfer: missing required key 'policy'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  transfer: {policy: a.h5, layers: [policy.3]}\n"),
                        "deck.yaml:4:37: training.transfer.layers.0: expected policy, policy.<k> (k < 3), "
                        "policy.output, policy.log_std, value, value.<k> (k < 3) or value.output, found 'policy.3'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  transfer: {policy: a.h5, layers: []}\n"),
                        "training.transfer.layers"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  transfer: {policy: a.h5, normalizer: maybe}\n"),
                        "training.transfer.normalizer: expected 'auto', 'take' or 'fresh', found 'maybe'"));
  EXPECT_EQ(training_deck_of(training_minimal + "  transfer: {policy: a.h5, shrink: 0.5}\n").training.transfer.request.shrink,
            0.5);
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  transfer: {policy: a.h5, shrink: 0}\n"),
                        "training.transfer.shrink: expected a number in (0, 1]"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  transfer: {policy: a.h5, mode: gossip}\n"),
                        "training.transfer"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  policy_file: p.h5\n  transfer: {policy: a.h5}\n"),
                        "training.transfer: expected no transfer in an evaluation"));
}

const std::string skills_deck = R"(training:
  horizon: 8
  iterations: 4
  skills:
    - name: reachers
      skill: reach
      robot: robots/planar2.yaml
      robots: 12
      reach: {tolerance_m: 0.2}
      ppo: {robots_per_block: 4}
    - name: movers
      skill: pick_place
      robot: robots/planar2.yaml
      sites: [{name: a, robots: 3}, {name: b, robots: 5}]
      sharing: {mode: isolated}
      ppo: {policy_hidden: [16], robots_per_block: 2}
)";

TEST(DeckSkills, EachSkillIsABlockOfItsOwnWithTheRunsLength) {
  const Deck d = training_deck_of(skills_deck);
  const TrainingConfig& t = d.training;
  ASSERT_EQ(t.skills.size(), 2u);
  EXPECT_EQ(t.robots, 20);
  EXPECT_EQ(t.skills[0].name, "reachers");
  EXPECT_EQ(t.skills[0].skill.kind, skills::SkillKind::reach);
  EXPECT_EQ(t.skills[0].skill.reach.tolerance_m, 0.2);
  EXPECT_EQ(t.skills[0].export_policy, "policy_reachers.h5");
  EXPECT_EQ(t.skills[1].skill.kind, skills::SkillKind::pick_place);
  EXPECT_EQ(t.skills[1].robots, 8);
  EXPECT_EQ(t.skills[1].sites.size(), 2u);
  EXPECT_EQ(t.skills[1].sharing.mode, training::SharingMode::isolated);
  EXPECT_EQ(t.skills[1].learner.policy_hidden, std::vector<int>{16});
  for (const TrainingConfig& s : t.skills) {
    EXPECT_EQ(s.horizon, 8);
    EXPECT_EQ(s.iterations, 4);
    EXPECT_EQ(s.learner.total_updates, 4);
  }
  // The resolved deck reads back to the same skills.
  const Deck again = training_deck_of(d.resolved_yaml);
  ASSERT_EQ(again.training.skills.size(), 2u);
  EXPECT_EQ(again.training.skills[1].sites[1].name, "b");
  // --set reaches into an entry.
  const Deck set = training_deck_of(skills_deck, {"training.skills.1.ppo.anneal_iterations=9"});
  EXPECT_EQ(set.training.skills[1].learner.total_updates, 9);
}

TEST(DeckSkills, EveryNewKeyIsChecked) {
  EXPECT_TRUE(has_error(training_errors(with(skills_deck, "  iterations: 4\n", "  iterations: 4\n  ppo: {epochs: 2}\n")),
                        "training.ppo: with 'skills', 'ppo' goes into each entry of training.skills; the training "
                        "block keeps horizon, iterations, checkpoint_every, policy_file, eval_episodes and skills"));
  EXPECT_TRUE(has_error(training_errors(with(skills_deck, "name: movers", "name: reachers")),
                        "training.skills.1.name: expected a unique skill name, found 'reachers'"));
  EXPECT_TRUE(has_error(training_errors(with(skills_deck, "      robots: 12\n", "      robots: 12\n      horizon: 4\n")),
                        "training.skills.0.horizon: 'horizon' is a key of training, not of training.skills"));
  EXPECT_TRUE(has_error(training_errors(with(skills_deck, "  iterations: 4\n", "  iterations: 4\n  policy_file: p.h5\n")),
                        "training.policy_file: expected no policy_file with 'skills'"));
  EXPECT_TRUE(has_error(training_errors(with(skills_deck, "    - name: reachers\n", "    - skill: reach\n      name: x\n    - name: reachers\n")),
                        "training.skills.0: missing required key 'robot'"));
  EXPECT_TRUE(has_error(training_errors(training_minimal + "  skills: []\n"), "training.skills"));
  EXPECT_TRUE(has_error(training_errors(with(skills_deck, "name: movers", "name: 'a/b'")), "training.skills.1.name"));
}

}  // namespace
}  // namespace kollektiv::io

// ---------------------------------------------------------------------------------------
// Robot cells and experiments: a factory whose second station is a cell of skill `k`.

namespace kollektiv::io {
namespace {

std::string cell_deck() {
  return std::string(R"(factory:
  factories:
    - name: f
      lines:
        - name: l
          source: {interval_s: 60}
          stations:
            - name: s
              process: {distribution: fixed, time_s: 30}
            - name: c
              cell: {skill: k, robots: 2, handling_s: 5}
cells:
  update_interval_s: 600
  skills:
    - name: k
      skill: reach
      robot: )") + KOLLEKTIV_SOURCE_DIR + "/inputs/robots/planar2.yaml\n";
}

TEST(DeckCells, ACellTakesItsSkillAndDefaults) {
  const Deck d = deck_of(cell_deck());
  const auto& c = d.factory.factories.at(0).lines.at(0).stations.at(1).cell;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.skill, 0);
  EXPECT_EQ(c.robots, 2);
  EXPECT_EQ(c.handling_s, 5.0);
  EXPECT_EQ(c.good_quality, 0.9);
  EXPECT_EQ(c.rework_quality, 0.0);
  EXPECT_EQ(c.max_rework, 0);
  ASSERT_EQ(d.cells.skills.size(), 1u);
  EXPECT_TRUE(d.cells.skills[0].learn);
  EXPECT_FALSE(d.cells.skills[0].skill.learner.anneal_learning_rate);  // constant unless asked
  EXPECT_EQ(d.cells.skills[0].skill.sharing.mode, training::SharingMode::allreduce);
  const Deck again = deck_of(d.resolved_yaml);  // the resolved deck parses to the same cells
  EXPECT_EQ(again.cells.skills[0].skill.learner.anneal_learning_rate, false);
  EXPECT_EQ(again.factory.factories[0].lines[0].stations[1].cell.robots, 2);
}

TEST(DeckCells, EveryNewKeyIsChecked) {
  const auto error_with = [](const std::string& from, const std::string& to) {
    const Strings e = errors_of(with(cell_deck(), from, to));
    return e.empty() ? std::string() : e.front();
  };
  expect_contains(error_with("handling_s: 5", "handling_s: -1"), "cell.handling_s");
  expect_contains(error_with("robots: 2,", "robots: 2, good_quality: 1.5,"), "cell.good_quality");
  expect_contains(error_with("robots: 2,", "robots: 2, max_rework: 101,"), "cell.max_rework");
  expect_contains(error_with("robots: 2,", "robots: 2, colour: red,"), "unknown key 'colour'");
  expect_contains(error_with("skill: reach", "skill: reach\n      learn: maybe"), "cells.skills.0.learn");
  expect_contains(error_with("update_interval_s: 600", "update_interval_s: 0"), "cells.update_interval_s");
  expect_contains(error_with("update_interval_s: 600", "update_interval_s: 700"), "expected an interval that divides");
  expect_contains(error_with("skill: reach", "skill: reach\n      sites: []"), "expected no 'sites' in a cell skill");
  expect_contains(error_with("cell: {", "max_rework: 2\n              cell: {"),
                  "expected no 'max_rework' in a robot cell");
  EXPECT_EQ(error_with("cell: {", "servers: 2\n              cell: {"),
            "deck.yaml:11:24: factory.factories.0.lines.0.stations.1.servers: expected no 'servers' in a robot cell (a "
            "station with 'cell'): a cell is one set of robots; give several cells with 'count' instead");
  // Cells without their block, and a cells block in a training deck.
  const std::string no_block = cell_deck().substr(0, cell_deck().find("cells:"));
  expect_contains(errors_of(no_block).front(), "expected a 'cells' block");
  // Experiments.
  expect_contains(error_with("cells:", "experiment: {replications: 1}\ncells:"), "experiment.replications");
  expect_contains(error_with("cells:", "experiment: {replications: 4, confidence: 1.0}\ncells:"),
                  "experiment.confidence");
  expect_contains(error_with("cells:", "experiment: {replications: 4, scenarios: [{name: a}, {name: a}]}\ncells:"),
                  "a unique scenario name");
  expect_contains(
      error_with("cells:", "experiment: {replications: 4, scenarios: [{name: a, set: [nonsense]}]}\ncells:"),
      "key.path=value");
}

TEST(DeckCells, ExperimentDefaultsToOneScenario) {
  const Deck d = deck_of(with(cell_deck(), "cells:", "experiment: {replications: 5}\ncells:"));
  EXPECT_EQ(d.experiment.replications, 5);
  EXPECT_EQ(d.experiment.confidence, 0.95);
  ASSERT_EQ(d.experiment.scenarios.size(), 1u);
  EXPECT_EQ(d.experiment.scenarios[0].name, "base");
}

}  // namespace
}  // namespace kollektiv::io
