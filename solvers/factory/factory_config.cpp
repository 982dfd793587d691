// The deck names of a factory model in global order.
#include "solvers/factory/factory_config.hpp"

namespace kollektiv::factory {

ModelNames model_names(const FactoryModelConfig& config) {
  ModelNames names;
  for (const FactoryConfig& f : config.factories) {
    names.factories.push_back(f.name);
    for (const LineConfig& l : f.lines) {
      names.lines.push_back(f.name + "/" + l.name);
      for (const StationConfig& s : l.stations) names.stations.push_back(f.name + "/" + l.name + "/" + s.name);
    }
  }
  return names;
}

}  // namespace kollektiv::factory
