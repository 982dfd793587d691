// Helpers shared by the io tests: per-process scratch directories (removed when every test
// passed, kept for inspection otherwise) and the exit code an Error carries.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::io::test {

inline std::vector<std::string>& scratch_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

class RemoveScratchDirs : public testing::Environment {
 public:
  void TearDown() override {
    if (comm::rank_of(MPI_COMM_WORLD) != 0 || !testing::UnitTest::GetInstance()->Passed()) return;
    for (const auto& dir : scratch_dirs()) std::filesystem::remove_all(dir);
  }
};
inline testing::Environment* const remove_scratch_dirs = testing::AddGlobalTestEnvironment(new RemoveScratchDirs);

// A fresh directory "kollektiv_test_<prefix>_<pid>_<name>" under the temporary directory,
// the same on every rank (rank 0 creates it).
inline std::string fresh_dir(const std::string& prefix, const std::string& name) {
  std::string dir;
  if (comm::rank_of(MPI_COMM_WORLD) == 0) {
    dir = (std::filesystem::temp_directory_path() /
           ("kollektiv_test_" + prefix + "_" + std::to_string(::getpid()) + "_" + name))
              .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    scratch_dirs().push_back(dir);
  }
  return comm::broadcast(MPI_COMM_WORLD, dir);
}

// The exit code of the Error that `f` throws (its message into *message), or ExitCode::ok.
inline ExitCode code_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return ExitCode::ok;
}

}  // namespace kollektiv::io::test
