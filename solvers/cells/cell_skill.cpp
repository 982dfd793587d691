// Robot cells of one skill: batched production episodes, their outcomes, and the updates of
// the skill's policy from them (see cell_skill.hpp).
#include "solvers/cells/cell_skill.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <tuple>

#include "solvers/core/error.hpp"
#include "solvers/dynamics/chain_algorithms.hpp"
#include "solvers/core/exact_sum.hpp"
#include "solvers/learning/state_pack.hpp"

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

// deep_copy of rows [0, n) between a 2-D View and its mirror. Between memory spaces Kokkos
// copies only contiguous Views of one layout: leading rows are contiguous in LayoutRight
// (host backends) but not in LayoutLeft (CUDA) unless they are all the rows, and there the
// whole View goes (the rows from n on are scratch that nothing reads on either side).
template <class Dst, class Src>
void copy_leading_rows(const Dst& dst, const Src& src, int n) {
  const auto rows = std::make_pair(0, n);
  const auto d = Kokkos::subview(dst, rows, Kokkos::ALL);
  const auto s = Kokkos::subview(src, rows, Kokkos::ALL);
  if (d.span_is_contiguous() && s.span_is_contiguous())
    Kokkos::deep_copy(d, s);
  else
    Kokkos::deep_copy(dst, src);
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

// Scratch of one batch, sized for every robot of the rank's cells, allocated once: device
// Views and their host mirrors (the same memory on a host backend).
struct CellSkill::Buffers {
  Buffers(int capacity, int obs_dim, int act_dim)
      : keys("cells::keys", capacity, 3),
        obs("cells::obs", capacity, obs_dim),
        actions("cells::actions", capacity, act_dim),
        active("cells::active", capacity),
        raw("cells::raw", capacity, obs_dim),
        act("cells::act", capacity, act_dim),
        key("cells::key", capacity),
        log_prob("cells::log_prob", capacity),
        value("cells::value", capacity),
        result(capacity, obs_dim),
        keys_h(Kokkos::create_mirror_view(keys)),
        obs_h(Kokkos::create_mirror_view(obs)),
        actions_h(Kokkos::create_mirror_view(actions)),
        active_h(Kokkos::create_mirror_view(active)),
        raw_h(Kokkos::create_mirror_view(raw)),
        act_h(Kokkos::create_mirror_view(act)),
        key_h(Kokkos::create_mirror_view(key)),
        log_prob_h(Kokkos::create_mirror_view(log_prob)),
        value_h(Kokkos::create_mirror_view(value)),
        reward_h(Kokkos::create_mirror_view(result.reward)),
        quality_h(Kokkos::create_mirror_view(result.episode_quality)),
        return_h(Kokkos::create_mirror_view(result.episode_return)),
        final_obs_h(Kokkos::create_mirror_view(result.final_obs)),
        done_h(Kokkos::create_mirror_view(result.episode_done)),
        terminated_h(Kokkos::create_mirror_view(result.terminated)),
        success_h(Kokkos::create_mirror_view(result.episode_success)),
        length_h(Kokkos::create_mirror_view(result.episode_length)) {
    Kokkos::deep_copy(actions, 0.0);
  }
  // The step's results of rows [0, n) to the host.
  void copy_result(int n) {
    const auto r = std::make_pair(0, n);
    Kokkos::deep_copy(Kokkos::subview(reward_h, r), Kokkos::subview(result.reward, r));
    Kokkos::deep_copy(Kokkos::subview(quality_h, r), Kokkos::subview(result.episode_quality, r));
    Kokkos::deep_copy(Kokkos::subview(return_h, r), Kokkos::subview(result.episode_return, r));
    copy_leading_rows(final_obs_h, result.final_obs, n);
    Kokkos::deep_copy(Kokkos::subview(done_h, r), Kokkos::subview(result.episode_done, r));
    Kokkos::deep_copy(Kokkos::subview(terminated_h, r), Kokkos::subview(result.terminated, r));
    Kokkos::deep_copy(Kokkos::subview(success_h, r), Kokkos::subview(result.episode_success, r));
    Kokkos::deep_copy(Kokkos::subview(length_h, r), Kokkos::subview(result.episode_length, r));
  }
  View<std::int64_t**> keys;
  View<Real**> obs, actions;
  View<int*> active;
  View<Real**> raw, act;  // the running rows, packed by replica
  View<std::int64_t*> key;
  View<Real*> log_prob, value;
  skills::StepResult result;
  View<std::int64_t**>::HostMirror keys_h;
  View<Real**>::HostMirror obs_h, actions_h;
  View<int*>::HostMirror active_h;
  View<Real**>::HostMirror raw_h, act_h;
  View<std::int64_t*>::HostMirror key_h;
  View<Real*>::HostMirror log_prob_h, value_h, reward_h, quality_h, return_h;
  View<Real**>::HostMirror final_obs_h;
  View<int*>::HostMirror done_h, terminated_h, success_h, length_h;
};

// One robot's episode of a request.
struct CellSkill::Task {
  factory::ServiceRequest* request = nullptr;
  const CellStation* station = nullptr;
  int robot = 0, attempt = 0, replica = 0;
  int recording = -1;  // index into recordings_, -1: not recorded
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
  buffers_ = std::make_unique<Buffers>(capacity_, fleet_->obs_dim(), fleet_->act_dim());
  cfg_.learner.obs_dim = fleet_->obs_dim();
  cfg_.learner.act_dim = fleet_->act_dim();
  const int replicas = cfg_.sharing.mode == training::SharingMode::allreduce ? 1 : cfg_.sites;
  for (int r = 0; r < replicas; ++r) learners_.push_back(std::make_unique<learning::PpoLearner>(cfg_.learner, collective));
  experience_.resize(static_cast<std::size_t>(replicas));
  steps_since_round_.assign(static_cast<std::size_t>(replicas), 0);
  shared_mask_ = learning::shared_mask(*learners_.front(), cfg_.sharing.federated.private_layers);
}

CellSkill::~CellSkill() = default;

bool CellSkill::holds(std::int64_t station_gid) const {
  return std::binary_search(stations_.begin(), stations_.end(), CellStation{station_gid, 0, 0, {}},
                            [](const CellStation& a, const CellStation& b) { return a.gid < b.gid; });
}

SegmentLayout CellSkill::observation_layout() const { return skills::observation_layout(cfg_.skill.kind, fleet_->dof()); }
SegmentLayout CellSkill::action_layout() const { return skills::action_layout(cfg_.skill.kind, fleet_->dof()); }

void CellSkill::begin_interval(double start_s, double end_s, std::int64_t index) {
  require(!open_ && end_s > start_s && index >= 1,
          "cells: begin_interval while an interval is open, or an empty interval");
  start_s_ = start_s;
  end_s_ = end_s;
  index_ = index;
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
    int recording = -1;
    for (auto& [gid, times] : record_at_) {
      if (gid != q->station_gid || times.empty() || times.front() > q->start_s) continue;
      while (!times.empty() && times.front() <= q->start_s) times.erase(times.begin());
      recording = static_cast<int>(recordings_.size());
      EpisodeRecording& r = recordings_.emplace_back();
      r.station_gid = q->station_gid;
      r.service_count = q->service_count;
      r.part_id = q->part.id;
      r.start_s = q->start_s;
      r.control_dt_s = cfg_.skill.common.control_dt_s;
      r.robots = it->cell.robots;
      r.dof = fleet_->dof();
      r.task.assign(static_cast<std::size_t>(r.robots) * skills::task_real_count, 0.0);
      r.length.assign(static_cast<std::size_t>(r.robots), 0);
      r.success.assign(static_cast<std::size_t>(r.robots), 0);
      r.quality.assign(static_cast<std::size_t>(r.robots), 0.0);
    }
    for (int k = 0; k < it->cell.robots; ++k) tasks.push_back(Task{q, &*it, k, 0, replica_of_site(it->site), recording});
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
          t.recording = -1;  // the first attempt is the one recorded
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
  Buffers& b = *buffers_;

  auto t0 = Clock::now();
  std::vector<std::int64_t> noise_key(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    const Task& t = tasks[static_cast<std::size_t>(r)];
    const std::int64_t task_episode = std::int64_t{t.station->visit} * kMaxCellRobots + t.robot;
    b.keys_h(r, 0) = t.request->part.id;
    b.keys_h(r, 1) = task_episode;
    b.keys_h(r, 2) = task_episode + (std::int64_t{t.attempt} << 32);
    noise_key[static_cast<std::size_t>(r)] = episode_key(t.station->gid, t.request->service_count, t.robot, t.attempt);
  }
  copy_leading_rows(b.keys, b.keys_h, n);
  fleet_->start_episodes(b.keys, n);
  std::vector<Episode> episodes(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) {
    Episode& e = episodes[static_cast<std::size_t>(r)];
    e.key = noise_key[static_cast<std::size_t>(r)];
    e.block = tasks[static_cast<std::size_t>(r)].station->gid;
  }
  for (int r = 0; r < n; ++r) b.active_h(r) = 1;
  const bool recording = std::any_of(tasks.begin(), tasks.end(), [](const Task& t) { return t.recording >= 0; });
  if (recording) {
    const auto task = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fleet_->task_real());
    for (int r = 0; r < n; ++r) {
      const Task& t = tasks[static_cast<std::size_t>(r)];
      if (t.recording < 0) continue;
      EpisodeRecording& rec = recordings_[static_cast<std::size_t>(t.recording)];
      for (int c = 0; c < skills::task_real_count; ++c)
        rec.task[static_cast<std::size_t>(t.robot * skills::task_real_count + c)] = task(r, c);
    }
    record_points(tasks, n);
  }
  physics_s_ += seconds_since(t0);

  std::vector<int> rows;  // the running rows, replica by replica
  std::vector<std::pair<int, int>> ranges;  // each replica's part of `rows`
  int running = n;
  for (int t = 0; t < steps && running > 0; ++t) {
    t0 = Clock::now();
    fleet_->observe(b.obs, n);  // only this batch's rows
    copy_leading_rows(b.obs_h, b.obs, n);
    physics_s_ += seconds_since(t0);
    t0 = Clock::now();
    // The running rows, packed: replica ranges [begin, end) of the packed buffers.
    rows.clear();
    ranges.clear();
    for (int r = 0; r < n;) {
      const int replica = tasks[static_cast<std::size_t>(r)].replica;
      const int begin = static_cast<int>(rows.size());
      for (; r < n && tasks[static_cast<std::size_t>(r)].replica == replica; ++r)
        if (b.active_h(r) != 0) rows.push_back(r);
      if (static_cast<int>(rows.size()) > begin) ranges.emplace_back(begin, static_cast<int>(rows.size()));
    }
    const int m = static_cast<int>(rows.size());
    for (int i = 0; i < m; ++i) {
      const int r = rows[static_cast<std::size_t>(i)];
      for (int f = 0; f < obs_dim; ++f) b.raw_h(i, f) = b.obs_h(r, f);
      b.key_h(i) = noise_key[static_cast<std::size_t>(r)];
    }
    const auto packed = std::make_pair(0, m);
    copy_leading_rows(b.raw, b.raw_h, m);
    Kokkos::deep_copy(Kokkos::subview(b.key, packed), Kokkos::subview(b.key_h, packed));
    for (const auto& [begin, end] : ranges) {
      const auto span = std::make_pair(begin, end);
      learners_[static_cast<std::size_t>(tasks[static_cast<std::size_t>(rows[static_cast<std::size_t>(begin)])].replica)]
          ->act(Kokkos::subview(b.raw, span, Kokkos::ALL), Kokkos::subview(b.key, span), end - begin,
                static_cast<std::uint64_t>(t), learn, Kokkos::subview(b.act, span, Kokkos::ALL),
                Kokkos::subview(b.log_prob, span), Kokkos::subview(b.value, span));
    }
    copy_leading_rows(b.act_h, b.act, m);
    if (learn) {
      Kokkos::deep_copy(Kokkos::subview(b.log_prob_h, packed), Kokkos::subview(b.log_prob, packed));
      Kokkos::deep_copy(Kokkos::subview(b.value_h, packed), Kokkos::subview(b.value, packed));
    }
    for (int i = 0; i < m; ++i) {
      const int r = rows[static_cast<std::size_t>(i)];
      for (int k = 0; k < act_dim; ++k) b.actions_h(r, k) = b.act_h(i, k);
      if (!learn) continue;
      Episode& e = episodes[static_cast<std::size_t>(r)];
      for (int f = 0; f < obs_dim; ++f) e.obs.push_back(b.raw_h(i, f));
      for (int k = 0; k < act_dim; ++k) e.actions.push_back(b.act_h(i, k));
      e.log_prob.push_back(b.log_prob_h(i));
      e.value.push_back(b.value_h(i));
    }
    inference_s_ += seconds_since(t0);
    t0 = Clock::now();
    const auto batch = std::make_pair(0, n);
    copy_leading_rows(b.actions, b.actions_h, n);
    Kokkos::deep_copy(Kokkos::subview(b.active, batch), Kokkos::subview(b.active_h, batch));
    fleet_->step(b.actions, b.active, b.result, n);
    b.copy_result(n);
    if (recording) record_points(tasks, n);
    for (int i = 0; i < m; ++i) {
      const int r = rows[static_cast<std::size_t>(i)];
      Episode& e = episodes[static_cast<std::size_t>(r)];
      if (learn) e.reward.push_back(b.reward_h(r));
      if (b.done_h(r) == 0) continue;
      b.active_h(r) = 0;
      --running;
      Task& task = tasks[static_cast<std::size_t>(r)];
      task.length = b.length_h(r);
      task.success = b.success_h(r) != 0;
      task.quality = b.quality_h(r);
      if (task.recording >= 0) {
        EpisodeRecording& rec = recordings_[static_cast<std::size_t>(task.recording)];
        rec.length[static_cast<std::size_t>(task.robot)] = task.length;
        rec.success[static_cast<std::size_t>(task.robot)] = task.success ? 1 : 0;
        rec.quality[static_cast<std::size_t>(task.robot)] = task.quality;
      }
      e.length = task.length;
      e.terminated = b.terminated_h(r) != 0;
      if (learn && !e.terminated)
        for (int f = 0; f < obs_dim; ++f) e.final_obs.push_back(b.final_obs_h(r, f));
      ++episodes_;
      successes_ += task.success ? 1 : 0;
      steps_ += task.length;
      quality_.push_back(task.quality);
      return_.push_back(b.return_h(r));
      length_s_.push_back(task.length * cfg_.skill.common.control_dt_s);
    }
    physics_s_ += seconds_since(t0);
  }
  require(running == 0, "cells: an episode did not end within episode_steps");
  if (learn)
    for (int r = 0; r < n; ++r)
      experience_[static_cast<std::size_t>(tasks[static_cast<std::size_t>(r)].replica)].push_back(
          std::move(episodes[static_cast<std::size_t>(r)]));
}

