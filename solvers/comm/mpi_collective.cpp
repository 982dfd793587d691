// comm::Collective over MPI; see mpi_collective.hpp.
#include "solvers/comm/mpi_collective.hpp"

#include <chrono>
#include <stdexcept>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::comm {

namespace {

template <class T>
MPI_Datatype datatype();
template <>
MPI_Datatype datatype<std::int64_t>() { return MPI_INT64_T; }
template <>
MPI_Datatype datatype<int>() { return MPI_INT; }
template <>
MPI_Datatype datatype<double>() { return MPI_DOUBLE; }

class MpiCollective final : public Collective {
 public:
  explicit MpiCollective(MPI_Comm comm) {
    MPI_Comm_dup(comm, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCollective() override { MPI_Comm_free(&comm_); }
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  void sum(View<std::int64_t*> values) override { reduce_view(values, MPI_SUM); }
  void max(View<int*> values) override { reduce_view(values, MPI_MAX); }
  void sum(std::vector<std::int64_t>& values) override { reduce(values.data(), values.size(), MPI_SUM); }
  void min(std::vector<int>& values) override { reduce(values.data(), values.size(), MPI_MIN); }
  void max(std::vector<int>& values) override { reduce(values.data(), values.size(), MPI_MAX); }

  void broadcast(View<Real*> values, int root) override {
    const Timed t(*this, rank_ == root ? bytes(values.extent(0), sizeof(Real)) * (size_ - 1) : 0);
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
    MPI_Bcast(host.data(), count(host.extent(0)), datatype<Real>(), root, comm_);
    Kokkos::deep_copy(values, host);
  }

  void exchange(const std::vector<Swap>& swaps) override {
    std::int64_t sent = 0;
    for (const Swap& s : swaps)
      if (s.peer != rank_) sent += bytes(s.send.extent(0), sizeof(Real));
    const Timed t(*this, sent);
    using Host = Kokkos::View<Real*, Kokkos::HostSpace>;
    std::vector<Host> out(swaps.size()), in(swaps.size());
    std::vector<MPI_Request> requests;
    requests.reserve(2 * swaps.size());
    for (std::size_t i = 0; i < swaps.size(); ++i) {
      const Swap& s = swaps[i];
      if (s.recv.extent(0) != s.send.extent(0))
        throw std::invalid_argument("comm::Collective::exchange: send and receive lengths differ");
      if (s.peer == rank_) {
        Kokkos::deep_copy(s.recv, s.send);
        continue;
      }
      out[i] = Host("comm::exchange_send", s.send.extent(0));
      in[i] = Host("comm::exchange_recv", s.recv.extent(0));
      Kokkos::deep_copy(out[i], s.send);
      // Tag 0 for every swap between two ranks: MPI keeps their order, and the peers post
      // their swaps in the same (caller-defined) order.
      requests.emplace_back();
      MPI_Irecv(in[i].data(), count(in[i].extent(0)), datatype<Real>(), s.peer, 0, comm_, &requests.back());
      requests.emplace_back();
      MPI_Isend(out[i].data(), count(out[i].extent(0)), datatype<Real>(), s.peer, 0, comm_, &requests.back());
    }
    MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
    for (std::size_t i = 0; i < swaps.size(); ++i)
      if (swaps[i].peer != rank_) Kokkos::deep_copy(swaps[i].recv, in[i]);
  }

 private:
  // Adds its scope's wall time and `sent` bytes to the traffic.
  struct Timed {
    Timed(MpiCollective& c, std::int64_t sent) : self(c) {
      self.traffic_.bytes_sent += sent;
      ++self.traffic_.operations;
    }
    ~Timed() {
      self.traffic_.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    MpiCollective& self;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  };

  static int count(std::size_t n) {
    if (n > static_cast<std::size_t>(INT32_MAX)) throw std::length_error("comm::Collective: more than 2^31 items");
    return static_cast<int>(n);
  }
  std::int64_t bytes(std::size_t n, std::size_t item) const {
    return size_ > 1 ? static_cast<std::int64_t>(n * item) : 0;
  }

  template <class T>
  void reduce(T* data, std::size_t n, MPI_Op op) {
    const Timed t(*this, bytes(n, sizeof(T)));
    allreduce_in_chunks(comm_, data, static_cast<std::int64_t>(n), datatype<T>(), op);
  }
  template <class T>
  void reduce_view(View<T*> values, MPI_Op op) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
    reduce(host.data(), host.extent(0), op);
    Kokkos::deep_copy(values, host);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<Collective> make_mpi_collective(MPI_Comm comm) { return std::make_unique<MpiCollective>(comm); }

}  // namespace kollektiv::comm
