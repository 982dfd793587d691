// Parallel, atomic, checksummed checkpoints (see checkpoint.hpp for the file layout).
#include "io/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iomanip>
#include <iostream>
#include <new>
#include <optional>
#include <sstream>
#include <system_error>

#include "build_info.hpp"
#include "io/durable.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/comm/exact_reduce.hpp"

namespace kollektiv::io {

namespace fs = std::filesystem;

namespace {

constexpr ExitCode bad = ExitCode::bad_checkpoint;

// splitmix64's finaliser: a bijective 64-bit mixer with full avalanche.
std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Hash of one element from its global index and its bit pattern (4- or 8-byte types).
std::uint64_t element_hash(std::int64_t index, std::uint64_t bits) {
  return mix64(bits ^ mix64(static_cast<std::uint64_t>(index) + 0x9e3779b97f4a7c15ULL));
}

// content_hash over raw elements of `element_size` bytes: what verify() uses on data read
// back without knowing the caller's T. Equal to content_hash<T> for T of that size.
// GCC vectorises the loop at the full vector width here (the build's default stops at 256
// bits): with AVX-512, eight elements per multiply, 1.5x the hash rate.
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512DQ__)
__attribute__((target("prefer-vector-width=512")))
#endif
std::uint64_t raw_hash(const unsigned char* data, std::size_t element_size, std::size_t count,
                       std::int64_t first_index) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t bits = 0;
    if (element_size == 8) {
      std::memcpy(&bits, data + i * 8, 8);
    } else {
      std::uint32_t narrow = 0;
      std::memcpy(&narrow, data + i * 4, 4);
      bits = narrow;
    }
    sum += element_hash(first_index + static_cast<std::int64_t>(i), bits);
  }
  return sum;
}

std::uint64_t allreduce_hash(MPI_Comm comm, std::uint64_t local) {
  MPI_Allreduce(MPI_IN_PLACE, &local, 1, MPI_UINT64_T, MPI_SUM, comm);  // wraps mod 2^64
  return local;
}

// Sequence number of "ckpt_<digits>.h5" (or of its .tmp when `tmp`), else nothing.
std::optional<std::int64_t> sequence_of(const std::string& name, bool tmp = false) {
  const std::string prefix = "ckpt_", suffix = tmp ? ".h5.tmp" : ".h5";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

void rename_or_throw(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw Error("cannot rename " + from + " to " + to + ": " + ec.message());
}

// One element range [offset, offset + count) of a 1-D dataset, as file and memory spaces.
struct Selection {
  h5::Handle file_space;
  h5::Handle memory_space;
};

Selection select_range(hid_t dataset, std::int64_t offset, std::int64_t count) {
  Selection s;
  s.file_space = h5::checked(H5Dget_space(dataset), "cannot get a dataspace");
  const hsize_t start = static_cast<hsize_t>(offset), n = static_cast<hsize_t>(count);
  const hsize_t memory_dims = std::max<hsize_t>(n, 1);
  s.memory_space = h5::checked(H5Screate_simple(1, &memory_dims, nullptr), "cannot create a dataspace");
  if (count > 0) {
    h5::check_status(H5Sselect_hyperslab(s.file_space.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr),
                     "cannot select a hyperslab");
  } else {
    // A rank with nothing to move still takes part in the collective transfer.
    h5::check_status(H5Sselect_none(s.file_space.get()), "cannot select nothing");
    h5::check_status(H5Sselect_none(s.memory_space.get()), "cannot select nothing");
  }
  return s;
}

h5::Handle collective_transfer() {
  h5::Handle dxpl = h5::checked(H5Pcreate(H5P_DATASET_XFER), "cannot create a transfer property list");
  h5::check_status(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "cannot request collective transfers");
  return dxpl;
}

// Raw-data writes go independent: every rank writes one contiguous hyperslab straight
// from its own buffer, where a collective transfer would first shuffle the
// data through MPI-IO's two-phase aggregation buffers (measured: 2x slower at 2 ranks).
// Metadata stay collective (see h5::file_access), and callers agree on errors anyway.
h5::Handle independent_transfer() {
  h5::Handle dxpl = h5::checked(H5Pcreate(H5P_DATASET_XFER), "cannot create a transfer property list");
  h5::check_status(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_INDEPENDENT), "cannot request independent transfers");
  return dxpl;
}

