// One skill's robots, replicas and sharing on this rank; see skill_unit.hpp.
#include "solvers/training/skill_unit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "solvers/comm/decomposition.hpp"
#include "solvers/core/error.hpp"
#include "solvers/learning/state_pack.hpp"

namespace kollektiv::training {

namespace {

using Clock = std::chrono::steady_clock;
double fenced_seconds_since(Clock::time_point t0) {
  Kokkos::fence();  // kernels run asynchronously on a device; phase times need them done
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const double nan = std::numeric_limits<double>::quiet_NaN();

// dst(dst_row + i, :cols) = src(src_row + i, :cols) for i < rows: a piece's rows into its
// replica's and back.
void copy_rows(View<const Real**> src, int src_row, View<Real**> dst, int dst_row, int rows, int cols) {
  Kokkos::parallel_for(
      "training::copy_rows", Kokkos::RangePolicy<ExecSpace>(0, rows), KOKKOS_LAMBDA(const int i) {
        for (int k = 0; k < cols; ++k) dst(dst_row + i, k) = src(src_row + i, k);
      });
}

}  // namespace

Layout make_layout(const UnitConfig& cfg, int rank, int size) {
  Layout l;
  const int sites = static_cast<int>(cfg.sites.size());
  const std::int64_t per_block = std::max(cfg.learner.robots_per_block, 1);
  l.site_begin.assign(1, 0);
  l.block_begin.assign(1, 0);
  for (const SiteConfig& s : cfg.sites) {
    l.site_begin.push_back(l.site_begin.back() + s.robots);
    l.block_begin.push_back(l.block_begin.back() + (s.robots + per_block - 1) / per_block);
  }
  const std::int64_t total = l.site_begin.back();
  if (cfg.sharing.mode == SharingMode::allreduce) {
    // Blocks balanced over the ranks; a rank holds the parts of the sites its blocks cover.
    const comm::Range mine = comm::Decomposition(l.block_begin.back(), rank, size).local();
    for (int s = 0; s < sites; ++s) {
      const std::int64_t lo = std::max(mine.begin, l.block_begin[s]), hi = std::min(mine.end, l.block_begin[s + 1]);
      if (lo >= hi) continue;
      const std::int64_t begin = l.site_begin[s] + (lo - l.block_begin[s]) * per_block;
      const std::int64_t end = std::min(l.site_begin[s] + (hi - l.block_begin[s]) * per_block, l.site_begin[s + 1]);
      l.pieces.push_back({s, begin, end - begin});
    }
  } else {
    // Whole sites, in order, to the rank where the middle of the site's robots falls.
    for (int s = 0; s < sites; ++s) {
      const std::int64_t twice_middle = 2 * l.site_begin[s] + cfg.sites[s].robots;
      const int owner = static_cast<int>(std::min<std::int64_t>(size - 1, twice_middle * size / (2 * total)));
      l.site_owner.push_back(owner);
      if (owner == rank) l.pieces.push_back({s, l.site_begin[s], cfg.sites[s].robots});
    }
  }
  return l;
}

std::vector<RankRange> assign_skill_ranks(const std::vector<std::int64_t>& robots, int size) {
  const int skills = static_cast<int>(robots.size());
  std::vector<RankRange> ranges(robots.size());
  if (skills == 0) return ranges;
  long double total = 0;
  for (std::int64_t n : robots) total += static_cast<long double>(n);
  if (size < skills) {
    long double before = 0;
    for (int k = 0; k < skills; ++k) {
      const long double mid = before + static_cast<long double>(robots[k]) / 2;
      ranges[k].first = std::min(size - 1, static_cast<int>(mid * size / total));
      ranges[k].count = 1;
      before += static_cast<long double>(robots[k]);
    }
    return ranges;
  }
  const int spare = size - skills;
  std::vector<int> count(robots.size(), 1);
  std::vector<std::pair<long double, int>> remainder;
  int given = 0;
  for (int k = 0; k < skills; ++k) {
    const long double quota = spare * static_cast<long double>(robots[k]) / total;
    const int whole = static_cast<int>(quota);
    count[k] += whole;
    given += whole;
    remainder.emplace_back(quota - whole, k);
  }
  std::stable_sort(remainder.begin(), remainder.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int i = 0; given < spare; ++i, ++given) ++count[remainder[static_cast<std::size_t>(i)].second];
  int first = 0;
  for (int k = 0; k < skills; ++k) {
    ranges[k] = RankRange{first, count[k]};
    first += count[k];
  }
  return ranges;
}

SiteTally::SiteTally(int sites)
    : return_sum(sites), quality_sum(sites), error_sum(sites), miss_sum(sites), episodes(sites, 0), successes(sites, 0) {}

void SiteTally::add(int site, double episode_return, int success, double quality, double final_error,
                    const Misses& misses) {
  return_sum[site].add(episode_return);
  quality_sum[site].add(quality);
  error_sum[site].add(final_error);
  for (int c = 0; c < skills::kMissCauses; ++c) miss_sum[site][c].add(misses[c]);
  ++episodes[site];
  successes[site] += success != 0 ? 1 : 0;
}

void SiteTally::merge(const SiteTally& more) {
  for (std::size_t site = 0; site < episodes.size(); ++site) {
    return_sum[site] += more.return_sum[site];
    quality_sum[site] += more.quality_sum[site];
    error_sum[site] += more.error_sum[site];
    for (int c = 0; c < skills::kMissCauses; ++c) miss_sum[site][c] += more.miss_sum[site][c];
    episodes[site] += more.episodes[site];
    successes[site] += more.successes[site];
  }
}

EpisodeFigures::EpisodeFigures() : mean_return(nan), success(nan), quality(nan), final_error(nan) { misses.fill(nan); }

std::vector<EpisodeFigures> combine(comm::Collective& collective, const SiteTally& tally) {
  const int sites = static_cast<int>(tally.episodes.size());
  // Per site, then all sites: exact sums, so the total does not depend on the grouping.
  constexpr int width = 3 + skills::kMissCauses;
  std::vector<ExactSum> sums(width * (sites + 1));
  for (int s = 0; s < sites; ++s) {
    ExactSum* site = &sums[width * (s + 1)];
    site[0] = tally.return_sum[s];
    site[1] = tally.quality_sum[s];
    site[2] = tally.error_sum[s];
    for (int c = 0; c < skills::kMissCauses; ++c) site[3 + c] = tally.miss_sum[s][c];
    for (int k = 0; k < width; ++k) sums[k] += site[k];
  }
  comm::sum_exact(collective, sums);
  std::vector<std::int64_t> counts(2 * (sites + 1), 0);
  for (int s = 0; s < sites; ++s) {
    counts[2 * (s + 1)] = tally.episodes[s];
    counts[2 * (s + 1) + 1] = tally.successes[s];
    counts[0] += tally.episodes[s];
    counts[1] += tally.successes[s];
  }
  collective.sum(counts);
  std::vector<EpisodeFigures> out(sites + 1);
  for (int g = 0; g <= sites; ++g) {
    EpisodeFigures& f = out[g];
    f.episodes = counts[2 * g];
    if (f.episodes == 0) continue;
    const double k = static_cast<double>(f.episodes);
    const ExactSum* group = &sums[width * g];
    f.mean_return = group[0].to_double() / k;
    f.quality = group[1].to_double() / k;
    f.final_error = group[2].to_double() / k;
    for (int c = 0; c < skills::kMissCauses; ++c) f.misses[c] = group[3 + c].to_double() / k;
    f.success = static_cast<double>(counts[2 * g + 1]) / k;
  }
  return out;
}

// A piece's robots: their fleet, the per-step views, and where they sit in their replica.
struct SkillUnit::Fleet {
  Fleet(const UnitConfig& cfg, const Piece& p)
      : piece(p),
        fleet(cfg.robot, cfg.sites[p.site].skill, cfg.seed, p.begin, static_cast<int>(p.count)),
        obs("training::obs", p.count, fleet.obs_dim()),
        actions("training::actions", p.count, fleet.act_dim()),
        step(static_cast<int>(p.count), fleet.obs_dim()) {}
  Piece piece;
  skills::Fleet fleet;
  View<Real**> obs, actions;
  skills::StepResult step;
  int replica = 0;
  int row = 0;  // first row in the replica's per-step rows
};

struct SkillUnit::Replica {
  Replica(const learning::LearnerConfig& lc, comm::Collective& c, int horizon, int rows)
      : learner(lc, c),
        rollout(learner.config(), horizon, rows),
        obs("training::replica_obs", rows, lc.obs_dim),
        actions("training::replica_actions", rows, lc.act_dim),
        log_prob("training::replica_log_prob", rows),
        value("training::replica_value", rows) {}
  learning::PpoLearner learner;
  learning::Rollout rollout;
  View<Real**> obs, actions;
  View<Real*> log_prob, value;
  std::vector<int> fleets;
};

SkillUnit::SkillUnit(const UnitConfig& cfg, comm::Collective& collective, comm::Collective& diagnostics)
    : cfg_(cfg), collective_(&collective), diagnostics_(&diagnostics) {
  if (cfg_.sites.empty()) throw std::invalid_argument("training::SkillUnit: no sites");
  layout_ = make_layout(cfg_, collective.rank(), collective.size());
  {
    const skills::Fleet probe(cfg_.robot, cfg_.sites.front().skill, cfg_.seed, 0, 0);  // sizes only
    obs_dim_ = probe.obs_dim();
    act_dim_ = probe.act_dim();
  }
  cfg_.learner.obs_dim = obs_dim_;
  cfg_.learner.act_dim = act_dim_;
  for (const Piece& p : layout_.pieces) fleets_.push_back(std::make_unique<Fleet>(cfg_, p));

  const auto add_replica = [&](comm::Collective& c, const std::vector<int>& members) {
    int rows = 0;
    for (int f : members) {
      fleets_[f]->replica = static_cast<int>(replicas_.size());
      fleets_[f]->row = rows;
      rows += static_cast<int>(fleets_[f]->piece.count);
    }
    auto r = std::make_unique<Replica>(cfg_.learner, c, cfg_.horizon, rows);
    r->fleets = members;
    // Robot gids and exact-summation blocks (numbered site by site: never across two).
    auto gid = Kokkos::create_mirror_view(r->rollout.gid);
    r->rollout.block = View<std::int64_t*>("learning::rollout_block", rows);
    auto block = Kokkos::create_mirror_view(r->rollout.block);
    const std::int64_t per_block = cfg_.learner.robots_per_block;
    for (int f : members) {
      const Piece& p = fleets_[f]->piece;
      for (std::int64_t i = 0; i < p.count; ++i) {
        const std::int64_t g = p.begin + i;
        gid(fleets_[f]->row + i) = g;
        block(fleets_[f]->row + i) = layout_.block_begin[p.site] + (g - layout_.site_begin[p.site]) / per_block;
      }
    }
    Kokkos::deep_copy(r->rollout.gid, gid);
    Kokkos::deep_copy(r->rollout.block, block);
    replicas_.push_back(std::move(r));
  };
  if (!replica_per_site()) {
    std::vector<int> all(fleets_.size());
    for (std::size_t f = 0; f < fleets_.size(); ++f) all[f] = static_cast<int>(f);
    add_replica(*collective_, all);
  } else {
    local_collective_ = comm::make_local_collective();
    for (std::size_t f = 0; f < fleets_.size(); ++f) {
      add_replica(*local_collective_, {static_cast<int>(f)});
      replica_site_.push_back(fleets_[f]->piece.site);
    }
  }
  steps_since_round_.assign(replicas_.size(), 0);

  // The networks' layout, from a replica or (a rank without robots) a learner built for it.
  const auto layout_of = [&](const learning::PpoLearner& learner) {
    param_count_ = learner.parameter_count();
    shared_mask_ = learning::shared_mask(learner, cfg_.sharing.federated.private_layers);
  };
  if (!replicas_.empty()) {
    layout_of(replicas_.front()->learner);
  } else {
    const auto local = comm::make_local_collective();
    layout_of(learning::PpoLearner(cfg_.learner, *local));
  }
  const auto& priv = cfg_.sharing.federated.private_layers;
  const bool normalizer_shared = cfg_.learner.normalize_observations &&
                                 std::find(priv.begin(), priv.end(), "normalizer") == priv.end();
  shared_columns_ = static_cast<std::size_t>(std::count(shared_mask_.begin(), shared_mask_.end(), 1)) +
                    (normalizer_shared ? 1 + 2 * static_cast<std::size_t>(obs_dim_) : 0);
}

SkillUnit::~SkillUnit() = default;

SegmentLayout SkillUnit::observation_layout() const { return skills::observation_layout(kind(), dof()); }
SegmentLayout SkillUnit::action_layout() const { return skills::action_layout(kind(), dof()); }

std::vector<std::string> SkillUnit::transfer(const learning::TransferSource& from,
                                             const learning::TransferRequest& request) {
  if (replicas_.empty()) {  // the same checks, against a learner built alike
    const auto local = comm::make_local_collective();
    const learning::PpoLearner probe(cfg_.learner, *local);
    return learning::plan_transfer(from, probe, observation_layout(), action_layout(), request).report;
  }
  std::vector<std::string> report;
  for (auto& replica : replicas_)
    report = learning::apply_transfer(from, replica->learner, observation_layout(), action_layout(), request);
  return report;
}

int SkillUnit::dof() const { return static_cast<int>(cfg_.robot.joints.size()); }

const learning::LearnerConfig& SkillUnit::learner_config() const { return cfg_.learner; }

std::int64_t SkillUnit::local_robots() const {
  std::int64_t n = 0;
  for (const Piece& p : layout_.pieces) n += p.count;
  return n;
}

std::int64_t SkillUnit::local_begin() const {
  if (!layout_.pieces.empty()) return layout_.pieces.front().begin;
  // No robots here: where this rank's (empty) range sits in gid order.
  const int rank = collective_->rank();
  if (!replica_per_site()) {
    const comm::Range mine = comm::Decomposition(layout_.block_begin.back(), rank, collective_->size()).local();
    for (std::size_t s = 0; s + 1 < layout_.block_begin.size(); ++s)
      if (mine.begin < layout_.block_begin[s + 1]) return layout_.site_begin[s];
    return robots();
  }
  for (std::size_t s = 0; s < layout_.site_owner.size(); ++s)
    if (layout_.site_owner[s] > rank) return layout_.site_begin[s];
  return robots();
}

void SkillUnit::reset_all(bool stagger) {
  for (auto& f : fleets_) f->fleet.reset_all(stagger);
}

void SkillUnit::set_tolerance_scale(double scale) {
  for (auto& f : fleets_) f->fleet.set_tolerance_scale(scale);
}

void SkillUnit::rollout(std::int64_t iteration, bool explore, SiteTally& tally, PhaseTimes& times,
                        std::vector<std::int64_t>* counted, std::int64_t limit) {
  const int obs_dim = obs_dim_, act_dim = act_dim_;
  for (int t = 0; t < cfg_.horizon; ++t) {
    const std::uint64_t step = static_cast<std::uint64_t>(iteration) * cfg_.horizon + t;
    for (auto& rep : replicas_) {
      Replica& r = *rep;
      const int n = r.rollout.robots;
      if (n == 0) continue;
      auto phase = Clock::now();
      for (int fi : r.fleets) {
        Fleet& f = *fleets_[fi];
        if (t == 0) f.fleet.observe(f.obs);  // after that, each step leaves the next observation in f.obs
        copy_rows(f.obs, 0, r.obs, f.row, static_cast<int>(f.piece.count), obs_dim);
      }
      times.physics_s += fenced_seconds_since(phase);
      phase = Clock::now();
      View<const Real**> chosen;
      int first = 0;
      if (explore) {
        r.learner.act(r.obs, step, t, r.rollout);
        chosen = r.rollout.actions;
        first = t * n;
      } else {
        r.learner.act(r.obs, r.rollout.gid, n, step, false, r.actions, r.log_prob, r.value);
        chosen = r.actions;
      }
      times.inference_s += fenced_seconds_since(phase);
      phase = Clock::now();
      for (int fi : r.fleets) {
        Fleet& f = *fleets_[fi];
        copy_rows(chosen, first + f.row, f.actions, 0, static_cast<int>(f.piece.count), act_dim);
        f.fleet.step(f.actions, f.step, f.obs);
        if (explore) {
          const int at = t * n + f.row;
          const auto reward = f.step.reward;
          const auto terminated = f.step.terminated;
          const auto truncated = f.step.truncated;
          const auto final_obs = f.step.final_obs;
          const auto r_reward = r.rollout.reward;
          const auto r_final = r.rollout.final_obs;
          const auto r_terminated = r.rollout.terminated;
          const auto r_truncated = r.rollout.truncated;
          Kokkos::parallel_for(
              "training::store_step", Kokkos::RangePolicy<ExecSpace>(0, static_cast<int>(f.piece.count)),
              KOKKOS_LAMBDA(const int i) {
                r_reward(at + i) = reward(i);
                r_terminated(at + i) = terminated(i);
                r_truncated(at + i) = truncated(i);
                if (truncated(i) != 0 || terminated(i) != 0)
                  for (int k = 0; k < obs_dim; ++k) r_final(at + i, k) = final_obs(i, k);
              });
        }
      }
      times.physics_s += fenced_seconds_since(phase);
    }
    // Episodes that ended, per site (in evaluation only each robot's first `limit`).
    std::int64_t local = 0;
    for (auto& fp : fleets_) {
      Fleet& f = *fp;
      const auto done = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.step.episode_done);
      const auto ret = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.step.episode_return);
      const auto success = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.step.episode_success);
      const auto quality = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.step.episode_quality);
      const auto error = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.step.episode_final_error);
      const auto misses = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f.step.episode_misses);
      for (std::int64_t i = 0; i < f.piece.count; ++i, ++local) {
        if (done(i) == 0) continue;
        if (counted != nullptr) {
          if ((*counted)[local] >= limit) continue;  // extra episodes of fast robots
          ++(*counted)[local];
        }
        SiteTally::Misses m;
        for (int c = 0; c < skills::kMissCauses; ++c) m[c] = misses(i, c);
        tally.add(f.piece.site, ret(i), success(i), quality(i), error(i), m);
      }
    }
  }
  if (!explore) return;
  const auto phase = Clock::now();
  for (auto& rep : replicas_) {
    for (int fi : rep->fleets) {
      Fleet& f = *fleets_[fi];  // f.obs: the observation after the last step
      copy_rows(f.obs, 0, rep->rollout.last_obs, f.row, static_cast<int>(f.piece.count), obs_dim);
    }
  }
  times.physics_s += fenced_seconds_since(phase);
}

