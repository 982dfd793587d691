// What every kollektiv fuzz target shares: MPI (singleton) and Kokkos started once and never
// finalised, the project's input files, a private scratch folder for the input files the
// readers open, and the checks that turn a broken invariant into a crash libFuzzer keeps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kollektiv::fuzz {

// From LLVMFuzzerInitialize: MPI_Init (no mpirun needed) and Kokkos::initialize, once.
// Silences std::cerr (the readers' warnings would flood the fuzzer's log); sanitizer
// reports and fail() write to the stderr descriptor directly and still show.
void initialize();

// A file of the source tree, e.g. source_path("inputs/robots/planar2.yaml").
std::string source_path(const std::string& relative);

// The bytes of `path`; fail() if it cannot be read (a harness set-up error).
std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const void* data, std::size_t size);

// The value of environment variable `name`; fail() with `what` if it is unset.
std::string required_env(const char* name, const char* what);

// /dev/shm/kollektiv-fuzz-<pid>/ (created on first use): one folder per fuzzing process,
// so parallel jobs never share an input file.
const std::string& scratch_dir();

// Prints "kollektiv fuzz: <message>" and aborts: libFuzzer saves the input as a crash.
[[noreturn]] void fail(const std::string& message);

// With $KOLLEKTIV_FUZZ_SAVE_EDITED set, copies the edited file at `path` there: turns a
// finding of an edit target into a self-contained file for the raw-file target.
void save_edited_if_requested(const std::string& path);

// HDF5 objects (files, datasets, attributes, ...) open right now. A reader that returns or
// throws must leave none behind: a leaked file id keeps the file open, and HDF5 would then
// hand the stale open file to the next H5Fopen of the same path.
long open_hdf5_objects();
// fail() if more HDF5 objects are open than `baseline`.
void check_no_hdf5_leak(long baseline, const char* after);


}  // namespace kollektiv::fuzz
