// Factory checkpoint restore for the fuzz targets (see checkpoint_harness.hpp).
#include "tests/fuzz/checkpoint_harness.hpp"

#include <mpi.h>

#include <algorithm>
#include <memory>

#include "io/checkpoint.hpp"
#include "io/deck.hpp"
#include "io/factory_checkpoint.hpp"
#include "solvers/core/error.hpp"
#include "solvers/factory/factory.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace kollektiv::fuzz {

namespace {

std::unique_ptr<io::Deck> deck;
long hdf5_baseline = 0;

}  // namespace

void initialize_checkpoint_harness() {
  const std::string file = source_path("inputs/factory_multiline.yaml");
  io::DeckResult parsed = io::parse_deck(read_bytes(file), file);
  if (!parsed.deck) fail(file + " does not parse: " + parsed.errors.front().format());
  deck = std::make_unique<io::Deck>(std::move(*parsed.deck));
  hdf5_baseline = open_hdf5_objects();
}

void load_checkpoint_file(const std::string& path) {
  try {
    factory::Factory f(deck->factory, deck->run.seed, MPI_COMM_SELF);
    io::load_newest_valid(MPI_COMM_SELF, path, [&](io::CheckpointReader& r) -> io::CheckpointApply {
      auto snap = std::make_shared<io::FactorySnapshot>(io::read_factory_state(r, f));
      return [&f, snap] { f.restore(snap->time_s, snap->state); };
    });
    f.advance(f.time_s() + 100.0);
    (void)f.report();
  } catch (const Error& e) {
    if (e.code() != ExitCode::bad_checkpoint)
      fail("a bad checkpoint gave exit code " + std::to_string(static_cast<int>(e.code())) + " instead of " +
           std::to_string(static_cast<int>(ExitCode::bad_checkpoint)) + ": " + e.what());
  }
  check_no_hdf5_leak(hdf5_baseline, "load_newest_valid");
}

}  // namespace kollektiv::fuzz
