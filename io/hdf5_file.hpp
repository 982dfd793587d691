// Small RAII layer over the HDF5 C API: owned ids, error translation and the helpers
// (attributes, paths, native types) that checkpoint.cpp and history.cpp share.
// HDF5 failures become kollektiv::Error with the innermost message of HDF5's error stack;
// HDF5's own printing of that stack is switched off while a QuietErrors guard lives.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "solvers/core/error.hpp"

namespace kollektiv::io::h5 {

// Switches HDF5's automatic error printing off for its lifetime and restores it after.
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t saved_func_ = nullptr;
  void* saved_data_ = nullptr;
};

// One owned hid_t of any kind (file, group, dataset, dataspace, datatype, property list,
// attribute); closed with the close function that matches its kind. Move-only.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; a failure is returned (collective closes of parallel files can fail).
  herr_t close();
  void reset() noexcept { close(); }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// The innermost message of the current HDF5 error stack (empty if none); clears the stack.
std::string last_error();

// Throws Error(code, "what: <HDF5 message>") if `id` or `status` is negative.
hid_t check(hid_t id, const std::string& what, ExitCode code = ExitCode::failure);
void check_status(herr_t status, const std::string& what, ExitCode code = ExitCode::failure);

// check() that hands back ownership of the new id.
Handle checked(hid_t id, const std::string& what, ExitCode code = ExitCode::failure);

// HDF5 memory type of T, for T in {double, std::int64_t, std::uint64_t, std::int32_t}.
template <class T>
hid_t native_type();
template <> inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> inline hid_t native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> inline hid_t native_type<std::uint64_t>() { return H5T_NATIVE_UINT64; }
template <> inline hid_t native_type<std::int32_t>() { return H5T_NATIVE_INT32; }

// Whether the stored type of `dataset` holds T without conversion (same class, size, sign).
bool stored_as(hid_t dataset, hid_t memory_type);

// File access list for new and opened files: the 1.8 file format or newer, whose
// checksummed metadata turns a damaged file into an error instead of wrong data.
Handle file_access(bool mpio, MPI_Comm comm = MPI_COMM_NULL);

// Link creation list that creates missing intermediate groups ("factory/state").
Handle create_intermediate_groups();

// True if every component of the '/'-separated `path` exists below `location`.
bool path_exists(hid_t location, const std::string& path);
// A new dataset `path` below `location` (missing groups created) holding `values`: UTF-8
// variable-length strings [values.size()], or numbers of shape `dims` (row-major; the
// product of dims must be values.size()). Serial files and root-only writes.
void write_strings(hid_t location, const std::string& path, const std::vector<std::string>& values);
// A new dataset of `count` UTF-8 variable-length strings, written piece by piece (e.g. the
// names of 10^8 stations, never all in memory at once).
class StringsWriter {
 public:
  StringsWriter(hid_t location, const std::string& path, std::int64_t count);
  // Writes `values` as entries [first, first + values.size()).
  void write(std::int64_t first, const std::vector<std::string>& values);

 private:
  std::string path_;
  Handle type_, set_;
};
template <class T>
void write_array(hid_t location, const std::string& path, const std::vector<T>& values, const std::vector<hsize_t>& dims);
template <class T>
void write_array(hid_t location, const std::string& path, const std::vector<T>& values) {
  write_array(location, path, values, {static_cast<hsize_t>(values.size())});
}
// A new serial HDF5 file at `path`, filled by `fill(file)` under the name PATH.new and renamed
// into place once closed, so a reader never sees half a file (one process, no MPI).
void write_new_file(const std::string& path, const std::function<void(hid_t file)>& fill);

// Scalar attributes on `object`, replaced if present. Same value on every rank when the
// file is open in parallel (attribute writes are collective metadata operations).
void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, double value);
void write_attribute(hid_t object, const std::string& name, std::int64_t value);
void write_attribute(hid_t object, const std::string& name, std::uint64_t value);

bool has_attribute(hid_t object, const std::string& name);
// Strings are stored as fixed-length, NUL-terminated UTF-8 (in the attribute's checksummed
// storage); variable-length strings, which live in HDF5's unchecksummed global heap, are
// refused when read (Error(code)).
// Read a scalar attribute; fixed- or variable-length strings. Throw Error(code) if missing
// or not convertible.
std::string read_attribute_string(hid_t object, const std::string& name, ExitCode code = ExitCode::failure);
double read_attribute_double(hid_t object, const std::string& name, ExitCode code = ExitCode::failure);
std::int64_t read_attribute_int(hid_t object, const std::string& name, ExitCode code = ExitCode::failure);
std::uint64_t read_attribute_uint(hid_t object, const std::string& name, ExitCode code = ExitCode::failure);

// Extent of each dimension of `dataset`.
std::vector<hsize_t> dims_of(hid_t dataset);

// Files are untrusted input: Error(code, "WHAT declares N elements but the file holds B
// bytes of them") unless `elements` elements of `dataset` lie in storage the file `file`
// really holds (its allocated bytes, which cannot exceed the file's size). Checked before a
// reader allocates room for them, so a forged size cannot make it allocate beyond the file.
void check_stored(hid_t file, hid_t dataset, const std::string& what, std::int64_t elements, ExitCode code);

}  // namespace kollektiv::io::h5

namespace kollektiv::io {

// Makes a failure on some ranks a failure on all: throws, on every rank, the Error of the
// lowest failing rank (with its exit code, and its rank when not all ranks failed).
// `code` < 0 means this rank did not fail. Collective.
void agree(MPI_Comm comm, const std::string& message, int code);

// Runs `step` on every rank, then agree()s on whether it threw anywhere. `step` may end
// with a collective call that every rank reaches, but must not throw on some ranks before
// a collective call that the others then wait in.
template <class Step>
void collectively(MPI_Comm comm, Step&& step) {
  std::string message;
  int code = -1;
  try {
    step();
  } catch (const Error& e) {
    message = e.what();
    code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    message = e.what();
    code = static_cast<int>(ExitCode::failure);
  }
  agree(comm, message, code);
}

}  // namespace kollektiv::io
