// Plant: a factory with its robot cells, as the run loop and an experiment's replications
// advance it. Without cells it is the factory alone; with cells, advance() goes one update
// interval at a time (each opened for the cells' skills, then closed by their updates), so
// the policy a cell uses is a function of simulated time.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/deck.hpp"
#include "solvers/cells/cell_skill.hpp"
#include "solvers/comm/collective.hpp"
#include "solvers/factory/factory.hpp"

namespace kollektiv::app {

class Plant {
 public:
  // Collective over `comm`. `deck` must outlive the plant.
  Plant(MPI_Comm comm, const io::Deck& deck);
  ~Plant();
  Plant(const Plant&) = delete;
  Plant& operator=(const Plant&) = delete;

  factory::Factory& factory() { return factory_; }
  const factory::Factory& factory() const { return factory_; }
  bool has_cells() const { return cells_ != nullptr; }
  std::vector<std::unique_ptr<cells::CellSkill>>& cell_skills() { return cells_->skills(); }
  // Per cell skill: the figures and update of the last closed interval.
  const std::vector<cells::CellUpdate>& last_updates() const { return last_updates_; }

  // Collective. The cell skills that a deck starts from a policy file (`transfer`) take it:
  // before anything is written, and not on a restart (the checkpoint holds the policy). A
  // request that cannot be met is Error(bad_input) naming the deck key, on every rank.
  // Returns what was copied, for rank 0 to print.
  std::string start_cells_from_policies(const std::string& deck_file);

  // Collective. Advances to `target`; with cells, interval by interval and always to an
  // interval's end (`stop` is asked only without cells, as Factory::advance does).
  double advance(double target, const std::function<bool()>& stop);

  // Wall time of the cells, cumulative (this rank).
  double cells_physics_s = 0, cells_inference_s = 0, cells_learning_s = 0;

 private:
  void build_cells();

  MPI_Comm comm_;
  const io::Deck& deck_;
  factory::Factory factory_;
  std::unique_ptr<comm::Collective> collective_;  // the cells' learners (every rank)
  std::unique_ptr<cells::Cells> cells_;
  std::vector<cells::CellUpdate> last_updates_;
};

// The model a checkpoint continues: the factory, and each cell skill as a trained system.
std::uint64_t plant_fingerprint(const io::Deck& deck);

}  // namespace kollektiv::app
