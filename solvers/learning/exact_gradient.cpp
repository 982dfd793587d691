// Segment partials in floating point, then ExactSum per parameter; see exact_gradient.hpp.
#include "solvers/learning/exact_gradient.hpp"

#include <utility>

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

namespace {

// Tiles of the weight gradient: inputs_per_tile inputs x outputs_per_tile outputs held in
// registers while a segment's rows stream past, so each x and delta value loaded serves
// several products (the old per-thread stack accumulator was bound by its loads/stores).
constexpr int inputs_per_tile = 2;
constexpr int outputs_per_tile = 8;

// acc[u][c] = sum over rows [row_begin, row_end), in order, of x(r, j[u]) * delta(r, i0 + c),
// or of 1 * delta(r, i0 + c) for the bias tile. Every element is a sum from 0 in row order,
// whatever its tile. The bias is its own tile so the inner loop has no branch.
template <int width, bool bias>
KOKKOS_INLINE_FUNCTION void segment_tile(View<const Real**> x, View<const Real**> delta,
                                         const int (&j)[inputs_per_tile], int row_begin, int row_end, int i0,
                                         Real (&acc)[inputs_per_tile][width]) {
  for (int u = 0; u < inputs_per_tile; ++u)
    for (int c = 0; c < width; ++c) acc[u][c] = 0;
  for (int r = row_begin; r < row_end; ++r) {
    Real xj[inputs_per_tile], d[width];
    for (int u = 0; u < inputs_per_tile; ++u) xj[u] = bias ? Real(1) : x(r, j[u]);
    for (int c = 0; c < width; ++c) d[c] = delta(r, i0 + c);
    for (int u = 0; u < inputs_per_tile; ++u)
      for (int c = 0; c < width; ++c) acc[u][c] += xj[u] * d[c];
  }
}

// partial(g, (j0 + u) * out + i) for u < nj and every i < out: the segment sums of one tile
// of inputs (j0 == in: the bias tile, nj == 1). Outputs in tiles, then one at a time.
template <bool bias>
KOKKOS_INLINE_FUNCTION void segment_partials(View<const Real**> x, View<const Real**> delta, int in, int out,
                                             int j0, int row_begin, int row_end, View<Real**> partial, int g) {
  int j[inputs_per_tile];  // inputs past the last repeat it; their sums are dropped
  for (int u = 0; u < inputs_per_tile; ++u) j[u] = j0 + u < in ? j0 + u : in - 1;
  const int nj = bias ? 1 : (in - j0 < inputs_per_tile ? in - j0 : inputs_per_tile);
  int i0 = 0;
  for (; i0 + outputs_per_tile <= out; i0 += outputs_per_tile) {
    Real acc[inputs_per_tile][outputs_per_tile];
    segment_tile<outputs_per_tile, bias>(x, delta, j, row_begin, row_end, i0, acc);
    for (int u = 0; u < nj; ++u)
      for (int c = 0; c < outputs_per_tile; ++c) partial(g, (j0 + u) * out + i0 + c) = acc[u][c];
  }
  for (; i0 < out; ++i0) {
    Real acc[inputs_per_tile][1];
    segment_tile<1, bias>(x, delta, j, row_begin, row_end, i0, acc);
    for (int u = 0; u < nj; ++u) partial(g, (j0 + u) * out + i0) = acc[u][0];
  }
}

}  // namespace

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
    // Stage 1: one thread per (segment, tile of inputs j); the last tile is the bias row
    // (x = 1). Rows are summed in their order inside the segment, which the caller fixed
    // from global ids, so a segment's partial has the same bits on any rank.
    const int input_tiles = (in + inputs_per_tile - 1) / inputs_per_tile;
    Kokkos::parallel_for(
        "learning::gradient_partials",
        Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {n_seg, input_tiles + 1}),
        KOKKOS_LAMBDA(const int g, const int jt) {
          const int row_begin = begin(first + g), row_end = begin(first + g + 1);
          if (jt < input_tiles)
            segment_partials<false>(x, delta, in, out, jt * inputs_per_tile, row_begin, row_end, partial, g);
          else
            segment_partials<true>(x, delta, in, out, in, row_begin, row_end, partial, g);
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

namespace {

constexpr int limbs = ExactSum::limb_count;
constexpr int specials = ExactSum::word_count - ExactSum::limb_count;  // +inf, -inf, NaN counts

constexpr std::int64_t digit_base = std::int64_t{1} << ExactSum::digit_bits;

// floor(v / 2^32) without relying on arithmetic right shift of negatives.
std::int64_t floor_digit(std::int64_t v) {
  return v >= 0 ? v / digit_base : -((-v + digit_base - 1) / digit_base);
}

// The limbs of `s` rewritten as balanced digits in [-2^31, 2^31) (the value is unchanged):
// unlike ExactSum::normalise, which makes every limb above a negative sum nonzero, these
// are zero outside the few limbs the sum's terms touched, for either sign. Returns that
// range [lo, hi) (empty for a zero sum); digits outside it are left unset.
std::pair<int, int> balanced_digits(const ExactSum& s, std::int64_t* digits) {
  const std::int64_t* w = s.words();
  int lo = 0, top = limbs - 1;
  while (lo < limbs && w[lo] == 0) ++lo;
  if (lo == limbs) return {0, 0};
  while (w[top] == 0) --top;
  const std::int64_t half = digit_base / 2;
  std::int64_t carry = 0;
  int hi = lo;
  for (int i = lo; i < limbs; ++i) {
    std::int64_t v = w[i] + carry;
    carry = i + 1 < limbs ? floor_digit(v + half) : 0;  // the top limb keeps the rest
    v -= carry * digit_base;
    digits[i] = v;
    if (v != 0) hi = i + 1;
    if (carry == 0 && i >= top) break;  // every limb above is zero
  }
  return {lo, hi};
}

}  // namespace

std::vector<double> combine_exact(MPI_Comm comm, View<const ExactSum*> sums, CombineBuffer& buffer) {
  // Only the limbs that can be nonzero travel: each sum as balanced digits over the union
  // of its digit ranges on all ranks (agreed by one small allreduce), then its +-inf/NaN
  // counts. Every rank count sums the same integers, so the result keeps the same bits;
  // digits below 2^31 in magnitude cannot overflow an int64 sum. On host backends `host`
  // is `sums` itself.
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sums);
  const int n = static_cast<int>(host.extent(0));
  if (n == 0) return {};
  auto& digits = buffer.digits;
  auto& own = buffer.own_range;
  auto& range = buffer.range;
  digits.resize(static_cast<std::size_t>(n) * limbs);
  own.resize(n);
  range.resize(2 * static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    own[i] = balanced_digits(host(i), &digits[static_cast<std::size_t>(i) * limbs]);
    const bool empty = own[i].first >= own[i].second;
    range[2 * i] = empty ? limbs : own[i].first;  // (lo, -hi): MPI_MIN gives the union
    range[2 * i + 1] = empty ? 0 : -own[i].second;
  }
  MPI_Allreduce(MPI_IN_PLACE, range.data(), 2 * n, MPI_INT, MPI_MIN, comm);

  auto& packed = buffer.packed;
  packed.clear();
  for (int i = 0; i < n; ++i) {
    const std::int64_t* d = &digits[static_cast<std::size_t>(i) * limbs];
    for (int k = range[2 * i]; k < -range[2 * i + 1]; ++k)
      packed.push_back(k >= own[i].first && k < own[i].second ? d[k] : 0);
    const std::int64_t* w = host(i).words();
    for (int k = limbs; k < limbs + specials; ++k) packed.push_back(w[k]);
  }
  MPI_Allreduce(MPI_IN_PLACE, packed.data(), static_cast<int>(packed.size()), MPI_INT64_T, MPI_SUM, comm);

  std::vector<double> result(n);
  std::size_t at = 0;
  for (int i = 0; i < n; ++i) {
    ExactSum total;
    std::int64_t* w = total.words();
    for (int k = range[2 * i]; k < -range[2 * i + 1]; ++k) w[k] = packed[at++];
    for (int k = limbs; k < limbs + specials; ++k) w[k] = packed[at++];
    result[i] = total.to_double();
  }
  return result;
}

std::vector<double> combine_exact(MPI_Comm comm, View<const ExactSum*> sums) {
  CombineBuffer buffer;
  return combine_exact(comm, sums, buffer);
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
