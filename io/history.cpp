// The history file: per-iteration rows of named columns, written by rank 0 (see history.hpp).
#include "io/history.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <limits>
#include <new>
#include <numeric>
#include <system_error>
#include <type_traits>
#include <utility>

#include "build_info.hpp"
#include "io/durable.hpp"
#include "solvers/comm/collectives.hpp"

namespace kollektiv::io {

namespace fs = std::filesystem;

namespace {

// Chunks of 64 KiB: 8192 values, as many rows as fit (at least one). A row wider than that
// (one value per station) is cut into chunks of up to 2^16 values (512 KiB), so that rank 0
// writing it block by block rewrites at most the chunk a block boundary cuts (it stays in
// HDF5's 1 MiB chunk cache), never a whole row of 10^8 values.
hsize_t chunk_rows(std::size_t width) { return std::max<hsize_t>(1, 8192 / static_cast<hsize_t>(width)); }
hsize_t chunk_width(std::size_t width) { return std::min<hsize_t>(width, hsize_t{1} << 16); }

// Tag of the pieces of append_blocks(): one collective call's pieces are the only messages
// of this tag on the communicator while it runs.
constexpr int block_tag = 0x4b48;

// File access for a history file: HDF5's 1.10 format, which SWMR needs (read by HDF5 >= 1.10).
h5::Handle swmr_file_access() {
  h5::Handle fapl = h5::file_access(false);
  h5::check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), "cannot set the file format");
  return fapl;
}

// A dataset of `rows` rows of `width` values, unlimited along rows: [rows] when width is 1,
// else [rows, width]. Rows before a column's first append read as "missing" (NaN, INT64_MIN).
h5::Handle create_row_dataset(hid_t file, const std::string& path, std::size_t width, bool integer, std::int64_t rows,
                              const std::string& unit) {
  const hid_t type = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
  const int rank = width == 1 ? 1 : 2;
  const hsize_t dims[2] = {static_cast<hsize_t>(rows), width};
  const hsize_t max_dims[2] = {H5S_UNLIMITED, width};
  const hsize_t chunk[2] = {chunk_rows(width), chunk_width(width)};
  h5::Handle space = h5::checked(H5Screate_simple(rank, dims, max_dims), "cannot create a dataspace");
  h5::Handle dcpl = h5::checked(H5Pcreate(H5P_DATASET_CREATE), "cannot create a dataset property list");
  h5::check_status(H5Pset_chunk(dcpl.get(), rank, chunk), "cannot set the chunk shape");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::int64_t int_missing = std::numeric_limits<std::int64_t>::min();
  h5::check_status(H5Pset_fill_value(dcpl.get(), type, integer ? static_cast<const void*>(&int_missing) : &nan),
                   "cannot set the fill value");
  h5::Handle lcpl = h5::create_intermediate_groups();
  h5::Handle dataset = h5::checked(H5Dcreate2(file, path.c_str(), integer ? H5T_STD_I64LE : H5T_IEEE_F64LE,
                                              space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
                                   "cannot create history column '" + path + "'");
  h5::write_attribute(dataset.get(), "unit", unit);
  return dataset;
}

// Extends `dataset` (rows of `width` values) to row + 1 rows.
void extend_to_row(hid_t dataset, std::int64_t row, std::size_t width, const std::string& what) {
  const hsize_t new_dims[2] = {static_cast<hsize_t>(row) + 1, width};
  h5::check_status(H5Dset_extent(dataset, new_dims), "cannot extend " + what);
}

// Writes the `n` values at `values` as entries [first, first + n) of row `row`, which exists.
template <class T>
void write_row_part(hid_t dataset, std::int64_t row, std::size_t first, const T* values, std::size_t n,
                    const std::string& what) {
  if (n == 0) return;
  h5::Handle file_space = h5::checked(H5Dget_space(dataset), "cannot get a dataspace");
  const hsize_t start[2] = {static_cast<hsize_t>(row), first}, count[2] = {1, n};
  h5::check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
                   "cannot select a history row");
  const hsize_t length = n;
  h5::Handle memory_space = h5::checked(H5Screate_simple(1, &length, nullptr), "cannot create a dataspace");
  h5::check_status(H5Dwrite(dataset, h5::native_type<T>(), memory_space.get(), file_space.get(), H5P_DEFAULT, values),
                   "cannot write " + what);
}

