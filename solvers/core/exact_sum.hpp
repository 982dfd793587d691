// ExactSum: an exact, order-independent accumulator for doubles over the whole range
// (2^-1074 .. 2^1024). It holds the sum as a fixed-point integer in 32-bit digits kept in
// int64 limbs, so adding is integer arithmetic, any order of additions gives the same
// limbs, and merging two accumulators (on one rank or across ranks) is a limb-wise sum.
// to_double() rounds the exact sum once, to nearest-even. Usable inside kernels.
#pragma once

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <cstring>

namespace kollektiv {

class ExactSum {
 public:
  // Bit 0 of limb 0 weighs 2^-1074 (the smallest subnormal). 2098 bits hold any double's
  // significand at any exponent; two spare limbs absorb carries of up to 2^64 terms.
  static constexpr int digit_bits = 32;
  static constexpr int limb_count = 68;
  static constexpr int min_exponent = -1074;
  // Limbs grow by less than 2^32 per add; normalise well before int64 could overflow.
  static constexpr std::int64_t adds_between_normalisations = std::int64_t{1} << 30;
  // Words in the flat form used for MPI: the limbs then +inf, -inf and NaN counts.
  static constexpr int word_count = limb_count + 3;

  KOKKOS_INLINE_FUNCTION ExactSum() {
    for (int i = 0; i < word_count; ++i) words_[i] = 0;
  }
  KOKKOS_INLINE_FUNCTION explicit ExactSum(double x) : ExactSum() { add(x); }

  KOKKOS_INLINE_FUNCTION void add(double x) {
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const bool negative = (bits >> 63) != 0;
    const int biased = static_cast<int>((bits >> 52) & 0x7FF);
    std::uint64_t mantissa = bits & ((std::uint64_t{1} << 52) - 1);
    if (biased == 0x7FF) {  // inf or NaN: counted apart, they decide the result alone
      if (mantissa != 0) ++words_[limb_count + 2];
      else ++words_[negative ? limb_count + 1 : limb_count];
      return;
    }
    if (biased == 0 && mantissa == 0) return;  // +0 and -0 add nothing
    int shift;                                 // position of the mantissa's bit 0, from 2^-1074
    if (biased == 0) {
      shift = 0;  // subnormal: mantissa * 2^-1074
    } else {
      mantissa |= std::uint64_t{1} << 52;
      shift = biased - 1;  // value = mantissa * 2^(biased - 1075) = mantissa * 2^(shift - 1074)
    }
    const int limb = shift / digit_bits;
    const int offset = shift % digit_bits;
    // mantissa << offset spans up to 85 bits: three 32-bit digits.
    const std::uint64_t low = (mantissa << offset) & 0xFFFFFFFFu;
    const std::uint64_t mid = (offset == 0 ? mantissa >> 32 : (mantissa >> (32 - offset))) & 0xFFFFFFFFu;
    const std::uint64_t high = offset == 0 ? 0 : (mantissa >> (64 - offset));
    // +digit or -digit as (digit ^ m) - m with m = 0 or -1: no branch on the sign, which
    // is random for sums of deviations (a mispredicted branch cost more than the add).
    const std::int64_t m = -static_cast<std::int64_t>(bits >> 63);
    words_[limb] += (static_cast<std::int64_t>(low) ^ m) - m;
    words_[limb + 1] += (static_cast<std::int64_t>(mid) ^ m) - m;
    words_[limb + 2] += (static_cast<std::int64_t>(high) ^ m) - m;
    if (++pending_ >= adds_between_normalisations) normalise();
  }

  KOKKOS_INLINE_FUNCTION ExactSum& operator+=(double x) {
    add(x);
    return *this;
  }

  // Merge another accumulator: exact, so the order of merges never matters.
  KOKKOS_INLINE_FUNCTION ExactSum& operator+=(ExactSum other) {
    normalise();
    other.normalise();
    for (int i = 0; i < word_count; ++i) words_[i] += other.words_[i];
    normalise();
    return *this;
  }

  // Propagate carries so digits 0..n-2 lie in [0, 2^32) and the top limb carries the sign.
  // The represented value is unchanged; after this every limb is below 2^32 in magnitude.
  KOKKOS_INLINE_FUNCTION void normalise() {
    for (int i = 0; i + 1 < limb_count; ++i) {
      const std::int64_t carry = floor_shift(words_[i]);
      words_[i] -= carry * (std::int64_t{1} << digit_bits);
      words_[i + 1] += carry;
    }
    pending_ = 0;
  }

