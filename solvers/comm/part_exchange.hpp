// PartExchange: the communication plan that moves factory messages (parts on a conveyor,
// freed buffer places) between neighbouring ranks. Built once from the neighbour list;
// each exchange() is one round of point-to-point messages with those neighbours only: one
// message per neighbour, empty if there is nothing to send, sized by a matched probe.
// Carried with a round when asked: one 16-byte allreduce that agrees on the earliest time
// anything is still pending anywhere (the global next-event time) and on the least of the
// ranks' fronts (the time every station has reached).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "solvers/comm/decomposition.hpp"

namespace kollektiv::comm {

// One message between stations. Plain data: sent as bytes between ranks of one build.
struct PartMessage {
  std::int64_t dest_gid = 0;     // station that receives it
  std::int32_t kind = 0;         // meaning is the factory's (part arrival, freed place, ...)
  std::int32_t reserved = 0;
  double time_s = 0.0;           // simulated time at which it takes effect
  std::int64_t part_id = -1;
  double entry_time_s = 0.0;     // when the part entered its line
};

class PartExchange {
 public:
  // `neighbours`: ranks this rank may send to and receive from; must be symmetric
  // (if a lists b then b lists a). Duplicates and this rank itself are dropped.
  PartExchange(MPI_Comm comm, const Decomposition& decomposition, std::vector<int> neighbours);

  // Sends each message in `outgoing` to the owner of its dest_gid (which must be a
  // neighbour) and returns what the neighbours sent, ordered by source rank and then by
  // the order the sender queued them. The result is valid until the next call.
  //
  // With `agree` (the same on every rank: then collective over the whole communicator),
  // `local_next_s` is this rank's earliest pending time not counting `outgoing` (its
  // stations' next events once local messages are delivered), and next_s() returns the
  // minimum over all ranks of it and of every rank's outgoing message times: nothing
  // anywhere happens before that time once the incoming messages are delivered; front_s()
  // returns the minimum over all ranks of `local_front_s`.
  const std::vector<PartMessage>& exchange(const std::vector<PartMessage>& outgoing, bool agree, double local_next_s,
                                           double local_front_s);
  double next_s() const { return least_[0]; }
  double front_s() const { return least_[1]; }
  bool alone() const { return alone_; }  // a one-rank communicator: agreeing costs nothing

  const std::vector<int>& neighbours() const { return neighbours_; }
  std::int64_t bytes_sent() const { return bytes_sent_; }

 private:
  void agree_on_next(bool agree);

  MPI_Comm comm_;
  Decomposition decomposition_;
  std::vector<int> neighbours_;
  std::vector<std::vector<PartMessage>> send_;
  std::vector<MPI_Message> probed_;
  std::vector<int> recv_bytes_;
  std::vector<MPI_Request> requests_;
  std::vector<PartMessage> incoming_;
  std::int64_t bytes_sent_ = 0;
  double least_[2] = {0.0, 0.0};  // next_s, front_s
  bool alone_ = true;  // one rank: no allreduce
};

}  // namespace kollektiv::comm
