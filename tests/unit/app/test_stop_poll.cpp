// StopPoll: a signal seen by one rank is agreed on every rank, by poll() only at its
// paced collectives, by poll_now() at once (after a checkpoint write a signal came
// during). Its own binary: the signal flag, once raised, stays raised for the process.
#include <gtest/gtest.h>
#include <mpi.h>

#include <csignal>

#include "app/signals.hpp"
#include "solvers/comm/collectives.hpp"

namespace kollektiv::app {
namespace {

TEST(StopPoll, PollNowAgreesOnASignalThatPollsWouldSeeOnlyLater) {
  install_stop_signal_handlers();
  StopPoll stop(MPI_COMM_WORLD, 1000.0);  // a pace of one collective per 1000 s of calls
  EXPECT_FALSE(stop.poll());              // the first call agrees, and sets the pace
  if (comm::rank_of(MPI_COMM_WORLD) == 0) std::raise(SIGUSR1);
  EXPECT_EQ(stop_signal_received(), comm::rank_of(MPI_COMM_WORLD) == 0);
  for (int k = 0; k < 100; ++k) EXPECT_FALSE(stop.poll()) << "poll() agreed before its pace asked to";
  EXPECT_FALSE(stop.stopped());
  EXPECT_TRUE(stop.poll_now());  // every rank, although only rank 0 saw the signal
  EXPECT_TRUE(stop.stopped());
  EXPECT_TRUE(stop.poll());      // and it stays stopped, without further collectives
  EXPECT_TRUE(stop.poll_now());
  EXPECT_STREQ(stop_signal_name(), comm::rank_of(MPI_COMM_WORLD) == 0 ? "SIGUSR1" : "none");
}

}  // namespace
}  // namespace kollektiv::app
