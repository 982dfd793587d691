// FactoryState <-> checkpoint datasets.
#include "io/factory_checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "io/fingerprint.hpp"
#include "solvers/comm/exact_reduce.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::io {

namespace {

using factory::FactoryState;

constexpr std::int64_t int_fields = factory::int_field_count;
constexpr std::int64_t real_fields = factory::real_field_count;

// One of FactoryState's arrays.
template <class T>
using StateArray = std::vector<T> FactoryState::*;

// A per-station array of the state: `width` elements per station.
template <class T>
struct PerStation {
  const char* path;
  std::int64_t width;
  StateArray<T> values;
};

// An array of FIFO entries or records, concatenated over the stations in gid order.
template <class T>
struct Entries {
  const char* path;
  StateArray<T> values;
};

}  // namespace

void write_factory_state(CheckpointWriter& writer, const factory::Factory& factory, std::int64_t stations_per_piece) {
  require(stations_per_piece >= 1, "write_factory_state: stations per piece must be >= 1");
  const std::int64_t n = factory.station_count(), types = factory.state_types();
  const std::int64_t first = factory.local_stations().begin, local = factory.local_stations().size();
  const PerStation<std::int64_t> int_arrays[] = {
      {"factory/station_int", int_fields, &FactoryState::station_int},
      {"factory/part_count", 1, &FactoryState::part_count},
      {"factory/credit_count", 1, &FactoryState::credit_count},
      {"factory/station_rework", factory::rework_int_count, &FactoryState::station_rework},
      {"factory/server_count", 1, &FactoryState::server_count},
      {"factory/shift_int", 2, &FactoryState::shift_int},
      {"factory/station_type", 2, &FactoryState::station_type},
      {"factory/type_sink", types, &FactoryState::type_sink},
      {"factory/route_int_count", 1, &FactoryState::route_int_count},
      {"factory/route_real_count", 1, &FactoryState::route_real_count},
      {"factory/genealogy_width", 1, &FactoryState::genealogy_width},
      {"factory/genealogy_count", 1, &FactoryState::genealogy_count}};
  const PerStation<double> real_arrays[] = {{"factory/station_real", real_fields, &FactoryState::station_real},
                                            {"factory/type_lead_s", types, &FactoryState::type_lead_s},
                                            {"factory/off_shift_s", 1, &FactoryState::off_shift_s}};
  // Ranks own contiguous gid ranges in rank order, so concatenating in rank order puts the
  // entries in gid order. They are usually a small part of the state (the parts in the
  // buffers and on the conveyors, mostly; a tenth of it on factory_large): kept over the
  // pieces and written at the end.
  const Entries<std::int64_t> int_entries[] = {{"factory/part_id", &FactoryState::part_id},
                                               {"factory/part_reworks", &FactoryState::part_reworks},
                                               {"factory/server_int", &FactoryState::server_int},
                                               {"factory/route_int", &FactoryState::route_int},
                                               {"factory/genealogy", &FactoryState::genealogy}};
  const Entries<double> real_entries[] = {{"factory/part_time_s", &FactoryState::part_time_s},
                                          {"factory/part_entry_time_s", &FactoryState::part_entry_time_s},
                                          {"factory/credit_time_s", &FactoryState::credit_time_s},
                                          {"factory/server_real", &FactoryState::server_real},
                                          {"factory/route_real", &FactoryState::route_real}};

  std::vector<int> int_ids, real_ids;
  for (const auto& a : int_arrays)
    int_ids.push_back(writer.begin_dataset<std::int64_t>(a.path, n * a.width, first * a.width, local * a.width));
  for (const auto& a : real_arrays)
    real_ids.push_back(writer.begin_dataset<double>(a.path, n * a.width, first * a.width, local * a.width));
  FactoryState piece, entries;
  const auto put = [&](const auto& arrays, const std::vector<int>& ids) {
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const auto& v = piece.*(arrays[k].values);
      writer.write_piece(ids[k], v.data(), v.size());
    }
  };
  const auto keep = [&](const auto& arrays) {
    for (const auto& e : arrays) {
      auto& kept = entries.*(e.values);
      const auto& more = piece.*(e.values);
      kept.insert(kept.end(), more.begin(), more.end());
    }
  };
  for (std::int64_t at = 0; at < local; at += stations_per_piece) {
    factory.save(at, std::min(stations_per_piece, local - at), piece);
    put(int_arrays, int_ids);
    put(real_arrays, real_ids);
    keep(int_entries);
    keep(real_entries);
  }
  writer.end_datasets();
  for (const auto& e : int_entries) writer.write_concatenated(e.path, entries.*(e.values));
  for (const auto& e : real_entries) writer.write_concatenated(e.path, entries.*(e.values));
}

