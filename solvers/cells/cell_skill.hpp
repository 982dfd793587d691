// CellSkill: the robot cells of one skill in a factory, and how they learn while it produces.
//
// Processing one part at a cell of R robots is R episodes of the skill at once, robot k on
// task k of the part. Every draw of an episode is keyed by the part, never by the rank, the
// batch or the robot slot:
//   task:          rng::draw(seed, skill stream, part id, task episode * 64 + k) with task
//                  episode = visit * kMaxCellRobots + k (visit: the station's index in its
//                  line), so two cells of a line work different tasks of one part;
//   initial noise: the same with task episode + attempt * 2^32 (a repeated attempt starts
//                  the same task from another joint state);
//   action noise and minibatches: a 62-bit hash of (station gid, service count, k, attempt).
// An attempt's outcome is: duration max_k(steps_k) * control_dt_s, quality min_k, good when
// every robot succeeded and the quality reaches good_quality; otherwise the cell tries
// again (max_rework times) when the quality reaches rework_quality, else the part is
// scrapped. The service time is handling_s plus the attempts' durations.
//
// All busy cells of the skill on a rank are one batch: their robots start together, are
// stepped together by the fleet's kernels (robots whose episode ended stand still), and the
// policy acts on the rows still running. Rows do not interact, so an episode's result does
// not depend on the batch it ran in.
//
// Learning while producing: the policy is fixed within an interval [k I, (k + 1) I) of
// simulated time (I = update interval). Learning cells explore (sampled actions) and keep
// every step as experience; end_interval() runs the PPO update of each replica on the
// interval's episodes of all ranks (whole episodes, see Rollout::length; each station's
// episodes are one exact-summation segment). The policy a part meets is thus a function of
// the simulated time of its service start. Frozen cells act on the policy's mean action.
// Replicas: factories are the skill's sites. `allreduce` is one policy for all factories
// (gradients summed over all of them); `isolated`, `gossip` and `federated` keep one per
// factory, shared as training::SharingConfig says (gossip rounds every `period` intervals,
// federated rounds every `local_updates` intervals, weighted by each factory's env-steps
// since the last round; the round schedules are those of training/sharing.hpp, keyed by
// the interval index, so by simulated time). Every rank holds every replica and takes part
// in every update (ranks without episodes contribute none), so sharing between replicas is
// arithmetic on every rank alike, without messages.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "solvers/comm/collective.hpp"
#include "solvers/dynamics/robot_model.hpp"
#include "solvers/factory/factory_config.hpp"
#include "solvers/factory/process_model.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/skills/fleet.hpp"
#include "solvers/skills/skill_config.hpp"
#include "solvers/training/sharing.hpp"
#include "solvers/training/skill_unit.hpp"

namespace kollektiv::cells {

inline constexpr int kMaxCellRobots = 64;

// One robot-cell station of the skill on this rank.
struct CellStation {
  std::int64_t gid = 0;  // station gid
  int site = 0;          // its factory
  int visit = 0;         // the station's index in its line
  factory::CellConfig cell;
};

struct CellSkillConfig {
  std::string name;
  dynamics::RobotModel robot;
  skills::SkillConfig skill;
  learning::LearnerConfig learner;  // obs_dim and act_dim are set here
  int sites = 1;                    // factories
  bool learn = true;                // false: frozen (mean action, no updates)
  training::SharingConfig sharing;  // allreduce: one replica; otherwise one per factory
  std::uint64_t seed = 1;
};

// One interval's episodes and parts, over all ranks (NaN means where nothing ended).
struct CellFigures {
  std::int64_t parts = 0, good = 0, scrapped = 0, reworks = 0, episodes = 0, successes = 0, steps = 0;
  double success = std::numeric_limits<double>::quiet_NaN();
  double quality = std::numeric_limits<double>::quiet_NaN();
  double mean_return = std::numeric_limits<double>::quiet_NaN();
  double episode_s = std::numeric_limits<double>::quiet_NaN();  // mean episode duration
};

// One recorded production episode of a cell (what postprocess/plot_episode.py draws).
struct EpisodeRecording {
  std::int64_t station_gid = 0, service_count = 0, part_id = 0;
  double start_s = 0;     // simulated time the service started
  double control_dt_s = 0;
  int robots = 0, dof = 0, steps = 0;  // steps: control steps of the longest episode
  // [steps + 1][robots][dof + 2][3]: the base, each joint's origin and the tool point, m.
  std::vector<double> points;
  std::vector<double> task;  // [robots][skills::task_real_count] at the episode's start
  std::vector<int> length, success;  // per robot
  std::vector<double> quality;       // per robot
};

struct CellUpdate {
  CellFigures figures;
  bool updated = false;  // a PPO update ran (learning, and some replica had episodes)
  learning::PpoStats ppo;  // mean over the replicas that updated
  bool shared = false;     // a gossip round or a closed federated round happened
  std::int64_t rounds = 0, failed_rounds = 0;  // sharing rounds so far, and federated ones without quorum
  double disagreement = 0;  // relative RMS distance of the replicas' parameters from their mean
  double physics_s = 0, inference_s = 0, learning_s = 0;  // this rank, the interval
};

class CellSkill {
 public:
  // `stations`: this rank's cells of the skill. `collective` spans every rank of the run.
  CellSkill(const CellSkillConfig& cfg, std::vector<CellStation> stations, comm::Collective& collective);
  ~CellSkill();
  CellSkill(const CellSkill&) = delete;
  CellSkill& operator=(const CellSkill&) = delete;