UnitUpdate SkillUnit::update(std::int64_t updates_after) {
  UnitUpdate u;
  const comm::Traffic before = collective_->traffic();
  std::vector<learning::PpoStats> stats;
  for (auto& r : replicas_) stats.push_back(r->learner.update(r->rollout));
  for (std::size_t k = 0; k < replicas_.size(); ++k)
    steps_since_round_[k] += static_cast<std::int64_t>(replicas_[k]->rollout.robots) * cfg_.horizon;
  if (!replica_per_site()) {
    u.ppo = stats.front();  // the one replica: the same on every rank
  } else {
    // Means over all sites' replicas, summed exactly across the ranks.
    std::vector<ExactSum> sums(6);
    for (const learning::PpoStats& s : stats) {
      sums[0].add(s.policy_loss);
      sums[1].add(s.value_loss);
      sums[2].add(s.approx_kl);
      sums[3].add(s.entropy);
      sums[4].add(s.clip_fraction);
      sums[5].add(s.grad_norm);
    }
    comm::sum_exact(*diagnostics_, sums);
    const double k = static_cast<double>(sites());
    u.ppo.policy_loss = sums[0].to_double() / k;
    u.ppo.value_loss = sums[1].to_double() / k;
    u.ppo.approx_kl = sums[2].to_double() / k;
    u.ppo.entropy = sums[3].to_double() / k;
    u.ppo.clip_fraction = sums[4].to_double() / k;
    u.ppo.grad_norm = sums[5].to_double() / k;
    // Every replica's rate follows the same schedule (also on a rank without replicas).
    u.ppo.learning_rate = learning::scheduled_learning_rate(cfg_.learner, updates_after - 1);
  }
  u.share = share(updates_after);
  u.bytes_sent = collective_->traffic().bytes_sent - before.bytes_sent;
  u.communication_s = collective_->traffic().seconds - before.seconds;
  u.collectives = collective_->traffic().operations - before.operations;
  u.disagreement = disagreement();
  return u;
}