// Runs `body`, prefixing any Error with "checkpoint FILE: " (errors are already agreed).
template <class Body>
auto in_file(const std::string& file, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    throw Error("checkpoint " + file + ": " + e.what(), e.code());
  }
}

// `v` resized to `count` elements; a failure to allocate is the checkpoint's fault.
template <class T>
void allocate(std::vector<T>& v, std::int64_t count, const std::string& path) {
  try {
    v.resize(static_cast<std::size_t>(count));
  } catch (const std::bad_alloc&) {
    throw Error("cannot allocate " + std::to_string(count) + " elements for dataset '" + path + "'", bad);
  }
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace

std::string checkpoint_file_name(std::int64_t sequence) {
  std::ostringstream name;
  name << "ckpt_" << std::setw(8) << std::setfill('0') << sequence << ".h5";
  return name.str();
}

template <class T>
std::uint64_t content_hash(const T* data, std::size_t count, std::int64_t first_index) {
  static_assert(sizeof(T) == 8 || sizeof(T) == 4, "checkpoint elements are 4 or 8 bytes");
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  // A sum, so any split gives the same value: from 8 MiB on, a second thread hashes the
  // second half (a rank packing a checkpoint has a core to spare wherever there are fewer
  // ranks than cores; on 1 rank of 2 cores the 156 MB checkpoint is written 9 % faster).
  // Without a thread to be had, all of it here.
  if (count * sizeof(T) >= (std::size_t{8} << 20)) {
    const std::size_t half = count / 2;
    try {
      auto second = std::async(std::launch::async, [=] {
        return raw_hash(bytes + half * sizeof(T), sizeof(T), count - half, first_index + static_cast<std::int64_t>(half));
      });
      const std::uint64_t first = raw_hash(bytes, sizeof(T), half, first_index);
      return first + second.get();
    } catch (const std::system_error&) {  // from std::async only: raw_hash does not throw
    }
  }
  return raw_hash(bytes, sizeof(T), count, first_index);
}

// ---------------------------------------------------------------------------------------
// CheckpointWriter

CheckpointWriter::CheckpointWriter(MPI_Comm comm, const std::string& checkpoint_dir, std::int64_t sequence)
    : comm_(comm), dir_(checkpoint_dir), sequence_(sequence) {
  h5::QuietErrors quiet;
  final_path_ = (fs::path(dir_) / checkpoint_file_name(sequence_)).string();
  tmp_path_ = final_path_ + ".tmp";
  collectively(comm_, [&] {
    require(sequence_ >= 0, "checkpoint sequence numbers are >= 0, got " + std::to_string(sequence_));
    if (comm::rank_of(comm_) == 0) {
      std::error_code ec;
      fs::create_directories(dir_, ec);
      if (ec) throw Error("cannot create checkpoint directory " + dir_ + ": " + ec.message());
    }
  });
  collectively(comm_, [&] {
    h5::Handle fapl = h5::file_access(true, comm_);
    file_ = h5::checked(H5Fcreate(tmp_path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                        "cannot create checkpoint file " + tmp_path_);
  });
  collectively(comm_, [&] {
    h5::write_attribute(file_.get(), "format", std::string(checkpoint_format));
    h5::write_attribute(file_.get(), "format_version", checkpoint_format_version);
    h5::write_attribute(file_.get(), "sequence", sequence_);
    h5::write_attribute(file_.get(), "ranks_written", static_cast<std::int64_t>(comm::size_of(comm_)));
    h5::write_attribute(file_.get(), "build_info", std::string(build_info::summary));
  });
  writeback_fd_ = ::open(tmp_path_.c_str(), O_RDONLY | O_CLOEXEC);  // a hint only: -1 is fine
}

void CheckpointWriter::start_writeback(hid_t dataset, std::int64_t first_byte, std::int64_t bytes) {
#ifdef __linux__
  if (writeback_fd_ < 0 || bytes < (std::int64_t{1} << 20)) return;  // small ones: leave to the fsync
  const haddr_t address = H5Dget_offset(dataset);  // contiguous and allocated early, so defined
  if (address == HADDR_UNDEF) return;
  // Asynchronous (SYNC_FILE_RANGE_WRITE only queues the dirty pages); failures are harmless,
  // commit()'s fsync is what makes the checkpoint durable.
  (void)::sync_file_range(writeback_fd_, static_cast<off_t>(address) + first_byte, bytes, SYNC_FILE_RANGE_WRITE);
#else
  (void)dataset;
  (void)first_byte;
  (void)bytes;
#endif
}

void CheckpointWriter::close_writeback() {
  if (writeback_fd_ >= 0) ::close(writeback_fd_);
  writeback_fd_ = -1;
}

CheckpointWriter::~CheckpointWriter() {
  close_writeback();
  if (!file_.valid()) return;
  // Not committed (an error unwound past us on every rank): drop the partial file, its
  // datasets closed first.
  h5::QuietErrors quiet;
  open_.clear();
  file_.close();
  if (comm::rank_of(comm_) == 0) {
    std::error_code ec;
    fs::remove(tmp_path_, ec);
  }
}

void CheckpointWriter::attribute(const std::string& name, const std::string& value) {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    require(file_.valid(), "checkpoint " + final_path_ + " is already committed");
    h5::write_attribute(file_.get(), name, value);
  });
}

