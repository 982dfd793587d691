// Fuzz target: the input bytes are a policy file (seeds: files the app wrote), handed to
// load_policy_file() (policy_harness.hpp). Mostly exercises the HDF5 layer: metadata are
// checksummed, so most mutations end as "cannot open it as HDF5"; see fuzz_policy_edit.cpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/policy_harness.hpp"

using namespace kollektiv;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initialize();
  fuzz::initialize_policy_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/input.h5";
  fuzz::write_bytes(path, data, size);
  fuzz::load_policy_file(path);
  return 0;
}
