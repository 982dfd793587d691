// Point-to-point exchange of factory messages with neighbouring ranks.
#include "solvers/comm/part_exchange.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "solvers/core/error.hpp"

namespace kollektiv::comm {

namespace {
constexpr int tag_data = 7102;
}  // namespace

PartExchange::PartExchange(MPI_Comm comm, const Decomposition& decomposition, std::vector<int> neighbours)
    : comm_(comm), decomposition_(decomposition) {
  std::sort(neighbours.begin(), neighbours.end());
  neighbours.erase(std::unique(neighbours.begin(), neighbours.end()), neighbours.end());
  for (int n : neighbours)
    if (n != decomposition.rank()) neighbours_.push_back(n);
  int size = 1;
  MPI_Comm_size(comm, &size);
  alone_ = size == 1;
  send_.resize(neighbours_.size());
  probed_.resize(neighbours_.size());
  recv_bytes_.resize(neighbours_.size());
  requests_.reserve(neighbours_.size());
}

const std::vector<PartMessage>& PartExchange::exchange(const std::vector<PartMessage>& outgoing, bool agree,
                                                      double local_next_s, double local_front_s) {
  for (auto& s : send_) s.clear();
  least_[0] = local_next_s;
  least_[1] = local_front_s;
  for (const PartMessage& m : outgoing) {
    least_[0] = std::min(least_[0], m.time_s);
    const int dest = decomposition_.owner(m.dest_gid);
    const auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), dest);
    if (it == neighbours_.end() || *it != dest)
      throw Error("part exchange: rank " + std::to_string(decomposition_.rank()) +
                  " has a message for station " + std::to_string(m.dest_gid) + " on rank " +
                  std::to_string(dest) + ", which is not a neighbour");
    send_[static_cast<std::size_t>(it - neighbours_.begin())].push_back(m);
  }

  incoming_.clear();
  const int n = static_cast<int>(neighbours_.size());
  if (n == 0) {
    agree_on_next(agree);
    return incoming_;
  }

  // One round: every neighbour gets exactly one message per call (possibly empty), and a
  // matched probe gives its size. Messages between two ranks with one tag and
  // communicator are not overtaken, so the k-th call on each side pairs up.
  const int bytes = static_cast<int>(sizeof(PartMessage));
  requests_.clear();
  for (int i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    // One message per neighbour and window: its byte count is an int.
    if (send_[u].size() > static_cast<std::size_t>(INT32_MAX / bytes))
      throw Error("part exchange: " + std::to_string(send_[u].size()) + " messages for rank " +
                  std::to_string(neighbours_[u]) + " in one window, more than one MPI message holds (" +
                  std::to_string(INT32_MAX / bytes) + ")");
    requests_.emplace_back();
    MPI_Isend(send_[u].data(), static_cast<int>(send_[u].size()) * bytes, MPI_BYTE, neighbours_[u], tag_data, comm_,
              &requests_.back());
    bytes_sent_ += static_cast<std::int64_t>(send_[u].size()) * bytes;
  }
  std::size_t total = 0;
  for (int i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    MPI_Status status;
    MPI_Mprobe(neighbours_[u], tag_data, comm_, &probed_[u], &status);
    MPI_Get_count(&status, MPI_BYTE, &recv_bytes_[u]);
    total += static_cast<std::size_t>(recv_bytes_[u] / bytes);
  }
  incoming_.resize(total);
  std::size_t offset = 0;
  for (int i = 0; i < n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    MPI_Mrecv(incoming_.data() + offset, recv_bytes_[u], MPI_BYTE, &probed_[u], MPI_STATUS_IGNORE);
    offset += static_cast<std::size_t>(recv_bytes_[u] / bytes);
  }
  MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  agree_on_next(agree);
  return incoming_;
}

void PartExchange::agree_on_next(bool agree) {
  // The minima are exact in any reduction order, so every rank gets the same times. A blocking
  // allreduce after the round: Open MPI's non-blocking one started before it and waited for
  // after was 2.5x slower per window on the sparse benchmark deck (2 ranks, shared memory).
  if (agree && !alone_) MPI_Allreduce(MPI_IN_PLACE, least_, 2, MPI_DOUBLE, MPI_MIN, comm_);
}

}  // namespace kollektiv::comm
