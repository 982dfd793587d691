// Robot cells of one skill: batched production episodes, their outcomes, and the updates of
// the skill's policy from them (see cell_skill.hpp).
#include "solvers/cells/cell_skill.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <tuple>

#include "solvers/core/error.hpp"
#include "solvers/core/exact_sum.hpp"

namespace kollektiv::cells {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The episode's key for action noise and minibatches: 62 bits, so it stays positive and
// clear of training robots' small gids.
std::int64_t episode_key(std::int64_t station, std::int64_t service, int robot, int attempt) {
  std::uint64_t h = mix(static_cast<std::uint64_t>(station));
  h = mix(h ^ static_cast<std::uint64_t>(service));
  h = mix(h ^ (static_cast<std::uint64_t>(robot) << 32 | static_cast<std::uint64_t>(attempt)));
  return static_cast<std::int64_t>((h >> 2) | (std::uint64_t{1} << 61));
}

}  // namespace

// One episode's experience: what the policy saw and did, step by step (row-major).
struct CellSkill::Episode {
  std::int64_t key = 0, block = 0;
  int length = 0;
  bool terminated = false;
  std::vector<double> obs, actions, log_prob, value, reward;  // [length][...]
  std::vector<double> final_obs;                              // raw, when truncated
};

// One robot's episode of a request.
struct CellSkill::Task {
  factory::ServiceRequest* request = nullptr;
  const CellStation* station = nullptr;
  int robot = 0, attempt = 0, replica = 0;
  // Results.
  int length = 0;
  bool success = false;
  double quality = 0;
};

CellSkill::CellSkill(const CellSkillConfig& cfg, std::vector<CellStation> stations, comm::Collective& collective)
    : cfg_(cfg), stations_(std::move(stations)), collective_(&collective) {
  require(cfg_.sites >= 1, "cells: a skill needs at least one site");
  std::sort(stations_.begin(), stations_.end(), [](const CellStation& a, const CellStation& b) { return a.gid < b.gid; });
  for (const CellStation& s : stations_) {
    require(s.cell.robots >= 1 && s.cell.robots <= kMaxCellRobots,
            "cells: a cell needs 1 to " + std::to_string(kMaxCellRobots) + " robots");
    capacity_ += s.cell.robots;
  }
  fleet_ = std::make_unique<skills::Fleet>(cfg_.robot, cfg_.skill, cfg_.seed, 0, capacity_);
  fleet_->set_auto_reset(false);
  cfg_.learner.obs_dim = fleet_->obs_dim();
  cfg_.learner.act_dim = fleet_->act_dim();
  const int replicas = cfg_.shared ? 1 : cfg_.sites;
  for (int r = 0; r < replicas; ++r) learners_.push_back(std::make_unique<learning::PpoLearner>(cfg_.learner, collective));
  experience_.resize(static_cast<std::size_t>(replicas));
}

CellSkill::~CellSkill() = default;

bool CellSkill::holds(std::int64_t station_gid) const {
  return std::binary_search(stations_.begin(), stations_.end(), CellStation{station_gid, 0, 0, {}},
                            [](const CellStation& a, const CellStation& b) { return a.gid < b.gid; });
}

SegmentLayout CellSkill::observation_layout() const { return skills::observation_layout(cfg_.skill.kind, fleet_->dof()); }
SegmentLayout CellSkill::action_layout() const { return skills::action_layout(cfg_.skill.kind, fleet_->dof()); }

void CellSkill::begin_interval(double start_s, double end_s) {
  require(!open_ && end_s > start_s, "cells: begin_interval while an interval is open, or an empty interval");
  start_s_ = start_s;
  end_s_ = end_s;
  open_ = true;
}