FactorySnapshot read_factory_state(CheckpointReader& reader, const factory::Factory& factory) {
  const std::int64_t n = factory.station_count();
  if (reader.size("factory/part_count") != n)
    throw Error("checkpoint " + reader.file() + " holds " + std::to_string(reader.size("factory/part_count")) +
                    " stations, the deck has " + std::to_string(n),
                ExitCode::bad_checkpoint);
  // Checkpoints of older builds held ExactSum words per station (factory/station_sum) and
  // fewer real fields: refuse them with a message rather than misread them.
  if (reader.size("factory/station_int") != n * int_fields || reader.size("factory/station_real") != n * real_fields)
    throw Error("checkpoint " + reader.file() + " has a different per-station factory layout (written by another "
                    "version of kollektiv)",
                ExitCode::bad_checkpoint);
  const comm::Range local = factory.local_stations();
  FactorySnapshot snapshot;
  snapshot.time_s = reader.attribute_double("time_s");
  FactoryState& state = snapshot.state;
  state.station_int = reader.read<std::int64_t>("factory/station_int", local.begin * int_fields, local.size() * int_fields);
  state.station_real = reader.read<double>("factory/station_real", local.begin * real_fields, local.size() * real_fields);
  state.part_count = reader.read<std::int64_t>("factory/part_count", local.begin, local.size());
  state.credit_count = reader.read<std::int64_t>("factory/credit_count", local.begin, local.size());

  // This rank's FIFO entries start after those of all stations before its range, which
  // are exactly the entries of the ranks before it. The counts are untrusted: each must
  // lie within the dataset it counts, and so must their sum (no overflow on the way).
  const auto read_ragged = [&](const std::vector<std::int64_t>& counts, const std::string& path, auto tag,
                               std::int64_t width) {
    const std::int64_t stored = reader.size(path);
    std::int64_t local_total = 0;
    collectively(reader.comm(), [&] {
      for (std::int64_t count : counts) {
        std::int64_t c = 0;
        if (count < 0 || __builtin_mul_overflow(count, width, &c) || c > stored ||
            __builtin_add_overflow(local_total, c, &local_total) || local_total > stored)
          throw Error("checkpoint " + reader.file() + ": the counts of " + path + " exceed its " +
                          std::to_string(stored) + " entries",
                      ExitCode::bad_checkpoint);
      }
    });
    const comm::GlobalOffset at = comm::exclusive_offset(reader.comm(), local_total);
    if (at.total != stored)
      throw Error("checkpoint " + reader.file() + ": " + path + " has " + std::to_string(stored) +
                      " entries, its counts say " + std::to_string(at.total),
                  ExitCode::bad_checkpoint);
    return reader.read<decltype(tag)>(path, at.offset, local_total);
  };
  state.part_time_s = read_ragged(state.part_count, "factory/part_time_s", double{}, 1);
  state.part_id = read_ragged(state.part_count, "factory/part_id", std::int64_t{}, 1);
  state.part_entry_time_s = read_ragged(state.part_count, "factory/part_entry_time_s", double{}, 1);
  state.credit_time_s = read_ragged(state.credit_count, "factory/credit_time_s", double{}, 1);
  // Checkpoints written before stations had several servers hold none beyond server 0
  // (Factory::restore compares the counts with the deck).
  if (reader.has("factory/server_count")) {
    state.server_count = reader.read<std::int64_t>("factory/server_count", local.begin, local.size());
    state.server_int = read_ragged(state.server_count, "factory/server_int", std::int64_t{}, factory::server_int_count);
    state.server_real = read_ragged(state.server_count, "factory/server_real", double{}, factory::server_real_count);
  } else {
    state.server_count.assign(static_cast<std::size_t>(local.size()), 0);
  }
  // Likewise for rework: no part has been reworked.
  if (reader.has("factory/station_rework")) {
    state.part_reworks = read_ragged(state.part_count, "factory/part_reworks", std::int64_t{}, 1);
    state.station_rework = reader.read<std::int64_t>("factory/station_rework", local.begin * factory::rework_int_count,
                                                     local.size() * factory::rework_int_count);
  } else {
    state.part_reworks.assign(state.part_id.size(), 0);
    state.station_rework.assign(static_cast<std::size_t>(local.size() * factory::rework_int_count), 0);
  }
  // Likewise for part types: none.
  if (reader.has("factory/station_type")) {
    state.station_type = reader.read<std::int64_t>("factory/station_type", 2 * local.begin, 2 * local.size());
    state.types = n > 0 ? reader.size("factory/type_sink") / n : 0;
    if (reader.size("factory/type_sink") != n * state.types || reader.size("factory/type_lead_s") != n * state.types)
      throw Error("checkpoint " + reader.file() + ": the per-type datasets do not hold a whole number of types per station",
                  ExitCode::bad_checkpoint);
    state.type_sink = reader.read<std::int64_t>("factory/type_sink", local.begin * state.types, local.size() * state.types);
    state.type_lead_s = reader.read<double>("factory/type_lead_s", local.begin * state.types, local.size() * state.types);
  } else {
    state.station_type.assign(static_cast<std::size_t>(2 * local.size()), 0);
    for (std::size_t i = 0; i < state.station_type.size(); i += 2) state.station_type[i] = -1;
  }
  // Likewise for shift calendars: without them every station is on shift, at change 0.
  if (reader.has("factory/shift_int")) {
    state.shift_int = reader.read<std::int64_t>("factory/shift_int", 2 * local.begin, 2 * local.size());
    state.off_shift_s = reader.read<double>("factory/off_shift_s", local.begin, local.size());
  } else {
    state.shift_int.assign(static_cast<std::size_t>(2 * local.size()), 0);
    state.off_shift_s.assign(static_cast<std::size_t>(local.size()), 0.0);
  }
  // Likewise for routes: no station has any.
  if (reader.has("factory/route_int_count")) {
    state.route_int_count = reader.read<std::int64_t>("factory/route_int_count", local.begin, local.size());
    state.route_int = read_ragged(state.route_int_count, "factory/route_int", std::int64_t{}, 1);
    state.route_real_count = reader.read<std::int64_t>("factory/route_real_count", local.begin, local.size());
    state.route_real = read_ragged(state.route_real_count, "factory/route_real", double{}, 1);
    state.genealogy_width = reader.read<std::int64_t>("factory/genealogy_width", local.begin, local.size());
    state.genealogy_count = reader.read<std::int64_t>("factory/genealogy_count", local.begin, local.size());
    state.genealogy = read_ragged(state.genealogy_count, "factory/genealogy", std::int64_t{}, 1);
  } else {
    for (auto* v : {&state.route_int_count, &state.route_real_count, &state.genealogy_width, &state.genealogy_count})
      v->assign(static_cast<std::size_t>(local.size()), 0);
  }
  return snapshot;
}

