// Exact allreduce of ExactSum limbs and global offsets.
#include "solvers/comm/exact_reduce.hpp"

#include "solvers/comm/collective.hpp"
#include "solvers/comm/collectives.hpp"

namespace kollektiv::comm {

void allreduce_exact(MPI_Comm comm, std::vector<ExactSum>& sums) {
  if (sums.empty()) return;
  std::vector<std::int64_t> buffer = exact_words(sums);
  allreduce_in_chunks(comm, buffer.data(), static_cast<std::int64_t>(buffer.size()), MPI_INT64_T, MPI_SUM);
  from_exact_words(buffer, sums);
}

double allreduce_exact(MPI_Comm comm, double local_value) {
  std::vector<ExactSum> sum{ExactSum(local_value)};
  allreduce_exact(comm, sum);
  return sum[0].to_double();
}

GlobalOffset exclusive_offset(MPI_Comm comm, std::int64_t local_count) {
  GlobalOffset result;
  MPI_Exscan(&local_count, &result.offset, 1, MPI_INT64_T, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) result.offset = 0;  // MPI_Exscan leaves rank 0's output undefined
  MPI_Allreduce(&local_count, &result.total, 1, MPI_INT64_T, MPI_SUM, comm);
  return result;
}

}  // namespace kollektiv::comm
