// Slicing and joining of per-station checkpoint arrays.
#include "solvers/factory/factory_state.hpp"

#include <numeric>
#include <string>

#include "solvers/core/error.hpp"

namespace kollektiv::factory {

namespace {
template <class T>
void append(std::vector<T>& into, const std::vector<T>& from, std::int64_t begin, std::int64_t end) {
  into.insert(into.end(), from.begin() + begin, from.begin() + end);
}
std::int64_t sum_of(const std::vector<std::int64_t>& v, std::int64_t end) {
  return std::accumulate(v.begin(), v.begin() + end, std::int64_t{0});
}
}  // namespace

void clear_state(FactoryState& s) {
  for_each_array([&](auto array) { (s.*array).clear(); });
  s.types = 0;
}

void check_state(const FactoryState& s) {
  const auto n = static_cast<std::size_t>(s.station_count());
  const auto parts = static_cast<std::size_t>(sum_of(s.part_count, s.station_count()));
  const auto credits = static_cast<std::size_t>(sum_of(s.credit_count, s.station_count()));
  const bool servers_sized = s.server_count.size() == n;
  const auto servers = servers_sized ? static_cast<std::size_t>(sum_of(s.server_count, s.station_count())) : 0;
  const bool ok = s.station_int.size() == n * int_field_count && s.station_real.size() == n * real_field_count &&
                  s.credit_count.size() == n && servers_sized && s.server_int.size() == servers * server_int_count &&
                  s.server_real.size() == servers * server_real_count && s.shift_int.size() == 2 * n &&
                  s.off_shift_s.size() == n &&
                  s.part_time_s.size() == parts && s.part_id.size() == parts &&
                  s.part_entry_time_s.size() == parts && s.part_reworks.size() == parts &&
                  s.credit_time_s.size() == credits && s.station_rework.size() == n * rework_int_count &&
                  s.types >= 0 && s.station_type.size() == 2 * n && s.type_sink.size() == n * static_cast<std::size_t>(s.types) &&
                  s.type_lead_s.size() == n * static_cast<std::size_t>(s.types) && s.route_int_count.size() == n &&
                  s.route_real_count.size() == n && s.genealogy_width.size() == n && s.genealogy_count.size() == n &&
                  s.route_int.size() == static_cast<std::size_t>(sum_of(s.route_int_count, s.station_count())) &&
                  s.route_real.size() == static_cast<std::size_t>(sum_of(s.route_real_count, s.station_count())) &&
                  s.genealogy.size() == static_cast<std::size_t>(sum_of(s.genealogy_count, s.station_count()));
  require(ok, "factory state: inconsistent array sizes for " + std::to_string(n) + " stations");
}

FactoryState slice_state(const FactoryState& s, std::int64_t first, std::int64_t count) {
  check_state(s);
  require(first >= 0 && count >= 0 && first + count <= s.station_count(), "factory state: slice out of range");
  FactoryState out;
  const std::int64_t last = first + count;
  append(out.station_int, s.station_int, first * int_field_count, last * int_field_count);
  append(out.station_real, s.station_real, first * real_field_count, last * real_field_count);
  append(out.part_count, s.part_count, first, last);
  append(out.credit_count, s.credit_count, first, last);
  const std::int64_t p0 = sum_of(s.part_count, first), p1 = sum_of(s.part_count, last);
  append(out.part_time_s, s.part_time_s, p0, p1);
  append(out.part_id, s.part_id, p0, p1);
  append(out.part_entry_time_s, s.part_entry_time_s, p0, p1);
  append(out.part_reworks, s.part_reworks, p0, p1);
  append(out.station_rework, s.station_rework, first * rework_int_count, last * rework_int_count);
  out.types = s.types;
  append(out.station_type, s.station_type, 2 * first, 2 * last);
  append(out.type_sink, s.type_sink, first * s.types, last * s.types);
  append(out.type_lead_s, s.type_lead_s, first * s.types, last * s.types);
  const std::int64_t c0 = sum_of(s.credit_count, first), c1 = sum_of(s.credit_count, last);
  append(out.credit_time_s, s.credit_time_s, c0, c1);
  append(out.server_count, s.server_count, first, last);
  append(out.shift_int, s.shift_int, 2 * first, 2 * last);
  append(out.off_shift_s, s.off_shift_s, first, last);
  const std::int64_t v0 = sum_of(s.server_count, first), v1 = sum_of(s.server_count, last);
  append(out.server_int, s.server_int, v0 * server_int_count, v1 * server_int_count);
  append(out.server_real, s.server_real, v0 * server_real_count, v1 * server_real_count);
  const auto ragged = [&](const std::vector<std::int64_t>& counts, auto& into_counts, const auto& values, auto& into) {
    append(into_counts, counts, first, last);
    append(into, values, sum_of(counts, first), sum_of(counts, last));
  };
  ragged(s.route_int_count, out.route_int_count, s.route_int, out.route_int);
  ragged(s.route_real_count, out.route_real_count, s.route_real, out.route_real);
  ragged(s.genealogy_count, out.genealogy_count, s.genealogy, out.genealogy);
  append(out.genealogy_width, s.genealogy_width, first, last);
  return out;
}

void append_state(FactoryState& into, const FactoryState& more) {
  require(into.part_count.empty() || more.part_count.empty() || into.types == more.types,
          "factory state: joining the states of models with different part types");
  if (!more.part_count.empty()) into.types = more.types;
  for_each_array([&](auto array) {
    const auto& from = more.*array;
    append(into.*array, from, 0, static_cast<std::int64_t>(from.size()));
  });
}

}  // namespace kollektiv::factory
