// The Collective helpers and the one-rank Collective; see collective.hpp.
#include "solvers/comm/collective.hpp"

#include <algorithm>
#include <stdexcept>

namespace kollektiv::comm {

bool any_rank(Collective& c, bool flag) {
  std::vector<int> v{flag ? 1 : 0};
  c.max(v);
  return v[0] != 0;
}

std::int64_t sum(Collective& c, std::int64_t value) {
  std::vector<std::int64_t> v{value};
  c.sum(v);
  return v[0];
}

std::vector<std::int64_t> exact_words(std::vector<ExactSum>& sums) {
  const int words = ExactSum::word_count;
  std::vector<std::int64_t> buffer(sums.size() * words);
  for (std::size_t i = 0; i < sums.size(); ++i) {
    sums[i].normalise();
    std::copy_n(sums[i].words(), words, buffer.begin() + static_cast<std::ptrdiff_t>(i * words));
  }
  return buffer;
}

void from_exact_words(const std::vector<std::int64_t>& buffer, std::vector<ExactSum>& sums) {
  const int words = ExactSum::word_count;
  for (std::size_t i = 0; i < sums.size(); ++i) {
    std::copy_n(buffer.begin() + static_cast<std::ptrdiff_t>(i * words), words, sums[i].words());
    sums[i].normalise();
  }
}

void sum_exact(Collective& c, std::vector<ExactSum>& sums) {
  if (sums.empty()) return;
  std::vector<std::int64_t> buffer = exact_words(sums);
  c.sum(buffer);
  from_exact_words(buffer, sums);
}

std::vector<std::int64_t> all_gather(Collective& c, const std::vector<std::int64_t>& local) {
  const std::size_t n = local.size();
  std::vector<std::int64_t> all(n * static_cast<std::size_t>(c.size()), 0);
  std::copy(local.begin(), local.end(), all.begin() + static_cast<std::ptrdiff_t>(n * c.rank()));
  c.sum(all);  // every other rank's slot is zero here
  return all;
}

namespace {

class LocalCollective final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* backend() const override { return "local"; }
  void sum(View<std::int64_t*>) override { ++traffic_.operations; }
  void max(View<int*>) override { ++traffic_.operations; }
  void sum(std::vector<std::int64_t>&) override { ++traffic_.operations; }
  void min(std::vector<int>&) override { ++traffic_.operations; }
  void max(std::vector<int>&) override { ++traffic_.operations; }
  void broadcast(View<Real*>, int root) override {
    if (root != 0) throw std::invalid_argument("comm::LocalCollective::broadcast: root must be 0");
    ++traffic_.operations;
  }
  void exchange(const std::vector<Swap>& swaps) override {
    for (const Swap& s : swaps) {
      if (s.peer != 0) throw std::invalid_argument("comm::LocalCollective::exchange: the only peer is rank 0");
      Kokkos::deep_copy(s.recv, s.send);
    }
    ++traffic_.operations;
  }
};

}  // namespace

std::unique_ptr<Collective> make_local_collective() { return std::make_unique<LocalCollective>(); }

}  // namespace kollektiv::comm