// Writes `values` as row `row` of `dataset`, extending it to row + 1 rows.
template <class T>
void write_row(hid_t dataset, std::int64_t row, const std::vector<T>& values, const std::string& what) {
  extend_to_row(dataset, row, values.size(), what);
  write_row_part(dataset, row, 0, values.data(), values.size(), what);
}

// The datasets whose first dimension is unlimited: the history columns and `row`.
herr_t collect_columns(hid_t root, const char* name, const H5L_info_t* info, void* data) {
  if (info->type != H5L_TYPE_HARD) return 0;
  hid_t object = H5Oopen(root, name, H5P_DEFAULT);
  if (object < 0) return -1;
  if (H5Iget_type(object) == H5I_DATASET) {
    hid_t space = H5Dget_space(object);
    hsize_t dims[2] = {0, 0}, max_dims[2] = {0, 0};
    const int rank = space < 0 || H5Sget_simple_extent_ndims(space) > 2 ? -1
                                                                        : H5Sget_simple_extent_dims(space, dims, max_dims);
    if (space >= 0) H5Sclose(space);
    if (rank >= 1 && max_dims[0] == H5S_UNLIMITED) static_cast<std::vector<std::string>*>(data)->push_back(name);
  }
  H5Oclose(object);
  return 0;
}

// Copies one link of the source root (a column, a group of them, a static dataset) into
// the root of the target file (`data`).
herr_t copy_link(hid_t root, const char* name, const H5L_info_t* /*info*/, void* data) {
  return H5Ocopy(root, name, *static_cast<hid_t*>(data), name, H5P_DEFAULT, H5P_DEFAULT);
}

}  // namespace

History::Staging& History::Staging::operator=(Staging&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void History::Staging::discard() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove(path_, ec);  // best effort: a leftover is replaced by the next run's
  path_.clear();
}

History::History(MPI_Comm comm, std::string path) : comm_(comm), rank_(comm::rank_of(comm)), path_(std::move(path)) {}

void History::open_staging() {
  staging_ = Staging(path_ + ".new");
  h5::Handle fapl = swmr_file_access();
  file_ = h5::checked(H5Fcreate(staging_.path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
                      "cannot create history file " + staging_.path());
}

void History::write_root_attributes(const std::string& deck_text, const std::string& resolved_deck) {
  h5::write_attribute(file_.get(), "deck", deck_text);
  h5::write_attribute(file_.get(), "resolved_deck", resolved_deck);
  h5::write_attribute(file_.get(), "build_info", std::string(build_info::summary));
}

History History::create(MPI_Comm comm, const std::string& path, const std::string& deck_text,
                        const std::string& resolved_deck, bool overwrite) {
  h5::QuietErrors quiet;
  History history(comm, path);
  collectively(comm, [&] {
    if (history.rank_ != 0) return;
    std::error_code ec;
    if (!overwrite && fs::exists(path, ec)) {
      throw Error("history file " + path + " already exists (overwrite it with --overwrite, or continue it with --restart)",
                  ExitCode::bad_input);
    }
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) throw Error("cannot create directory " + parent.string() + " for the history file: " + ec.message());
    history.open_staging();
    history.row_ = create_row_dataset(history.file_.get(), row_dataset, 1, true, 0, "1");
    history.write_root_attributes(deck_text, resolved_deck);
  });
  return history;
}

