// Balanced contiguous block decomposition.
#include "solvers/comm/decomposition.hpp"

#include "solvers/core/error.hpp"

namespace kollektiv::comm {

Decomposition::Decomposition(std::int64_t global_count, int rank, int size)
    : global_count_(global_count), rank_(rank), size_(size) {
  require(global_count >= 0 && size > 0 && rank >= 0 && rank < size, "invalid decomposition");
}

Range Decomposition::range_of(int rank) const {
  const std::int64_t base = global_count_ / size_, extra = global_count_ % size_;
  const std::int64_t begin = rank * base + (rank < extra ? rank : extra);
  return Range{begin, begin + base + (rank < extra ? 1 : 0)};
}

int Decomposition::owner(std::int64_t gid) const {
  require(gid >= 0 && gid < global_count_, "global id out of range");
  const std::int64_t base = global_count_ / size_, extra = global_count_ % size_;
  const std::int64_t split = extra * (base + 1);  // ids below this are in the larger blocks
  if (gid < split) return static_cast<int>(gid / (base + 1));
  return static_cast<int>(extra + (gid - split) / base);
}

}  // namespace kollektiv::comm