void CellSkill::resolve(const std::vector<factory::ServiceRequest*>& requests) {
  require(open_, "cells: a service started outside an update interval");
  std::vector<Task> tasks;
  for (factory::ServiceRequest* q : requests) {
    require(q->start_s >= start_s_ && q->start_s < end_s_,
            "cells: skill " + cfg_.name + " got a service at t = " + std::to_string(q->start_s) +
                " outside its policy's interval [" + std::to_string(start_s_) + ", " + std::to_string(end_s_) + ")");
    const auto it = std::lower_bound(stations_.begin(), stations_.end(), q->station_gid,
                                     [](const CellStation& s, std::int64_t g) { return s.gid < g; });
    require(it != stations_.end() && it->gid == q->station_gid, "cells: a request for a station of another skill");
    for (int k = 0; k < it->cell.robots; ++k) tasks.push_back(Task{q, &*it, k, 0, replica_of_site(it->site)});
    q->outcome = factory::Outcome{it->cell.handling_s, false};
    ++parts_;
  }
  const double dt = cfg_.skill.common.control_dt_s;
  while (!tasks.empty()) {
    run_batch(tasks);
    // Per request (its tasks are consecutive, in robot order): the attempt's outcome.
    std::vector<Task> again;
    for (std::size_t a = 0; a < tasks.size();) {
      std::size_t b = a;
      int longest = 0;
      bool all_success = true;
      double quality = 1;
      while (b < tasks.size() && tasks[b].request == tasks[a].request) {
        longest = std::max(longest, tasks[b].length);
        all_success = all_success && tasks[b].success;
        quality = std::min(quality, tasks[b].quality);
        ++b;
      }
      factory::ServiceRequest& q = *tasks[a].request;
      const factory::CellConfig& cell = tasks[a].station->cell;
      q.outcome.duration_s += longest * dt;
      if (all_success && quality >= cell.good_quality) {
        q.outcome.good = true;
        ++good_;
      } else if (tasks[a].attempt < cell.max_rework && quality >= cell.rework_quality) {
        ++reworks_;
        for (std::size_t i = a; i < b; ++i) {
          Task t = tasks[i];
          ++t.attempt;
          again.push_back(t);
        }
      } else {
        ++scrapped_;
      }
      a = b;
    }
    tasks = std::move(again);
  }
}

