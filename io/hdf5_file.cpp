// RAII ids, HDF5 error translation and attribute helpers shared by checkpoints and history.
#include "io/hdf5_file.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "solvers/comm/collectives.hpp"

namespace kollektiv::io::h5 {

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &saved_func_, &saved_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, saved_func_, saved_data_); }

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

herr_t Handle::close() {
  if (id_ < 0) return 0;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  switch (H5Iget_type(id)) {
    case H5I_FILE: return H5Fclose(id);
    case H5I_GROUP: return H5Gclose(id);
    case H5I_DATASET: return H5Dclose(id);
    case H5I_DATASPACE: return H5Sclose(id);
    case H5I_DATATYPE: return H5Tclose(id);
    case H5I_GENPROP_LST: return H5Pclose(id);
    case H5I_ATTR: return H5Aclose(id);
    default: return H5Idec_ref(id) < 0 ? -1 : 0;
  }
}

namespace {

// Walks upward from the innermost failure: the first entry is the most specific one.
herr_t take_innermost(unsigned n, const H5E_error2_t* entry, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n != 0) return 0;
  char minor[256] = {0};
  H5Eget_msg(entry->min_num, nullptr, minor, sizeof(minor));
  std::ostringstream text;
  text << (entry->desc ? entry->desc : "") << " [" << minor << " in " << (entry->func_name ? entry->func_name : "?")
       << "]";
  *out = text.str();
  return 0;
}

}  // namespace

std::string last_error() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

hid_t check(hid_t id, const std::string& what, ExitCode code) {
  if (id < 0) {
    const std::string detail = last_error();
    throw Error(what + (detail.empty() ? std::string() : ": " + detail), code);
  }
  return id;
}

void check_status(herr_t status, const std::string& what, ExitCode code) {
  if (status < 0) check(static_cast<hid_t>(-1), what, code);
}

Handle checked(hid_t id, const std::string& what, ExitCode code) { return Handle(check(id, what, code)); }

bool stored_as(hid_t dataset, hid_t memory_type) {
  Handle type = checked(H5Dget_type(dataset), "cannot get the type of a dataset");
  const H5T_class_t stored_class = H5Tget_class(type.get());
  if (stored_class != H5Tget_class(memory_type) || H5Tget_size(type.get()) != H5Tget_size(memory_type)) return false;
  if (stored_class == H5T_INTEGER && H5Tget_sign(type.get()) != H5Tget_sign(memory_type)) return false;
  return true;
}

Handle file_access(bool mpio, MPI_Comm comm) {
  Handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), "cannot create a file access property list");
  check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "cannot set the file format");
  if (mpio) {
    check_status(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "cannot select the MPI-IO driver");
    // Metadata writes at flush and close collective. Metadata reads stay independent, so
    // a query on some ranks only cannot hang the others.
    check_status(H5Pset_coll_metadata_write(fapl.get(), true), "cannot set collective metadata writes");
  }
  return fapl;
}

Handle create_intermediate_groups() {
  Handle lcpl = checked(H5Pcreate(H5P_LINK_CREATE), "cannot create a link creation property list");
  check_status(H5Pset_create_intermediate_group(lcpl.get(), 1), "cannot request intermediate groups");
  return lcpl;
}

