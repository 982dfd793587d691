// SkillUnit: one skill's robots on this rank, its policy replicas and how they share.
//
// A skill's robots belong to *sites* (a factory, a firm, a lab), each with its own task
// distribution; robot gids run site after site. The unit's layout is a pure function of
// the config and the rank count:
//   - allreduce: one replica over all sites. Each site's robots are cut into blocks of
//     robots_per_block (a block never spans two sites), the blocks are spread over the ranks
//     as evenly as possible, and a rank holds the pieces of the sites its blocks cover. The
//     replica's learner sums gradients over every robot with the skill's Collective.
//   - isolated, gossip, federated: one replica per site. A site is never split: sites are
//     given to the ranks in order, balanced by robots, and each replica's learner lives on
//     its site's rank (a one-rank Collective); sharing goes through the skill's Collective.
// Every random draw is keyed by robot gid or site, every sum across ranks is exact, so
// results are the same for any rank count and across restarts onto any rank count.
//
// One iteration: rollout() (observe → act → step → store, per replica) → update() (every
// replica's PPO update) → share() (gossip or a federated round when due).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "solvers/comm/collective.hpp"
#include "solvers/comm/fixed_point_sum.hpp"
#include "solvers/core/exact_sum.hpp"
#include "solvers/dynamics/robot_model.hpp"
#include "solvers/learning/policy_transfer.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/skills/fleet.hpp"
#include "solvers/skills/skill_config.hpp"
#include "solvers/training/sharing.hpp"

namespace kollektiv::training {

struct SiteConfig {
  std::string name;
  std::int64_t robots = 1;
  skills::SkillConfig skill;  // the skill's settings with this site's task distribution
};

// Skill transfer: start the skill's policy from a policy file of another run.
struct TransferConfig {
  std::string policy;  // the file; empty: no transfer
  learning::TransferRequest request;
};

struct UnitConfig {
  dynamics::RobotModel robot;
  std::vector<SiteConfig> sites;  // >= 1; all of one skill kind
  int horizon = 32;
  learning::LearnerConfig learner;  // obs_dim and act_dim are set by the unit
  SharingConfig sharing;
  std::uint64_t seed = 1;  // the run's seed (task randomisation)
};

// Robots [begin, begin + count) of site `site` on this rank; blocks from `first_block`.
struct Piece {
  int site = 0;
  std::int64_t begin = 0;
  std::int64_t count = 0;
};

// The pieces rank `rank` of `size` holds (in gid order, contiguous), and the sites'
// first gids. Pure.
struct Layout {
  std::vector<std::int64_t> site_begin;   // [sites + 1]
  std::vector<std::int64_t> block_begin;  // [sites + 1]: global block ids of each site
  std::vector<Piece> pieces;
  std::vector<int> site_owner;  // replica modes: the rank of each site; allreduce: empty
};
Layout make_layout(const UnitConfig& cfg, int rank, int size);

// The ranks that hold each skill of a run of several skills: a contiguous range per skill,
// in skill order. With at least as many ranks as skills the ranges are disjoint, each skill
// has one rank and the others are shared out in proportion to the skills' robots (largest
// remainder, ties to the earlier skill); with fewer ranks each skill lives on one rank, the
// one its robots' midpoint falls on in the run's robot order, so a rank may hold several
// skills. Pure: every rank computes the same ranges.
struct RankRange {
  int first = 0;
  int count = 1;
  bool holds(int rank) const { return rank >= first && rank < first + count; }
};
std::vector<RankRange> assign_skill_ranks(const std::vector<std::int64_t>& robots, int size);

// Episodes that ended, per site, summed exactly.
struct SiteTally {
  using Misses = std::array<double, skills::kMissCauses>;
  explicit SiteTally(int sites = 0);
  void add(int site, double episode_return, int success, double quality, double final_error, const Misses& misses);
  void merge(const SiteTally& more);  // same sites
  std::vector<ExactSum> return_sum, quality_sum, error_sum;
  std::vector<std::array<ExactSum, skills::kMissCauses>> miss_sum;
  std::vector<std::int64_t> episodes, successes;
};

// Global figures of a group of episodes (NaN when none ended).
struct EpisodeFigures {
  std::int64_t episodes = 0;
  double mean_return, success, quality, final_error;  // final_error in m
  std::array<double, skills::kMissCauses> misses;     // means of the episodes' misses (skills::miss_causes)
  EpisodeFigures();
};
// [0]: all sites together, [1 + s]: site s. Collective over the skill's ranks.
std::vector<EpisodeFigures> combine(comm::Collective& collective, const SiteTally& tally);

// What sharing did in one iteration.
struct ShareStats {
  bool shared = false;           // a gossip round or a closed federated round happened
  std::int64_t rounds = 0;       // gossip or federated rounds so far
  std::int64_t failed_rounds = 0;  // federated rounds that missed their quorum so far
};

// Every replica's update figures: means over the replicas of the PPO statistics.
struct UnitUpdate {
  learning::PpoStats ppo;
  ShareStats share;
  double disagreement = 0;  // relative RMS distance of the replicas' parameters from their mean
  std::int64_t bytes_sent = 0;     // this rank, learning and sharing of this iteration
  double communication_s = 0;      // this rank, same
  std::int64_t collectives = 0;    // this rank, same: calls into the collective library
};

// What a checkpoint holds for the replicas beyond the fleets.
struct UnitState {
  std::vector<learning::LearnerState> replicas;  // this rank's replicas, in site order
  std::vector<std::int64_t> steps_since_round;   // federated: env-steps per local site since its last pull
  std::int64_t rounds = 0, failed_rounds = 0;
};

class SkillUnit {
 public:
  // `collective` spans every rank of the run (the skill's communicator); `diagnostics`
  // too, for the figures that are not learning traffic (the replicas' disagreement).
  SkillUnit(const UnitConfig& cfg, comm::Collective& collective, comm::Collective& diagnostics);
  ~SkillUnit();
  SkillUnit(const SkillUnit&) = delete;
  SkillUnit& operator=(const SkillUnit&) = delete;

