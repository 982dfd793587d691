// Segment partials in floating point, then ExactSum per parameter; see exact_gradient.hpp.
#include "solvers/learning/exact_gradient.hpp"

#include "solvers/comm/exact_reduce.hpp"

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

void accumulate_outer(View<const Real**> x, View<const Real**> delta, int in, int out,
                      const Segments& segments, View<Real**> partial, View<ExactSum*> sums,
                      std::int64_t weight_offset, std::int64_t bias_offset) {
  if (segments.count == 0 || out == 0) return;
  const auto begin = segments.begin;
  const int weights = in * out;
  // Segments in chunks of partial.extent(0), so the scratch stays small for any batch.
  const int chunk = static_cast<int>(partial.extent(0));
  for (int first = 0; first < segments.count; first += chunk) {
    const int n_seg = segments.count - first < chunk ? segments.count - first : chunk;
    // Stage 1: one thread per (segment, block of rows_per_thread inputs j); j == in is the
    // bias row (x = 1). Rows are summed in their order inside the segment, which the
    // caller fixed from global ids. Each delta value loaded serves rows_per_thread sums.
    constexpr int rows_per_thread = 4;
    const int j_blocks = (in + 1 + rows_per_thread - 1) / rows_per_thread;
    Kokkos::parallel_for(
        "learning::gradient_partials",
        Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {n_seg, j_blocks}),
        KOKKOS_LAMBDA(const int g, const int jb) {
          Real acc[rows_per_thread][max_layer_width];
          const int j0 = jb * rows_per_thread;
          const int nj = in + 1 - j0 < rows_per_thread ? in + 1 - j0 : rows_per_thread;
          for (int u = 0; u < nj; ++u)
            for (int i = 0; i < out; ++i) acc[u][i] = 0;
          for (int r = begin(first + g); r < begin(first + g + 1); ++r) {
            Real xj[rows_per_thread];
            for (int u = 0; u < nj; ++u) xj[u] = j0 + u < in ? x(r, j0 + u) : Real(1);
            for (int i = 0; i < out; ++i) {
              const Real d = delta(r, i);
              for (int u = 0; u < nj; ++u) acc[u][i] += xj[u] * d;
            }
          }
          for (int u = 0; u < nj; ++u)
            for (int i = 0; i < out; ++i) partial(g, (j0 + u) * out + i) = acc[u][i];
        });
    // Stage 2: one thread per parameter adds the segment partials exactly (any order).
    Kokkos::parallel_for(
        "learning::gradient_exact_add", Kokkos::RangePolicy<ExecSpace>(0, weights + out),
        KOKKOS_LAMBDA(const int q) {
          ExactSum& acc = sums(q < weights ? weight_offset + q : bias_offset + (q - weights));
          for (int g = 0; g < n_seg; ++g) acc.add(partial(g, q));
        });
  }
}

void accumulate_columns(View<const Real**> values, int k, const Segments& segments,
                        View<Real**> partial, View<ExactSum*> sums, std::int64_t offset) {
  accumulate_outer(values, values, 0, k, segments, partial, sums, offset, offset);
}

std::vector<double> combine_exact(MPI_Comm comm, View<const ExactSum*> sums) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sums);
  std::vector<ExactSum> all(host.data(), host.data() + host.extent(0));
  comm::allreduce_exact(comm, all);
  std::vector<double> result(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) result[i] = all[i].to_double();
  return result;
}

ExactSum exact_total(View<const Real*> values, int n) {
  View<ExactSum*> total("learning::exact_total", 1);
  Kokkos::parallel_for(
      "learning::exact_total", Kokkos::RangePolicy<ExecSpace>(0, 1), KOKKOS_LAMBDA(const int) {
        ExactSum acc;
        for (int i = 0; i < n; ++i) acc.add(values(i));
        total(0) = acc;
      });
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), total);
  return host(0);
}

}  // namespace kollektiv::learning
