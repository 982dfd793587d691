// Small model builders shared by the factory tests.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "solvers/factory/factory.hpp"

namespace kollektiv::factory::testing {

inline StationConfig station(Distribution d, double mean_s, std::int64_t capacity, double conveyor_s) {
  StationConfig s;
  s.name = "s";
  s.process.distribution = d;
  s.process.mean_s = mean_s;
  s.buffer_capacity = capacity;
  s.conveyor_time_s = conveyor_s;
  return s;
}

inline TypeProcess type_process(int type, Distribution d, double mean_s) {
  TypeProcess t;
  t.type = type;
  t.process.distribution = d;
  t.process.mean_s = mean_s;
  return t;
}

// A route to station entry `station` of line entry `line` of factory `factory` (copy 0 of
// both), or to the sink.
inline RouteConfig route(std::int64_t line, std::int64_t station, double conveyor_s = 1.0, std::int64_t factory = 0) {
  RouteConfig r;
  r.to = "test route";
  r.target.factory = factory;
  r.target.line = line;
  r.target.line_copy = 0;
  r.target.station = station;
  r.conveyor_time_s = conveyor_s;
  return r;
}
inline RouteConfig to_sink() {
  RouteConfig r;
  r.to = "sink";
  r.target.sink = true;
  return r;
}

inline LineConfig line(ArrivalKind kind, double interval_s, std::vector<StationConfig> stations) {
  LineConfig l;
  l.name = "line";
  l.source.kind = kind;
  l.source.interval_s = interval_s;
  l.stations = std::move(stations);
  return l;
}

inline FactoryModelConfig model_of(std::vector<std::vector<LineConfig>> factories) {
  FactoryModelConfig m;
  for (auto& lines : factories) {
    FactoryConfig f;
    f.name = "factory";
    f.lines = std::move(lines);
    m.factories.push_back(std::move(f));
  }
  return m;
}

inline double value(const std::vector<KpiColumn>& columns, const std::string& name, std::size_t i) {
  const KpiColumn* c = KpiReport::find(columns, name);
  EXPECT_NE(c, nullptr) << name;
  if (c == nullptr || i >= c->values.size()) {
    ADD_FAILURE() << name << "[" << i << "] missing";
    return 0.0;
  }
  return c->values[i];
}

// Bitwise equality of two reports (names, units and values).
inline void expect_identical(const std::vector<KpiColumn>& a, const std::vector<KpiColumn>& b,
                             const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t c = 0; c < a.size(); ++c) {
    EXPECT_EQ(a[c].name, b[c].name) << what;
    EXPECT_EQ(a[c].unit, b[c].unit) << what;
    ASSERT_EQ(a[c].values.size(), b[c].values.size()) << what << " " << a[c].name;
    EXPECT_EQ(0, std::memcmp(a[c].values.data(), b[c].values.data(), a[c].values.size() * sizeof(double)))
        << what << ": column " << a[c].name << " differs";
  }
}

inline void expect_identical(const KpiReport& a, const KpiReport& b, const std::string& what) {
  EXPECT_EQ(0, std::memcmp(&a.time_s, &b.time_s, sizeof(double))) << what;
  expect_identical(a.station, b.station, what + " (station)");
  expect_identical(a.line, b.line, what + " (line)");
  expect_identical(a.factory, b.factory, what + " (factory)");
}

}  // namespace kollektiv::factory::testing
