// The factory restart as the app does it: io::load_newest_valid with the loader of
// app/factory_run.cpp (io::read_factory_state, then Factory::restore once the checksums are
// verified) on a factory built from inputs/factory_multiline.yaml, then 100 simulated
// seconds more and a KPI report, to find states that pass validation but break the
// simulation.
// Error(ExitCode::bad_checkpoint) is the expected outcome of a bad file; any other
// exception, a sanitizer report, a hang or an HDF5 object left open is a finding.
#pragma once

#include <string>

namespace kollektiv::fuzz {

// Parses inputs/factory_multiline.yaml.
void initialize_checkpoint_harness();

// Restores a fresh factory from the checkpoint file at `path` (see above).
void load_checkpoint_file(const std::string& path);

}  // namespace kollektiv::fuzz