ShareStats SkillUnit::share(std::int64_t updates_after) {
  const SharingConfig& s = cfg_.sharing;
  if (s.mode == SharingMode::gossip && updates_after % s.gossip.period == 0) {
    gossip(updates_after / s.gossip.period - 1);
    ++rounds_;
    ShareStats st;
    st.shared = true;
    st.rounds = rounds_;
    return st;
  }
  if (s.mode == SharingMode::federated && updates_after % s.federated.local_updates == 0)
    return federated(updates_after / s.federated.local_updates - 1);
  ShareStats st;
  st.rounds = rounds_;
  st.failed_rounds = failed_rounds_;
  return st;
}

void SkillUnit::gossip(std::int64_t round) {
  const std::vector<int> partner = gossip_partners(cfg_.sharing.gossip.schedule, cfg_.learner.seed, round, sites());
  const std::vector<std::uint8_t> all(static_cast<std::size_t>(param_count_), 1);
  const bool moments = cfg_.sharing.gossip.average_moments;
  const bool normalizer = cfg_.learner.normalize_observations;
  const int rank = collective_->rank();
  std::vector<learning::LearnerState> state(replicas_.size());
  std::vector<std::vector<double>> mine(replicas_.size());
  std::vector<int> local_of_site(static_cast<std::size_t>(sites()), -1);
  for (std::size_t k = 0; k < replicas_.size(); ++k) {
    state[k] = replicas_[k]->learner.state();
    mine[k] = learning::pack_state(state[k], all, moments, normalizer);
    local_of_site[replica_site_[k]] = static_cast<int>(k);
  }
  // Partners on other ranks, swapped in the order of the pair's lower site, which both
  // ranks share.
  std::vector<std::pair<int, int>> remote;  // (lower site of the pair, local replica)
  for (std::size_t k = 0; k < replicas_.size(); ++k) {
    const int site = replica_site_[k], p = partner[site];
    if (p >= 0 && layout_.site_owner[p] != rank) remote.emplace_back(std::min(site, p), static_cast<int>(k));
  }
  std::sort(remote.begin(), remote.end());
  std::vector<comm::Collective::Swap> swaps;
  std::vector<View<Real*>> received(replicas_.size());
  for (const auto& [lower, k] : remote) {
    const int p = partner[replica_site_[k]];
    received[k] = View<Real*>("training::gossip_recv", mine[k].size());
    swaps.push_back({layout_.site_owner[p], to_view(mine[k], "training::gossip_send"), received[k]});
  }
  collective_->exchange(swaps);
  // (a + b) / 2 in that form on both sides: addition commutes, so both get the same bits.
  for (std::size_t k = 0; k < replicas_.size(); ++k) {
    const int p = partner[replica_site_[k]];
    if (p < 0) continue;
    const std::vector<double> other =
        layout_.site_owner[p] == rank ? mine[local_of_site[p]] : to_vector(received[k]);
    std::vector<double> mixed(mine[k].size());
    for (std::size_t i = 0; i < mixed.size(); ++i) mixed[i] = (mine[k][i] + other[i]) * 0.5;
    learning::unpack_state(mixed, all, moments, normalizer, state[k]);
  }
  for (std::size_t k = 0; k < replicas_.size(); ++k)
    if (partner[replica_site_[k]] >= 0) replicas_[k]->learner.restore(state[k]);
}

