// One main for every gtest binary: MPI and Kokkos live for the whole run, and only rank 0
// prints gtest's report; the others print only their failed assertions, with their rank (a
// failure anywhere fails the test through the exit code).
#include <gtest/gtest.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "solvers/comm/mpi_collective.hpp"
#include "tests/test_collectives.hpp"
#ifdef KOLLEKTIV_HAVE_NCCL
#include "solvers/comm/nccl_collective.hpp"
#endif

namespace {

std::unique_ptr<kollektiv::comm::Collective> world_collective, self_collective;

// Prints a failed assertion of a rank other than 0 (whose report gtest prints).
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestStart(const ::testing::TestInfo& test) override {
    test_ = std::string(test.test_suite_name()) + "." + test.name();
  }
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::cerr << "rank " << rank_ << ": " << test_ << ": " << (result.file_name() ? result.file_name() : "") << ":"
              << result.line_number() << ": " << result.summary() << std::endl;
  }

 private:
  int rank_;
  std::string test_;
};

// world(): over MPI, or over NCCL where KOLLEKTIV_TEST_COLLECTIVE=nccl (a CUDA build with
// KOLLEKTIV_ENABLE_NCCL), so that the same test bodies check both implementations.
std::unique_ptr<kollektiv::comm::Collective> make_world() {
  const char* kind = std::getenv("KOLLEKTIV_TEST_COLLECTIVE");
  if (kind == nullptr || std::string(kind) == "mpi") return kollektiv::comm::make_mpi_collective(MPI_COMM_WORLD);
#ifdef KOLLEKTIV_HAVE_NCCL
  if (std::string(kind) == "nccl") return kollektiv::comm::make_nccl_collective(MPI_COMM_WORLD);
#endif
  std::cerr << "KOLLEKTIV_TEST_COLLECTIVE=" << kind << ": expected mpi"
#ifdef KOLLEKTIV_HAVE_NCCL
            << " or nccl"
#endif
            << std::endl;
  MPI_Abort(MPI_COMM_WORLD, 2);
  return nullptr;
}

}  // namespace

namespace kollektiv::testing {
comm::Collective& world() { return *world_collective; }
comm::Collective& self() { return *self_collective; }
}  // namespace kollektiv::testing

int main(int argc, char** argv) {
  int provided = MPI_THREAD_SINGLE;  // funneled, as the application (app/driver.cpp)
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  Kokkos::initialize(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  world_collective = make_world();
  self_collective = kollektiv::comm::make_local_collective();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(rank));
  }
  int failed = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  world_collective.reset();
  self_collective.reset();
  Kokkos::finalize();
  MPI_Finalize();
  return failed;
}
