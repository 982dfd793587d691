// io::Deck: every error path with its exact message and position, --set overrides,
// replication, defaults, the resolved deck round trip, and the decks shipped in inputs/.
#include <gtest/gtest.h>

#include <fstream>
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
  EXPECT_EQ(a.run.deterministic, b.run.deterministic);
  EXPECT_EQ(a.run.output_dir, b.run.output_dir);
  EXPECT_EQ(a.run.checkpoint_interval_s, b.run.checkpoint_interval_s);
  EXPECT_EQ(a.run.checkpoint_keep, b.run.checkpoint_keep);
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
      EXPECT_EQ(la.source.kind, lb.source.kind);
      EXPECT_EQ(la.source.interval_s, lb.source.interval_s);
      ASSERT_EQ(la.stations.size(), lb.stations.size());
      for (std::size_t s = 0; s < la.stations.size(); ++s) {
        const auto& sa = la.stations[s];
        const auto& sb = lb.stations[s];
        EXPECT_EQ(sa.name, sb.name);
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
  EXPECT_TRUE(d.run.deterministic);
  EXPECT_EQ(d.run.output_dir, "output");
  EXPECT_EQ(d.run.checkpoint_interval_s, 0.0);
  EXPECT_EQ(d.run.checkpoint_keep, 3);
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

TEST(Deck, RunBlock) {
  const Deck d = deck_of(R"(run:
  seed: 42
  end_time_s: 3600
  report_interval_s: 60
  deterministic: false
  output_dir: out/x
  checkpoint_interval_s: 1200
  checkpoint_keep: 1000
)" + minimal);
  EXPECT_EQ(d.run.seed, 42u);
  EXPECT_EQ(d.run.end_time_s, 3600.0);
  EXPECT_EQ(d.run.report_interval_s, 60.0);
  EXPECT_FALSE(d.run.deterministic);
  EXPECT_EQ(d.run.output_dir, "out/x");
  EXPECT_EQ(d.run.checkpoint_interval_s, 1200.0);
  EXPECT_EQ(d.run.checkpoint_keep, 1000);
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
  const auto& lines = d.factory.factories.at(0).lines;
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].name, "l#0");
  EXPECT_EQ(lines[1].name, "l#1");
  EXPECT_EQ(lines[2].name, "l#2");
  EXPECT_EQ(lines[3].name, "single");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(lines[i].stations.size(), 3u);
    EXPECT_EQ(lines[i].stations[0].name, "a#0");
    EXPECT_EQ(lines[i].stations[1].name, "a#1");
    EXPECT_EQ(lines[i].stations[2].name, "b");
    EXPECT_EQ(lines[i].stations[2].process.mean_s, 2.0);
  }
  EXPECT_EQ(lines[3].stations.at(0).name, "c");
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
  deterministic: true
  output_dir: output
  checkpoint_interval_s: 0
  checkpoint_keep: 3
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
              process:
                distribution: fixed
                time_s: 30
              scrap_probability: 0
              buffer_capacity: 10
              conveyor_time_s: 10
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
  EXPECT_EQ(first.factory.factories[0].lines[0].stations[4].process.cv, 0.7);
}

TEST(Deck, ShippedDecksParseAndRoundTrip) {
  const std::string root = KOLLEKTIV_SOURCE_DIR;
  for (const char* name : {"inputs/quickstart.yaml", "inputs/factory_multiline.yaml",
                           "inputs/bench/factory_large.yaml", "inputs/bench/serial_line.yaml"}) {
    SCOPED_TRACE(name);
    const std::string path = root + "/" + name;
    const DeckResult r = parse_deck(read_file(path), path, {});
    for (const DeckError& e : r.errors) ADD_FAILURE() << e.format();
    ASSERT_TRUE(r.deck.has_value());
    const Deck again = deck_of(r.deck->resolved_yaml);
    expect_same_config(*r.deck, again);
  }
}

TEST(Deck, ShippedDecksHaveTheirAdvertisedShape) {
  const std::string root = KOLLEKTIV_SOURCE_DIR;
  const auto load = [&](const std::string& name) { return deck_of(read_file(root + "/" + name)); };
  std::size_t stations = 0;
  const Deck large = load("inputs/bench/factory_large.yaml");
  ASSERT_EQ(large.factory.factories.size(), 1u);
  EXPECT_EQ(large.factory.factories[0].lines.size(), 1000u);
  for (const auto& l : large.factory.factories[0].lines) {
    EXPECT_EQ(l.stations.size(), 20u);
    stations += l.stations.size();
  }
  EXPECT_EQ(stations, 20000u);

  const Deck serial = load("inputs/bench/serial_line.yaml");
  const auto& line = serial.factory.factories.at(0).lines.at(0);
  EXPECT_EQ(line.source.kind, factory::ArrivalKind::poisson);
  ASSERT_EQ(line.stations.size(), 5u);
  for (const auto& s : line.stations) {
    EXPECT_EQ(s.process.distribution, factory::Distribution::exponential);
    EXPECT_EQ(s.buffer_capacity, 0);
  }

  const Deck quick = load("inputs/quickstart.yaml");
  EXPECT_EQ(quick.run.end_time_s, 8 * 3600.0);
  EXPECT_EQ(quick.run.report_interval_s, 600.0);
  EXPECT_GE(quick.run.end_time_s / quick.run.checkpoint_interval_s, 2.0);

  const Deck multi = load("inputs/factory_multiline.yaml");
  EXPECT_EQ(multi.factory.factories.size(), 2u);
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
  EXPECT_EQ(errors_of(""), Strings{"deck.yaml:1:1: missing required key 'factory'"});
  EXPECT_EQ(errors_of("# nothing but a comment\n"), Strings{"deck.yaml:1:1: missing required key 'factory'"});
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
            Strings{"deck.yaml:1:1: robots: unknown key 'robots'; expected one of: run, factory"});
}

TEST(DeckErrors, MisspelledBlockAlsoMissesRequiredOne) {
  EXPECT_EQ(errors_of(with(minimal, "factory:", "factroy:")),
            (Strings{"deck.yaml:1:1: missing required key 'factory'",
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
                     "deck.yaml:4:26: run.checkpoint_interval_s: expected a number of seconds >= 0, found '1e999'"}));
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
  EXPECT_EQ(errors_of("run:\n  deterministic: yes\n" + minimal),
            Strings{"deck.yaml:2:18: run.deterministic: expected true or false, found 'yes'"});
}

TEST(DeckErrors, CheckpointKeepOutOfRange) {
  EXPECT_EQ(errors_of("run:\n  checkpoint_keep: 1001\n" + minimal),
            Strings{"deck.yaml:2:20: run.checkpoint_keep: expected an integer in [1, 1000], found '1001'"});
}

TEST(DeckErrors, CheckpointIntervalNegative) {
  EXPECT_EQ(errors_of("run:\n  checkpoint_interval_s: -600\n" + minimal),
            Strings{"deck.yaml:2:26: run.checkpoint_interval_s: expected a number of seconds >= 0, found '-600'"});
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
                     "deck.yaml:2:3: factory.plants: unknown key 'plants'; expected one of: factories"}));
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
  EXPECT_EQ(d.factory.factories[0].lines.size(), 5u);
  EXPECT_EQ(d.factory.factories[0].lines[4].name, "l#4");
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
            Strings{"--set:1:1: nonsense: unknown key 'nonsense'; expected one of: run, factory"});
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

}  // namespace
}  // namespace kollektiv::io
