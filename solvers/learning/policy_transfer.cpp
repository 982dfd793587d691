#include "solvers/learning/policy_transfer.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <utility>

#include "solvers/core/error.hpp"
#include "solvers/learning/layer_names.hpp"

namespace kollektiv::learning {

namespace {

using IndexPairs = std::vector<std::pair<int, int>>;  // (source index, target index)

std::string widths_text(const std::vector<int>& w) {
  std::string t;
  for (int x : w) t += (t.empty() ? "" : "-") + std::to_string(x);
  return t;
}

// Same-named, same-width segments of two layouts: their element pairs, and their names.
IndexPairs match(const SegmentLayout& from, const SegmentLayout& to, std::vector<std::string>& names) {
  IndexPairs pairs;
  int to_begin = 0;
  for (const Segment& t : to) {
    int from_begin = 0;
    for (const Segment& f : from) {
      if (f == t) {
        for (int i = 0; i < t.width; ++i) pairs.emplace_back(from_begin + i, to_begin + i);
        names.push_back(t.name);
        break;
      }
      from_begin += f.width;
    }
    to_begin += t.width;
  }
  return pairs;
}

IndexPairs identity(int n) {
  IndexPairs pairs;
  for (int i = 0; i < n; ++i) pairs.emplace_back(i, i);
  return pairs;
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const std::string& w : words) s += (s.empty() ? "" : ", ") + w;
  return s;
}

}  // namespace

