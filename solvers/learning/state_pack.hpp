// A learner's state as one flat vector of what replicas share (gossip, federated rounds),
// and the mask of the parameters a federated round averages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "solvers/learning/ppo_learner.hpp"

namespace kollektiv::learning {

// The parameters where `mask` is 1, then (with `moments`) both Adam moments there, then
// (with `normalizer`) the observation statistics as count, mean and second moment E[x^2] per
// feature, which average linearly.
std::vector<double> pack_state(const LearnerState& s, const std::vector<std::uint8_t>& mask, bool moments,
                               bool normalizer);
// The inverse of pack_state(): writes `values` back into `s`.
void unpack_state(const std::vector<double>& values, const std::vector<std::uint8_t>& mask, bool moments,
                  bool normalizer, LearnerState& s);

// 1 for each parameter of `learner` that federated rounds average, 0 for those of the
// `private_layers` (layer names as in layer_names.hpp; "normalizer" names no parameter).
std::vector<std::uint8_t> shared_mask(const PpoLearner& learner, const std::vector<std::string>& private_layers);

}  // namespace kollektiv::learning
