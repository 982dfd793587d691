// Point-to-point exchange of factory messages with neighbouring ranks.
#include "solvers/comm/part_exchange.hpp"

#include <algorithm>
#include <string>

#include "solvers/core/error.hpp"

namespace kollektiv::comm {

namespace {
constexpr int tag_count = 7101;
constexpr int tag_data = 7102;
}  // namespace

PartExchange::PartExchange(MPI_Comm comm, const Decomposition& decomposition, std::vector<int> neighbours)
    : comm_(comm), decomposition_(decomposition) {
  std::sort(neighbours.begin(), neighbours.end());
  neighbours.erase(std::unique(neighbours.begin(), neighbours.end()), neighbours.end());
  for (int n : neighbours)
    if (n != decomposition.rank()) neighbours_.push_back(n);
  send_.resize(neighbours_.size());
  recv_counts_.resize(neighbours_.size());
  requests_.reserve(4 * neighbours_.size());
}

std::vector<PartMessage> PartExchange::exchange(const std::vector<PartMessage>& outgoing) {
  for (auto& s : send_) s.clear();
  for (const PartMessage& m : outgoing) {
    const int dest = decomposition_.owner(m.dest_gid);
    const auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), dest);
    if (it == neighbours_.end() || *it != dest)
      throw Error("part exchange: rank " + std::to_string(decomposition_.rank()) +
                  " has a message for station " + std::to_string(m.dest_gid) + " on rank " +
                  std::to_string(dest) + ", which is not a neighbour");
    send_[static_cast<std::size_t>(it - neighbours_.begin())].push_back(m);
  }
  const int n = static_cast<int>(neighbours_.size());
  if (n == 0) return {};

  // Round 1: counts. Round 2: payloads, received straight into place.
  std::vector<std::int64_t> send_counts(static_cast<std::size_t>(n));
  requests_.clear();
  for (int i = 0; i < n; ++i) {
    requests_.emplace_back();
    MPI_Irecv(&recv_counts_[i], 1, MPI_INT64_T, neighbours_[i], tag_count, comm_, &requests_.back());
  }
  for (int i = 0; i < n; ++i) {
    send_counts[i] = static_cast<std::int64_t>(send_[i].size());
    requests_.emplace_back();
    MPI_Isend(&send_counts[i], 1, MPI_INT64_T, neighbours_[i], tag_count, comm_, &requests_.back());
  }
  MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);

  std::int64_t total = 0;
  for (auto c : recv_counts_) total += c;
  std::vector<PartMessage> incoming(static_cast<std::size_t>(total));
  requests_.clear();
  std::int64_t offset = 0;
  const int bytes = static_cast<int>(sizeof(PartMessage));
  for (int i = 0; i < n; ++i) {
    if (recv_counts_[i] > 0) {
      requests_.emplace_back();
      MPI_Irecv(incoming.data() + offset, static_cast<int>(recv_counts_[i]) * bytes, MPI_BYTE,
                neighbours_[i], tag_data, comm_, &requests_.back());
    }
    offset += recv_counts_[i];
  }
  for (int i = 0; i < n; ++i) {
    if (send_counts[i] > 0) {
      requests_.emplace_back();
      MPI_Isend(send_[i].data(), static_cast<int>(send_counts[i]) * bytes, MPI_BYTE, neighbours_[i],
                tag_data, comm_, &requests_.back());
      bytes_sent_ += send_counts[i] * bytes;
    }
  }
  MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  return incoming;
}

}  // namespace kollektiv::comm