ShareStats SkillUnit::federated(std::int64_t round) {
  const FederatedConfig& fc = cfg_.sharing.federated;
  const FederatedRound fr = federated_round(fc, cfg_.learner.seed, round, sites());
  ++rounds_;
  ShareStats st;
  if (!fr.closes()) {
    ++failed_rounds_;  // the sites keep training on their own until a round closes
    st.rounds = rounds_;
    st.failed_rounds = failed_rounds_;
    return st;
  }
  const bool normalizer = cfg_.learner.normalize_observations &&
                          std::find(fc.private_layers.begin(), fc.private_layers.end(), "normalizer") ==
                              fc.private_layers.end();
  // One row per reporting local site: its shared values weighted by the env-steps it
  // contributed since the last round, then the weight; summed exactly over all sites.
  std::vector<learning::LearnerState> state(replicas_.size());
  std::vector<std::vector<double>> rows;
  std::size_t width = 0;
  for (std::size_t k = 0; k < replicas_.size(); ++k) {
    state[k] = replicas_[k]->learner.state();
    if (!std::binary_search(fr.reporting.begin(), fr.reporting.end(), replica_site_[k])) continue;
    std::vector<double> row = learning::pack_state(state[k], shared_mask_, false, normalizer);
    const double w = static_cast<double>(steps_since_round_[k]);
    for (double& x : row) x *= w;
    row.push_back(w);
    rows.push_back(std::move(row));
  }
  width = shared_columns_ + 1;
  View<Real**> partial("training::federated_partial", std::max<std::size_t>(rows.size(), 1), width);
  {
    auto h = Kokkos::create_mirror_view(partial);
    for (std::size_t g = 0; g < rows.size(); ++g)
      for (std::size_t c = 0; c < width; ++c) h(g, c) = rows[g][c];
    Kokkos::deep_copy(partial, h);
  }
  std::vector<double> total = fixed_sum_.sum(*collective_, partial, static_cast<int>(rows.size()),
                                             static_cast<int>(width), static_cast<std::int64_t>(fr.reporting.size()));
  const double weight = total.back();
  total.pop_back();
  for (double& x : total) x /= weight;
  // Every site starts the next round from the new global model (FedAvg); its private
  // layers, Adam moments and counters stay its own.
  for (std::size_t k = 0; k < replicas_.size(); ++k) {
    learning::unpack_state(total, shared_mask_, false, normalizer, state[k]);
    replicas_[k]->learner.restore(state[k]);
    steps_since_round_[k] = 0;
  }
  st.shared = true;
  st.rounds = rounds_;
  st.failed_rounds = failed_rounds_;
  return st;
}

