// Decomposition: which contiguous range of global ids each rank owns. Pure arithmetic,
// no MPI, so every rank computes the same answer for every other rank.
#pragma once

#include <cstdint>

namespace kollektiv::comm {

struct Range {
  std::int64_t begin = 0;  // first global id owned
  std::int64_t end = 0;    // one past the last
  std::int64_t size() const { return end - begin; }
  bool contains(std::int64_t gid) const { return gid >= begin && gid < end; }
};

// Balanced contiguous blocks: the first (count % size) ranks own one item more.
class Decomposition {
 public:
  Decomposition(std::int64_t global_count, int rank, int size);

  std::int64_t global_count() const { return global_count_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  Range local() const { return range_of(rank_); }
  Range range_of(int rank) const;
  int owner(std::int64_t gid) const;

 private:
  std::int64_t global_count_;
  int rank_;
  int size_;
};

}  // namespace kollektiv::comm
