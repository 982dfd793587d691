// The HDF5 file editor behind the structured fuzz targets (see h5_edit.hpp).
#include "tests/fuzz/h5_edit.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/hdf5_file.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace kollektiv::fuzz {

namespace {

namespace h5 = io::h5;

// $KOLLEKTIV_FUZZ_TRACE set: every applied edit is printed, to read a finding's input.
bool tracing() {
  static const bool on = std::getenv("KOLLEKTIV_FUZZ_TRACE") != nullptr;
  return on;
}


std::uint64_t load_le(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A numeric element type: class (integer/float), size 4 or 8, signedness.
struct Kind {
  bool is_float = false;
  bool is_signed = true;
  std::size_t size = 8;
};

std::string shown(const Kind& k, std::uint64_t bits) {
  if (k.is_float) {
    double d;
    if (k.size == 8) {
      std::memcpy(&d, &bits, 8);
    } else {
      float f;
      const std::uint32_t b = static_cast<std::uint32_t>(bits);
      std::memcpy(&f, &b, 4);
      d = f;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", d);
    return text;
  }
  if (k.size == 4) return std::to_string(static_cast<std::int32_t>(bits));
  return k.is_signed ? std::to_string(static_cast<std::int64_t>(bits)) : std::to_string(bits);
}

// The memory type that holds `kind` unconverted.
hid_t memory_type(const Kind& k) {
  if (k.is_float) return k.size == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
  if (k.size == 8) return k.is_signed ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
  return k.is_signed ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
}

// The kind of a stored type, or false if it is not a 4- or 8-byte number.
bool kind_of(hid_t type, Kind& k) {
  const H5T_class_t c = H5Tget_class(type);
  if (c != H5T_INTEGER && c != H5T_FLOAT) return false;
  k.is_float = (c == H5T_FLOAT);
  k.size = H5Tget_size(type);
  k.is_signed = k.is_float || H5Tget_sign(type) == H5T_SGN_2;
  return k.size == 4 || k.size == 8;
}

// Edge values, as the bits of an element of kind `k`.
std::uint64_t special_bits(const Kind& k, std::uint64_t choice) {
  if (k.is_float) {
    static const double table[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324, -5e-324, 1e300, -1e300,
                                   std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
                                   std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                                   std::numeric_limits<double>::quiet_NaN(), 9.2233720368547758e18, 4294967296.0,
                                   1e9, -1e9, 3600.0};
    const double v = table[choice % (sizeof(table) / sizeof(table[0]))];
    if (k.size == 4) {
      const float f = static_cast<float>(v);
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return bits;
    }
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return bits;
  }
  static const std::int64_t table[] = {0, 1, -1, 2, -2, 7, 8, 64, 255, 256, 65535, 65536,
                                       std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min(),
                                       std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
                                       std::numeric_limits<std::int64_t>::max() / 2, std::int64_t{1} << 40,
                                       (std::int64_t{1} << 40) - 1, std::int64_t{1} << 32};
  return static_cast<std::uint64_t>(table[choice % (sizeof(table) / sizeof(table[0]))]);
}

// `bits` plus a small signed delta, in the element's arithmetic.
std::uint64_t add_delta(const Kind& k, std::uint64_t bits, std::int16_t delta) {
  if (k.is_float) {
    if (k.size == 4) {
      float f;
      const std::uint32_t b = static_cast<std::uint32_t>(bits);
      std::memcpy(&f, &b, 4);
      f += static_cast<float>(delta) / 16.0f;
      std::uint32_t out;
      std::memcpy(&out, &f, 4);
      return out;
    }
    double d;
    std::memcpy(&d, &bits, 8);
    d += static_cast<double>(delta) / 16.0;
    std::memcpy(&bits, &d, 8);
    return bits;
  }
  return bits + static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));  // wraps, no UB
}

// One dataset's contents as raw elements.
struct Data {
  Kind kind;
  std::vector<unsigned char> bytes;
  std::size_t count() const { return bytes.size() / kind.size; }
  std::uint64_t get(std::size_t i) const {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes.data() + i * kind.size, kind.size);  // little-endian host
    return v;
  }
  void set(std::size_t i, std::uint64_t v) { std::memcpy(bytes.data() + i * kind.size, &v, kind.size); }
};