bool path_exists(hid_t location, const std::string& path) {
  if (path.empty()) return false;
  std::string prefix;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      if (H5Lexists(location, prefix.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
      // Every component but the last must be a group for the next lookup to make sense.
      if (slash != std::string::npos && H5Oexists_by_name(location, prefix.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return !prefix.empty();
}

namespace {

Handle scalar_space() { return checked(H5Screate(H5S_SCALAR), "cannot create a scalar dataspace"); }

// Creates (or replaces) attribute `name` of type `file_type` and writes `data` as `memory_type`.
// The largest string attribute a reader takes (decks are far smaller).
constexpr std::size_t max_attribute_bytes = std::size_t{64} << 20;

void put_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t memory_type, const void* data) {
  if (H5Aexists(object, name.c_str()) > 0) {
    check_status(H5Adelete(object, name.c_str()), "cannot replace attribute '" + name + "'");
  }
  Handle space = scalar_space();
  Handle attribute = checked(H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                             "cannot create attribute '" + name + "'");
  check_status(H5Awrite(attribute.get(), memory_type, data), "cannot write attribute '" + name + "'");
}

Handle open_attribute(hid_t object, const std::string& name, ExitCode code) {
  if (H5Aexists(object, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error("attribute '" + name + "' is missing", code);
  }
  return checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), "cannot open attribute '" + name + "'", code);
}

template <class T>
T get_attribute(hid_t object, const std::string& name, hid_t memory_type, ExitCode code) {
  Handle attribute = open_attribute(object, name, code);
  Handle space = checked(H5Aget_space(attribute.get()), "cannot read attribute '" + name + "'", code);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw Error("attribute '" + name + "' is not a scalar", code);
  T value{};
  check_status(H5Aread(attribute.get(), memory_type, &value), "cannot read attribute '" + name + "' as a number", code);
  return value;
}

}  // namespace

namespace {

Handle utf8_string_type() {
  Handle type = checked(H5Tcopy(H5T_C_S1), "cannot create a string type");
  check_status(H5Tset_size(type.get(), H5T_VARIABLE), "cannot make a string type variable");
  check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot set a string's character set");
  return type;
}

}  // namespace

StringsWriter::StringsWriter(hid_t location, const std::string& path, std::int64_t count)
    : path_(path), type_(utf8_string_type()) {
  const hsize_t dims = static_cast<hsize_t>(count);
  Handle space = checked(H5Screate_simple(1, &dims, nullptr), "cannot create a dataspace");
  Handle lcpl = create_intermediate_groups();
  set_ = checked(H5Dcreate2(location, path.c_str(), type_.get(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                 "cannot create dataset '" + path + "'");
}

void StringsWriter::write(std::int64_t first, const std::vector<std::string>& values) {
  if (values.empty()) return;
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& v : values) pointers.push_back(v.c_str());
  Handle file_space = checked(H5Dget_space(set_.get()), "cannot get a dataspace");
  const hsize_t start = static_cast<hsize_t>(first), n = values.size();
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr),
               "cannot select entries of dataset '" + path_ + "'");
  Handle memory_space = checked(H5Screate_simple(1, &n, nullptr), "cannot create a dataspace");
  check_status(H5Dwrite(set_.get(), type_.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, pointers.data()),
               "cannot write dataset '" + path_ + "'");
}

void write_strings(hid_t location, const std::string& path, const std::vector<std::string>& values) {
  StringsWriter(location, path, static_cast<std::int64_t>(values.size())).write(0, values);
}

template <class T>
void write_array(hid_t location, const std::string& path, const std::vector<T>& values, const std::vector<hsize_t>& dims) {
  Handle space = checked(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "cannot create a dataspace");
  Handle lcpl = create_intermediate_groups();
  Handle set = checked(
      H5Dcreate2(location, path.c_str(), native_type<T>(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
      "cannot create dataset '" + path + "'");
  if (!values.empty())
    check_status(H5Dwrite(set.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                 "cannot write dataset '" + path + "'");
}
template void write_array<double>(hid_t, const std::string&, const std::vector<double>&, const std::vector<hsize_t>&);
template void write_array<std::int32_t>(hid_t, const std::string&, const std::vector<std::int32_t>&,
                                        const std::vector<hsize_t>&);
template void write_array<std::int64_t>(hid_t, const std::string&, const std::vector<std::int64_t>&,
                                        const std::vector<hsize_t>&);

void write_new_file(const std::string& path, const std::function<void(hid_t file)>& fill) {
  const std::string temporary = path + ".new";
  {
    Handle fapl = file_access(false);
    Handle file = checked(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                          "cannot create file '" + temporary + "'");
    fill(file.get());
    check_status(file.close(), "cannot close file '" + temporary + "'");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) throw Error("cannot rename '" + temporary + "' to '" + path + "': " + ec.message());
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  // Fixed-length, NUL-terminated UTF-8: the text lives in the attribute's own (checksummed)
  // storage. A variable-length string would live in the global heap, which has no checksum
  // and on which HDF5 1.10 hangs or reads out of bounds when it is damaged (found by
  // tests/fuzz); read_attribute_string refuses those.
  Handle type = checked(H5Tcopy(H5T_C_S1), "cannot create a string type");
  check_status(H5Tset_size(type.get(), value.size() + 1), "cannot size a string type");
  check_status(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), "cannot set a string's padding");
  check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "cannot set a string's character set");
  put_attribute(object, name, type.get(), type.get(), value.c_str());
}

void write_attribute(hid_t object, const std::string& name, double value) {
  put_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void write_attribute(hid_t object, const std::string& name, std::int64_t value) {
  put_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void write_attribute(hid_t object, const std::string& name, std::uint64_t value) {
  put_attribute(object, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value);
}

bool has_attribute(hid_t object, const std::string& name) {
  const htri_t exists = H5Aexists(object, name.c_str());
  if (exists < 0) H5Eclear2(H5E_DEFAULT);
  return exists > 0;
}

std::string read_attribute_string(hid_t object, const std::string& name, ExitCode code) {
  Handle attribute = open_attribute(object, name, code);
  Handle type = checked(H5Aget_type(attribute.get()), "cannot read attribute '" + name + "'", code);
  if (H5Tget_class(type.get()) != H5T_STRING) throw Error("attribute '" + name + "' is not a string", code);
  Handle space = checked(H5Aget_space(attribute.get()), "cannot read attribute '" + name + "'", code);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw Error("attribute '" + name + "' is not a scalar", code);
  if (H5Tis_variable_str(type.get()) != 0)
    throw Error("attribute '" + name + "' is a variable-length string (written by an older kollektiv), which this "
                    "build does not read: HDF5 keeps it in an unchecksummed heap on which it can hang or read out of "
                    "bounds when the file is damaged",
                code);
  // The declared size must lie in the attribute's storage (a damaged file cannot make the
  // reader allocate more than it holds).
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0 || size > H5Aget_storage_size(attribute.get()) || size > max_attribute_bytes)
    throw Error("attribute '" + name + "' declares " + std::to_string(size) + " bytes that its storage does not hold",
                code);
  std::string buffer(size, '\0');
  check_status(H5Aread(attribute.get(), type.get(), buffer.data()), "cannot read attribute '" + name + "'", code);
  const std::size_t end = buffer.find('\0');
  return end == std::string::npos ? buffer : buffer.substr(0, end);
}

double read_attribute_double(hid_t object, const std::string& name, ExitCode code) {
  return get_attribute<double>(object, name, H5T_NATIVE_DOUBLE, code);
}

std::int64_t read_attribute_int(hid_t object, const std::string& name, ExitCode code) {
  return get_attribute<std::int64_t>(object, name, H5T_NATIVE_INT64, code);
}

std::uint64_t read_attribute_uint(hid_t object, const std::string& name, ExitCode code) {
  return get_attribute<std::uint64_t>(object, name, H5T_NATIVE_UINT64, code);
}

std::vector<hsize_t> dims_of(hid_t dataset) {
  Handle space = checked(H5Dget_space(dataset), "cannot get a dataset's dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) check(-1, "cannot get a dataset's rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

void check_stored(hid_t file, hid_t dataset, const std::string& what, std::int64_t elements, ExitCode code) {
  if (elements <= 0) return;
  Handle type = checked(H5Dget_type(dataset), "cannot get the element type of " + what, code);
  const std::uint64_t element_size = H5Tget_size(type.get());
  hsize_t file_size = 0;
  check_status(H5Fget_filesize(file, &file_size), "cannot get the file size", code);
  const std::uint64_t stored = H5Dget_storage_size(dataset);
  std::uint64_t declared = 0;
  if (element_size == 0 || __builtin_mul_overflow(static_cast<std::uint64_t>(elements), element_size, &declared) ||
      declared > stored || stored > file_size) {
    throw Error(what + " declares " + std::to_string(elements) + " elements but the file holds " +
                    std::to_string(std::min<std::uint64_t>(stored, file_size)) + " bytes of them",
                code);
  }
}

}  // namespace kollektiv::io::h5

namespace kollektiv::io {

void agree(MPI_Comm comm, const std::string& message, int code) {
  // The lowest failing rank's "CODE:MESSAGE" (never empty on a failing rank), on every rank.
  const std::string first =
      comm::first_problem(comm, code >= 0 ? std::to_string(code) + ":" + message : std::string());
  if (first.empty()) return;
  const std::size_t colon = first.find(':');
  throw Error(first.substr(colon + 1), static_cast<ExitCode>(std::stoi(first.substr(0, colon))));
}

}  // namespace kollektiv::io
