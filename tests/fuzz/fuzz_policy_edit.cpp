// Fuzz target: the input is a list of edits (h5_edit.hpp) of the seed policy
// $KOLLEKTIV_FUZZ_POLICY; the edited copy goes to load_policy_file() (policy_harness.hpp).
// Reaches the reader's and import's checks of sizes and values, past the HDF5 layer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/h5_edit.hpp"
#include "tests/fuzz/policy_harness.hpp"

using namespace kollektiv;

namespace {
std::string seed;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initialize();
  fuzz::initialize_policy_harness();
  seed = fuzz::read_bytes(fuzz::required_env("KOLLEKTIV_FUZZ_POLICY", "a policy.h5 written by the app"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/policy.h5";
  fuzz::write_bytes(path, seed.data(), seed.size());
  fuzz::apply_edits(path, data, size, false);
  fuzz::save_edited_if_requested(path);
  fuzz::load_policy_file(path);
  return 0;
}
