// Small collectives the solvers need, so that only solvers/comm calls MPI.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kollektiv::comm {

int rank_of(MPI_Comm comm);
int size_of(MPI_Comm comm);
// How many shared-memory nodes the ranks of `comm` run on. Collective.
int node_count(MPI_Comm comm);

// Concatenation of every rank's `local` in rank order, on `root` only (empty elsewhere).
std::vector<double> gather_to_root(MPI_Comm comm, const std::vector<double>& local, int root = 0);
std::vector<std::int64_t> gather_to_root(MPI_Comm comm, const std::vector<std::int64_t>& local, int root = 0);

// True on every rank if `flag` is true on any rank.
bool any_rank(MPI_Comm comm, bool flag);

// Integer sums and maxima, same on every rank.
std::int64_t allreduce_sum(MPI_Comm comm, std::int64_t value);
void allreduce_sum(MPI_Comm comm, std::vector<std::int64_t>& values);
double allreduce_max(MPI_Comm comm, double value);
void allreduce_max(MPI_Comm comm, std::vector<double>& values);  // element-wise
// Element-wise maxima and minima of int vectors of the same length on every rank.
void allreduce_max(MPI_Comm comm, std::vector<int>& values);
void allreduce_min(MPI_Comm comm, std::vector<int>& values);
void allreduce_min(MPI_Comm comm, std::vector<std::int64_t>& values);

// MPI counts are int: arrays of more elements than max_message_count() (2^30 unless a test
// lowers it) travel in several messages, so every helper here takes any 64-bit length.
std::int64_t max_message_count();
void set_max_message_count(std::int64_t count);  // for tests
// Element-wise allreduce of `n` elements of `type` in place, in chunks.
void allreduce_in_chunks(MPI_Comm comm, void* data, std::int64_t n, MPI_Datatype type, MPI_Op op);

// `text` from `root` on every rank.
std::string broadcast(MPI_Comm comm, const std::string& text, int root = 0);

// A problem found on some ranks, agreed on all: the non-empty `local` of the lowest rank
// that has one (with " (rank R)" appended when not every rank has one), or "" everywhere.
std::string first_problem(MPI_Comm comm, const std::string& local);

}  // namespace kollektiv::comm
