// Names of a learner's layers, as decks write them (federated private layers, skill
// transfer): "policy" (the policy's mean network and its log-stds), "policy.<k>" (dense
// layer k; the last is also "policy.output"), "policy.log_std", "value" (the value
// network), "value.<k>", "value.output".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace kollektiv::learning {

class PpoLearner;

struct LayerName {
  static constexpr int whole = -1;    // every layer of the network (the policy's log-stds too)
  static constexpr int log_std = -2;  // the policy's log-stds
  std::string net;                    // "policy" or "value"
  int layer = whole;                  // a dense layer, or whole, or log_std
};

// The layer `name` names in networks of `policy_layers` and `value_layers` dense layers, or
// nothing when it names none.
std::optional<LayerName> parse_layer_name(const std::string& name, int policy_layers, int value_layers);

// "expected policy, policy.<k> (k < P), ..., value.<k> (k < V) or value.output", with
// `also` as one more alternative at the end (e.g. "normalizer").
std::string expected_layer_names(int policy_layers, int value_layers, const std::string& also = "");

// The learner's parameters [begin, end) that `layer` covers.
std::pair<std::int64_t, std::int64_t> parameter_range(const PpoLearner& learner, const LayerName& layer);

}  // namespace kollektiv::learning