void CheckpointWriter::attribute(const std::string& name, double value) {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    require(file_.valid(), "checkpoint " + final_path_ + " is already committed");
    h5::write_attribute(file_.get(), name, value);
  });
}

void CheckpointWriter::attribute(const std::string& name, std::int64_t value) {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    require(file_.valid(), "checkpoint " + final_path_ + " is already committed");
    h5::write_attribute(file_.get(), name, value);
  });
}

template <class T>
int CheckpointWriter::begin_dataset(const std::string& path, std::int64_t global_size, std::int64_t offset,
                                    std::int64_t count) {
  h5::QuietErrors quiet;
  const int size = comm::size_of(comm_);
  // Every rank sees every range, so every rank reaches the same verdict.
  std::int64_t mine[3] = {offset, count, global_size};
  std::vector<std::int64_t> all(3 * static_cast<std::size_t>(size));
  MPI_Allgather(mine, 3, MPI_INT64_T, all.data(), 3, MPI_INT64_T, comm_);
  collectively(comm_, [&] {
    require(file_.valid(), "checkpoint " + final_path_ + " is already committed");
    require(!path.empty(), "checkpoint dataset names must not be empty");
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges;  // (offset, count) of non-empty ranks
    for (int r = 0; r < size; ++r) {
      const std::int64_t* a = &all[3 * static_cast<std::size_t>(r)];
      require(a[2] == global_size, "checkpoint dataset '" + path + "': ranks disagree on its global size (" +
                                       std::to_string(a[2]) + " vs " + std::to_string(global_size) + ")");
      require(a[0] >= 0 && a[1] >= 0 && a[0] + a[1] <= global_size,
              "checkpoint dataset '" + path + "': rank " + std::to_string(r) + " writes [" + std::to_string(a[0]) +
                  ", " + std::to_string(a[0] + a[1]) + ") outside [0, " + std::to_string(global_size) + ")");
      if (a[1] > 0) ranges.emplace_back(a[0], a[1]);
    }
    std::sort(ranges.begin(), ranges.end());
    std::int64_t next = 0;
    for (const auto& [start, n] : ranges) {
      require(start == next, "checkpoint dataset '" + path + "': the ranks' ranges " +
                                 (start < next ? "overlap" : "leave a gap") + " at element " + std::to_string(next));
      next = start + n;
    }
    require(next == global_size, "checkpoint dataset '" + path + "': the ranks' ranges leave elements [" +
                                     std::to_string(next) + ", " + std::to_string(global_size) + ") unwritten");
  });

  Open d;
  collectively(comm_, [&] {
    const hsize_t dims = static_cast<hsize_t>(global_size);
    h5::Handle space = h5::checked(H5Screate_simple(1, &dims, nullptr), "cannot create a dataspace");
    h5::Handle dcpl = h5::checked(H5Pcreate(H5P_DATASET_CREATE), "cannot create a dataset property list");
    // Contiguous, allocated at creation, never pre-filled: every element is written in pieces.
    h5::check_status(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "cannot set a contiguous layout");
    h5::check_status(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "cannot set the allocation time");
    h5::check_status(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "cannot set the fill time");
    h5::Handle lcpl = h5::create_intermediate_groups();
    d.path = path;
    d.dataset = h5::checked(
        H5Dcreate2(file_.get(), path.c_str(), h5::native_type<T>(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
        "cannot create checkpoint dataset '" + path + "'");
    d.next = d.hinted = offset;
    d.end = offset + count;
    d.element_size = sizeof(T);
  });
  open_.push_back(std::move(d));  // on every rank or, after an error, on none
  return static_cast<int>(open_.size()) - 1;
}

template <class T>
void CheckpointWriter::write_piece(int dataset, const T* data, std::size_t n) {
  if (!piece_error_.empty() || n == 0) return;  // after an error, end_datasets() throws it
  h5::QuietErrors quiet;
  try {
    require(dataset >= 0 && dataset < static_cast<int>(open_.size()),
            "checkpoint " + final_path_ + ": no dataset " + std::to_string(dataset) + " is being written");
    Open& d = open_[static_cast<std::size_t>(dataset)];
    require(d.element_size == sizeof(T), "checkpoint dataset '" + d.path + "': a piece of another element type");
    const std::int64_t count = static_cast<std::int64_t>(n);
    require(count <= d.end - d.next, "checkpoint dataset '" + d.path + "': a piece of " + std::to_string(n) +
                                         " elements from " + std::to_string(d.next) + " runs past this rank's range, " +
                                         "which ends at " + std::to_string(d.end));
    Selection s = select_range(d.dataset.get(), d.next, count);
    h5::Handle dxpl = independent_transfer();
    h5::check_status(H5Dwrite(d.dataset.get(), h5::native_type<T>(), s.memory_space.get(), s.file_space.get(),
                              dxpl.get(), data),
                     "cannot write checkpoint dataset '" + d.path + "'");
    d.hash += content_hash(data, n, d.next);  // a sum: pieces add up to the whole range's
    d.next += count;
    const std::int64_t bytes = (d.next - d.hinted) * static_cast<std::int64_t>(sizeof(T));
    if (bytes >= (std::int64_t{1} << 20)) {  // the disk starts on each MiB or more as it is written
      start_writeback(d.dataset.get(), d.hinted * static_cast<std::int64_t>(sizeof(T)), bytes);
      d.hinted = d.next;
    }
  } catch (const Error& e) {
    piece_error_ = e.what();
  }
}

void CheckpointWriter::end_datasets() {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    require(file_.valid(), "checkpoint " + final_path_ + " is already committed");
    if (!piece_error_.empty()) throw Error(piece_error_);
    for (const Open& d : open_)
      require(d.next == d.end, "checkpoint dataset '" + d.path + "': this rank wrote its range only up to element " +
                                   std::to_string(d.next) + " of [.., " + std::to_string(d.end) + ")");
  });
  // One sum for every dataset's checksum (each wraps mod 2^64).
  std::vector<std::uint64_t> checksums;
  for (const Open& d : open_) checksums.push_back(d.hash);
  MPI_Allreduce(MPI_IN_PLACE, checksums.data(), static_cast<int>(checksums.size()), MPI_UINT64_T, MPI_SUM, comm_);
  collectively(comm_, [&] {
    for (std::size_t i = 0; i < open_.size(); ++i) h5::write_attribute(open_[i].dataset.get(), "checksum", checksums[i]);
  });
  open_.clear();
}

