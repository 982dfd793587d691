// The policy reader as an evaluation run uses it: io::read_policy, then
// PpoLearner::import_policy into a learner whose layer widths are those of a seed policy,
// then one greedy and one exploring action on a fixed observation. Errors (kollektiv::Error
// with ExitCode::bad_input) are the expected outcome of a bad file; any other exception, a
// sanitizer report or an HDF5 object left open is a finding.
#pragma once

#include <string>

namespace kollektiv::fuzz {

// Reads the seed policy named by $KOLLEKTIV_FUZZ_POLICY for the learner's layer widths.
void initialize_policy_harness();

// Loads the policy file at `path` (see above).
void load_policy_file(const std::string& path);

}  // namespace kollektiv::fuzz