History History::resume(MPI_Comm comm, const std::string& path, std::int64_t keep_rows, const std::string& deck_text,
                        const std::string& resolved_deck) {
  h5::QuietErrors quiet;
  int exists = 0;
  if (comm::rank_of(comm) == 0) {
    std::error_code ec;
    exists = fs::exists(path, ec) ? 1 : 0;
  }
  MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
  if (!exists) return create(comm, path, deck_text, resolved_deck);

  History history(comm, path);
  collectively(comm, [&] {
    require(keep_rows >= 0, "history rows to keep must be >= 0, got " + std::to_string(keep_rows));
    if (history.rank_ != 0) return;
    // SWMR read access opens a file whose writer was killed (its SWMR-writing mark is still set).
    h5::Handle fapl = h5::file_access(false);
    h5::Handle source = h5::checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl.get()),
                                    "cannot open history file " + path);
    // Committed rows: the length of `row`, or the `rows` attribute of an earlier version.
    const bool earlier_version = !h5::path_exists(source.get(), row_dataset);
    std::int64_t committed = 0;
    if (earlier_version) {
      if (!h5::has_attribute(source.get(), "rows")) {
        throw Error(path + " is not a kollektiv history file (no '" + row_dataset + "' dataset of committed rows)");
      }
      committed = h5::read_attribute_int(source.get(), "rows");
    } else {
      h5::Handle row = h5::checked(H5Dopen2(source.get(), row_dataset, H5P_DEFAULT), "cannot open " + path + " row");
      const std::vector<hsize_t> dims = h5::dims_of(row.get());
      if (dims.size() != 1 || !h5::stored_as(row.get(), H5T_NATIVE_INT64)) {
        throw Error(path + " is not a kollektiv history file ('" + row_dataset + "' is no 1-D int64 dataset)");
      }
      committed = static_cast<std::int64_t>(dims[0]);
    }
    if (committed < keep_rows) {
      throw Error("history file " + path + " holds " + std::to_string(committed) + " rows, fewer than the " +
                  std::to_string(keep_rows) + " the checkpoint was written after");
    }
    history.open_staging();
    hid_t target_root = history.file_.get();
    h5::check_status(H5Literate(source.get(), H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, copy_link, &target_root),
                     "cannot copy history file " + path);
    source.reset();
    std::vector<std::string> columns;
    h5::check_status(H5Lvisit(history.file_.get(), H5_INDEX_NAME, H5_ITER_NATIVE, collect_columns, &columns),
                     "cannot list the columns of history file " + path);
    for (const auto& name : columns) {
      h5::Handle dataset =
          h5::checked(H5Dopen2(history.file_.get(), name.c_str(), H5P_DEFAULT), "cannot open history column " + name);
      std::vector<hsize_t> dims = h5::dims_of(dataset.get());
      dims[0] = std::min<hsize_t>(dims[0], static_cast<hsize_t>(keep_rows));
      h5::check_status(H5Dset_extent(dataset.get(), dims.data()), "cannot truncate history column " + name);
    }
    if (earlier_version) {
      history.row_ = create_row_dataset(history.file_.get(), row_dataset, 1, true, keep_rows, "1");
      std::vector<std::int64_t> indices(static_cast<std::size_t>(keep_rows));
      std::iota(indices.begin(), indices.end(), std::int64_t{0});
      if (keep_rows > 0) {
        h5::check_status(H5Dwrite(history.row_.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, indices.data()),
                         "cannot write the committed rows of " + path);
      }
    } else {
      history.row_ = h5::checked(H5Dopen2(history.file_.get(), row_dataset, H5P_DEFAULT), "cannot open history rows");
    }
    history.write_root_attributes(deck_text, resolved_deck);
  });
  history.rows_ = keep_rows;
  history.visible_rows_ = keep_rows;  // `row` was cut to them
  return history;
}

h5::Handle History::open_or_create_column(const std::string& path, std::size_t width, bool integer,
                                          const std::string& unit) {
  const hid_t type = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
  const int rank = width == 1 ? 1 : 2;
  if (h5::path_exists(file_.get(), path)) {  // a column of the run this one continues
    h5::Handle dataset = h5::checked(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT), "cannot open history column '" + path + "'");
    const std::vector<hsize_t> dims = h5::dims_of(dataset.get());
    const bool same_width = static_cast<int>(dims.size()) == rank && (rank == 1 || dims[1] == width);
    if (!same_width || !h5::stored_as(dataset.get(), type)) {
      throw Error("history column '" + path + "' in " + path_ + " has another width or type than the " +
                  std::to_string(width) + (integer ? " int64" : " float64") + " values appended now");
    }
    return dataset;
  }
  return create_row_dataset(file_.get(), path, width, integer, rows_, unit);
}

