// Policy import for the fuzz targets (see policy_harness.hpp).
#include "tests/fuzz/policy_harness.hpp"

#include <mpi.h>

#include <vector>

#include "io/policy_io.hpp"
#include "solvers/comm/collective.hpp"
#include "solvers/core/error.hpp"
#include "solvers/learning/ppo_learner.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace kollektiv::fuzz {

namespace {

learning::LearnerConfig learner_config;
long hdf5_baseline = 0;

}  // namespace

void initialize_policy_harness() {
  const std::string seed = required_env("KOLLEKTIV_FUZZ_POLICY", "a policy.h5 written by the app");
  const learning::PolicyExport policy = io::read_policy(MPI_COMM_SELF, seed, "");
  learner_config.obs_dim = policy.widths.front();
  learner_config.act_dim = policy.widths.back();
  learner_config.policy_hidden.assign(policy.widths.begin() + 1, policy.widths.end() - 1);
  learner_config.value_hidden = learner_config.policy_hidden;
  hdf5_baseline = open_hdf5_objects();
}

void load_policy_file(const std::string& path) {
  try {
    const learning::PolicyExport policy = io::read_policy(MPI_COMM_SELF, path, "");
    const auto local = comm::make_local_collective();
    learning::PpoLearner learner(learner_config, *local);
    learner.import_policy(policy);

    const int obs_dim = learner_config.obs_dim, act_dim = learner_config.act_dim;
    View<Real**> obs("fuzz::obs", 1, obs_dim), actions("fuzz::actions", 1, act_dim);
    View<Real*> log_prob("fuzz::log_prob", 1), value("fuzz::value", 1);
    View<std::int64_t*> gid("fuzz::gid", 1);
    Kokkos::deep_copy(obs, 0.5);
    for (const bool explore : {false, true})
      learner.act(obs, gid, 1, 0, explore, actions, log_prob, value);
    Kokkos::fence();
  } catch (const Error& e) {
    if (e.code() != ExitCode::bad_input)
      fail("a bad policy file gave exit code " + std::to_string(static_cast<int>(e.code())) + " instead of " +
           std::to_string(static_cast<int>(ExitCode::bad_input)) + ": " + e.what());
  }
  check_no_hdf5_leak(hdf5_baseline, "read_policy");
}

}  // namespace kollektiv::fuzz