template <class T>
void CheckpointWriter::write(const std::string& path, std::int64_t global_size, std::int64_t offset,
                             const std::vector<T>& local) {
  const int d = begin_dataset<T>(path, global_size, offset, static_cast<std::int64_t>(local.size()));
  write_piece(d, local.data(), local.size());
  end_datasets();
}

template <class T>
void CheckpointWriter::write_concatenated(const std::string& path, const std::vector<T>& local) {
  const comm::GlobalOffset where = comm::exclusive_offset(comm_, static_cast<std::int64_t>(local.size()));
  write(path, where.total, where.offset, local);
}

std::string CheckpointWriter::commit(int keep) {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    require(file_.valid(), "checkpoint " + final_path_ + " is already committed");
    require(keep >= 1, "checkpoints to keep must be >= 1, got " + std::to_string(keep));
    require(open_.empty(), "checkpoint " + final_path_ + ": dataset '" + (open_.empty() ? "" : open_.front().path) +
                               "' was begun and not ended");
  });
  collectively(comm_, [&] {
    h5::check_status(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "cannot flush checkpoint " + tmp_path_);
    h5::check_status(file_.close(), "cannot close checkpoint " + tmp_path_);
  });
  close_writeback();
  // The agreement above is the barrier: every rank has closed the file before rank 0
  // renames it, and no rank returns before the checkpoint and `latest` are in place.
  std::vector<std::string> warnings;
  collectively(comm_, [&] {
    if (comm::rank_of(comm_) != 0) return;
    fsync_path(tmp_path_, false);
    rename_or_throw(tmp_path_, final_path_);
    fsync_path(dir_, true);

    const std::string latest = (fs::path(dir_) / "latest").string(), latest_tmp = latest + ".tmp";
    {
      std::ofstream out(latest_tmp, std::ios::trunc);
      out << checkpoint_file_name(sequence_) << '\n';
      out.close();
      if (!out) throw Error("cannot write " + latest_tmp);
    }
    fsync_path(latest_tmp, false);
    rename_or_throw(latest_tmp, latest);
    fsync_path(dir_, true);

    // Pruning failures cost disk space, not correctness: warn and go on.
    std::vector<std::pair<std::int64_t, fs::path>> older;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      const std::string name = entry.path().filename().string();
      bool remove = sequence_of(name, true).has_value();  // a crashed writer's leftover
      if (const auto seq = sequence_of(name)) {
        if (*seq > sequence_) remove = true;
        if (*seq < sequence_) older.emplace_back(*seq, entry.path());
      }
      if (remove && !fs::remove(entry.path(), ec) && ec) warnings.push_back(entry.path().string());
    }
    std::sort(older.rbegin(), older.rend());
    for (std::size_t i = static_cast<std::size_t>(keep - 1); i < older.size(); ++i) {
      if (!fs::remove(older[i].second, ec) && ec) warnings.push_back(older[i].second.string());
    }
  });
  for (const auto& file : warnings) std::cerr << "warning: cannot delete old checkpoint file " << file << '\n';
  return final_path_;
}

