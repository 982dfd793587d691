// The node's available memory (Linux MemAvailable) per rank on it.
#include "app/memory.hpp"

#include <fstream>
#include <string>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::app {

namespace {

double node_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  double kib = 0;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024.0;
  }
  return 0.0;
}

}  // namespace

double memory_per_rank_bytes(MPI_Comm comm) {
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  const int on_node = comm::size_of(node);
  MPI_Comm_free(&node);
  const double share = node_available_bytes() / on_node;
  // The smallest share; a rank that cannot tell (0) makes it unknown everywhere.
  return -comm::allreduce_max(comm, -share);
}

}  // namespace kollektiv::app
