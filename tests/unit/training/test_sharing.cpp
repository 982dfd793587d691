// Sharing schedules and the sites' layout: pure functions of (seed, round, sites) and of the
// rank count, checked for the properties the modes rely on.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "solvers/training/sharing.hpp"
#include "solvers/training/skill_unit.hpp"

namespace kollektiv::training {
namespace {

// A matching: symmetric, nobody paired with itself.
void expect_matching(const std::vector<int>& partner) {
  for (std::size_t s = 0; s < partner.size(); ++s) {
    if (partner[s] < 0) continue;
    EXPECT_NE(partner[s], static_cast<int>(s));
    ASSERT_LT(partner[s], static_cast<int>(partner.size()));
    EXPECT_EQ(partner[partner[s]], static_cast<int>(s)) << "site " << s;
  }
}

TEST(Sharing, GossipSchedulesAreMatchingsAndPureFunctions) {
  for (const GossipSchedule schedule : {GossipSchedule::ring, GossipSchedule::hypercube, GossipSchedule::random_pairs}) {
    for (int sites : {1, 2, 3, 5, 8, 16}) {
      for (int round = 0; round < 6; ++round) {
        const std::vector<int> p = gossip_partners(schedule, 42, round, sites);
        ASSERT_EQ(p.size(), static_cast<std::size_t>(sites));
        expect_matching(p);
        EXPECT_EQ(p, gossip_partners(schedule, 42, round, sites)) << "the same arguments, another plan";
        const int paired = static_cast<int>(std::count_if(p.begin(), p.end(), [](int x) { return x >= 0; }));
        if (schedule != GossipSchedule::hypercube) {
          EXPECT_EQ(paired, sites - sites % 2) << schedule_name(schedule);
        }
      }
    }
  }
  // ring alternates its two matchings: every neighbour pair of 6 sites meets in two rounds.
  std::set<std::pair<int, int>> met;
  for (int round = 0; round < 2; ++round) {
    const std::vector<int> p = gossip_partners(GossipSchedule::ring, 1, round, 6);
    for (int s = 0; s < 6; ++s)
      if (p[s] > s) met.insert({s, p[s]});
  }
  EXPECT_EQ(met, (std::set<std::pair<int, int>>{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {0, 5}}));
  // hypercube: after log2(S) rounds every site has met one partner per dimension.
  for (int s = 0; s < 8; ++s) {
    std::set<int> partners;
    for (int round = 0; round < 3; ++round) partners.insert(gossip_partners(GossipSchedule::hypercube, 1, round, 8)[s]);
    EXPECT_EQ(partners, (std::set<int>{s ^ 1, s ^ 2, s ^ 4}));
  }
  // random_pairs: the seed and the round change the plan.
  EXPECT_NE(gossip_partners(GossipSchedule::random_pairs, 1, 0, 16), gossip_partners(GossipSchedule::random_pairs, 2, 0, 16));
  EXPECT_NE(gossip_partners(GossipSchedule::random_pairs, 1, 0, 16), gossip_partners(GossipSchedule::random_pairs, 1, 1, 16));
}

TEST(Sharing, FederatedRoundsSelectAFractionAndAQuorum) {
  FederatedConfig cfg;
  cfg.participation = 0.25;
  cfg.quorum = 0.75;
  cfg.unavailable = 0.3;
  int closed = 0, failed = 0;
  std::set<int> ever;
  for (int round = 0; round < 200; ++round) {
    const FederatedRound r = federated_round(cfg, 9, round, 16);
    EXPECT_EQ(r.selected.size(), 4u);
    EXPECT_TRUE(std::is_sorted(r.selected.begin(), r.selected.end()));
    EXPECT_TRUE(std::includes(r.selected.begin(), r.selected.end(), r.reporting.begin(), r.reporting.end()));
    EXPECT_EQ(r.quorum, 3);
    EXPECT_EQ(r.closes(), r.reporting.size() >= 3u);
    const FederatedRound again = federated_round(cfg, 9, round, 16);
    EXPECT_EQ(r.selected, again.selected);
    EXPECT_EQ(r.reporting, again.reporting);
    (r.closes() ? closed : failed) += 1;
    ever.insert(r.selected.begin(), r.selected.end());
  }
  EXPECT_EQ(ever.size(), 16u) << "every site is selected sometimes";
  // P(at least 3 of 4 available at 0.7) = 0.65: both outcomes occur in 200 rounds.
  EXPECT_GT(closed, 90);
  EXPECT_GT(failed, 30);
  cfg.unavailable = 0.0;
  cfg.participation = 1.0;
  const FederatedRound all = federated_round(cfg, 9, 0, 5);
  EXPECT_EQ(all.selected, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(all.reporting, all.selected);
}

TEST(Sharing, PrivateLayerNames) {
  for (const char* ok : {"policy", "value", "normalizer", "policy.0", "policy.2", "policy.output", "policy.log_std",
                         "value.1", "value.output"})
    EXPECT_EQ(private_layer_problem(ok, 3, 2), "") << ok;
  for (const char* bad : {"policy.3", "value.2", "policy.", "policy.-1", "critic", "value.log_std", ""})
    EXPECT_NE(private_layer_problem(bad, 3, 2), "") << bad;
}

UnitConfig sites_of(const std::vector<std::int64_t>& robots, SharingMode mode, int per_block) {
  UnitConfig cfg;
  for (std::size_t s = 0; s < robots.size(); ++s) cfg.sites.push_back({"s" + std::to_string(s), robots[s], {}});
  cfg.sharing.mode = mode;
  cfg.learner.robots_per_block = per_block;
  return cfg;
}

// Every robot on exactly one rank, in gid order; a site whole on one rank in the replica
// modes; in allreduce no block split and no piece crossing a site.
TEST(Sharing, LayoutPartitionsTheRobots) {
  const std::vector<std::int64_t> robots{16, 16, 12, 20, 5};
  for (const SharingMode mode : {SharingMode::allreduce, SharingMode::gossip}) {
    for (int size = 1; size <= 7; ++size) {
      std::int64_t next = 0;
      for (int rank = 0; rank < size; ++rank) {
        const Layout l = make_layout(sites_of(robots, mode, 8), rank, size);
        EXPECT_EQ(l.site_begin, (std::vector<std::int64_t>{0, 16, 32, 44, 64, 69}));
        EXPECT_EQ(l.block_begin, (std::vector<std::int64_t>{0, 2, 4, 6, 9, 10}));
        for (const Piece& p : l.pieces) {
          EXPECT_EQ(p.begin, next) << "rank " << rank << " of " << size;
          EXPECT_GE(p.begin, l.site_begin[p.site]);
          EXPECT_LE(p.begin + p.count, l.site_begin[p.site + 1]);
          if (mode != SharingMode::allreduce) {
            EXPECT_EQ(p.count, robots[p.site]);
          } else {
            EXPECT_EQ((p.begin - l.site_begin[p.site]) % 8, 0) << "a split block";
          }
          next = p.begin + p.count;
        }
      }
      EXPECT_EQ(next, 69) << "size " << size;
    }
  }
}

TEST(Sharing, SkillsGetContiguousRankRangesInProportionToTheirRobots) {
  // At least as many ranks as skills: disjoint ranges covering every rank, each >= 1.
  const std::vector<std::int64_t> robots{32, 16, 8};
  for (int size = 3; size <= 12; ++size) {
    const std::vector<RankRange> r = assign_skill_ranks(robots, size);
    ASSERT_EQ(r.size(), 3u);
    int next = 0;
    for (const RankRange& x : r) {
      EXPECT_EQ(x.first, next);
      EXPECT_GE(x.count, 1);
      next += x.count;
    }
    EXPECT_EQ(next, size);
    EXPECT_GE(r[0].count, r[1].count);
    EXPECT_GE(r[1].count, r[2].count);
  }
  EXPECT_EQ(assign_skill_ranks(robots, 4)[0].count, 2);  // the one spare rank to the largest
  const auto even = assign_skill_ranks({10, 10}, 7);       // a tie of remainders: the earlier skill
  EXPECT_EQ(even[0].count, 4);
  EXPECT_EQ(even[1].count, 3);
  // Fewer ranks than skills: one rank each, where its robots' midpoint falls.
  const auto two = assign_skill_ranks(robots, 2);
  EXPECT_EQ(two[0].first, 0);  // midpoint 16 of 56
  EXPECT_EQ(two[1].first, 1);  // midpoint 40 of 56
  EXPECT_EQ(two[2].first, 1);
  for (const RankRange& x : assign_skill_ranks(robots, 1)) EXPECT_EQ(x.first, 0);
  for (const RankRange& x : two) EXPECT_EQ(x.count, 1);
  EXPECT_TRUE(two[1].holds(1));
  EXPECT_FALSE(two[1].holds(0));
}

}  // namespace
}  // namespace kollektiv::training
