// Fuzz target: the input is a list of edits (h5_edit.hpp) of the seed factory checkpoint
// $KOLLEKTIV_FUZZ_CHECKPOINT, after which every dataset's checksum is recomputed, so that
// the edited values reach read_factory_state's checks, Factory::restore's validation and
// the simulation itself (checkpoint_harness.hpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/checkpoint_harness.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/h5_edit.hpp"

using namespace kollektiv;

namespace {
std::string seed;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initialize();
  fuzz::initialize_checkpoint_harness();
  seed = fuzz::read_bytes(
      fuzz::required_env("KOLLEKTIV_FUZZ_CHECKPOINT", "a factory checkpoint of inputs/factory_multiline.yaml"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/ckpt_00000001.h5";
  fuzz::write_bytes(path, seed.data(), seed.size());
  fuzz::apply_edits(path, data, size, true);
  fuzz::save_edited_if_requested(path);
  fuzz::load_checkpoint_file(path);
  return 0;
}