History::Column& History::check_append(const std::string& path, std::size_t width, bool integer) {
  require(!path.empty(), "history column names must not be empty");
  require(width > 0, "history column '" + path + "' needs at least one value per row");
  require(path != row_dataset, std::string("history column name '") + row_dataset + "' is reserved for the committed rows");
  auto [it, is_new] = columns_.try_emplace(path);
  Column& column = it->second;
  if (is_new && (row_committed_ || swmr_started_)) {
    columns_.erase(it);
    throw Error("history column '" + path + "' is first appended in row " + std::to_string(rows_) +
                ", after the first row: a history readers follow while it is written has the columns of its "
                "first row (append every column in every row, NaN where it has no value)");
  }
  if (is_new) {
    column.width = width;
    column.integer = integer;
  }
  require(column.width == width, "history column '" + path + "' has " + std::to_string(column.width) +
                                     " values per row, got " + std::to_string(width));
  require(column.integer == integer, "history column '" + path + "' holds " + (column.integer ? "int64" : "float64") +
                                         " values, got " + (integer ? "int64" : "float64"));
  require(!column.appended, "history column '" + path + "' appended twice in row " + std::to_string(rows_));
  column.appended = true;
  return column;
}

template <class T>
void History::append_row(const std::string& path, const std::vector<T>& values, const std::string& unit) {
  constexpr bool integer = std::is_same_v<T, std::int64_t>;
  if (!pending_error_.empty()) return;  // this row has failed already; end_row() reports it
  try {
    Column& column = check_append(path, values.size(), integer);
    if (rank_ != 0) return;
    if (!column.dataset.valid()) column.dataset = open_or_create_column(path, column.width, integer, unit);
    write_row(column.dataset.get(), rows_, values, "history column '" + path + "'");
  } catch (const Error& e) {
    pending_error_ = e.what();
  }
}

std::int64_t History::block_piece_values() { return std::min<std::int64_t>(std::int64_t{1} << 20, comm::max_message_count()); }

void History::append_blocks(const std::string& path, const std::vector<double>& local, std::int64_t width,
                            const std::string& unit) {
  h5::QuietErrors quiet;
  const auto n = static_cast<std::int64_t>(local.size());
  const std::vector<std::int64_t> sizes = comm::gather_to_root(comm_, std::vector<std::int64_t>{n});
  const std::int64_t piece = block_piece_values();
  const std::string what = "history column '" + path + "'";
  if (rank_ != 0) {  // the pieces go whatever happened: rank 0 expects them
    for (std::int64_t at = 0; at < n; at += piece) {
      MPI_Send(local.data() + at, static_cast<int>(std::min(piece, n - at)), MPI_DOUBLE, 0, block_tag, comm_);
    }
    if (pending_error_.empty()) {
      try {
        check_append(path, static_cast<std::size_t>(std::max<std::int64_t>(width, 0)), false);
      } catch (const Error& e) {
        pending_error_ = e.what();
      }
    }
    return;
  }
  // Rank 0 writes while it receives; after a failure it still takes every piece.
  bool writing = pending_error_.empty();
  Column* column = nullptr;
  try {
    if (writing) {
      column = &check_append(path, static_cast<std::size_t>(std::max<std::int64_t>(width, 0)), false);
      const std::int64_t sum = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
      require(sum == width, what + ": the ranks' blocks hold " + std::to_string(sum) + " values, not the row's " +
                                std::to_string(width));
      if (!column->dataset.valid()) column->dataset = open_or_create_column(path, column->width, false, unit);
      extend_to_row(column->dataset.get(), rows_, column->width, what);
      write_row_part(column->dataset.get(), rows_, 0, local.data(), local.size(), what);
    }
  } catch (const Error& e) {
    pending_error_ = e.what();
    writing = false;
  }
  std::vector<double> buffer;
  std::int64_t first = n;
  for (std::size_t r = 1; r < sizes.size(); ++r) {
    for (std::int64_t at = 0; at < sizes[r]; at += piece) {
      const std::int64_t m = std::min(piece, sizes[r] - at);
      buffer.resize(static_cast<std::size_t>(m));
      MPI_Recv(buffer.data(), static_cast<int>(m), MPI_DOUBLE, static_cast<int>(r), block_tag, comm_, MPI_STATUS_IGNORE);
      try {
        if (writing)
          write_row_part(column->dataset.get(), rows_, static_cast<std::size_t>(first), buffer.data(), buffer.size(), what);
      } catch (const Error& e) {
        pending_error_ = e.what();
        writing = false;
      }
      first += m;
    }
  }
}

