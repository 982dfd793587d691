// Fuzz target: the input bytes are a checkpoint file (seeds: files the app wrote), handed to
// load_checkpoint_file() (checkpoint_harness.hpp). Mostly exercises the HDF5 layer: metadata are
// checksummed, so most mutations end as "cannot open it as HDF5"; see fuzz_checkpoint_edit.cpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/checkpoint_harness.hpp"

using namespace kollektiv;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initialize();
  fuzz::initialize_checkpoint_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/input.h5";
  fuzz::write_bytes(path, data, size);
  fuzz::load_checkpoint_file(path);
  return 0;
}