  const CellSkillConfig& config() const { return cfg_; }
  int replicas() const { return static_cast<int>(learners_.size()); }
  int replica_of_site(int site) const { return cfg_.sharing.mode == training::SharingMode::allreduce ? 0 : site; }
  bool holds(std::int64_t station_gid) const;

  // Services may start in [start_s, end_s), the update interval number `index` (1, 2, ...,
  // the multiple of the interval it ends at), until end_interval().
  void begin_interval(double start_s, double end_s, std::int64_t index);
  // Outcomes of these requests (all at this skill's cells, each station at most once).
  void resolve(const std::vector<factory::ServiceRequest*>& requests);
  // Collective: the interval's figures and, when learning, the replicas' updates.
  CellUpdate end_interval();

  // Env-steps of the cells' episodes so far, over all ranks (counted at each interval's end;
  // a restart sets it back from its checkpoint).
  std::int64_t env_steps() const { return env_steps_; }
  void set_env_steps(std::int64_t steps) { env_steps_ = steps; }

  learning::PpoLearner& learner(int replica) { return *learners_[static_cast<std::size_t>(replica)]; }
  const learning::PpoLearner& learner(int replica) const { return *learners_[static_cast<std::size_t>(replica)]; }
  SegmentLayout observation_layout() const;
  SegmentLayout action_layout() const;

  // Record the first service of station `gid` (a local cell of this skill) that starts at or
  // after each of `times_s`; take_recordings() hands the recorded episodes over.
  void record(std::int64_t gid, std::vector<double> times_s);
  std::vector<EpisodeRecording> take_recordings();

  // Every replica and the sharing counters (a checkpoint), the same on every rank.
  training::UnitState state() const;
  std::string restore_problem(const training::UnitState& state) const;  // "" if it fits
  void restore(const training::UnitState& state);

 private:
  struct Episode;
  struct Task;
  struct Buffers;
  void run_batch(std::vector<Task>& tasks);
  void record_points(const std::vector<Task>& tasks, int n);
  void share(CellUpdate& out);
  double disagreement() const;

  CellSkillConfig cfg_;
  std::vector<CellStation> stations_;
  comm::Collective* collective_;
  std::vector<std::unique_ptr<learning::PpoLearner>> learners_;
  std::unique_ptr<skills::Fleet> fleet_;
  std::unique_ptr<Buffers> buffers_;
  int capacity_ = 0;
  double start_s_ = 0, end_s_ = 0;
  std::int64_t index_ = 0;
  bool open_ = false;
  std::vector<std::uint8_t> shared_mask_;         // federated: the averaged parameters
  std::vector<std::int64_t> steps_since_round_;   // per replica (federated weights)
  std::vector<std::pair<std::int64_t, std::vector<double>>> record_at_;  // station, times still to record
  std::vector<EpisodeRecording> recordings_;
  std::int64_t rounds_ = 0, failed_rounds_ = 0;
  std::int64_t env_steps_ = 0;
  std::vector<std::vector<Episode>> experience_;  // per replica, this interval
  // This interval on this rank.
  std::int64_t parts_ = 0, good_ = 0, scrapped_ = 0, reworks_ = 0, episodes_ = 0, successes_ = 0, steps_ = 0;
  std::vector<double> quality_, return_, length_s_;  // per episode, summed exactly at the end
  double physics_s_ = 0, inference_s_ = 0;
};

// The factory's CellProcess: every skill's cells; requests go to their skill in station order.
class Cells final : public factory::CellProcess {
 public:
  explicit Cells(std::vector<std::unique_ptr<CellSkill>> skills);
  void resolve(std::vector<factory::ServiceRequest>& requests) override;
  std::vector<std::unique_ptr<CellSkill>>& skills() { return skills_; }

 private:
  std::vector<std::unique_ptr<CellSkill>> skills_;
};

}  // namespace kollektiv::cells
