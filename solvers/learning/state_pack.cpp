// Flat views of a learner's state for sharing between replicas (see state_pack.hpp).
#include "solvers/learning/state_pack.hpp"

#include <algorithm>
#include <optional>

#include "solvers/learning/layer_names.hpp"

namespace kollektiv::learning {

std::vector<double> pack_state(const LearnerState& s, const std::vector<std::uint8_t>& mask, bool moments,
                               bool normalizer) {
  std::vector<double> out;
  const auto take = [&](const std::vector<double>& v) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (mask[i] != 0) out.push_back(v[i]);
  };
  take(s.parameters);
  if (moments) {
    take(s.adam_m);
    take(s.adam_v);
  }
  if (normalizer) {
    const NormalizerState& n = s.normalizer;
    out.push_back(n.count);
    out.insert(out.end(), n.mean.begin(), n.mean.end());
    for (std::size_t f = 0; f < n.mean.size(); ++f)
      out.push_back((n.count > 0 ? n.m2[f] / n.count : 0.0) + n.mean[f] * n.mean[f]);
  }
  return out;
}

void unpack_state(const std::vector<double>& values, const std::vector<std::uint8_t>& mask, bool moments,
                  bool normalizer, LearnerState& s) {
  std::size_t at = 0;
  const auto put = [&](std::vector<double>& v) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (mask[i] != 0) v[i] = values[at++];
  };
  put(s.parameters);
  if (moments) {
    put(s.adam_m);
    put(s.adam_v);
  }
  if (normalizer) {
    NormalizerState& n = s.normalizer;
    const std::size_t dim = n.mean.size();
    n.count = values[at++];
    for (std::size_t f = 0; f < dim; ++f) n.mean[f] = values[at + f];
    for (std::size_t f = 0; f < dim; ++f) {
      const double variance = values[at + dim + f] - n.mean[f] * n.mean[f];
      n.m2[f] = n.count * (variance > 0 ? variance : 0.0);
    }
  }
}

std::vector<std::uint8_t> shared_mask(const PpoLearner& learner, const std::vector<std::string>& private_layers) {
  std::vector<std::uint8_t> shared(static_cast<std::size_t>(learner.parameter_count()), 1);
  const int policy_layers = static_cast<int>(learner.policy().mean_net().layers().size());
  const int value_layers = static_cast<int>(learner.value_net().layers().size());
  for (const std::string& name : private_layers) {
    const std::optional<LayerName> layer = parse_layer_name(name, policy_layers, value_layers);
    if (!layer) continue;  // "normalizer": not a parameter (the deck refused anything else)
    const auto [begin, end] = parameter_range(learner, *layer);
    std::fill(shared.begin() + begin, shared.begin() + end, 0);
  }
  return shared;
}

}  // namespace kollektiv::learning