// Hashes the model copy by copy, as it was hashed when the deck's copies were expanded, so
// checkpoints of earlier versions stay valid (O(stations) time, O(1) memory).
std::uint64_t factory_fingerprint(const factory::FactoryModelConfig& config, std::uint64_t seed) {
  Fingerprint f;
  for (const std::string& type : config.part_types) f.add(type);  // none: hashes as before
  const auto add_process = [&f](const factory::ProcessConfig& p) {
    f.add(static_cast<int>(p.distribution));
    f.add(p.mean_s);
    f.add(p.min_s);
    f.add(p.max_s);
    f.add(p.cv);
  };
  // Calendars hash only where there are some, so models without them hash as before.
  const auto add_calendar = [&f](const factory::ShiftCalendar& c) {
    if (!c.enabled) return;
    f.add(std::string("shifts"));
    f.add(c.period_s);
    f.add(static_cast<std::uint64_t>(c.working.size()));
    for (const factory::WorkingPeriod& w : c.working) {
      f.add(w.start_s);
      f.add(w.end_s);
    }
  };
  f.add(seed);
  f.add(static_cast<std::uint64_t>(config.factories.size()));
  for (const auto& fac : config.factories) {
    f.add(fac.name);
    add_calendar(fac.shifts);
    for (const factory::PoolConfig& p : fac.pools) {  // factories without pools hash as before
      f.add(std::string("pool"));
      f.add(p.name);
      f.add(p.robots);
      for (std::int64_t v : {p.home.factory, p.home.line, p.home.line_copy, p.home.station, p.home.station_copy}) f.add(v);
      f.add(p.call_time_s);
    }
    std::int64_t lines = 0;
    for (const auto& line : fac.lines) lines += line.count;
    f.add(static_cast<std::uint64_t>(lines));
    for (const auto& line : fac.lines) {
      std::int64_t stations = 0;
      for (const auto& s : line.stations) stations += s.count;
      for (std::int64_t lk = 0; lk < line.count; ++lk) {
        f.add(factory::replica_name(line.name, line.count, lk));
        f.add(static_cast<int>(line.source.kind));
        f.add(line.source.interval_s);
        for (const factory::TypeShare& t : line.source.mix) {  // models without a mix hash as before
          f.add(t.type);
          f.add(t.share);
        }
        f.add(static_cast<std::uint64_t>(stations));
        for (const auto& s : line.stations)
          for (std::int64_t sk = 0; sk < s.count; ++sk) {
            f.add(factory::replica_name(s.name, s.count, sk));
            add_process(s.process);
            f.add(s.scrap_probability);
            f.add(s.buffer_capacity);
            f.add(s.conveyor_time_s);
            f.add(s.breakdown.enabled);
            f.add(s.breakdown.mtbf_s);
            f.add(s.breakdown.mttr_s);
            f.add(s.breakdown.only_when_busy);
            if (s.servers != 1) f.add(s.servers);  // one-server stations hash as before
            add_calendar(s.shifts);
            if (!s.process_by_type.empty() || s.changeover_s > 0.0 || !s.changeover.empty()) {
              f.add(std::string("types"));
              for (const factory::TypeProcess& t : s.process_by_type) {
                f.add(t.type);
                add_process(t.process);
              }
              f.add(s.changeover_s);
              for (const factory::Changeover& c : s.changeover) {
                f.add(c.from);
                f.add(c.to);
                f.add(c.time_s);
              }
            }
            if (s.rework_probability > 0.0 || s.max_rework > 0) {  // stations without rework hash as before
              f.add(std::string("rework"));
              f.add(s.rework_probability);
              f.add(s.max_rework);
            }
            // Routes hash only where there are some (chains hash as before).
            const auto add_route = [&f](const factory::RouteConfig& r) {
              const factory::RouteTarget& t = r.target;
              for (std::int64_t v : {std::int64_t{t.sink}, t.factory, t.line, t.line_copy, t.station, t.station_copy})
                f.add(v);
              f.add(r.share);
              f.add(r.types);
              f.add(r.conveyor_time_s);
            };
            if (!s.next.empty() || s.assembly || s.disassembly || s.rework_elsewhere) {
              f.add(std::string("routes"));
              f.add(static_cast<int>(s.route));
              f.add(s.assembly);
              f.add(s.disassembly);
              for (const factory::RouteConfig& r : s.next) add_route(r);
              if (s.rework_elsewhere) add_route(s.rework_to);
            }
            if (s.cell.enabled) {  // plain stations hash as before, so their checkpoints stay valid
              f.add(s.cell.skill);
              f.add(s.cell.robots);
              f.add(s.cell.handling_s);
              f.add(s.cell.good_quality);
              f.add(s.cell.rework_quality);
              f.add(s.cell.max_rework);
            }
            if (s.robots_from.enabled) {  // stations with their own robots hash as before
              f.add(std::string("robots_from"));
              f.add(s.robots_from.pool_index);
              f.add(s.robots_from.travel_time_s);
            }
          }
      }
    }
  }
  return f.value();
}

}  // namespace kollektiv::io
