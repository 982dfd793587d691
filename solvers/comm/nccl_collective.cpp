// comm::Collective over NCCL; see nccl_collective.hpp.
#include "solvers/comm/nccl_collective.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <string>
#include <type_traits>

#include "solvers/core/error.hpp"

namespace kollektiv::comm {

namespace {

void check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw Error(std::string("NCCL ") + what + ": " + ncclGetErrorString(r));
}
void check(cudaError_t r, const char* what) {
  if (r != cudaSuccess) throw Error(std::string("CUDA ") + what + ": " + cudaGetErrorString(r));
}

template <class T>
ncclDataType_t datatype();
template <>
ncclDataType_t datatype<std::int64_t>() { return ncclInt64; }
template <>
ncclDataType_t datatype<int>() { return ncclInt32; }
template <>
ncclDataType_t datatype<double>() { return ncclFloat64; }

class NcclCollective final : public Collective {
 public:
  explicit NcclCollective(MPI_Comm comm) {
    MPI_Comm_rank(comm, &rank_);
    MPI_Comm_size(comm, &size_);
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm);
    check(cudaStreamCreate(&stream_), "cudaStreamCreate");
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }
  ~NcclCollective() override {
    ncclCommDestroy(comm_);
    if (scratch_ != nullptr) cudaFree(scratch_);
    cudaStreamDestroy(stream_);
  }
  NcclCollective(const NcclCollective&) = delete;
  NcclCollective& operator=(const NcclCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }

  void sum(View<std::int64_t*> values) override { reduce(values.data(), values.extent(0), ncclSum); }
  void max(View<int*> values) override { reduce(values.data(), values.extent(0), ncclMax); }
  void sum(std::vector<std::int64_t>& values) override { reduce_host(values, ncclSum); }
  void min(std::vector<int>& values) override { reduce_host(values, ncclMin); }
  void max(std::vector<int>& values) override { reduce_host(values, ncclMax); }

  void broadcast(View<Real*> values, int root) override {
    const Timed t(*this, rank_ == root ? bytes(values.extent(0) * sizeof(Real)) * (size_ - 1) : 0);
    check(ncclBroadcast(values.data(), values.data(), values.extent(0), datatype<Real>(), root, comm_, stream_),
          "ncclBroadcast");
    wait();
  }

  void exchange(const std::vector<Swap>& swaps) override {
    std::int64_t sent = 0;
    for (const Swap& s : swaps)
      if (s.peer != rank_) sent += bytes(s.send.extent(0) * sizeof(Real));
    const Timed t(*this, sent);
    check(ncclGroupStart(), "ncclGroupStart");
    for (const Swap& s : swaps) {
      if (s.recv.extent(0) != s.send.extent(0)) throw Error("comm::Collective::exchange: send and receive lengths differ");
      const std::size_t n = s.send.extent(0);
      if (s.peer == rank_) {
        check(cudaMemcpyAsync(s.recv.data(), s.send.data(), n * sizeof(Real), cudaMemcpyDeviceToDevice, stream_),
              "cudaMemcpyAsync");
        continue;
      }
      check(ncclSend(s.send.data(), n, datatype<Real>(), s.peer, comm_, stream_), "ncclSend");
      check(ncclRecv(s.recv.data(), n, datatype<Real>(), s.peer, comm_, stream_), "ncclRecv");
    }
    check(ncclGroupEnd(), "ncclGroupEnd");
    wait();
  }

 private:
  struct Timed {
    Timed(NcclCollective& c, std::int64_t sent) : self(c) {
      Kokkos::fence();  // the kernels that wrote the buffers ran on Kokkos' own stream
      self.traffic_.bytes_sent += sent;
      ++self.traffic_.operations;
    }
    ~Timed() {
      self.traffic_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    NcclCollective& self;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  };

  std::int64_t bytes(std::size_t n) const { return size_ > 1 ? static_cast<std::int64_t>(n) : 0; }
  void wait() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

  template <class T>
  void reduce(T* data, std::size_t n, ncclRedOp_t op) {
    const Timed t(*this, bytes(n * sizeof(T)));
    check(ncclAllReduce(data, data, n, datatype<T>(), op, comm_, stream_), "ncclAllReduce");
    wait();
  }
  template <class T>
  void reduce_host(std::vector<T>& values, ncclRedOp_t op) {
    const std::size_t n = values.size() * sizeof(T);
    if (n > scratch_bytes_) {
      if (scratch_ != nullptr) cudaFree(scratch_);
      scratch_ = nullptr;
      check(cudaMalloc(&scratch_, n), "cudaMalloc");
      scratch_bytes_ = n;
    }
    check(cudaMemcpyAsync(scratch_, values.data(), n, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
    reduce(static_cast<T*>(scratch_), values.size(), op);
    check(cudaMemcpyAsync(values.data(), scratch_, n, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
    wait();
  }

  int rank_ = 0, size_ = 1;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* scratch_ = nullptr;
  std::size_t scratch_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Collective> make_nccl_collective(MPI_Comm comm) {
  if (std::is_same<MemSpace, Kokkos::HostSpace>::value)
    throw Error(std::string("run.collective: nccl needs a CUDA build of Kokkos (device buffers); this build runs "
                            "kernels on ") + exec_space_name() + ", use run.collective: mpi",
                ExitCode::bad_input);
  return std::make_unique<NcclCollective>(comm);
}

}  // namespace kollektiv::comm
