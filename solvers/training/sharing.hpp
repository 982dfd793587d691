// How the sites of a skill share what their robots learn, as plain config, and the
// schedules that decide who shares with whom: pure functions of (seed, round, sites), so
// every rank computes the same plan without communication and a restart replays it.
//
//   isolated   one replica per site, no sharing (the baseline)
//   allreduce  one replica for all sites; every minibatch's gradient is the exact sum over
//              all robots (the learner's own collective)
//   gossip     one replica per site; after every `period` updates each site averages its
//              parameters (and, by default, its Adam moments and observation statistics)
//              with its partner of the round's matching; pairwise exchange only
//   federated  one replica per site; every `local_updates` updates a round: a seeded
//              fraction of the sites is selected, the selected sites that are available
//              report, and when at least `quorum` of the selected did, the env-step-weighted
//              average of their shared parameters becomes every site's (FedAvg); layers
//              named `private` stay each site's own
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kollektiv::training {

enum class SharingMode : int { allreduce = 0, isolated = 1, gossip = 2, federated = 3 };
enum class GossipSchedule : int { ring = 0, hypercube = 1, random_pairs = 2 };

struct GossipConfig {
  int period = 1;  // updates between gossip rounds, >= 1
  GossipSchedule schedule = GossipSchedule::ring;
  bool average_moments = true;  // also average the Adam moments (false: each keeps its own)
};

struct FederatedConfig {
  int local_updates = 4;       // updates between rounds, >= 1
  double participation = 0.5;  // fraction of the sites selected per round, in (0, 1]
  double quorum = 1.0;         // fraction of the selected that must report, in (0, 1]
  double unavailable = 0.0;    // probability that a selected site misses a round, in [0, 1)
  // Layers that stay each site's own: "policy.<k>" (dense layer k of the mean network),
  // "policy.output" (its last), "policy.log_std", "policy" (all of it), the same for
  // "value", and "normalizer" (the observation statistics).
  std::vector<std::string> private_layers;
};

struct SharingConfig {
  SharingMode mode = SharingMode::allreduce;
  bool nccl = false;  // the skill's Collective: NCCL (device buffers) instead of MPI
  GossipConfig gossip;
  FederatedConfig federated;
};

const char* mode_name(SharingMode mode);
const char* schedule_name(GossipSchedule schedule);

// The partner of every site in gossip round `round` (-1: none this round); symmetric
// (partner[partner[s]] == s) and a matching (each site has at most one partner).
//   ring:          the two perfect matchings of the ring 0-1-2-...-(S-1)-0, alternately
//                  (even rounds pair 2i with 2i+1, odd rounds 2i+1 with 2i+2 mod S);
//   hypercube:     dimension d = round mod ceil(log2 S): s pairs with s xor 2^d if it exists;
//   random_pairs:  a seeded random permutation of the sites, paired in consecutive twos.
std::vector<int> gossip_partners(GossipSchedule schedule, std::uint64_t seed, std::int64_t round, int sites);

// Which sites take part in federated round `round` and which of those report.
struct FederatedRound {
  std::vector<int> selected;   // ascending site indices, max(1, round(participation * S)) of them
  std::vector<int> reporting;  // the selected that are available this round (ascending)
  int quorum = 1;              // reports needed: ceil(quorum * |selected|)
  bool closes() const { return static_cast<int>(reporting.size()) >= quorum; }
};
FederatedRound federated_round(const FederatedConfig& cfg, std::uint64_t seed, std::int64_t round, int sites);

// "" if `name` is a valid private-layer name for networks of `policy_layers` and
// `value_layers` dense layers, else what is expected.
std::string private_layer_problem(const std::string& name, int policy_layers, int value_layers);

}  // namespace kollektiv::training