// ---------------------------------------------------------------------------------------
// CheckpointReader

CheckpointReader::CheckpointReader(MPI_Comm comm, const std::string& file) : comm_(comm), file_(file) {
  h5::QuietErrors quiet;
  in_file(file_, [&] {
    collectively(comm_, [&] {
      std::error_code ec;
      if (!fs::is_regular_file(file_, ec)) throw Error("no such file", bad);
    });
    collectively(comm_, [&] {
      h5::Handle fapl = h5::file_access(true, comm_);
      handle_ = h5::checked(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, fapl.get()), "cannot open it as HDF5", bad);
    });
    collectively(comm_, [&] {
      const std::string format = h5::read_attribute_string(handle_.get(), "format", bad);
      if (format != checkpoint_format) throw Error("format is '" + format + "', not '" + checkpoint_format + "'", bad);
      const std::int64_t version = h5::read_attribute_int(handle_.get(), "format_version", bad);
      if (version != checkpoint_format_version) {
        throw Error("format_version " + std::to_string(version) + " is not supported (this build reads " +
                        std::to_string(checkpoint_format_version) + ")",
                    bad);
      }
    });
  });
}

std::string CheckpointReader::attribute_string(const std::string& name) {
  h5::QuietErrors quiet;
  std::string value;
  in_file(file_, [&] { collectively(comm_, [&] { value = h5::read_attribute_string(handle_.get(), name, bad); }); });
  return value;
}

double CheckpointReader::attribute_double(const std::string& name) {
  h5::QuietErrors quiet;
  double value = 0;
  in_file(file_, [&] { collectively(comm_, [&] { value = h5::read_attribute_double(handle_.get(), name, bad); }); });
  return value;
}

std::int64_t CheckpointReader::attribute_int(const std::string& name) {
  h5::QuietErrors quiet;
  std::int64_t value = 0;
  in_file(file_, [&] { collectively(comm_, [&] { value = h5::read_attribute_int(handle_.get(), name, bad); }); });
  return value;
}

bool CheckpointReader::has(const std::string& path) {
  h5::QuietErrors quiet;
  return h5::path_exists(handle_.get(), path);
}

bool CheckpointReader::has_attribute(const std::string& name) {
  h5::QuietErrors quiet;
  return h5::has_attribute(handle_.get(), name);
}