bool read_data(hid_t file, const std::string& name, Data& d) {
  h5::Handle set(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  if (!set.valid()) return false;
  h5::Handle type(H5Dget_type(set.get()));
  if (!type.valid() || !kind_of(type.get(), d.kind)) return false;
  const std::vector<hsize_t> dims = h5::dims_of(set.get());
  if (dims.size() != 1 || dims[0] > max_length * 4) return false;
  d.bytes.assign(dims[0] * d.kind.size, 0);
  if (dims[0] == 0) return true;
  return H5Dread(set.get(), memory_type(d.kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, d.bytes.data()) >= 0;
}

// Writes `d` over dataset `name`; recreates the dataset if its length changed (keeping
// the stored type and the checksum attribute's old value).
bool write_data(hid_t file, const std::string& name, const Data& d) {
  h5::Handle set(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  if (!set.valid()) return false;
  const std::vector<hsize_t> dims = h5::dims_of(set.get());
  const hsize_t n = d.count();
  if (dims.size() == 1 && dims[0] == n) {
    return n == 0 || H5Dwrite(set.get(), memory_type(d.kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, d.bytes.data()) >= 0;
  }
  h5::Handle type(H5Dget_type(set.get()));
  const bool had_checksum = h5::has_attribute(set.get(), "checksum");
  std::uint64_t checksum = 0;
  if (had_checksum) {
    try {
      checksum = h5::read_attribute_uint(set.get(), "checksum");
    } catch (const std::exception&) {
    }
  }
  set.close();
  if (H5Ldelete(file, name.c_str(), H5P_DEFAULT) < 0) return false;
  h5::Handle space(H5Screate_simple(1, &n, nullptr));
  h5::Handle created(H5Dcreate2(file, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!created.valid()) return false;
  if (n > 0 && H5Dwrite(created.get(), memory_type(d.kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, d.bytes.data()) < 0)
    return false;
  if (had_checksum) h5::write_attribute(created.get(), "checksum", checksum);
  return true;
}

herr_t collect_dataset(hid_t group, const char* name, const H5L_info_t* info, void* out) {
  if (info->type != H5L_TYPE_HARD) return 0;
  h5::Handle object(H5Oopen(group, name, H5P_DEFAULT));
  if (object.valid() && H5Iget_type(object.get()) == H5I_DATASET)
    static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

std::vector<std::string> dataset_names(hid_t file) {
  std::vector<std::string> names;
  H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names);
  std::sort(names.begin(), names.end());
  return names;
}

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

std::vector<std::string> attribute_names(hid_t object) {
  std::vector<std::string> names;
  hsize_t at = 0;
  H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &at, collect_attribute, &names);
  std::sort(names.begin(), names.end());
  return names;
}

// Reads or writes scalar numeric root attribute `name` as raw bits of its kind.
bool attribute_bits(hid_t file, const std::string& name, Kind& k, std::uint64_t& bits, bool write) {
  h5::Handle attr(H5Aopen(file, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) return false;
  h5::Handle type(H5Aget_type(attr.get()));
  h5::Handle space(H5Aget_space(attr.get()));
  if (!type.valid() || !kind_of(type.get(), k) || H5Sget_simple_extent_npoints(space.get()) != 1) return false;
  if (write) return H5Awrite(attr.get(), memory_type(k), &bits) >= 0;
  bits = 0;
  return H5Aread(attr.get(), memory_type(k), &bits) >= 0;
}

void rewrite_all_checksums(hid_t file) {
  for (const std::string& name : dataset_names(file)) {
    try {
      Data d;
      if (!read_data(file, name, d)) continue;
      const std::uint64_t hash =
          d.kind.size == 8 ? io::content_hash(reinterpret_cast<const std::uint64_t*>(d.bytes.data()), d.count(), 0)
                           : io::content_hash(reinterpret_cast<const std::int32_t*>(d.bytes.data()), d.count(), 0);
      h5::Handle set(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
      if (set.valid()) h5::write_attribute(set.get(), "checksum", hash);
    } catch (const std::exception&) {
      // left as it is: the reader meets a checksum mismatch
    }
  }
}

void apply_record(hid_t file, const std::uint8_t* rec) {
  const auto op = static_cast<EditOp>(rec[0] % 9);
  const std::uint8_t target = rec[1];
  const std::uint64_t index = load_le(rec + 2, 2);
  const std::uint64_t value = load_le(rec + 4, 8);
  const bool on_attribute = op >= EditOp::set_attribute;
  if (on_attribute) {
    const std::vector<std::string> names = attribute_names(file);
    if (names.empty()) return;
    const std::string& name = names[target % names.size()];
    if (op == EditOp::remove_attribute) {
      if (tracing()) std::fprintf(stderr, "edit: delete attribute %s\n", name.c_str());
      H5Adelete(file, name.c_str());
      return;
    }
    Kind k;
    std::uint64_t bits = 0;
    if (!attribute_bits(file, name, k, bits, false)) return;  // strings stay
    if (tracing()) std::fprintf(stderr, "edit: attribute %s: %s", name.c_str(), shown(k, bits).c_str());
    if (op == EditOp::set_attribute) bits = value;
    if (op == EditOp::special_attribute) bits = special_bits(k, value);
    if (op == EditOp::add_attribute) bits = add_delta(k, bits, static_cast<std::int16_t>(value));
    if (tracing()) std::fprintf(stderr, " -> %s\n", shown(k, bits).c_str());
    attribute_bits(file, name, k, bits, true);
    return;
  }
  const std::vector<std::string> names = dataset_names(file);
  if (names.empty()) return;
  const std::string& name = names[target % names.size()];
  if (op == EditOp::remove_dataset) {
    if (tracing()) std::fprintf(stderr, "edit: delete dataset %s\n", name.c_str());
    H5Ldelete(file, name.c_str(), H5P_DEFAULT);
    return;
  }
  Data d;
  if (!read_data(file, name, d)) return;
  if (op == EditOp::resize) {
    const std::uint64_t bound = std::min<std::uint64_t>(2 * d.count() + 16, max_length);
    if (tracing()) std::fprintf(stderr, "edit: %s: length %zu -> %llu\n", name.c_str(), d.count(),
                                static_cast<unsigned long long>(index % bound));
    d.bytes.resize((index % bound) * d.kind.size, 0);
  } else {
    if (d.count() == 0) return;
    const std::size_t i = index % d.count();
    if (tracing()) std::fprintf(stderr, "edit: %s[%zu]: %s", name.c_str(), i, shown(d.kind, d.get(i)).c_str());
    if (op == EditOp::set_bits) d.set(i, d.kind.size == 4 ? (value & 0xffffffffULL) : value);
    if (op == EditOp::add_delta) d.set(i, add_delta(d.kind, d.get(i), static_cast<std::int16_t>(value)));
    if (op == EditOp::set_special) d.set(i, special_bits(d.kind, value));
    if (tracing()) std::fprintf(stderr, " -> %s\n", shown(d.kind, d.get(i)).c_str());
  }
  write_data(file, name, d);
}

}  // namespace

void apply_edits(const std::string& path, const std::uint8_t* data, std::size_t size, bool rewrite_checksums) {
  h5::QuietErrors quiet;
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  if (!file.valid()) fail("cannot open the seed copy " + path + " for editing: " + h5::last_error());
  const std::size_t records = std::min(size / edit_record_bytes, max_edits);
  for (std::size_t r = 0; r < records; ++r) {
    try {
      apply_record(file.get(), data + r * edit_record_bytes);
    } catch (const std::exception&) {
      // an HDF5 helper refused this edit: skip it
    }
  }
  if (rewrite_checksums) rewrite_all_checksums(file.get());
  if (file.close() < 0) fail("cannot close the edited copy " + path + ": " + h5::last_error());
}

}  // namespace kollektiv::fuzz
