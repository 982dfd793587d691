// The files tests/fuzz found that once crashed or hung a reader, replayed through the
// production readers: each must now end in a clean kollektiv::Error with the documented
// exit code (a policy: bad input; a checkpoint: no valid checkpoint), within ctest's
// timeout. New reproducers dropped into tests/fuzz/regressions/<target>/ are picked up.
#include <gtest/gtest.h>
#include <mpi.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/deck.hpp"
#include "io/factory_checkpoint.hpp"
#include "io/policy_io.hpp"
#include "solvers/core/error.hpp"
#include "solvers/factory/factory.hpp"

namespace kollektiv::io {
namespace {

namespace fs = std::filesystem;

const std::string regressions = std::string(KOLLEKTIV_SOURCE_DIR) + "/tests/fuzz/regressions/";

std::vector<std::string> files_in(const std::string& target) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(regressions + target, ec))
    if (entry.path().extension() == ".h5") files.push_back(entry.path().string());
  return files;
}

TEST(UntrustedFiles, PolicyReproducersAreBadInput) {
  const std::vector<std::string> files = files_in("fuzz_policy");
  EXPECT_FALSE(files.empty());
  for (const std::string& file : files) {
    try {
      read_policy(MPI_COMM_SELF, file);
      ADD_FAILURE() << file << ": read without an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::bad_input) << file << ": " << e.what();
    }
  }
}

TEST(UntrustedFiles, CheckpointReproducersAreUnusable) {
  const std::vector<std::string> files = files_in("fuzz_checkpoint");
  EXPECT_FALSE(files.empty());
  const DeckResult parsed = parse_deck(read_file_from_disk(std::string(KOLLEKTIV_SOURCE_DIR) +
                                                           "/inputs/factory_multiline.yaml")
                                           .value_or(""),
                                       "factory_multiline.yaml");
  ASSERT_TRUE(parsed.deck.has_value());
  for (const std::string& file : files) {
    factory::Factory f(parsed.deck->factory, parsed.deck->run.seed, MPI_COMM_SELF);
    try {
      load_newest_valid(MPI_COMM_SELF, file, [&](CheckpointReader& r) -> CheckpointApply {
        auto snapshot = std::make_shared<FactorySnapshot>(read_factory_state(r, f));
        return [&f, snapshot] { f.restore(snapshot->time_s, snapshot->state); };
      });
      ADD_FAILURE() << file << ": restored without an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::bad_checkpoint) << file << ": " << e.what();
    }
    EXPECT_EQ(f.time_s(), 0.0) << file;
  }
}

}  // namespace
}  // namespace kollektiv::io
