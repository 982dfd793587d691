// Fixed-point sums of segment partials across ranks; see fixed_point_sum.hpp.
#include "solvers/comm/fixed_point_sum.hpp"

#include <climits>
#include <cstring>
#include <limits>

namespace kollektiv::comm {

namespace {

constexpr int zero_column = INT_MIN / 2;  // every partial of the column is zero
constexpr int bad_column = INT_MAX;       // some partial is inf or NaN

// 2^e for a normal exponent e in [-1022, 1023], from its bits.
KOKKOS_INLINE_FUNCTION double pow2(int e) {
  const std::uint64_t bits = static_cast<std::uint64_t>(e + 1023) << 52;
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// The E with a < 2^E <= 2a for a finite a > 0 (frexp's exponent), from the bits; a
// subnormal a is scaled by 2^64 first (exactly), so that there is no loop and no branch and a
// chunk of columns vectorises.
KOKKOS_INLINE_FUNCTION int exponent_above(double a) {
  std::uint64_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  const bool subnormal = (bits >> 52) == 0;
  const double normal = a * (subnormal ? pow2(64) : 1.0);
  std::memcpy(&bits, &normal, sizeof bits);
  return static_cast<int>((bits >> 52) & 0x7FF) - 1022 - (subnormal ? 64 : 0);
}

// Columns per kernel thread: 64 on CPU backends (one thread's rows then vectorise across
// columns), 1 on GPU backends.
#if KOLLEKTIV_SIMD_LANES > 1
constexpr int column_chunk = 64;
#else
constexpr int column_chunk = 1;
#endif

// f(c, partial(g, c0 + c)) for c < n, in order; a contiguous row is read through a pointer,
// which the compiler vectorises (a strided View's index it does not).
template <class F>
KOKKOS_INLINE_FUNCTION void for_row_chunk(const AnyLayoutView<const Real**>& partial, int g, int c0, int n, F&& f) {
  if (partial.stride_1() == 1) {
    const Real* row = &partial(g, c0);
    for (int c = 0; c < n; ++c) f(c, row[c]);
  } else {
    for (int c = 0; c < n; ++c) f(c, partial(g, c0 + c));
  }
}

// Bits needed to count to n (ceil(log2 n)), for n >= 1.
int bits_for(std::int64_t n) {
  int b = 0;
  while ((std::int64_t{1} << b) < n) ++b;
  return b;
}

}  // namespace

void FixedPointSum::reserve(int columns) {
  if (static_cast<int>(exponent_.extent(0)) >= columns) return;
  exponent_ = View<int*>("comm::fixed_point_exponent", columns);
  fixed_ = View<std::int64_t*>("comm::fixed_point_sum", columns);
  result_ = View<Real*>("comm::fixed_point_result", columns);
}

std::vector<double> FixedPointSum::sum(Collective& collective, AnyLayoutView<const Real**> partial, int segments,
                                       int columns, std::int64_t terms) {
  reserve(columns);
  const auto exponent = Kokkos::subview(exponent_, Kokkos::make_pair(0, columns));
  const auto fixed = Kokkos::subview(fixed_, Kokkos::make_pair(0, columns));
  const auto result = Kokkos::subview(result_, Kokkos::make_pair(0, columns));

  // Both passes below take columns in chunks, rows outer, so that on CPU backends the
  // compiler vectorises across a chunk's columns (a column at a time, over the few segments of
  // a rank, was a scalar dependency chain); GPU backends take a column per thread.
  constexpr int chunk = column_chunk;
  const int chunks = (columns + chunk - 1) / chunk;

  // The largest magnitude per column on this rank, or that a term is inf or NaN: on the
  // magnitudes' bits, which as unsigned integers order as the magnitudes do, inf and NaN above
  // the largest finite (an integer maximum, not a chain of floating-point compares and blends).
  Kokkos::parallel_for(
      "comm::fixed_point_exponent", Kokkos::RangePolicy<ExecSpace>(0, chunks), KOKKOS_LAMBDA(const int b) {
        constexpr std::uint64_t magnitude = ~(std::uint64_t{1} << 63), max_finite = 0x7FEFFFFFFFFFFFFFull;
        const int c0 = b * chunk, n = columns - c0 < chunk ? columns - c0 : chunk;
        std::uint64_t largest[chunk];
        for (int c = 0; c < chunk; ++c) largest[c] = 0;
        for (int g = 0; g < segments; ++g)
          for_row_chunk(partial, g, c0, n, [&](int c, double v) {
            std::uint64_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            bits &= magnitude;
            largest[c] = bits > largest[c] ? bits : largest[c];
          });
        for (int c = 0; c < n; ++c) {  // the exponent of every column, then selects: vectorises
          double a;
          std::memcpy(&a, &largest[c], sizeof a);
          const int e = exponent_above(a);  // meaningless for 0, inf and NaN, not kept
          exponent(c0 + c) = largest[c] > max_finite ? bad_column : largest[c] > 0 ? e : zero_column;
        }
      });
  collective.max(exponent);

  const int shift = 61 - bits_for(terms > 1 ? terms : 1);
  Kokkos::parallel_for(
      "comm::fixed_point_scale", Kokkos::RangePolicy<ExecSpace>(0, chunks), KOKKOS_LAMBDA(const int b) {
        const int c0 = b * chunk, n = columns - c0 < chunk ? columns - c0 : chunk;
        // 2^(shift - E) as two normal factors for any E of a double (|shift - E| < 1140); up is
        // 0 for columns that are all zero or not finite, whose sums stay 0.
        double up[chunk], down[chunk];
        std::int64_t acc[chunk];
        for (int c = 0; c < n; ++c) {
          const int e = exponent(c0 + c);
          const bool used = e != zero_column && e != bad_column;
          const int s = used ? shift - e : 0, s1 = s / 2;
          up[c] = used ? pow2(s1) : 0.0;
          down[c] = pow2(s - s1);
          acc[c] = 0;
        }
        for (int g = 0; g < segments; ++g)
          for_row_chunk(partial, g, c0, n, [&](int c, double v) {
            acc[c] += up[c] != 0 ? static_cast<std::int64_t>(v * up[c] * down[c]) : 0;  // no inf or NaN converted
          });
        for (int c = 0; c < n; ++c) fixed(c0 + c) = acc[c];  // |term| < 2^shift
      });
  collective.sum(fixed);

  Kokkos::parallel_for(
      "comm::fixed_point_unscale", Kokkos::RangePolicy<ExecSpace>(0, chunks), KOKKOS_LAMBDA(const int b) {
        const int c0 = b * chunk, n = columns - c0 < chunk ? columns - c0 : chunk;
        // Every column scaled back (all-zero and bad columns hold 0 and stay 0), then the bad
        // ones set to NaN: the first loop has no branch and vectorises.
        for (int c = 0; c < n; ++c) {
          const int e = exponent(c0 + c);
          const bool used = (e != zero_column) & (e != bad_column);
          const int s = used ? shift - e : 0, s1 = s / 2;  // exact inverses: the way back is two exact scalings
          result(c0 + c) = static_cast<double>(fixed(c0 + c)) * pow2(-s1) * pow2(s1 - s);
        }
        for (int c = 0; c < n; ++c)
          if (exponent(c0 + c) == bad_column) result(c0 + c) = std::numeric_limits<double>::quiet_NaN();
      });
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result);
  return std::vector<double>(host.data(), host.data() + columns);
}

}  // namespace kollektiv::comm
