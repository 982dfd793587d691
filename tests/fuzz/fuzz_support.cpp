// MPI/Kokkos start-up, files and failure reporting for the fuzz targets.
#include "tests/fuzz/fuzz_support.hpp"

#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace kollektiv::fuzz {

void initialize() {
  static bool done = false;
  if (done) return;
  done = true;
  // Singleton MPI as root (containers) and without Open MPI's own crash handlers, so that
  // a crash reaches ASan's and libFuzzer's handlers.
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  setenv("OMPI_MCA_opal_signal", "", 0);
  int argc = 0;
  char** argv = nullptr;
  int provided = MPI_THREAD_SINGLE;  // funneled, as the application (app/driver.cpp)
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  Kokkos::initialize();
  // Never finalised: libFuzzer leaves through exit() at the end of a run or after a crash.
  std::cerr.rdbuf(nullptr);  // badbit: the code under test writes nothing
}

std::string source_path(const std::string& relative) { return std::string(KOLLEKTIV_SOURCE_DIR) + "/" + relative; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void write_bytes(const std::string& path, const void* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail("cannot write " + path);
  const bool ok = (size == 0 || std::fwrite(data, 1, size, f) == size);
  if (std::fclose(f) != 0 || !ok) fail("cannot write " + path);
}

std::string required_env(const char* name, const char* what) {
  const char* value = std::getenv(name);
  if (!value || !*value) fail(std::string("set ") + name + " to " + what + " (tests/fuzz/run_fuzz.sh does)");
  return value;
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const std::string d = "/dev/shm/kollektiv-fuzz-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    if (ec) fail("cannot create " + d + ": " + ec.message());
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all("/dev/shm/kollektiv-fuzz-" + std::to_string(::getpid()), ignored);
    });
    return d;
  }();
  return dir;
}

void fail(const std::string& message) {
  std::fprintf(stderr, "kollektiv fuzz: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

void save_edited_if_requested(const std::string& path) {
  const char* to = std::getenv("KOLLEKTIV_FUZZ_SAVE_EDITED");
  if (!to || !*to) return;
  const std::string bytes = read_bytes(path);
  write_bytes(to, bytes.data(), bytes.size());
}

long open_hdf5_objects() { return static_cast<long>(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL)); }

void check_no_hdf5_leak(long baseline, const char* after) {
  const long open = open_hdf5_objects();
  if (open > baseline)
    fail(std::to_string(open - baseline) + " HDF5 object(s) left open after " + after);
}

}  // namespace kollektiv::fuzz