// Appends the current arm poses of the recorded rows (every robot of a recorded cell, also
// those whose episode ended and stand still) to their recordings.
void CellSkill::record_points(const std::vector<Task>& tasks, int n) {
  const auto q = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fleet_->q());
  const dynamics::DeviceModel& model = fleet_->model();
  const int dof = fleet_->dof();
  std::vector<int> appended(recordings_.size(), 0);
  for (int r = 0; r < n; ++r) {
    const Task& t = tasks[static_cast<std::size_t>(r)];
    if (t.recording < 0) continue;
    EpisodeRecording& rec = recordings_[static_cast<std::size_t>(t.recording)];
    if (appended[static_cast<std::size_t>(t.recording)]++ == 0) {  // a new step of this recording
      rec.points.resize(rec.points.size() + static_cast<std::size_t>(rec.robots * (dof + 2) * 3), 0.0);
      rec.steps = static_cast<int>(rec.points.size() / static_cast<std::size_t>(rec.robots * (dof + 2) * 3)) - 1;
    }
    Real qr[dynamics::kMaxJoints] = {};
    for (int j = 0; j < dof; ++j) qr[j] = q(r, j);
    dynamics::ChainPose pose;
    dynamics::forward_kinematics(model, dof, qr, pose);
    double* p = rec.points.data() + static_cast<std::size_t>(rec.steps * rec.robots * (dof + 2) * 3 +
                                                             t.robot * (dof + 2) * 3);
    p[0] = p[1] = p[2] = 0.0;  // the base
    for (int j = 0; j < dof; ++j) {
      p[3 * (j + 1)] = pose.link_pos[j].x;
      p[3 * (j + 1) + 1] = pose.link_pos[j].y;
      p[3 * (j + 1) + 2] = pose.link_pos[j].z;
    }
    p[3 * (dof + 1)] = pose.tool_pos.x;
    p[3 * (dof + 1) + 1] = pose.tool_pos.y;
    p[3 * (dof + 1) + 2] = pose.tool_pos.z;
  }
}