h5::Handle CheckpointReader::open_dataset(const std::string& path) {
  if (!h5::path_exists(handle_.get(), path)) throw Error("has no dataset '" + path + "'", bad);
  h5::Handle dataset = h5::checked(H5Dopen2(handle_.get(), path.c_str(), H5P_DEFAULT),
                                   "cannot open dataset '" + path + "'", bad);
  if (h5::dims_of(dataset.get()).size() != 1) throw Error("dataset '" + path + "' is not one-dimensional", bad);
  return dataset;
}

std::int64_t CheckpointReader::size(const std::string& path) {
  h5::QuietErrors quiet;
  std::int64_t n = 0;
  in_file(file_, [&] {
    collectively(comm_, [&] { n = static_cast<std::int64_t>(h5::dims_of(open_dataset(path).get())[0]); });
  });
  return n;
}

template <class T>
std::vector<T> CheckpointReader::read_range(const std::string& path, std::int64_t offset, std::int64_t count,
                                            bool whole) {
  h5::QuietErrors quiet;
  std::vector<T> out;
  in_file(file_, [&] {
    h5::Handle dataset;
    std::int64_t n = 0;
    collectively(comm_, [&] {
      dataset = open_dataset(path);
      if (!h5::stored_as(dataset.get(), h5::native_type<T>())) {
        throw Error("dataset '" + path + "' holds another element type than the one requested", bad);
      }
      n = static_cast<std::int64_t>(h5::dims_of(dataset.get())[0]);
      if (whole) {
        offset = 0;
        count = n;
      }
      if (offset < 0 || count < 0 || offset + count > n) {
        throw Error("cannot read elements [" + std::to_string(offset) + ", " + std::to_string(offset + count) +
                        ") of dataset '" + path + "', which holds " + std::to_string(n),
                    bad);
      }
    });
    collectively(comm_, [&] {
      // The file is untrusted: a declared size beyond the bytes it holds fails here, as a
      // bad checkpoint (the run falls back to the previous one), before anything is allocated.
      h5::check_stored(handle_.get(), dataset.get(), "dataset '" + path + "'", n, bad);
      allocate(out, count, path);
    });
    collectively(comm_, [&] {
      if (n > 0) {  // an empty dataset has no storage to read from
        Selection s = select_range(dataset.get(), offset, count);
        h5::Handle dxpl = collective_transfer();
        T unused{};
        h5::check_status(H5Dread(dataset.get(), h5::native_type<T>(), s.memory_space.get(), s.file_space.get(),
                                 dxpl.get(), count > 0 ? out.data() : &unused),
                         "cannot read dataset '" + path + "'", bad);
      }
      if (whole) {  // every rank holds all of it: check at once
        const std::uint64_t stored = h5::read_attribute_uint(dataset.get(), "checksum", bad);
        if (stored != content_hash(out.data(), out.size(), 0))
          throw Error("dataset '" + path + "' fails its checksum: the data are corrupt", bad);
      }
    });
  });
  return out;
}

template <class T>
std::vector<T> CheckpointReader::read(const std::string& path, std::int64_t offset, std::int64_t count) {
  std::vector<T> out = read_range<T>(path, offset, count, false);
  Partial& part = partial_[path];
  part.hash += content_hash(out.data(), out.size(), offset);
  part.count += count;
  return out;
}

template <class T>
std::vector<T> CheckpointReader::read_all(const std::string& path) {
  return read_range<T>(path, 0, 0, true);
}

