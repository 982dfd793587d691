// Skill transfer: a learner starts from the layers of a policy another run exported (what a
// robot learned for one job, e.g. reaching, as the starting point of the next, e.g. welding).
//
// Layers are named as in the deck (learning/layer_names.hpp). A layer is
// copied weight by weight where its inputs and outputs correspond:
//   - hidden widths must be equal (else the request is refused);
//   - a network's first layer reads the observation: only the inputs of observation
//     segments with the same name and width in both skills are copied (e.g. joint_angles,
//     joint_velocities, tool_position, goal_offset from reach into weld); the others keep
//     the fresh initialisation;
//   - the policy's last layer and log-stds write the action: only matching action segments.
// The observation normaliser's statistics are taken over only where the two observations
// are the same in full (same layout), with mode `automatic` or `take`; otherwise the
// normaliser starts fresh (`take` refuses a different layout), and the copied input weights
// are re-expressed for the new statistics (`refit`, PpoLearner::refit_inputs), so that they
// see each observation in the same physical units as in the run they were trained in.
#pragma once

#include <string>
#include <vector>

#include "solvers/core/segment.hpp"
#include "solvers/learning/ppo_learner.hpp"

namespace kollektiv::learning {

enum class NormalizerTransfer : int { automatic = 0, take = 1, fresh = 2 };

struct TransferRequest {
  std::vector<std::string> layers{"policy", "value"};
  NormalizerTransfer normalizer = NormalizerTransfer::automatic;
  // "Shrink and perturb" (Ash & Adams, NeurIPS 2020): a copied parameter becomes
  // shrink × the policy's + (1 − shrink) × the fresh initialisation; 1 copies as it is.
  double shrink = 1.0;
};

// A policy file's contents with the layouts of the skill it was trained on.
struct TransferSource {
  std::string name;  // for messages (the file)
  PolicyExport policy;
  SegmentLayout observations, actions;
};

struct TransferResult {
  std::vector<double> parameters;  // every learner parameter after the transfer
  bool normalizer_taken = false;
  NormalizerState normalizer;      // when taken
  InputRefit refit;                 // when the normaliser is not taken: the copied inputs' statistics
  std::vector<std::string> report;  // one line per layer: what was copied
  std::int64_t copied = 0;          // parameters copied
};

// The learner's parameters with `request` applied from `from`. `to` is the fresh learner
// (its layer widths and initial parameters); `observations`/`actions` its skill's layouts.
// Error(bad_input) naming the layer and both shapes when the request cannot be met.
TransferResult plan_transfer(const TransferSource& from, const PpoLearner& to, const SegmentLayout& observations,
                             const SegmentLayout& actions, const TransferRequest& request);

// plan_transfer() applied to `to`: its parameters, the normaliser when taken, the refit of
// the copied inputs otherwise. Returns the plan's report lines.
std::vector<std::string> apply_transfer(const TransferSource& from, PpoLearner& to, const SegmentLayout& observations,
                                        const SegmentLayout& actions, const TransferRequest& request);

}  // namespace kollektiv::learning
