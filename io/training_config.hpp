// Plain, validated `training` block of a deck: which skill, on which robot, how many
// robots, and the PPO settings. Produced by io::Deck; the run driver builds a Fleet and a
// PpoLearner from it. Units are SI unless a name says otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "solvers/dynamics/robot_model.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "solvers/skills/skill_config.hpp"
#include "solvers/training/sharing.hpp"
#include "solvers/training/skill_unit.hpp"

namespace kollektiv::io {

// The episode figure the training target is stated in.
enum class TargetMetric : int {
  automatic = 0,    // success for reach and pick_place, quality for weld
  success = 1,      // fraction of episodes that succeeded, reached when >= target
  quality = 2,      // mean episode quality in [0, 1], reached when >= target
  final_error = 3,  // mean distance from the goal at the episode's end (m), reached when <= target
};

// One stage of a curriculum: the skill's tolerances are multiplied by tolerance_scale until
// the target figure (target_metric) of hold_iterations consecutive iterations passes
// advance_at (>= it; <= for final_error); then the next stage begins. The last stage has
// no advance_at: the training target counts only there.
struct CurriculumStage {
  double tolerance_scale = 1.0;  // > 0
  double advance_at = 0.0;       // every stage but the last
  std::int64_t hold_iterations = 1;  // >= 1
};

// One skill's training (a deck of one skill: its training block), or, with `skills`, the run
// of several: then every entry is a TrainingConfig of its own (name, skill, robot, sites,
// sharing, transfer, ppo, target, export_policy) whose run-level fields (horizon,
// iterations, checkpoint_every) are copied from the block, and the block's own skill fields
// are unused (its `robots` is the sum).
struct TrainingConfig {
  bool enabled = false;               // a deck with a `training` block is a training run
  std::string name;                   // an entry of `skills`: the skill's name; else ""
  std::vector<TrainingConfig> skills;  // the skills of a deck with `skills`; else empty
  skills::SkillConfig skill;          // the task (reach, weld, pick_place) and its settings
  dynamics::RobotModel robot;         // resolved robot model (inline or from URDF/YAML file)
  std::string robot_source;           // file the model came from, or "inline"
  std::int64_t robots = 512;          // robots in total over all ranks (>= 1), the sum over the sites
  // The sites, in gid order; a deck without `sites` has one, "all", with every robot and
  // the skill's settings. Each site's `skill` is the skill with the site's own settings.
  std::vector<training::SiteConfig> sites;
  bool sites_given = false;           // the deck lists sites
  training::SharingConfig sharing;    // how the sites' replicas share
  training::TransferConfig transfer;  // start from another run's policy (skill transfer)
  int horizon = 32;                   // rollout steps per iteration (>= 1)
  std::int64_t iterations = 100;      // PPO iterations (rollout + update) to run
  std::int64_t checkpoint_every = 0;  // iterations between checkpoints; 0: only at the end
  // learner.obs_dim / act_dim are filled in by the run from the fleet; everything else from
  // the deck (widths, gamma, lambda, clip, epochs, minibatches, learning rate, ...);
  // learner.total_updates is the annealing schedule's length, ppo.anneal_iterations
  // (default: iterations), kept across restarts (a checkpoint refuses another).
  learning::LearnerConfig learner;
  // Evaluation: with a policy file the run loads that frozen policy, acts deterministically
  // and reports success and quality over `eval_episodes` episodes per robot, no updates.
  std::string policy_file;            // empty: train
  std::int64_t eval_episodes = 1;
  // Where the trained policy is exported at the end (relative to the output directory).
  std::string export_policy = "policy.h5";
  // The figure that the "target reached" line and `reached_target` in the RESULT line
  // compare against, over the episodes that ended in an iteration.
  TargetMetric target_metric = TargetMetric::automatic;
  double target = 0.9;
  // Tightening tolerances (empty: the skill's tolerances throughout). The stage is a function
  // of the exact fleet figures, so runs stay bitwise reproducible; it is in the checkpoint.
  std::vector<CurriculumStage> curriculum;
};

}  // namespace kollektiv::io