void CellSkill::record(std::int64_t gid, std::vector<double> times_s) {
  require(holds(gid), "cells: recording a station that is not a local cell of skill " + cfg_.name);
  std::sort(times_s.begin(), times_s.end());
  record_at_.emplace_back(gid, std::move(times_s));
}

std::vector<EpisodeRecording> CellSkill::take_recordings() {
  std::vector<EpisodeRecording> out;
  out.swap(recordings_);
  return out;
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
  env_steps_ += f.steps;
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
  // Which replicas have episodes anywhere (the same decision on every rank), and their steps.
  const std::size_t replicas = experience_.size();
  std::vector<std::int64_t> have(2 * replicas);
  for (std::size_t r = 0; r < replicas; ++r) {
    have[r] = static_cast<std::int64_t>(experience_[r].size());
    for (const Episode& e : experience_[r]) have[replicas + r] += e.length;
  }
  collective_->sum(have);
  for (std::size_t r = 0; r < replicas; ++r) steps_since_round_[r] += have[replicas + r];
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
    View<Real**> raw_d("cells::rollout_raw", rows, obs_dim);
    auto raw = Kokkos::create_mirror_view(raw_d);  // raw_d's layout (left on CUDA), for deep_copy
    auto acts = Kokkos::create_mirror_view(ro.actions);
    auto lp = Kokkos::create_mirror_view(ro.log_prob);
    auto val = Kokkos::create_mirror_view(ro.value);
    auto rew = Kokkos::create_mirror_view(ro.reward);
    auto term = Kokkos::create_mirror_view(ro.terminated);
    auto trunc = Kokkos::create_mirror_view(ro.truncated);
    auto fin = Kokkos::create_mirror_view(ro.final_obs);
    // Views and mirrors start at zero; rows past an episode's end are terminal (and left out
    // of the update by `length`).
    Kokkos::deep_copy(term, 1);
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
  share(out);
  out.disagreement = disagreement();
  out.learning_s = seconds_since(t0);
  return out;
}