double SkillUnit::disagreement() {
  if (!replica_per_site()) return 0.0;
  const int columns = static_cast<int>(param_count_);
  const int local = static_cast<int>(replicas_.size());
  View<Real**> partial("training::disagreement_partial", std::max(local, 1), columns);
  for (int k = 0; k < local; ++k)
    Kokkos::deep_copy(Kokkos::subview(partial, k, Kokkos::ALL), replicas_[k]->learner.parameters());
  std::vector<double> mean = fixed_sum_.sum(*diagnostics_, partial, local, columns, sites());
  for (double& x : mean) x /= static_cast<double>(sites());
  const auto params = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
  std::vector<ExactSum> deviation(1);
  for (int k = 0; k < local; ++k)
    for (int i = 0; i < columns; ++i) deviation[0].add((params(k, i) - mean[i]) * (params(k, i) - mean[i]));
  comm::sum_exact(*diagnostics_, deviation);
  ExactSum norm;
  for (double x : mean) norm.add(x * x);
  const double n2 = norm.to_double();
  return n2 > 0 ? std::sqrt(deviation[0].to_double() / static_cast<double>(sites()) / n2) : 0.0;
}

skills::FleetState SkillUnit::save_fleet() const {
  skills::FleetState all;
  all.dof = dof();
  for (const auto& f : fleets_) skills::append_state(all, f->fleet.save_state());
  return all;
}

