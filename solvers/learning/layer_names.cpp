#include "solvers/learning/layer_names.hpp"

#include <algorithm>

#include "solvers/learning/ppo_learner.hpp"

namespace kollektiv::learning {

std::optional<LayerName> parse_layer_name(const std::string& name, int policy_layers, int value_layers) {
  for (const auto& [net, layers] : {std::pair<std::string, int>{"policy", policy_layers}, {"value", value_layers}}) {
    if (name == net) return LayerName{net, LayerName::whole};
    if (name.rfind(net + ".", 0) != 0) continue;
    const std::string k = name.substr(net.size() + 1);
    if (k == "output") return LayerName{net, layers - 1};
    if (k == "log_std" && net == "policy") return LayerName{net, LayerName::log_std};
    if (!k.empty() && k.size() < 4 && std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        std::stoi(k) < layers)
      return LayerName{net, std::stoi(k)};
  }
  return std::nullopt;
}

std::string expected_layer_names(int policy_layers, int value_layers, const std::string& also) {
  return "expected policy, policy.<k> (k < " + std::to_string(policy_layers) +
         "), policy.output, policy.log_std, value, value.<k> (k < " + std::to_string(value_layers) + ")" +
         (also.empty() ? " or value.output" : ", value.output or " + also);
}

std::pair<std::int64_t, std::int64_t> parameter_range(const PpoLearner& learner, const LayerName& layer) {
  const GaussianPolicy& policy = learner.policy();
  if (layer.net == "policy" && layer.layer == LayerName::whole) return {policy.base_offset(), policy.end_offset()};
  if (layer.net == "policy" && layer.layer == LayerName::log_std) return {policy.log_std_offset(), policy.end_offset()};
  const Mlp& net = layer.net == "policy" ? policy.mean_net() : learner.value_net();
  if (layer.layer == LayerName::whole) return {net.base_offset(), net.end_offset()};
  const DenseLayer& l = net.layers().at(static_cast<std::size_t>(layer.layer));
  return {l.weight_offset, l.bias_offset + l.out};
}

}  // namespace kollektiv::learning