  // The exact sum rounded once to the nearest double (ties to even).
  KOKKOS_INLINE_FUNCTION double to_double() const {
    const std::int64_t pos_inf = words_[limb_count], neg_inf = words_[limb_count + 1];
    if (words_[limb_count + 2] != 0 || (pos_inf != 0 && neg_inf != 0)) return quiet_nan();
    if (pos_inf != 0) return infinity();
    if (neg_inf != 0) return -infinity();

    ExactSum m = *this;
    m.normalise();
    const bool negative = m.words_[limb_count - 1] < 0;
    if (negative) {
      for (int i = 0; i < limb_count; ++i) m.words_[i] = -m.words_[i];
      m.normalise();
    }
    int h = limb_count - 1;
    while (h >= 0 && m.words_[h] == 0) --h;
    if (h < 0) return 0.0;
    double magnitude;
    if (h < 2) {
      // Below 2^-1010: at most 64 bits above 2^-1074; the conversion rounds once.
      const std::uint64_t v = (static_cast<std::uint64_t>(m.words_[1]) << 32) |
                              static_cast<std::uint64_t>(m.words_[0]);
      magnitude = scale(static_cast<double>(v), min_exponent);
    } else {
      const std::uint64_t hi = static_cast<std::uint64_t>(m.words_[h]);
      const std::uint64_t mid = static_cast<std::uint64_t>(m.words_[h - 1]);
      const std::uint64_t lo = static_cast<std::uint64_t>(m.words_[h - 2]);
      int k = 0;  // significant bits in the top digit, 1..32
      while (k < 32 && (hi >> k) != 0) ++k;
      // The 64 most significant bits of the sum, then a sticky bit for everything below,
      // so that converting those 64 bits rounds exactly as the full sum would.
      std::uint64_t top = (hi << (64 - k)) | (mid << (32 - k)) | (lo >> k);
      bool sticky = (lo & ((std::uint64_t{1} << k) - 1)) != 0;  // the bits of lo not in top
      for (int i = h - 3; i >= 0 && !sticky; --i) sticky = m.words_[i] != 0;
      if (sticky) top |= 1;
      magnitude = scale(static_cast<double>(top), digit_bits * (h - 2) + k + min_exponent);
    }
    return negative ? -magnitude : magnitude;
  }

  // Flat words for MPI (normalised first, so summing across up to 2^31 ranks cannot
  // overflow a limb) and back.
  KOKKOS_INLINE_FUNCTION const std::int64_t* words() const { return words_; }
  KOKKOS_INLINE_FUNCTION std::int64_t* words() { return words_; }

  KOKKOS_INLINE_FUNCTION friend bool operator==(ExactSum a, ExactSum b) {
    a.normalise();
    b.normalise();
    for (int i = 0; i < word_count; ++i)
      if (a.words_[i] != b.words_[i]) return false;
    return true;
  }

 private:
  KOKKOS_INLINE_FUNCTION static std::int64_t floor_shift(std::int64_t v) {
    // floor(v / 2^32) without relying on arithmetic right shift of negatives.
    return v >= 0 ? (v >> digit_bits) : -((-v + ((std::int64_t{1} << digit_bits) - 1)) >> digit_bits);
  }
  KOKKOS_INLINE_FUNCTION static double scale(double v, int exponent) {
    // v * 2^exponent by repeated exact power-of-two factors (ldexp is not a device function
    // everywhere). Each factor is exact unless the result over- or underflows, and the
    // callers only underflow when v is exactly representable there.
    while (exponent > 0) {
      const int e = exponent > 1000 ? 1000 : exponent;
      v *= pow2(e);
      exponent -= e;
    }
    while (exponent < 0) {
      const int e = exponent < -1000 ? -1000 : exponent;
      v *= pow2(e);
      exponent -= e;
    }
    return v;
  }
  KOKKOS_INLINE_FUNCTION static double pow2(int e) {  // 2^e for -1022 <= e <= 1023
    const std::uint64_t bits = static_cast<std::uint64_t>(e + 1023) << 52;
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  KOKKOS_INLINE_FUNCTION static double infinity() {
    const std::uint64_t bits = std::uint64_t{0x7FF} << 52;
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  KOKKOS_INLINE_FUNCTION static double quiet_nan() {
    const std::uint64_t bits = (std::uint64_t{0x7FF} << 52) | (std::uint64_t{1} << 51);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }

  std::int64_t words_[word_count];
  std::int64_t pending_ = 0;  // adds since the last normalisation
};

}  // namespace kollektiv
