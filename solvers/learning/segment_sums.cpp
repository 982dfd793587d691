// Segment sums and their fixed-point combination across ranks; see segment_sums.hpp.
#include "solvers/learning/segment_sums.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "solvers/comm/collectives.hpp"

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

void segment_column_sums(View<const Real**> values, int k, const Segments& segments, View<Real**> partial,
                         std::int64_t offset) {
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

namespace {

constexpr int zero_column = INT_MIN / 2;  // every partial of the column is zero
constexpr int bad_column = INT_MAX;       // some partial is inf or NaN

// 2^e for a normal exponent e in [-1022, 1023], from its bits (std::ldexp was a twentieth
// of an update).
double pow2(int e) {
  const std::uint64_t bits = static_cast<std::uint64_t>(e + 1023) << 52;
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Bits needed to count to n (ceil(log2 n)), for n >= 1.
int bits_for(std::int64_t n) {
  int b = 0;
  while ((std::int64_t{1} << b) < n) ++b;
  return b;
}

}  // namespace

std::vector<double> FixedPointSum::sum(MPI_Comm comm, View<const Real**> partial, int segments, int columns,
                                       std::int64_t global_rows) {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
  exponent_.assign(columns, zero_column);
  fixed_.assign(columns, 0);
  up_.resize(columns);
  down_.resize(columns);
  inv_up_.resize(columns);
  inv_down_.resize(columns);

  // The largest magnitude per column on this rank and whether any term is inf or NaN
  // (segments row by row, each contiguous: loops the compiler vectorises), then its exponent.
  largest_.assign(columns, 0.0);
  non_finite_.assign(columns, 0);
  constexpr double max_finite = std::numeric_limits<double>::max();
  for (int g = 0; g < segments; ++g) {
    const double* row = &host(g, 0);
    for (int c = 0; c < columns; ++c) {
      const double a = std::fabs(row[c]);
      largest_[c] = a > largest_[c] ? a : largest_[c];
      non_finite_[c] |= static_cast<unsigned char>(!(a <= max_finite));
    }
  }
  for (int c = 0; c < columns; ++c) {
    if (non_finite_[c] != 0) exponent_[c] = bad_column;
    else if (largest_[c] > 0) std::frexp(largest_[c], &exponent_[c]);  // largest < 2^exponent
  }
  auto t0 = std::chrono::steady_clock::now();
  comm::allreduce_max(comm, exponent_);
  communication_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const int shift = 61 - bits_for(std::max<std::int64_t>(global_rows, 1));
  for (int c = 0; c < columns; ++c) {
    if (exponent_[c] == zero_column || exponent_[c] == bad_column) {
      up_[c] = down_[c] = 0;
      continue;
    }
    // 2^(shift - E) as two normal factors for any E of a double (|shift - E| < 1140).
    const int s = shift - exponent_[c], s1 = s / 2;
    up_[c] = pow2(s1);
    down_[c] = pow2(s - s1);
    inv_up_[c] = pow2(-s1);  // exact inverses: the way back is two exact scalings
    inv_down_[c] = pow2(s1 - s);
  }
  for (int g = 0; g < segments; ++g)
    for (int c = 0; c < columns; ++c)
      fixed_[c] += static_cast<std::int64_t>(host(g, c) * up_[c] * down_[c]);  // |term| < 2^shift
  t0 = std::chrono::steady_clock::now();
  comm::allreduce_sum(comm, fixed_);
  communication_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<double> result(columns);
  for (int c = 0; c < columns; ++c) {
    if (exponent_[c] == bad_column) result[c] = std::numeric_limits<double>::quiet_NaN();
    else if (exponent_[c] == zero_column) result[c] = 0;
    else result[c] = static_cast<double>(fixed_[c]) * inv_up_[c] * inv_down_[c];
  }
  return result;
}

}  // namespace kollektiv::learning