void SkillUnit::restore_fleet(const skills::FleetState& state) {
  std::int64_t at = 0;
  std::vector<skills::FleetState> parts;
  for (const auto& f : fleets_) {
    parts.push_back(skills::slice_state(state, at, f->piece.count));
    at += f->piece.count;
  }
  for (std::size_t k = 0; k < fleets_.size(); ++k) fleets_[k]->fleet.restore_state(parts[k]);
}

UnitState SkillUnit::state() const {
  UnitState s;
  for (const auto& r : replicas_) s.replicas.push_back(r->learner.state());
  s.steps_since_round = steps_since_round_;
  s.rounds = rounds_;
  s.failed_rounds = failed_rounds_;
  return s;
}

std::string SkillUnit::restore_problem(const UnitState& s) const {
  if (s.replicas.size() != replicas_.size() || s.steps_since_round.size() != replicas_.size())
    return "the checkpoint holds " + std::to_string(s.replicas.size()) + " replicas for this rank, it has " +
           std::to_string(replicas_.size());
  for (std::size_t k = 0; k < replicas_.size(); ++k) {
    const std::string p = replicas_[k]->learner.restore_problem(s.replicas[k]);
    if (!p.empty()) return "replica " + std::to_string(k) + ": " + p;
    if (s.steps_since_round[k] < 0) return "a negative env-step count since the last federated round";
  }
  if (s.rounds < 0 || s.failed_rounds < 0 || s.failed_rounds > s.rounds) return "sharing round counters out of range";
  return "";
}