void CheckpointReader::verify() {
  h5::QuietErrors quiet;
  // Every rank called read() for the same datasets (it is collective), so the maps hold
  // the same keys in the same order everywhere.
  std::vector<std::uint64_t> hashes;
  std::vector<std::int64_t> counts;
  std::vector<std::string> paths;
  for (const auto& [path, part] : partial_) {
    paths.push_back(path);
    hashes.push_back(part.hash);
    counts.push_back(part.count);
  }
  partial_.clear();
  const int n = static_cast<int>(paths.size());
  int n_range[2] = {n, -n};  // guards the allreduces below against misuse
  MPI_Allreduce(MPI_IN_PLACE, n_range, 2, MPI_INT, MPI_MAX, comm_);
  if (n_range[0] != -n_range[1]) {
    throw Error("checkpoint " + file_ + ": verify(): the ranks read different datasets with read(), which is collective");
  }
  if (n == 0) return;
  MPI_Allreduce(MPI_IN_PLACE, hashes.data(), n, MPI_UINT64_T, MPI_SUM, comm_);
  MPI_Allreduce(MPI_IN_PLACE, counts.data(), n, MPI_INT64_T, MPI_SUM, comm_);
  const int rank = comm::rank_of(comm_), ranks = comm::size_of(comm_);
  in_file(file_, [&] {
    for (int i = 0; i < n; ++i) {
      const std::string& path = paths[static_cast<std::size_t>(i)];
      h5::Handle dataset;
      std::uint64_t stored = 0;
      std::int64_t size = 0;
      std::size_t element_size = 0;
      collectively(comm_, [&] {
        dataset = open_dataset(path);
        stored = h5::read_attribute_uint(dataset.get(), "checksum", bad);
        size = static_cast<std::int64_t>(h5::dims_of(dataset.get())[0]);
        h5::Handle type = h5::checked(H5Dget_type(dataset.get()), "cannot get the type of '" + path + "'", bad);
        element_size = H5Tget_size(type.get());
        if (element_size != 4 && element_size != 8) throw Error("dataset '" + path + "' has odd elements", bad);
      });
      const std::size_t k = static_cast<std::size_t>(i);
      if (counts[k] == size && hashes[k] == stored) continue;
      // Not read exactly once across the ranks (or corrupt): read it again in an even
      // split, as raw bytes of the stored width, and hash that.
      const std::int64_t first = size * rank / ranks, last = size * (rank + 1) / ranks;
      std::vector<unsigned char> bytes;
      // read() checked that the file holds `size` elements; the allocation may still fail.
      collectively(comm_, [&] { allocate(bytes, (last - first) * static_cast<std::int64_t>(element_size) + 1, path); });
      collectively(comm_, [&] {
        if (size == 0) return;
        Selection s = select_range(dataset.get(), first, last - first);
        h5::Handle dxpl = collective_transfer();
        h5::Handle file_type = h5::checked(H5Dget_type(dataset.get()), "cannot get a dataset type", bad);
        h5::Handle memory_type =
            h5::checked(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND), "cannot get a native type", bad);
        h5::check_status(H5Dread(dataset.get(), memory_type.get(), s.memory_space.get(), s.file_space.get(),
                                 dxpl.get(), bytes.data()),
                         "cannot read dataset '" + path + "'", bad);
      });
      const std::uint64_t computed =
          allreduce_hash(comm_, raw_hash(bytes.data(), element_size, static_cast<std::size_t>(last - first), first));
      if (computed != stored) {
        collectively(comm_, [&] {
          throw Error("dataset '" + path + "' fails its checksum: the data are corrupt", bad);
        });
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// Finding and loading checkpoints

std::vector<std::string> list_checkpoints(const std::string& checkpoint_dir) {
  std::vector<std::pair<std::int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoint_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (const auto seq = sequence_of(name)) found.emplace_back(*seq, entry.path().string());
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> files;
  for (const auto& item : found) files.push_back(item.second);

  std::ifstream latest(fs::path(checkpoint_dir) / "latest");
  std::string named;
  if (latest && std::getline(latest, named)) {
    named.erase(named.find_last_not_of(" \t\r\n") + 1);
    const std::string name = fs::path(named).filename().string();
    const auto it = std::find_if(files.begin(), files.end(),
                                 [&](const std::string& f) { return fs::path(f).filename().string() == name; });
    if (it != files.end()) std::rotate(files.begin(), it, it + 1);
  }
  return files;
}

std::string load_newest_valid(MPI_Comm comm, const std::string& where, const CheckpointLoad& load) {
  // Rank 0 looks at the file system, so that every rank tries the same candidates.
  std::string listing;
  if (comm::rank_of(comm) == 0) {
    std::error_code ec;
    std::vector<std::string> candidates;
    if (fs::is_regular_file(where, ec)) {
      candidates.push_back(where);
    } else {
      candidates = list_checkpoints(where);
      if (candidates.empty()) candidates = list_checkpoints((fs::path(where) / "checkpoints").string());
    }
    for (const auto& c : candidates) listing += c + '\n';
  }
  const std::vector<std::string> candidates = split_lines(comm::broadcast(comm, listing));

  std::string reasons;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string& candidate = candidates[i];
    try {
      CheckpointApply apply;
      collectively(comm, [&] {
        CheckpointReader reader(comm, candidate);
        apply = load(reader);
        reader.verify();
      });
      // Only verified data reach the run; apply may still refuse them (out of range for
      // this run) before it changes anything.
      if (apply) collectively(comm, [&] { apply(); });
      return candidate;
    } catch (const Error& e) {
      if (e.code() != bad) throw;
      std::string reason = e.what();
      const std::string prefix = "checkpoint " + candidate + ": ";
      if (reason.compare(0, prefix.size(), prefix) == 0) reason.erase(0, prefix.size());
      if (comm::rank_of(comm) == 0) {
        std::cerr << "warning: checkpoint " << candidate << " is unusable (" << reason << ")"
                  << (i + 1 < candidates.size() ? "; trying the previous one" : "") << '\n';
      }
      reasons += (reasons.empty() ? "" : "; ") + candidate + ": " + reason;
    }
  }
  throw Error("no valid checkpoint in " + where + ": " + (reasons.empty() ? std::string("no checkpoint files") : reasons),
              bad);
}

// The element types checkpoints hold.
template std::uint64_t content_hash<double>(const double*, std::size_t, std::int64_t);
template void CheckpointWriter::write<double>(const std::string&, std::int64_t, std::int64_t, const std::vector<double>&);
template void CheckpointWriter::write_concatenated<double>(const std::string&, const std::vector<double>&);
template int CheckpointWriter::begin_dataset<double>(const std::string&, std::int64_t, std::int64_t, std::int64_t);
template void CheckpointWriter::write_piece<double>(int, const double*, std::size_t);
template std::vector<double> CheckpointReader::read<double>(const std::string&, std::int64_t, std::int64_t);
template std::vector<double> CheckpointReader::read_all<double>(const std::string&);
template std::uint64_t content_hash<std::int64_t>(const std::int64_t*, std::size_t, std::int64_t);
template void CheckpointWriter::write<std::int64_t>(const std::string&, std::int64_t, std::int64_t, const std::vector<std::int64_t>&);
template void CheckpointWriter::write_concatenated<std::int64_t>(const std::string&, const std::vector<std::int64_t>&);
template int CheckpointWriter::begin_dataset<std::int64_t>(const std::string&, std::int64_t, std::int64_t, std::int64_t);
template void CheckpointWriter::write_piece<std::int64_t>(int, const std::int64_t*, std::size_t);
template std::vector<std::int64_t> CheckpointReader::read<std::int64_t>(const std::string&, std::int64_t, std::int64_t);
template std::vector<std::int64_t> CheckpointReader::read_all<std::int64_t>(const std::string&);
template std::uint64_t content_hash<std::uint64_t>(const std::uint64_t*, std::size_t, std::int64_t);
template void CheckpointWriter::write<std::uint64_t>(const std::string&, std::int64_t, std::int64_t, const std::vector<std::uint64_t>&);
template void CheckpointWriter::write_concatenated<std::uint64_t>(const std::string&, const std::vector<std::uint64_t>&);
template int CheckpointWriter::begin_dataset<std::uint64_t>(const std::string&, std::int64_t, std::int64_t, std::int64_t);
template void CheckpointWriter::write_piece<std::uint64_t>(int, const std::uint64_t*, std::size_t);
template std::vector<std::uint64_t> CheckpointReader::read<std::uint64_t>(const std::string&, std::int64_t, std::int64_t);
template std::vector<std::uint64_t> CheckpointReader::read_all<std::uint64_t>(const std::string&);
template std::uint64_t content_hash<std::int32_t>(const std::int32_t*, std::size_t, std::int64_t);
template void CheckpointWriter::write<std::int32_t>(const std::string&, std::int64_t, std::int64_t, const std::vector<std::int32_t>&);
template void CheckpointWriter::write_concatenated<std::int32_t>(const std::string&, const std::vector<std::int32_t>&);
template int CheckpointWriter::begin_dataset<std::int32_t>(const std::string&, std::int64_t, std::int64_t, std::int64_t);
template void CheckpointWriter::write_piece<std::int32_t>(int, const std::int32_t*, std::size_t);
template std::vector<std::int32_t> CheckpointReader::read<std::int32_t>(const std::string&, std::int64_t, std::int64_t);
template std::vector<std::int32_t> CheckpointReader::read_all<std::int32_t>(const std::string&);

}  // namespace kollektiv::io