void CellSkill::run_batch(std::vector<Task>& tasks) {
  // Rows grouped by replica (stable: request order within), so each replica acts on one range.
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) { return a.replica < b.replica; });
  const int n = static_cast<int>(tasks.size());
  require(n <= capacity_, "cells: more tasks than the cells have robots");
  const int obs_dim = fleet_->obs_dim(), act_dim = fleet_->act_dim(), steps = cfg_.skill.common.episode_steps;
  const bool learn = cfg_.learn;

  HostView<std::int64_t**> keys("cells::keys", n, 3);
  std::vector<std::int64_t> noise_key(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    const Task& t = tasks[static_cast<std::size_t>(r)];
    const std::int64_t task_episode = std::int64_t{t.station->visit} * kMaxCellRobots + t.robot;
    keys(r, 0) = t.request->part.id;
    keys(r, 1) = task_episode;
    keys(r, 2) = task_episode + (std::int64_t{t.attempt} << 32);
    noise_key[static_cast<std::size_t>(r)] =
        episode_key(t.station->gid, t.request->service_count, t.robot, t.attempt);
  }
  auto t0 = Clock::now();
  View<std::int64_t**> keys_d("cells::keys", n, 3);
  Kokkos::deep_copy(keys_d, keys);
  fleet_->start_episodes(keys_d, n);

  std::vector<Episode> episodes(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    Episode& e = episodes[static_cast<std::size_t>(r)];
    e.key = noise_key[static_cast<std::size_t>(r)];
    e.block = tasks[static_cast<std::size_t>(r)].station->gid;
  }
  View<Real**> obs("cells::obs", capacity_, obs_dim);
  View<Real**> actions("cells::actions", capacity_, act_dim);
  View<int*> active("cells::active", capacity_);
  auto obs_h = Kokkos::create_mirror_view(obs);
  auto actions_h = Kokkos::create_mirror_view(actions);
  auto active_h = Kokkos::create_mirror_view(active);
  for (int r = 0; r < capacity_; ++r) active_h(r) = r < n ? 1 : 0;
  skills::StepResult result(capacity_, obs_dim);
  physics_s_ += seconds_since(t0);

  // Replica ranges [begin, end) of the rows.
  std::vector<std::pair<int, int>> ranges;
  for (int r = 0; r < n;) {
    int e = r;
    while (e < n && tasks[static_cast<std::size_t>(e)].replica == tasks[static_cast<std::size_t>(r)].replica) ++e;
    ranges.emplace_back(r, e);
    r = e;
  }
  int running = n;
  for (int t = 0; t < steps && running > 0; ++t) {
    t0 = Clock::now();
    fleet_->observe(obs);
    Kokkos::deep_copy(obs_h, obs);
    physics_s_ += seconds_since(t0);
    t0 = Clock::now();
    Kokkos::deep_copy(actions_h, 0.0);
    for (const auto& [begin, end] : ranges) {
      std::vector<int> rows;
      for (int r = begin; r < end; ++r)
        if (active_h(r) != 0) rows.push_back(r);
      if (rows.empty()) continue;
      const int m = static_cast<int>(rows.size());
      HostView<Real**> raw_h("cells::raw", m, obs_dim);
      HostView<std::int64_t*> key_h("cells::key", m);
      for (int i = 0; i < m; ++i) {
        for (int f = 0; f < obs_dim; ++f) raw_h(i, f) = obs_h(rows[static_cast<std::size_t>(i)], f);
        key_h(i) = noise_key[static_cast<std::size_t>(rows[static_cast<std::size_t>(i)])];
      }
      View<Real**> raw("cells::raw", m, obs_dim), act("cells::act", m, act_dim);
      View<std::int64_t*> key("cells::key", m);
      View<Real*> log_prob("cells::log_prob", m), value("cells::value", m);
      Kokkos::deep_copy(raw, raw_h);
      Kokkos::deep_copy(key, key_h);
      learning::PpoLearner& learner = *learners_[static_cast<std::size_t>(tasks[static_cast<std::size_t>(begin)].replica)];
      learner.act(raw, key, m, static_cast<std::uint64_t>(t), learn, act, log_prob, value);
      const auto act_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), act);
      const auto lp_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), log_prob);
      const auto v_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), value);
      for (int i = 0; i < m; ++i) {
        const int r = rows[static_cast<std::size_t>(i)];
        for (int k = 0; k < act_dim; ++k) actions_h(r, k) = act_h(i, k);
        if (!learn) continue;
        Episode& e = episodes[static_cast<std::size_t>(r)];
        for (int f = 0; f < obs_dim; ++f) e.obs.push_back(raw_h(i, f));
        for (int k = 0; k < act_dim; ++k) e.actions.push_back(act_h(i, k));
        e.log_prob.push_back(lp_h(i));
        e.value.push_back(v_h(i));
      }
    }
    inference_s_ += seconds_since(t0);
    t0 = Clock::now();
    Kokkos::deep_copy(actions, actions_h);
    Kokkos::deep_copy(active, active_h);
    fleet_->step(actions, active, result);
    const auto reward = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.reward);
    const auto done = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.episode_done);
    const auto terminated = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.terminated);
    const auto success = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.episode_success);
    const auto quality = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.episode_quality);
    const auto ret = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.episode_return);
    const auto length = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.episode_length);
    const auto final_obs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), result.final_obs);
    for (int r = 0; r < n; ++r) {
      if (active_h(r) == 0) continue;
      Episode& e = episodes[static_cast<std::size_t>(r)];
      if (learn) e.reward.push_back(reward(r));
      if (done(r) == 0) continue;
      active_h(r) = 0;
      --running;
      Task& task = tasks[static_cast<std::size_t>(r)];
      task.length = length(r);
      task.success = success(r) != 0;
      task.quality = quality(r);
      e.length = length(r);
      e.terminated = terminated(r) != 0;
      if (learn && !e.terminated)
        for (int f = 0; f < obs_dim; ++f) e.final_obs.push_back(final_obs(r, f));
      ++episodes_;
      successes_ += task.success ? 1 : 0;
      steps_ += length(r);
      quality_.push_back(quality(r));
      return_.push_back(ret(r));
      length_s_.push_back(length(r) * cfg_.skill.common.control_dt_s);
    }
    physics_s_ += seconds_since(t0);
  }
  require(running == 0, "cells: an episode did not end within episode_steps");
  if (learn)
    for (int r = 0; r < n; ++r)
      experience_[static_cast<std::size_t>(tasks[static_cast<std::size_t>(r)].replica)].push_back(
          std::move(episodes[static_cast<std::size_t>(r)]));
}