  const UnitConfig& config() const { return cfg_; }
  const Layout& layout() const { return layout_; }
  int sites() const { return static_cast<int>(cfg_.sites.size()); }
  bool replica_per_site() const { return cfg_.sharing.mode != SharingMode::allreduce; }
  int obs_dim() const { return obs_dim_; }
  int act_dim() const { return act_dim_; }
  int dof() const;
  skills::SkillKind kind() const { return cfg_.sites.front().skill.kind; }
  std::int64_t parameter_count() const { return param_count_; }
  const learning::LearnerConfig& learner_config() const;
  std::int64_t robots() const { return layout_.site_begin.back(); }
  std::int64_t local_robots() const;
  std::int64_t local_begin() const;  // first gid on this rank (its robots are contiguous)

  void reset_all(bool stagger);
  // Curriculum: every local robot's skill tolerances times `scale` (skills::Fleet).
  void set_tolerance_scale(double scale);
  // `horizon` steps of every local robot, exploring (into the replicas' rollouts) or acting
  // deterministically. Episodes that end are tallied per site; with `counted` (evaluation)
  // only each robot's first `limit` episodes count, and counted[r] is advanced.
  struct PhaseTimes {
    double physics_s = 0, inference_s = 0;
  };
  void rollout(std::int64_t iteration, bool explore, SiteTally& tally, PhaseTimes& times,
               std::vector<std::int64_t>* counted = nullptr, std::int64_t limit = 0);
  // Every replica's PPO update on its rollout, then sharing when due; `updates_after` counts
  // the updates including this one (it decides the gossip and federated rounds).
  UnitUpdate update(std::int64_t updates_after);

  skills::FleetState save_fleet() const;        // this rank's robots, gid order
  void restore_fleet(const skills::FleetState& state);
  UnitState state() const;
  std::string restore_problem(const UnitState& state) const;
  void restore(const UnitState& state);

  // The local replica that site `site` learns with (allreduce: the one replica), or -1 when
  // it is on another rank; export_policy only where it is not -1.
  int replica_of(int site) const;
  learning::PolicyExport export_policy(int site) const;
  // Skill transfer: every local replica starts from `from` as `request` says (see
  // learning/policy_transfer.hpp); the lines say what was copied. Error(bad_input) when the
  // request cannot be met, on every rank alike (ranks without replicas check it too).
  std::vector<std::string> transfer(const learning::TransferSource& from, const learning::TransferRequest& request);
  SegmentLayout observation_layout() const;
  SegmentLayout action_layout() const;

  // Into every local replica.
  std::string import_problem(const learning::PolicyExport& policy) const;
  void import_policy(const learning::PolicyExport& policy);

 private:
  struct Fleet;
  struct Replica;
  ShareStats share(std::int64_t updates_after);
  void gossip(std::int64_t round);
  ShareStats federated(std::int64_t round);
  double disagreement();

  UnitConfig cfg_;
  comm::Collective* collective_;
  comm::Collective* diagnostics_;
  Layout layout_;
  int obs_dim_ = 0, act_dim_ = 0;
  std::int64_t param_count_ = 0;
  std::vector<std::uint8_t> shared_mask_;  // federated: the averaged parameters
  std::size_t shared_columns_ = 0;         // federated: values averaged per site
  std::vector<std::unique_ptr<Fleet>> fleets_;      // one per piece
  std::unique_ptr<comm::Collective> local_collective_;  // the replicas' in the replica modes
  std::vector<std::unique_ptr<Replica>> replicas_;  // allreduce: one; else one per local site
  std::vector<int> replica_site_;                   // replica modes: the site of each replica
  std::vector<std::int64_t> steps_since_round_;     // per local replica (federated)
  std::int64_t rounds_ = 0, failed_rounds_ = 0;
  comm::FixedPointSum fixed_sum_;
};

}  // namespace kollektiv::training
