// A training run (a deck with a `training` block): PPO on one skill's fleet of robots,
// spread over the ranks in whole blocks of learner.robots_per_block; or, with
// training.policy_file, an evaluation run of a frozen exported policy.
//
// history.h5, one row per iteration: `iteration` (completed), `env_steps` (robots x horizon x
// iterations), training/{episodes, mean_return, success_rate, quality} over the episodes that
// ended in the iteration (NaN when none did), training/{policy_loss, value_loss, approx_kl,
// entropy, clip_fraction, grad_norm, learning_rate} (means over the update's minibatches; not
// in evaluation runs), and timings/{physics_s, inference_s, update_s, communication_s,
// wall_s} (cumulative in this process) and timings/env_steps_per_s (this iteration). All but
// timings/ have the same bits at any rank count and across restarts.
// Checkpoint attributes: deck, resolved_deck, build_info, skill, iteration, history_rows,
// sequence, model_fingerprint (io::training_fingerprint), last_{episodes, mean_return,
// success, quality}; datasets fleet/* and learner/* (io/training_checkpoint.hpp).
#pragma once

#include <mpi.h>

#include <string>

#include "app/cli.hpp"
#include "io/deck.hpp"
#include "io/run_config.hpp"
#include "io/training_config.hpp"

namespace kollektiv::app {

// What a training run takes from a deck.
struct TrainingInputs {
  io::TrainingConfig training;
  RunConfig run;
  std::string deck_file;      // for messages
  std::string deck_text;      // stored in the history, checkpoints and the policy
  std::string resolved_yaml;  // stored in the history and checkpoints
};

// Trains (or evaluates) to training.iterations (or from a checkpoint). Prints the RESULT
// line on rank 0. Returns 0 when done, 4 when a signal stopped it after a checkpoint.
// Throws Error for bad input and unusable checkpoints, the same on every rank.
int run_training(MPI_Comm comm, const TrainingInputs& inputs, const CliOptions& cli);
// The same for a parsed deck with deck.training.enabled.
int run_training(MPI_Comm comm, const io::Deck& deck, const CliOptions& cli);

}  // namespace kollektiv::app
