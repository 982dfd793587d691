// Thin, typed wrappers of the MPI collectives used outside solvers/comm.
#include "solvers/comm/collectives.hpp"

#include <numeric>

namespace kollektiv::comm {

namespace {
template <class T>
std::vector<T> gather(MPI_Comm comm, const std::vector<T>& local, int root, MPI_Datatype type) {
  const int size = size_of(comm), rank = rank_of(comm);
  int count = static_cast<int>(local.size());
  std::vector<int> counts(rank == root ? size : 0), displs(rank == root ? size : 0);
  MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm);
  std::vector<T> all;
  if (rank == root) {
    std::exclusive_scan(counts.begin(), counts.end(), displs.begin(), 0);
    all.resize(static_cast<std::size_t>(displs.back() + counts.back()));
  }
  MPI_Gatherv(local.data(), count, type, all.data(), counts.data(), displs.data(), type, root, comm);
  return all;
}
}  // namespace

int rank_of(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

int size_of(MPI_Comm comm) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  return size;
}

int node_count(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank_of(comm), MPI_INFO_NULL, &node);
  const bool leader = rank_of(node) == 0;
  MPI_Comm_free(&node);
  return static_cast<int>(allreduce_sum(comm, leader ? 1 : 0));
}

std::vector<double> gather_to_root(MPI_Comm comm, const std::vector<double>& local, int root) {
  return gather(comm, local, root, MPI_DOUBLE);
}

std::vector<std::int64_t> gather_to_root(MPI_Comm comm, const std::vector<std::int64_t>& local, int root) {
  return gather(comm, local, root, MPI_INT64_T);
}

bool any_rank(MPI_Comm comm, bool flag) {
  int value = flag ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_LOR, comm);
  return value != 0;
}

std::int64_t allreduce_sum(MPI_Comm comm, std::int64_t value) {
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, MPI_SUM, comm);
  return value;
}

void allreduce_sum(MPI_Comm comm, std::vector<std::int64_t>& values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, comm);
}

void allreduce_max(MPI_Comm comm, std::vector<int>& values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT, MPI_MAX, comm);
}

void allreduce_min(MPI_Comm comm, std::vector<int>& values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT, MPI_MIN, comm);
}

double allreduce_max(MPI_Comm comm, double value) {
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, comm);
  return value;
}

void allreduce_max(MPI_Comm comm, std::vector<double>& values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MAX, comm);
}

std::string broadcast(MPI_Comm comm, const std::string& text, int root) {
  std::int64_t length = static_cast<std::int64_t>(text.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, root, comm);
  std::string out = rank_of(comm) == root ? text : std::string(static_cast<std::size_t>(length), '\0');
  MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, root, comm);
  return out;
}

std::string first_problem(MPI_Comm comm, const std::string& local) {
  const int size = size_of(comm);
  int first[2] = {local.empty() ? size : rank_of(comm), local.empty() ? 0 : 1};  // lowest rank, how many
  MPI_Allreduce(MPI_IN_PLACE, &first[0], 1, MPI_INT, MPI_MIN, comm);
  MPI_Allreduce(MPI_IN_PLACE, &first[1], 1, MPI_INT, MPI_SUM, comm);
  if (first[0] == size) return std::string();
  std::string text = broadcast(comm, local, first[0]);
  if (first[1] < size) text += " (rank " + std::to_string(first[0]) + ")";
  return text;
}

}  // namespace kollektiv::comm