CellUpdate CellSkill::end_interval() {
  require(open_, "cells: end_interval without an open interval");
  open_ = false;
  CellUpdate out;
  out.physics_s = physics_s_;
  out.inference_s = inference_s_;
  // Figures over all ranks: counts as integers, the per-episode doubles as exact sums.
  std::vector<std::int64_t> counts{parts_, good_, scrapped_, reworks_, episodes_, successes_, steps_};
  collective_->sum(counts);
  std::vector<ExactSum> sums(3);
  for (double q : quality_) sums[0].add(q);
  for (double r : return_) sums[1].add(r);
  for (double l : length_s_) sums[2].add(l);
  comm::sum_exact(*collective_, sums);
  CellFigures& f = out.figures;
  f.parts = counts[0];
  f.good = counts[1];
  f.scrapped = counts[2];
  f.reworks = counts[3];
  f.episodes = counts[4];
  f.successes = counts[5];
  f.steps = counts[6];
  if (f.episodes > 0) {
    const double e = static_cast<double>(f.episodes);
    f.success = static_cast<double>(f.successes) / e;
    f.quality = sums[0].to_double() / e;
    f.mean_return = sums[1].to_double() / e;
    f.episode_s = sums[2].to_double() / e;
  }
  parts_ = good_ = scrapped_ = reworks_ = episodes_ = successes_ = steps_ = 0;
  quality_.clear();
  return_.clear();
  length_s_.clear();
  physics_s_ = inference_s_ = 0;
  if (!cfg_.learn) return out;

  const auto t0 = Clock::now();
  // Which replicas have episodes anywhere: the same decision on every rank.
  std::vector<std::int64_t> have(experience_.size());
  for (std::size_t r = 0; r < experience_.size(); ++r) have[r] = static_cast<std::int64_t>(experience_[r].size());
  collective_->sum(have);
  const int steps = cfg_.skill.common.episode_steps;
  const int obs_dim = cfg_.learner.obs_dim, act_dim = cfg_.learner.act_dim;
  int updated = 0;
  for (std::size_t rep = 0; rep < experience_.size(); ++rep) {
    std::vector<Episode>& eps = experience_[rep];
    if (have[rep] == 0) continue;
    std::sort(eps.begin(), eps.end(),
              [](const Episode& a, const Episode& b) { return std::tie(a.block, a.key) < std::tie(b.block, b.key); });
    const int robots = static_cast<int>(eps.size());
    learning::Rollout ro(learners_[rep]->config(), steps, robots);
    ro.block = View<std::int64_t*>("cells::block", robots);
    ro.length = View<int*>("cells::length", robots);
    auto gid = Kokkos::create_mirror_view(ro.gid);
    auto block = Kokkos::create_mirror_view(ro.block);
    auto length = Kokkos::create_mirror_view(ro.length);
    const int rows = steps * robots;
    HostView<Real**> raw("cells::rollout_raw", rows, obs_dim);
    auto acts = Kokkos::create_mirror_view(ro.actions);
    auto lp = Kokkos::create_mirror_view(ro.log_prob);
    auto val = Kokkos::create_mirror_view(ro.value);
    auto rew = Kokkos::create_mirror_view(ro.reward);
    auto term = Kokkos::create_mirror_view(ro.terminated);
    auto trunc = Kokkos::create_mirror_view(ro.truncated);
    auto fin = Kokkos::create_mirror_view(ro.final_obs);
    Kokkos::deep_copy(raw, 0.0);
    Kokkos::deep_copy(acts, 0.0);
    Kokkos::deep_copy(lp, 0.0);
    Kokkos::deep_copy(val, 0.0);
    Kokkos::deep_copy(rew, 0.0);
    Kokkos::deep_copy(term, 1);  // rows past an episode's end: terminal, and left out (length)
    Kokkos::deep_copy(trunc, 0);
    Kokkos::deep_copy(fin, 0.0);
    for (int r = 0; r < robots; ++r) {
      const Episode& e = eps[static_cast<std::size_t>(r)];
      gid(r) = e.key;
      block(r) = e.block;
      length(r) = e.length;
      for (int t = 0; t < e.length; ++t) {
        const int s = t * robots + r;
        for (int f = 0; f < obs_dim; ++f) raw(s, f) = e.obs[static_cast<std::size_t>(t * obs_dim + f)];
        for (int k = 0; k < act_dim; ++k) acts(s, k) = e.actions[static_cast<std::size_t>(t * act_dim + k)];
        lp(s) = e.log_prob[static_cast<std::size_t>(t)];
        val(s) = e.value[static_cast<std::size_t>(t)];
        rew(s) = e.reward[static_cast<std::size_t>(t)];
        const bool last = t + 1 == e.length;
        term(s) = last && e.terminated ? 1 : 0;
        trunc(s) = last && !e.terminated ? 1 : 0;
        if (last && !e.terminated)
          for (int f = 0; f < obs_dim; ++f) fin(s, f) = e.final_obs[static_cast<std::size_t>(f)];
      }
    }
    Kokkos::deep_copy(ro.gid, gid);
    Kokkos::deep_copy(ro.block, block);
    Kokkos::deep_copy(ro.length, length);
    Kokkos::deep_copy(ro.actions, acts);
    Kokkos::deep_copy(ro.log_prob, lp);
    Kokkos::deep_copy(ro.value, val);
    Kokkos::deep_copy(ro.reward, rew);
    Kokkos::deep_copy(ro.terminated, term);
    Kokkos::deep_copy(ro.truncated, trunc);
    Kokkos::deep_copy(ro.final_obs, fin);
    View<Real**> raw_d("cells::rollout_raw", rows, obs_dim);
    Kokkos::deep_copy(raw_d, raw);
    learners_[rep]->normalize(raw_d, rows, ro.obs);  // the statistics the policy acted with
    const learning::PpoStats s = learners_[rep]->update(ro);
    eps.clear();
    ++updated;
    out.ppo.policy_loss += s.policy_loss;
    out.ppo.value_loss += s.value_loss;
    out.ppo.entropy += s.entropy;
    out.ppo.approx_kl += s.approx_kl;
    out.ppo.clip_fraction += s.clip_fraction;
    out.ppo.grad_norm += s.grad_norm;
    out.ppo.learning_rate = s.learning_rate;
    out.ppo.minibatches += s.minibatches;
    out.ppo.communication_s += s.communication_s;
    out.ppo.bytes_sent += s.bytes_sent;
  }
  for (auto& eps : experience_) eps.clear();
  if (updated > 0) {
    const double c = 1.0 / updated;
    out.ppo.policy_loss *= c;
    out.ppo.value_loss *= c;
    out.ppo.entropy *= c;
    out.ppo.approx_kl *= c;
    out.ppo.clip_fraction *= c;
    out.ppo.grad_norm *= c;
    out.updated = true;
  }
  out.learning_s = seconds_since(t0);
  return out;
}

Cells::Cells(std::vector<std::unique_ptr<CellSkill>> skills) : skills_(std::move(skills)) {}

void Cells::resolve(std::vector<factory::ServiceRequest>& requests) {
  for (auto& skill : skills_) {
    std::vector<factory::ServiceRequest*> mine;
    for (auto& q : requests)
      if (skill->holds(q.station_gid)) mine.push_back(&q);
    if (!mine.empty()) skill->resolve(mine);
  }
}

}  // namespace kollektiv::cells