void CellSkill::share(CellUpdate& out) {
  const training::SharingConfig& sc = cfg_.sharing;
  const int sites = static_cast<int>(learners_.size());
  out.rounds = rounds_;
  out.failed_rounds = failed_rounds_;
  if (sc.mode == training::SharingMode::gossip && index_ % sc.gossip.period == 0) {
    const std::int64_t round = index_ / sc.gossip.period - 1;
    const std::vector<int> partner = training::gossip_partners(sc.gossip.schedule, cfg_.learner.seed, round, sites);
    const std::vector<std::uint8_t> all(static_cast<std::size_t>(learners_.front()->parameter_count()), 1);
    const bool moments = sc.gossip.average_moments, normalizer = cfg_.learner.normalize_observations;
    for (int a = 0; a < sites; ++a) {
      const int b = partner[static_cast<std::size_t>(a)];
      if (b <= a) continue;
      learning::LearnerState sa = learners_[static_cast<std::size_t>(a)]->state();
      learning::LearnerState sb = learners_[static_cast<std::size_t>(b)]->state();
      std::vector<double> va = learning::pack_state(sa, all, moments, normalizer);
      const std::vector<double> vb = learning::pack_state(sb, all, moments, normalizer);
      for (std::size_t i = 0; i < va.size(); ++i) va[i] = 0.5 * (va[i] + vb[i]);
      learning::unpack_state(va, all, moments, normalizer, sa);
      learning::unpack_state(va, all, moments, normalizer, sb);
      learners_[static_cast<std::size_t>(a)]->restore(sa);
      learners_[static_cast<std::size_t>(b)]->restore(sb);
    }
    out.shared = true;
    out.rounds = ++rounds_;
  } else if (sc.mode == training::SharingMode::federated && index_ % sc.federated.local_updates == 0) {
    const std::int64_t round = index_ / sc.federated.local_updates - 1;
    const training::FederatedRound fr = training::federated_round(sc.federated, cfg_.learner.seed, round, sites);
    ++rounds_;
    double weight = 0;
    for (int s : fr.reporting) weight += static_cast<double>(steps_since_round_[static_cast<std::size_t>(s)]);
    if (!fr.closes() || weight == 0) {
      ++failed_rounds_;  // no quorum, or nothing learned since the last round: each keeps its own
    } else {
      const auto& private_layers = sc.federated.private_layers;
      const bool normalizer = cfg_.learner.normalize_observations &&
                              std::find(private_layers.begin(), private_layers.end(), "normalizer") == private_layers.end();
      // The env-step-weighted average of the reporting sites' shared values, in site order,
      // becomes every site's (FedAvg); private layers, Adam moments and counters stay.
      std::vector<learning::LearnerState> state;
      for (const auto& l : learners_) state.push_back(l->state());
      std::vector<double> mean;
      for (int s : fr.reporting) {
        const double w = static_cast<double>(steps_since_round_[static_cast<std::size_t>(s)]) / weight;
        const std::vector<double> v =
            learning::pack_state(state[static_cast<std::size_t>(s)], shared_mask_, false, normalizer);
        if (mean.empty()) mean.assign(v.size(), 0.0);
        for (std::size_t i = 0; i < v.size(); ++i) mean[i] += w * v[i];
      }
      for (std::size_t k = 0; k < learners_.size(); ++k) {
        learning::unpack_state(mean, shared_mask_, false, normalizer, state[k]);
        learners_[k]->restore(state[k]);
      }
      std::fill(steps_since_round_.begin(), steps_since_round_.end(), 0);
      out.shared = true;
    }
    out.rounds = rounds_;
    out.failed_rounds = failed_rounds_;
  }
}

