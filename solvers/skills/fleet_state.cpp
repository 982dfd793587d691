// Slicing and joining of per-robot fleet checkpoint arrays.
#include "solvers/skills/fleet_state.hpp"

#include <string>

#include "solvers/core/error.hpp"

namespace kollektiv::skills {

namespace {
template <class T>
void append(std::vector<T>& into, const std::vector<T>& from, std::int64_t begin, std::int64_t end) {
  into.insert(into.end(), from.begin() + begin, from.begin() + end);
}
}  // namespace

void check_state(const FleetState& s) {
  const auto n = static_cast<std::size_t>(s.robot_count());
  const auto dof = static_cast<std::size_t>(s.dof);
  const bool ok = s.dof >= 0 && s.task_int.size() == n * task_int_count && s.q.size() == n * dof &&
                  s.qd.size() == n * dof && s.task_real.size() == n * task_real_count;
  require(ok, "fleet state: inconsistent array sizes for " + std::to_string(n) + " robots of " +
                  std::to_string(s.dof) + " joints");
}

FleetState slice_state(const FleetState& s, std::int64_t first, std::int64_t count) {
  check_state(s);
  require(first >= 0 && count >= 0 && first + count <= s.robot_count(), "fleet state: slice out of range");
  FleetState out;
  out.dof = s.dof;
  const std::int64_t last = first + count;
  append(out.q, s.q, first * s.dof, last * s.dof);
  append(out.qd, s.qd, first * s.dof, last * s.dof);
  append(out.task_real, s.task_real, first * task_real_count, last * task_real_count);
  append(out.task_int, s.task_int, first * task_int_count, last * task_int_count);
  return out;
}

void append_state(FleetState& into, const FleetState& more) {
  check_state(more);
  if (into.robot_count() == 0) into.dof = more.dof;
  require(into.dof == more.dof || more.robot_count() == 0, "fleet state: appending robots of a different joint count");
  const auto all = [](const auto& v) { return static_cast<std::int64_t>(v.size()); };
  append(into.q, more.q, 0, all(more.q));
  append(into.qd, more.qd, 0, all(more.qd));
  append(into.task_real, more.task_real, 0, all(more.task_real));
  append(into.task_int, more.task_int, 0, all(more.task_int));
}

}  // namespace kollektiv::skills
