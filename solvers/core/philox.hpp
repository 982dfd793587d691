// Philox-4x32-10 counter-based generator (Salmon et al., SC'11) and the draws built on it.
// Every random number in kollektiv is a pure function of (seed, stream, global id, counter):
// no generator state lives on a rank, so results do not depend on the decomposition.
#pragma once

#include <cstdint>

#include "solvers/core/math.hpp"

namespace kollektiv::rng {

struct Philox4x32 {
  std::uint32_t v[4];
};

// Ten rounds of Philox-4x32 with the reference multipliers and Weyl key increments.
KOKKOS_INLINE_FUNCTION Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
  constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += w0;
      k1 += w1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(m0) * ctr.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(m1) * ctr.v[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

// Streams separate the uses of randomness so that adding a draw in one place never shifts
// another. Values are part of the file format of results: never renumber, only append.
enum class Stream : std::uint32_t {
  source_arrival = 1,
  process_time = 2,
  scrap = 3,
  failure = 4,
  repair = 5,
  rework = 6,  // factory: inspection at a service end, id = station gid, counter = service count
  part_type = 7,  // factory: a part's type, id = its line's global index, counter = arrival count
  route = 8,      // factory: a part's branch at a split, id = part id, counter = station gid
  test = 100,
  policy_noise = 101,       // learning: Gaussian action noise, id = robot gid, counter = step, dim
  minibatch_shuffle = 102,  // learning: minibatch of a sample, id = robot gid, counter = epoch, t
  parameter_init = 103,     // learning: initial network weights, id = parameter index
  skill_reach = 104,        // skills: reach episode set-up, id = robot gid, counter = episode * 64 + draw
  skill_weld = 105,         // skills: weld seam and start, id = robot gid, counter = episode * 64 + draw
  skill_pick_place = 106,   // skills: part, mass and place target, id = robot gid, counter = episode * 64 + draw
  gossip_pairs = 107,       // sharing: random_pairs schedule, id = site, counter = gossip round
  federated_select = 108,   // sharing: sites taking part in a round, id = site, counter = round
  federated_unavailable = 109,  // sharing: a site misses a round (straggler), id = site, counter = round
  skill_weld_sensor = 110,  // skills: seam sensor noise, id = draw id (gid), counter = episode * 2^25 + step * 2 + channel
  skill_observation_noise = 111,  // skills: joint sensing noise, id = draw id, counter = episode * 2^30 + step * 32 + value
};

// Four 32-bit words for (seed, stream, id, counter). The key is the 64-bit seed; the
// counter words are (counter lo, counter hi, id lo, (id hi 24 bits | stream 8 bits)).
KOKKOS_INLINE_FUNCTION Philox4x32 draw(std::uint64_t seed, Stream stream, std::uint64_t id,
                                       std::uint64_t counter) {
  const std::uint32_t s = static_cast<std::uint32_t>(stream);
  Philox4x32 ctr{{static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32),
                  static_cast<std::uint32_t>(id),
                  (static_cast<std::uint32_t>(id >> 32) & 0x00FFFFFFu) | (s << 24)}};
  return philox4x32_10(ctr, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform double in the open interval (0, 1) from two words: 52 random bits placed at the
// centres of 2^52 equal cells, so the result is never 0 or 1 (log(u), log(1-u) finite).
KOKKOS_INLINE_FUNCTION double uniform_open(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 12;  // 52 bits
  return (static_cast<double>(bits) + 0.5) * 0x1.0p-52;
}

// The two uniforms of one draw: u0 from words 0,1 and u1 from words 2,3.
KOKKOS_INLINE_FUNCTION double uniform0(const Philox4x32& r) { return uniform_open(r.v[0], r.v[1]); }
KOKKOS_INLINE_FUNCTION double uniform1(const Philox4x32& r) { return uniform_open(r.v[2], r.v[3]); }

// Standard normal from one draw by Box-Muller (the cosine branch only, for purity).
KOKKOS_INLINE_FUNCTION double normal(const Philox4x32& r) {
  const double u0 = uniform0(r), u1 = uniform1(r);
  return math::sqrt(-2.0 * math::log(u0)) * math::cos(2.0 * math::pi * u1);
}

}  // namespace kollektiv::rng
