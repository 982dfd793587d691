// Sharing schedules; see sharing.hpp.
#include "solvers/training/sharing.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "solvers/core/philox.hpp"
#include "solvers/learning/layer_names.hpp"

namespace kollektiv::training {

const char* mode_name(SharingMode mode) {
  switch (mode) {
    case SharingMode::allreduce: return "allreduce";
    case SharingMode::isolated: return "isolated";
    case SharingMode::gossip: return "gossip";
    case SharingMode::federated: return "federated";
  }
  return "unknown";
}

const char* schedule_name(GossipSchedule schedule) {
  switch (schedule) {
    case GossipSchedule::ring: return "ring";
    case GossipSchedule::hypercube: return "hypercube";
    case GossipSchedule::random_pairs: return "random_pairs";
  }
  return "unknown";
}

namespace {

// The sites ordered by a seeded draw per (site, round): a permutation that is a pure
// function of its arguments (ties, which need equal 64-bit draws, by site index).
std::vector<int> seeded_order(std::uint64_t seed, rng::Stream stream, std::int64_t round, int sites) {
  std::vector<std::pair<std::uint64_t, int>> keyed;
  for (int s = 0; s < sites; ++s) {
    const rng::Philox4x32 d = rng::draw(seed, stream, static_cast<std::uint64_t>(s), static_cast<std::uint64_t>(round));
    keyed.emplace_back((static_cast<std::uint64_t>(d.v[0]) << 32) | d.v[1], s);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<int> order;
  for (const auto& k : keyed) order.push_back(k.second);
  return order;
}

}  // namespace

std::vector<int> gossip_partners(GossipSchedule schedule, std::uint64_t seed, std::int64_t round, int sites) {
  std::vector<int> partner(static_cast<std::size_t>(std::max(sites, 0)), -1);
  const auto pair = [&](int a, int b) {
    if (a == b || a < 0 || b < 0 || a >= sites || b >= sites) return;
    partner[a] = b;
    partner[b] = a;
  };
  switch (schedule) {
    case GossipSchedule::ring: {
      if (sites == 2) {
        pair(0, 1);
        break;
      }
      const int first = static_cast<int>(round % 2);  // 0: (0,1),(2,3)...; 1: (1,2),(3,4)...
      for (int s = first; s + 1 < sites + first && sites > 2; s += 2) {
        const int a = s % sites, b = (s + 1) % sites;
        if (partner[a] < 0 && partner[b] < 0) pair(a, b);
      }
      break;
    }
    case GossipSchedule::hypercube: {
      int dims = 0;
      while ((1 << dims) < sites) ++dims;
      if (dims == 0) break;
      const int d = static_cast<int>(round % dims);
      for (int s = 0; s < sites; ++s) {
        const int p = s ^ (1 << d);
        if (p < sites && partner[s] < 0) pair(s, p);
      }
      break;
    }
    case GossipSchedule::random_pairs: {
      const std::vector<int> order = seeded_order(seed, rng::Stream::gossip_pairs, round, sites);
      for (std::size_t i = 0; i + 1 < order.size(); i += 2) pair(order[i], order[i + 1]);
      break;
    }
  }
  return partner;
}

FederatedRound federated_round(const FederatedConfig& cfg, std::uint64_t seed, std::int64_t round, int sites) {
  FederatedRound r;
  if (sites <= 0) return r;
  const int chosen =
      std::clamp(static_cast<int>(std::lround(cfg.participation * sites)), 1, sites);
  std::vector<int> order = seeded_order(seed, rng::Stream::federated_select, round, sites);
  r.selected.assign(order.begin(), order.begin() + chosen);
  std::sort(r.selected.begin(), r.selected.end());
  for (int s : r.selected) {
    const double u = rng::uniform0(rng::draw(seed, rng::Stream::federated_unavailable, static_cast<std::uint64_t>(s),
                                             static_cast<std::uint64_t>(round)));
    if (u >= cfg.unavailable) r.reporting.push_back(s);
  }
  r.quorum = std::clamp(static_cast<int>(std::ceil(cfg.quorum * chosen - 1e-9)), 1, chosen);
  return r;
}

std::string private_layer_problem(const std::string& name, int policy_layers, int value_layers) {
  if (name == "normalizer" || learning::parse_layer_name(name, policy_layers, value_layers)) return "";
  return learning::expected_layer_names(policy_layers, value_layers, "normalizer");
}

}  // namespace kollektiv::training
