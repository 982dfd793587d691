// Exact allreduce of ExactSum limbs and global offsets.
#include "solvers/comm/exact_reduce.hpp"

#include <algorithm>

namespace kollektiv::comm {

void allreduce_exact(MPI_Comm comm, std::vector<ExactSum>& sums) {
  if (sums.empty()) return;
  const int words = ExactSum::word_count;
  std::vector<std::int64_t> buffer(sums.size() * words);
  for (std::size_t i = 0; i < sums.size(); ++i) {
    sums[i].normalise();  // every limb below 2^32: the MPI sum of limbs cannot overflow
    std::copy_n(sums[i].words(), words, buffer.begin() + static_cast<std::ptrdiff_t>(i * words));
  }
  MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(buffer.size()), MPI_INT64_T, MPI_SUM, comm);
  for (std::size_t i = 0; i < sums.size(); ++i) {
    std::copy_n(buffer.begin() + static_cast<std::ptrdiff_t>(i * words), words, sums[i].words());
    sums[i].normalise();
  }
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
