// Thin, typed wrappers of the MPI collectives used outside solvers/comm.
#include "solvers/comm/collectives.hpp"

#include <algorithm>
#include <numeric>

namespace kollektiv::comm {

namespace {

std::int64_t g_max_message_count = std::int64_t{1} << 30;

std::size_t type_size(MPI_Datatype type) {
  int bytes = 0;
  MPI_Type_size(type, &bytes);
  return static_cast<std::size_t>(bytes);
}

// Each rank's `local` concatenated in rank order on `root`. Gatherv (int counts and
// displacements) when everything fits; otherwise every rank sends its part to the root in
// chunks of at most max_message_count elements, received in rank order.
template <class T>
std::vector<T> gather(MPI_Comm comm, const std::vector<T>& local, int root, MPI_Datatype type) {
  const int size = size_of(comm), rank = rank_of(comm);
  std::int64_t count = static_cast<std::int64_t>(local.size());
  std::vector<std::int64_t> counts(static_cast<std::size_t>(size));
  MPI_Allgather(&count, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, comm);
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  std::vector<T> all(rank == root ? static_cast<std::size_t>(total) : 0);
  const std::int64_t limit = max_message_count();
  if (total <= limit) {
    std::vector<int> counts_int(counts.begin(), counts.end()), displs(static_cast<std::size_t>(size));
    std::exclusive_scan(counts_int.begin(), counts_int.end(), displs.begin(), 0);
    MPI_Gatherv(local.data(), static_cast<int>(count), type, all.data(), counts_int.data(), displs.data(), type, root,
                comm);
    return all;
  }
  constexpr int tag = 7103;
  if (rank == root) {
    std::int64_t offset = 0;
    for (int r = 0; r < size; ++r) {
      const auto u = static_cast<std::size_t>(r);
      for (std::int64_t done = 0; done < counts[u]; done += limit) {
        const int n = static_cast<int>(std::min(limit, counts[u] - done));
        T* into = all.data() + offset + done;
        if (r == root) std::copy(local.data() + done, local.data() + done + n, into);
        else MPI_Recv(into, n, type, r, tag, comm, MPI_STATUS_IGNORE);
      }
      offset += counts[u];
    }
  } else {
    for (std::int64_t done = 0; done < count; done += limit)
      MPI_Send(local.data() + done, static_cast<int>(std::min(limit, count - done)), type, root, tag, comm);
  }
  return all;
}

}  // namespace

std::int64_t max_message_count() { return g_max_message_count; }
void set_max_message_count(std::int64_t count) { g_max_message_count = std::max<std::int64_t>(count, 1); }

void allreduce_in_chunks(MPI_Comm comm, void* data, std::int64_t n, MPI_Datatype type, MPI_Op op) {
  const std::size_t bytes = type_size(type);
  auto* p = static_cast<unsigned char*>(data);
  for (std::int64_t done = 0; done < n; done += max_message_count()) {
    const int chunk = static_cast<int>(std::min(max_message_count(), n - done));
    MPI_Allreduce(MPI_IN_PLACE, p + static_cast<std::size_t>(done) * bytes, chunk, type, op, comm);
  }
}

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
  allreduce_in_chunks(comm, values.data(), static_cast<std::int64_t>(values.size()), MPI_INT64_T, MPI_SUM);
}

void allreduce_max(MPI_Comm comm, std::vector<int>& values) {
  allreduce_in_chunks(comm, values.data(), static_cast<std::int64_t>(values.size()), MPI_INT, MPI_MAX);
}

void allreduce_min(MPI_Comm comm, std::vector<int>& values) {
  allreduce_in_chunks(comm, values.data(), static_cast<std::int64_t>(values.size()), MPI_INT, MPI_MIN);
}

void allreduce_min(MPI_Comm comm, std::vector<std::int64_t>& values) {
  allreduce_in_chunks(comm, values.data(), static_cast<std::int64_t>(values.size()), MPI_INT64_T, MPI_MIN);
}

double allreduce_max(MPI_Comm comm, double value) {
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, comm);
  return value;
}

void allreduce_max(MPI_Comm comm, std::vector<double>& values) {
  allreduce_in_chunks(comm, values.data(), static_cast<std::int64_t>(values.size()), MPI_DOUBLE, MPI_MAX);
}

std::string broadcast(MPI_Comm comm, const std::string& text, int root) {
  std::int64_t length = static_cast<std::int64_t>(text.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, root, comm);
  std::string out = rank_of(comm) == root ? text : std::string(static_cast<std::size_t>(length), '\0');
  for (std::int64_t done = 0; done < length; done += max_message_count())
    MPI_Bcast(out.data() + done, static_cast<int>(std::min(max_message_count(), length - done)), MPI_CHAR, root, comm);
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