void History::append(const std::string& path, const std::vector<double>& values, const std::string& unit) {
  h5::QuietErrors quiet;
  append_row(path, values, unit);
}

void History::append(const std::string& path, const std::vector<std::int64_t>& values, const std::string& unit) {
  h5::QuietErrors quiet;
  append_row(path, values, unit);
}

void History::end_row() {
  h5::QuietErrors quiet;
  std::string error = pending_error_;
  std::string missing;
  for (auto& [name, column] : columns_) {
    if (!column.appended) missing += (missing.empty() ? "" : ", ") + name;
    column.appended = false;
  }
  pending_error_.clear();
  if (error.empty() && !missing.empty()) error = "history row " + std::to_string(rows_) + " lacks columns: " + missing;
  try {
    collectively(comm_, [&] {
      if (!error.empty()) throw Error(error);
      if (rank_ == 0) commit_row_on_rank0();
    });
  } catch (...) {
    // The row is not counted (another rank's error may come after rank 0 published it): its
    // next attempt is published again, columns flushed first.
    visible_rows_ = std::min(visible_rows_, rows_);
    throw;
  }
  ++rows_;
  row_committed_ = true;
}

void History::commit_row_on_rank0() {
  using Clock = std::chrono::steady_clock;
  if (!staging_.pending()) {
    if (std::chrono::duration<double>(Clock::now() - published_at_).count() >= publish_interval_s_)
      publish_rows_on_rank0(rows_ + 1);
    return;
  }
  // The first row of this process publishes the file: SWMR writing (which flushes it), then
  // the rename.
  write_row(row_.get(), rows_, std::vector<std::int64_t>{rows_}, "the committed rows of " + path_);
  visible_rows_ = rows_ + 1;
  if (!swmr_started_) {
    h5::check_status(H5Fstart_swmr_write(file_.get()), "cannot start SWMR writing of history file " + staging_.path());
    swmr_started_ = true;
  } else {  // a retried rename: this attempt's columns reach the file first
    h5::check_status(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), "cannot flush history file " + staging_.path());
  }
  std::error_code ec;
  fs::rename(staging_.path(), path_, ec);
  if (ec) throw Error("cannot rename " + staging_.path() + " to " + path_ + ": " + ec.message());
  staging_.published();
  published_at_ = Clock::now();
}

void History::publish_rows_on_rank0(std::int64_t rows) {
  if (visible_rows_ >= rows) return;
  // Readers follow the file: the rows' columns reach it before `row` grows.
  h5::check_status(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), "cannot flush history file " + path_);
  std::vector<std::int64_t> indices(static_cast<std::size_t>(rows - visible_rows_));
  std::iota(indices.begin(), indices.end(), visible_rows_);
  const hsize_t size = static_cast<hsize_t>(rows);
  h5::check_status(H5Dset_extent(row_.get(), &size), "cannot extend the committed rows of " + path_);
  try {
    h5::Handle file_space = h5::checked(H5Dget_space(row_.get()), "cannot get a dataspace");
    const hsize_t start = static_cast<hsize_t>(visible_rows_), count = indices.size();
    h5::check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
                     "cannot select the committed rows");
    h5::Handle memory_space = h5::checked(H5Screate_simple(1, &count, nullptr), "cannot create a dataspace");
    h5::check_status(H5Dwrite(row_.get(), H5T_NATIVE_INT64, memory_space.get(), file_space.get(), H5P_DEFAULT,
                              indices.data()),
                     "cannot write the committed rows of " + path_);
    h5::check_status(H5Dflush(row_.get()), "cannot flush history file " + path_);
  } catch (...) {
    const hsize_t visible = static_cast<hsize_t>(visible_rows_);  // readers must not count the rows
    H5Dset_extent(row_.get(), &visible);                          // best effort: already failing
    throw;
  }
  visible_rows_ = rows;
  published_at_ = std::chrono::steady_clock::now();
}

