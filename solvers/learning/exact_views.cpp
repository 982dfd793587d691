// Exact rank-combined sums of ExactSum Views; see exact_views.hpp.
#include "solvers/learning/exact_views.hpp"

#include <utility>


namespace kollektiv::learning {

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

std::vector<double> combine_exact(comm::Collective& collective, View<const ExactSum*> sums) {
  // Only the limbs that can be nonzero travel: each sum as balanced digits over the union
  // of its digit ranges on all ranks (agreed by one small allreduce), then its +-inf/NaN
  // counts. Every rank count sums the same integers, so the result keeps the same bits;
  // digits below 2^31 in magnitude cannot overflow an int64 sum. On host backends `host`
  // is `sums` itself.
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sums);
  const int n = static_cast<int>(host.extent(0));
  if (n == 0) return {};
  std::vector<std::int64_t> digits(static_cast<std::size_t>(n) * limbs);  // [sum][limb] balanced digits
  std::vector<std::pair<int, int>> own(n);                               // nonzero digits on this rank
  std::vector<int> range(2 * static_cast<std::size_t>(n));              // (lo, -hi) over all ranks
  for (int i = 0; i < n; ++i) {
    own[i] = balanced_digits(host(i), &digits[static_cast<std::size_t>(i) * limbs]);
    const bool empty = own[i].first >= own[i].second;
    range[2 * i] = empty ? limbs : own[i].first;  // (lo, -hi): the minimum gives the union
    range[2 * i + 1] = empty ? 0 : -own[i].second;
  }
  collective.min(range);

  std::vector<std::int64_t> packed;  // what the allreduce sums
  for (int i = 0; i < n; ++i) {
    const std::int64_t* d = &digits[static_cast<std::size_t>(i) * limbs];
    for (int k = range[2 * i]; k < -range[2 * i + 1]; ++k)
      packed.push_back(k >= own[i].first && k < own[i].second ? d[k] : 0);
    const std::int64_t* w = host(i).words();
    for (int k = limbs; k < limbs + specials; ++k) packed.push_back(w[k]);
  }
  collective.sum(packed);

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
