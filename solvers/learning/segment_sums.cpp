// Segment sums of a minibatch's rows; see segment_sums.hpp.
#include "solvers/learning/segment_sums.hpp"

#include <cstdint>

namespace kollektiv::learning {

Segments segments_per_row(int rows) {
  Segments s;
  s.count = rows;
  s.begin = View<int*>("learning::segment_begin", rows + 1);
  auto begin = s.begin;
  Kokkos::parallel_for(
      "learning::segments_per_row", Kokkos::RangePolicy<ExecSpace>(0, rows + 1),
      KOKKOS_LAMBDA(const int r) { begin(r) = r; });
  return s;
}

Segments segments_from_offsets(const std::vector<int>& offsets) {
  Segments s;
  s.count = static_cast<int>(offsets.size()) - 1;
  s.begin = View<int*>("learning::segment_begin", offsets.size());
  auto host = Kokkos::create_mirror_view(s.begin);
  for (std::size_t i = 0; i < offsets.size(); ++i) host(i) = offsets[i];
  Kokkos::deep_copy(s.begin, host);
  return s;
}

void segment_column_sums(AnyLayoutView<const Real**> values, int k, const Segments& segments,
                         AnyLayoutView<Real**> partial, std::int64_t offset) {
  const auto begin = segments.begin;
  Kokkos::parallel_for(
      "learning::segment_column_sums", Kokkos::RangePolicy<ExecSpace>(0, segments.count), KOKKOS_LAMBDA(const int g) {
        for (int c = 0; c < k; ++c) {
          Real acc = 0;
          for (int r = begin(g); r < begin(g + 1); ++r) acc += values(r, c);
          partial(g, offset + c) = acc;
        }
      });
}

}  // namespace kollektiv::learning