TransferResult plan_transfer(const TransferSource& from, const PpoLearner& to, const SegmentLayout& observations,
                             const SegmentLayout& actions, const TransferRequest& request) {
  const auto fail = [&](const std::string& what) { throw Error(from.name + ": " + what, ExitCode::bad_input); };
  const PolicyExport& p = from.policy;
  const auto valid_widths = [](const std::vector<int>& w) {
    return w.size() >= 2 && std::all_of(w.begin(), w.end(), [](int x) { return x >= 1 && x <= max_layer_width; });
  };
  if (!valid_widths(p.widths)) fail("its policy layers " + widths_text(p.widths) + " are not a network this build runs");
  const bool has_value = !p.value_widths.empty();
  if (has_value && !valid_widths(p.value_widths))
    fail("its value layers " + widths_text(p.value_widths) + " are not a network this build runs");
  const Mlp from_policy(p.widths, 0);
  const int from_actions = p.widths.back();
  if (static_cast<std::int64_t>(p.parameters.size()) != from_policy.parameter_count() + from_actions)
    fail("holds " + std::to_string(p.parameters.size()) + " policy parameters, its layers need " +
         std::to_string(from_policy.parameter_count() + from_actions));
  if (has_value && static_cast<std::int64_t>(p.value_parameters.size()) != Mlp(p.value_widths, 0).parameter_count())
    fail("holds " + std::to_string(p.value_parameters.size()) + " value parameters, its layers need " +
         std::to_string(Mlp(p.value_widths, 0).parameter_count()));

  TransferResult result;
  result.parameters = to_vector(to.parameters());
  const int policy_layers = static_cast<int>(to.policy().mean_net().layers().size());
  const int value_layers = static_cast<int>(to.value_net().layers().size());

  // Which layers, in network order, each once.
  // Which layers, in network order, each once; a layer named by itself must have something
  // in common, one of a whole network ("policy", "value") starts fresh when it has not.
  struct Chosen {
    std::string net;
    int layer;     // or LayerName::log_std
    bool named;    // by its own name
    int order() const { return (net == "policy" ? 0 : 1 << 21) + (layer == LayerName::log_std ? 1 << 20 : layer); }
  };
  std::vector<Chosen> chosen;
  for (const std::string& name : request.layers) {
    const std::optional<LayerName> l = parse_layer_name(name, policy_layers, value_layers);
    if (!l) fail("cannot transfer layer '" + name + "': " + expected_layer_names(policy_layers, value_layers));
    const int layers = l->net == "policy" ? policy_layers : value_layers;
    if (l->layer == LayerName::whole) {
      for (int k = 0; k < layers; ++k) chosen.push_back({l->net, k, false});
      if (l->net == "policy") chosen.push_back({l->net, LayerName::log_std, false});
    } else {
      chosen.push_back({l->net, l->layer, true});
    }
  }
  std::stable_sort(chosen.begin(), chosen.end(), [](const Chosen& a, const Chosen& b) {
    return a.order() < b.order() || (a.order() == b.order() && a.named && !b.named);
  });
  chosen.erase(std::unique(chosen.begin(), chosen.end(), [](const Chosen& a, const Chosen& b) { return a.order() == b.order(); }),
               chosen.end());

  const bool layouts_known = !from.observations.empty() && !from.actions.empty();
  std::vector<std::string> obs_names, act_names;
  const IndexPairs obs_pairs = layouts_known ? match(from.observations, observations, obs_names) : IndexPairs{};
  const IndexPairs act_pairs = layouts_known ? match(from.actions, actions, act_names) : IndexPairs{};

  const auto copy = [&](const std::vector<double>& src, std::int64_t src_offset, std::int64_t dst_offset) {
    const double v = src[static_cast<std::size_t>(src_offset)];
    if (!std::isfinite(v)) fail("parameter " + std::to_string(src_offset) + " is not finite");
    double& target = result.parameters[static_cast<std::size_t>(dst_offset)];
    target = request.shrink == 1.0 ? v : request.shrink * v + (1.0 - request.shrink) * target;
    ++result.copied;
  };

  for (const Chosen& c : chosen) {
    const std::string& net = c.net;
    const int k = c.layer;
    const bool policy = net == "policy";
    if (!policy && !has_value)
      fail("holds no value network (it was exported by an older kollektiv); transfer policy layers only");
    if (k == LayerName::log_std) {  // one per action
      const IndexPairs pairs = layouts_known ? act_pairs
                               : from_actions == to.policy().act_dim() ? identity(from_actions)
                                                                        : IndexPairs{};
      if (pairs.empty() && !c.named) {
        result.report.push_back("policy.log_std: fresh, no action in common");
        continue;
      }
      if (pairs.empty())
        fail("policy.log_std: no action in common (the policy acts on " + layout_text(from.actions) + ", this skill on " +
             layout_text(actions) + ")");
      for (const auto& [s, d] : pairs) copy(p.parameters, from_policy.parameter_count() + s, to.policy().log_std_offset() + d);
      result.report.push_back("policy.log_std: " + (layouts_known ? join(act_names) : std::string("all actions")));
      continue;
    }
    const std::vector<int>& from_widths = policy ? p.widths : p.value_widths;
    const Mlp from_net(from_widths, 0);
    const std::vector<double>& src = policy ? p.parameters : p.value_parameters;
    const Mlp& to_net = policy ? to.policy().mean_net() : to.value_net();
    const int from_layers = static_cast<int>(from_net.layers().size());
    const int to_layers = static_cast<int>(to_net.layers().size());
    const std::string name = net + "." + std::to_string(k);
    if (k >= from_layers)
      fail(name + " does not exist: its " + net + " network has " + std::to_string(from_layers) + " layers (" +
           widths_text(from_widths) + "), this run's " + std::to_string(to_layers) + " (" +
           widths_text(to_net.widths()) + ")");
    const DenseLayer& fl = from_net.layers()[static_cast<std::size_t>(k)];
    const DenseLayer& tl = to_net.layers()[static_cast<std::size_t>(k)];
    const bool from_last = k + 1 == from_layers, to_last = k + 1 == to_layers;
    if (from_last != to_last)
      fail(name + " is " + (from_last ? "the output layer" : "a hidden layer") + " of its " + net + " network (" +
           widths_text(from_widths) + ") but " + (to_last ? "the output layer" : "a hidden layer") + " of this run's (" +
           widths_text(to_net.widths()) + ")");
    const std::string shapes = name + " maps " + std::to_string(fl.in) + " → " + std::to_string(fl.out) + " in " +
                               from.name + ", " + std::to_string(tl.in) + " → " + std::to_string(tl.out) + " here";
    std::string inputs_copied = "all inputs", outputs_copied = "all outputs";
    IndexPairs in_pairs, out_pairs;
    // A side matched by segment: false when the layer has nothing in common and starts fresh.
    const auto matched = [&](const IndexPairs& pairs, const std::vector<std::string>& names, const char* side,
                             const char* what, const std::string& holds, const SegmentLayout& theirs,
                             const SegmentLayout& ours, std::string& copied) {
      copied = std::string(side) + " of " + join(names);
      if (!pairs.empty()) return true;
      if (!c.named) {
        result.report.push_back(name + " (" + std::to_string(tl.in) + " → " + std::to_string(tl.out) + "): fresh, no " +
                                what + " in common");
        return false;
      }
      fail(name + ": no " + what + " in common (the policy " + holds + " " + layout_text(theirs) + ", this skill " +
           holds + " " + layout_text(ours) + ")");
      return false;
    };
    if (k == 0 && layouts_known) {
      in_pairs = obs_pairs;
      if (!matched(in_pairs, obs_names, "inputs", "observation", "observes", from.observations, observations,
                   inputs_copied))
        continue;
    } else {
      if (fl.in != tl.in)
        throw Error(shapes + (k == 0 ? "; a policy file of format 1 records no observation layout, so the first layer "
                                       "needs the same observation width"
                                     : "; hidden widths must be equal"),
                    ExitCode::bad_input);
      in_pairs = identity(fl.in);
    }
    if (to_last && policy && layouts_known) {
      out_pairs = act_pairs;
      if (!matched(out_pairs, act_names, "outputs", "action", "acts on", from.actions, actions, outputs_copied))
        continue;
    } else {
      if (fl.out != tl.out)
        throw Error(shapes + (to_last ? "; a policy file of format 1 records no action layout, so the output needs the "
                                        "same action width"
                                      : "; hidden widths must be equal"),
                    ExitCode::bad_input);
      out_pairs = identity(fl.out);
    }
    if (k == 0) (policy ? result.refit.policy : result.refit.value) = true;
    for (const auto& [sj, dj] : in_pairs)
      for (const auto& [si, di] : out_pairs)
        copy(src, fl.weight_offset + static_cast<std::int64_t>(sj) * fl.out + si,
             tl.weight_offset + static_cast<std::int64_t>(dj) * tl.out + di);
    for (const auto& [si, di] : out_pairs) copy(src, fl.bias_offset + si, tl.bias_offset + di);
    result.report.push_back(name + " (" + std::to_string(tl.in) + " → " + std::to_string(tl.out) + "): " +
                            inputs_copied + ", " + outputs_copied);
  }

  if (result.copied == 0)
    fail("none of the layers " + join(request.layers) + " has an observation or action in common with this skill");

  // The normaliser: only for the very same observation.
  const bool same_observation = layouts_known && from.observations == observations;
  const bool both_normalize = p.normalize_observations && to.config().normalize_observations && p.normalizer.count > 0;
  if (request.normalizer == NormalizerTransfer::take) {
    if (!same_observation)
      fail("normalizer: take needs the same observation, but the policy observes " +
           (layouts_known ? layout_text(from.observations) : std::string("an unrecorded layout")) + " and this skill " +
           layout_text(observations) + "; use normalizer: fresh");
    if (!both_normalize)
      fail("normalizer: take needs normalised observations in both runs (ppo.normalize_observations) and statistics "
           "in the policy");
  }
  if (request.normalizer != NormalizerTransfer::fresh && same_observation && both_normalize) {
    const std::string problem = to.normalizer().state_problem(p.normalizer);
    if (!problem.empty()) fail("normalizer: " + problem);
    result.normalizer_taken = true;
    result.normalizer = p.normalizer;
  }
  // Otherwise the copied input weights are refitted to the new statistics: the source's
  // statistics of each copied feature (raw: mean 0, variance 1).
  const bool source_normalized = p.normalize_observations && p.normalizer.count > 0 &&
                                 p.normalizer.mean.size() == static_cast<std::size_t>(p.widths.front()) &&
                                 p.normalizer.m2.size() == p.normalizer.mean.size();
  if (!result.normalizer_taken && (result.refit.policy || result.refit.value)) {
    const IndexPairs pairs = layouts_known ? obs_pairs : identity(p.widths.front());
    for (const auto& [from_column, to_column] : pairs) {
      const auto f = static_cast<std::size_t>(from_column);
      result.refit.columns.push_back(to_column);
      result.refit.mean.push_back(source_normalized ? p.normalizer.mean[f] : 0.0);
      result.refit.variance.push_back(source_normalized ? p.normalizer.m2[f] / p.normalizer.count : 1.0);
      if (!std::isfinite(result.refit.mean.back()) || !std::isfinite(result.refit.variance.back()) ||
          result.refit.variance.back() < 0)
        fail("normalizer: the statistics of feature " + std::to_string(from_column) + " are not finite");
    }
  }
  result.report.push_back(std::string("normalizer: ") +
                          (result.normalizer_taken ? "taken over"
                           : result.refit.columns.empty()
                               ? "fresh"
                               : "fresh; the copied input weights are refitted to its statistics"));
  return result;
}

std::vector<std::string> apply_transfer(const TransferSource& from, PpoLearner& to, const SegmentLayout& observations,
                                        const SegmentLayout& actions, const TransferRequest& request) {
  TransferResult r = plan_transfer(from, to, observations, actions, request);
  to.set_parameters(r.parameters);
  if (r.normalizer_taken) to.restore_normalizer(r.normalizer);
  if (!r.refit.columns.empty()) to.refit_inputs(r.refit);
  return std::move(r.report);
}

}  // namespace kollektiv::learning