void History::publish() {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    if (holds_published_file()) publish_rows_on_rank0(rows_);
  });
}

// The rows of a history that goes away (the end of a run without a final checkpoint, or one
// that failed) are published too; a failure can only be reported.
History::~History() {
  if (!holds_published_file() || visible_rows_ >= rows_) return;
  h5::QuietErrors quiet;
  try {
    publish_rows_on_rank0(rows_);
  } catch (const std::exception& e) {
    std::cerr << "kollektiv: history rows " << visible_rows_ << " to " << rows_ - 1 << " of " << path_
              << " did not reach its readers: " << e.what() << std::endl;
  }
}

// Assigning over a history publishes its rows, as its destructor does: destroy it, then
// move `other` into its place (History is final and has neither const nor reference
// members, and its members move without throwing).
static_assert(std::is_nothrow_move_constructible_v<History>, "History's move assignment reconstructs it in place");
History& History::operator=(History&& other) noexcept {
  if (this != &other) {
    this->~History();
    new (this) History(std::move(other));
  }
  return *this;
}

namespace {
// fsync of the history file and of its directory (the rename that published it).
void make_durable(const std::string& path) {
  fsync_path(path, false);  // the rows were published (flushed to the file) before
  const fs::path parent = fs::path(path).parent_path();
  fsync_path(parent.empty() ? "." : parent.string(), true);
}
}  // namespace

void History::sync() {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    if (rank_ != 0) return;
    if (syncing_.valid()) {
      std::future<void> started = std::move(syncing_);
      started.get();  // its failure is this sync's
      if (syncing_rows_ == rows_) return;
    }
    if (!holds_published_file()) return;
    publish_rows_on_rank0(rows_);
    make_durable(path_);
  });
}

void History::start_sync() {
  if (!holds_published_file() || syncing_.valid()) return;
  try {
    h5::QuietErrors quiet;
    publish_rows_on_rank0(rows_);
  } catch (const std::exception&) {
    return;  // not collective: sync() publishes again and reports the failure on every rank
  }
  syncing_rows_ = rows_;
  try {
    // The thread only waits for the disk; it calls neither MPI nor HDF5.
    syncing_ = std::async(std::launch::async, [path = path_] { make_durable(path); });
  } catch (const std::system_error&) {
    // No thread to be had: sync() does it all, as before.
  }
}

void History::write_static(const std::string& path, const std::vector<std::string>& values) {
  write_static(path, static_cast<std::int64_t>(values.size()),
               [&](std::int64_t i) { return values[static_cast<std::size_t>(i)]; });
}

void History::write_static(const std::string& path, std::int64_t count,
                           const std::function<std::string(std::int64_t)>& value_of) {
  h5::QuietErrors quiet;
  collectively(comm_, [&] {
    if (!pending_error_.empty()) {
      const std::string message = pending_error_;
      pending_error_.clear();
      throw Error(message);
    }
    require(!path.empty(), "history dataset names must not be empty");
    require(!row_committed_ && !swmr_started_,
            "history dataset '" + path + "' is written after the first row; static datasets go in before it");
    require(path != row_dataset, std::string("history dataset name '") + row_dataset + "' is reserved for the committed rows");
    require(count >= 0, "history dataset '" + path + "' needs a count >= 0, got " + std::to_string(count));
    if (rank_ != 0) return;
    if (h5::path_exists(file_.get(), path)) {
      h5::check_status(H5Ldelete(file_.get(), path.c_str(), H5P_DEFAULT), "cannot replace '" + path + "'");
    }
    h5::StringsWriter writer(file_.get(), path, count);
    const std::int64_t piece = block_piece_values();
    std::vector<std::string> values;
    for (std::int64_t first = 0; first < count; first += piece) {
      values.clear();
      for (std::int64_t i = first; i < std::min(count, first + piece); ++i) values.push_back(value_of(i));
      writer.write(first, values);
    }
  });
}

}  // namespace kollektiv::io