double CellSkill::disagreement() const {
  if (learners_.size() < 2) return 0.0;
  std::vector<std::vector<double>> p;
  for (const auto& l : learners_) p.push_back(to_vector(l->parameters()));
  const std::size_t n = p.front().size();
  double spread = 0, size = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double mean = 0;
    for (const auto& v : p) mean += v[i];
    mean /= static_cast<double>(p.size());
    for (const auto& v : p) spread += (v[i] - mean) * (v[i] - mean);
    size += mean * mean * static_cast<double>(p.size());
  }
  return size > 0 ? std::sqrt(spread / size) : 0.0;
}

training::UnitState CellSkill::state() const {
  training::UnitState s;
  for (const auto& l : learners_) s.replicas.push_back(l->state());
  s.steps_since_round = steps_since_round_;
  s.rounds = rounds_;
  s.failed_rounds = failed_rounds_;
  return s;
}

std::string CellSkill::restore_problem(const training::UnitState& s) const {
  if (s.replicas.size() != learners_.size() || s.steps_since_round.size() != learners_.size())
    return "expected " + std::to_string(learners_.size()) + " replicas, found " + std::to_string(s.replicas.size());
  if (s.rounds < 0 || s.failed_rounds < 0 || s.failed_rounds > s.rounds) return "sharing counters out of range";
  for (std::int64_t x : s.steps_since_round)
    if (x < 0) return "negative env-steps since the last round";
  for (std::size_t k = 0; k < learners_.size(); ++k) {
    const std::string p = learners_[k]->restore_problem(s.replicas[k]);
    if (!p.empty()) return "replica " + std::to_string(k) + ": " + p;
  }
  return "";
}

void CellSkill::restore(const training::UnitState& s) {
  const std::string p = restore_problem(s);
  require(p.empty(), "cells: skill " + cfg_.name + ": " + p, ExitCode::bad_checkpoint);
  for (std::size_t k = 0; k < learners_.size(); ++k) learners_[k]->restore(s.replicas[k]);
  steps_since_round_ = s.steps_since_round;
  rounds_ = s.rounds;
  failed_rounds_ = s.failed_rounds;
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
