// A factory with its robot cells: building the cells' skills from the deck, their start from
// a skill library, and advancing interval by interval (see plant.hpp).
#include "app/plant.hpp"

#include <algorithm>
#include <cmath>

#include "app/progress.hpp"
#include "io/factory_checkpoint.hpp"
#include "io/policy_io.hpp"
#include "io/training_checkpoint.hpp"
#include "solvers/comm/mpi_collective.hpp"
#include "solvers/core/error.hpp"
#include "solvers/learning/policy_transfer.hpp"

namespace kollektiv::app {

Plant::Plant(MPI_Comm comm, const io::Deck& deck)
    : comm_(comm), deck_(deck), factory_(deck.factory, deck.run.seed, comm) {
  if (!deck.cells.skills.empty()) build_cells();
}

Plant::~Plant() = default;

void Plant::build_cells() {
  collective_ = comm::make_mpi_collective(comm_);
  std::vector<std::unique_ptr<cells::CellSkill>> skills;
  for (std::size_t k = 0; k < deck_.cells.skills.size(); ++k) {
    const io::CellSkillDeck& d = deck_.cells.skills[k];
    cells::CellSkillConfig c;
    c.name = d.name;
    c.robot = d.skill.robot;
    c.skill = d.skill.skill;
    c.learner = d.skill.learner;
    c.sites = static_cast<int>(deck_.factory.factories.size());
    c.learn = d.learn;
    c.sharing = d.skill.sharing;
    c.seed = deck_.run.seed;
    std::vector<cells::CellStation> mine;
    for (std::int64_t g : factory_.local_cells()) {
      // The cell's factory is the skill's site; its place in the line, the visit.
      const factory::ModelIndex::Place p = factory_.index().place(g);
      if (p.config->cell.skill == static_cast<int>(k))
        mine.push_back(cells::CellStation{g, static_cast<int>(p.factory), static_cast<int>(p.position), p.config->cell});
    }
    skills.push_back(std::make_unique<cells::CellSkill>(c, std::move(mine), *collective_));
  }
  cells_ = std::make_unique<cells::Cells>(std::move(skills));
  factory_.set_cells(cells_.get());
  last_updates_.resize(deck_.cells.skills.size());
}

std::string Plant::start_cells_from_policies(const std::string& deck_file) {
  std::string printed;
  for (std::size_t k = 0; cells_ && k < deck_.cells.skills.size(); ++k) {
    const io::CellSkillDeck& d = deck_.cells.skills[k];
    if (d.skill.transfer.policy.empty()) continue;
    cells::CellSkill& skill = *cells_->skills()[k];
    const io::PolicyFile file = io::read_policy_file(comm_, d.skill.transfer.policy);
    const learning::TransferSource source{d.skill.transfer.policy, file.policy, file.info.observations,
                                          file.info.actions};
    std::string report;
    try {  // the same verdict on every rank: every rank holds every replica
      for (int r = 0; r < skill.replicas(); ++r) {
        report.clear();
        for (const std::string& line : learning::apply_transfer(source, skill.learner(r), skill.observation_layout(),
                                                                skill.action_layout(), d.skill.transfer.request))
          report += "  " + line + "\n";
      }
    } catch (const Error& e) {
      throw Error("cells.skills." + std::to_string(k) + ".transfer in deck " + deck_file + ": " + e.what(),
                  ExitCode::bad_input);
    }
    printed += "cell skill " + d.name + " starts from " + d.skill.transfer.policy + " (" + file.info.skill + ", " +
               std::to_string(file.info.env_steps) + " env-steps)" + (d.learn ? "" : ", frozen") + ":\n" + report;
  }
  return printed;
}

double Plant::advance(double target, const std::function<bool()>& stop) {
  if (!cells_) return factory_.advance(target, stop);
  double t = factory_.time_s();
  while (t < target) {
    const double end = next_multiple_after(t, deck_.cells.update_interval_s, deck_.run.end_time_s);
    require(end <= target, "plant: advance to t = " + std::to_string(target) +
                               " ends inside an update interval of the cells (next end " + std::to_string(end) + ")");
    const auto index = static_cast<std::int64_t>(std::llround(end / deck_.cells.update_interval_s));
    for (auto& skill : cells_->skills()) skill->begin_interval(t, end, index);
    t = factory_.advance(end);
    for (std::size_t k = 0; k < cells_->skills().size(); ++k) {
      last_updates_[k] = cells_->skills()[k]->end_interval();
      cells_physics_s += last_updates_[k].physics_s;
      cells_inference_s += last_updates_[k].inference_s;
      cells_learning_s += last_updates_[k].learning_s;
    }
  }
  return t;
}

std::uint64_t plant_fingerprint(const io::Deck& deck) {
  std::uint64_t f = io::factory_fingerprint(deck.factory, deck.run.seed);
  if (deck.cells.skills.empty()) return f;  // plain factories keep their fingerprint
  const auto mix = [&f](std::uint64_t x) { f = (f ^ x) * 0x100000001B3ULL + 0x9E3779B97F4A7C15ULL; };
  mix(static_cast<std::uint64_t>(deck.cells.update_interval_s * 1e6));
  for (const io::CellSkillDeck& k : deck.cells.skills) {
    mix(io::training_fingerprint(k.skill, deck.run.seed));
    mix(k.skill.learner.anneal_learning_rate ? static_cast<std::uint64_t>(k.skill.learner.total_updates) : 0);
    mix(k.learn ? 1 : 2);
    for (char c : k.name) mix(static_cast<unsigned char>(c));
  }
  return f;
}

}  // namespace kollektiv::app