void SkillUnit::restore(const UnitState& s) {
  const std::string problem = restore_problem(s);
  if (!problem.empty()) throw Error("learner state: " + problem, ExitCode::bad_checkpoint);
  for (std::size_t k = 0; k < replicas_.size(); ++k) replicas_[k]->learner.restore(s.replicas[k]);
  steps_since_round_ = s.steps_since_round;
  rounds_ = s.rounds;
  failed_rounds_ = s.failed_rounds;
}

int SkillUnit::replica_of(int site) const {
  if (!replica_per_site()) return replicas_.empty() ? -1 : 0;
  for (std::size_t k = 0; k < replica_site_.size(); ++k)
    if (replica_site_[k] == site) return static_cast<int>(k);
  return -1;
}

learning::PolicyExport SkillUnit::export_policy(int site) const {
  const int k = replica_of(site);
  if (k < 0) throw std::logic_error("training::SkillUnit::export_policy: the site's replica is on another rank");
  return replicas_[k]->learner.export_policy();
}

std::string SkillUnit::import_problem(const learning::PolicyExport& policy) const {
  for (const auto& r : replicas_) {
    const std::string p = r->learner.import_problem(policy);
    if (!p.empty()) return p;
  }
  return "";
}

void SkillUnit::import_policy(const learning::PolicyExport& policy) {
  for (auto& r : replicas_) r->learner.import_policy(policy);
}

}  // namespace kollektiv::training
