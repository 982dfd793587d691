// The run's time series: one HDF5 file, one row per iteration, written by rank 0 only,
// readable while the run writes it (HDF5 single-writer/multiple-reader, SWMR).
//
// Each column is a dataset at its path (groups created as needed, e.g. "lines/oee",
// "timings/wall_s"): shape [rows] for one value per row, [rows, width] otherwise; chunked
// and unlimited along rows; float64 or int64; attribute `unit`. The dataset `row` (int64,
// the row's index) is written last in each row, after the row's columns are on disk: its
// length is the number of rows readers may take. A reader opens the file with SWMR read
// access (h5py: File(path, "r", swmr=True)), takes n = len(row) and cuts every column at n;
// columns may be longer while rows are being written or after a run was killed.
//
// Rows reach readers in groups: end_row() publishes the rows committed so far (flushes the
// columns, then extends `row`) when publish_interval_s() has passed since the last time, so
// a reader sees a row within that interval (1 s by default) or, where rows come further
// apart, with the next one; a run that commits rows faster (a training iteration takes
// milliseconds) pays for the flushes once a second, not once a row (they were two thirds of
// a reach training run's history time). sync(), every
// checkpoint's, publishes first: the rows a checkpoint counts are always in `row`. The rows
// a run killed between publications leaves out come after its last checkpoint, which a
// restart cuts anyway. publish() and the destructor publish the rest at the end.
// Root attributes: `deck` (the deck text), `resolved_deck`, `build_info`.
//
// The file is built under `<path>.new` until this process commits its first row, then
// switched to SWMR writing and renamed over `path` in one step, so `path` is always either
// the previous file or one that readers can follow (never a file half-set-up or one whose
// creator was killed before SWMR began). SWMR writing fixes the file's structure: every
// column must be appended in this process's first row, and static datasets (names) go in
// before it. A History that never commits a row removes its `.new` file.
//
// All ranks construct the object; only rank 0 touches the file. append() is local: call it
// on every rank with the same values, or on rank 0 only; a column spread over the ranks
// (one value per station) goes in with append_blocks(), which is collective. Its errors (wrong width or type,
// a column appended twice or first appended after the first row, I/O failures on rank 0)
// are held back and thrown on every rank by the next collective call, end_row() or
// write_static(); create() and resume() agree on their own errors at once.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/hdf5_file.hpp"

namespace kollektiv::io {

class History final {
 public:
  // A new history file (parent directories created). If `path` exists, throws
  // Error(ExitCode::bad_input) unless `overwrite`, which replaces it at the first row.
  static History create(MPI_Comm comm, const std::string& path, const std::string& deck_text,
                        const std::string& resolved_deck, bool overwrite = false);
  // For a restart: copies `path` (also one whose writer was killed) with every column cut
  // to `keep_rows` rows (the rows the checkpoint knows), dropping rows written after it;
  // the copy replaces `path` at the first row. Creates a new file if `path` is absent. A
  // history of an earlier version (a `rows` attribute, no `row` dataset) is continued in
  // the current layout. Throws Error if the file holds fewer than `keep_rows` committed
  // rows or is no history.
  static History resume(MPI_Comm comm, const std::string& path, std::int64_t keep_rows,
                        const std::string& deck_text, const std::string& resolved_deck);

  // An empty history to assign create() or resume() to later; it holds no file.
  History() = default;
  History(History&&) = default;
  History& operator=(History&& other) noexcept;  // publishes this one's rows first
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // This row's values of column `path`; never throws (see above). The width
  // (values.size() >= 1) and the type are fixed by the first append. A column new in a
  // continued run (appended first in its first row) gets NaN (float64) or INT64_MIN (int64)
  // in the earlier rows; a column first appended after that row is an error. `unit` is
  // stored when the column is created.
  void append(const std::string& path, const std::vector<double>& values, const std::string& unit = "");
  void append(const std::string& path, const std::vector<std::int64_t>& values, const std::string& unit = "");
  // Braced lists of doubles ({1.0, 2.0}) would be ambiguous between the two above.
  void append(const std::string& path, std::initializer_list<double> values, const std::string& unit = "") {
    append(path, std::vector<double>(values), unit);
  }

  // This row's values of column `path` when they are spread over the ranks (e.g. one value
  // per station): every rank holds `local`, its block, and the blocks in rank order make the
  // row's `width` values (a rank's block may be empty). Collective: every rank calls it for
  // the same columns in the same order, with the same `width`. Rank 0 writes its block and
  // then each other rank's, received in pieces of at most block_piece_values() values, so it
  // never holds more than its own block and one piece; the other ranks' blocks never meet
  // in one place. Errors (the blocks not making `width`, those of append()) are held back
  // like append()'s; the transfer completes on every rank regardless.
  void append_blocks(const std::string& path, const std::vector<double>& local, std::int64_t width,
                     const std::string& unit = "");

  // Commits the row: every column seen so far must have been appended exactly once since
  // the last end_row(). The first row starts SWMR writing and publishes the file at `path`;
  // later ones are published with the rows before them once publish_interval_s() has passed
  // since the last publication (see above). Collective; throws the row's first error on
  // every rank (the row is then not counted and the next one starts clean).
  void end_row();

  // Publishes every committed row now: flushes the columns, then appends the rows' indices
  // to `row` and flushes it. Collective; throws a failure on every rank. Call it at the end
  // of a run that writes no final checkpoint (the destructor does it too, reporting a
  // failure on stderr, where it cannot throw).
  void publish();
  // The longest a committed row waits for readers; 0 publishes every row at end_row().
  void set_publish_interval(double seconds) { publish_interval_s_ = seconds; }
  double publish_interval_s() const { return publish_interval_s_; }

  // Makes the committed rows durable: publishes them, then fsync of the file, and of its
  // directory (the rename that published it). Called before each checkpoint, so that the
  // rows a checkpoint counts survive a node crash. Collective; does nothing before the file
  // is published.
  void sync();
  // Publishes the committed rows and starts that fsync on a thread of its own, then returns
  // (rank 0; not collective): called as a checkpoint starts, the disk writes the rows while
  // the state is packed. The next sync() waits for it and fails if it failed (and publishes
  // and syncs again if rows were committed since, or if publishing failed here). Without a
  // thread to be had, sync() does it all.
  void start_sync();

  // Static metadata (e.g. station names): a 1-D dataset of UTF-8 strings, replaced if it
  // exists. Collective; only before the first end_row() of this process.
  void write_static(const std::string& path, const std::vector<std::string>& values);
  // The same for `count` strings made on rank 0 by value_of(i), i = 0 .. count-1, in order,
  // and written in pieces of block_piece_values(), so that rank 0 holds one piece at a time
  // (e.g. the names of 10^8 stations, spelled out from the model's index).
  void write_static(const std::string& path, std::int64_t count, const std::function<std::string(std::int64_t)>& value_of);

  // The most values of other ranks' blocks rank 0 holds at once: 2^20 (8 MiB of doubles), or
  // comm::max_message_count() if a test lowered that.
  static std::int64_t block_piece_values();

  std::int64_t rows() const { return rows_; }
  const std::string& path() const { return path_; }

  // The name of the committed-rows dataset, reserved: no column may take it.
  static constexpr const char* row_dataset = "row";

 private:
  struct Column {
    std::size_t width = 0;
    bool integer = false;
    bool appended = false;  // in the current row
    h5::Handle dataset;     // rank 0 only
  };

  // The `.new` file while it is unpublished: removed when the History that built it goes
  // away without committing a row (closed after file_, which is declared after it).
  class Staging {
   public:
    Staging() = default;
    explicit Staging(std::string path) : path_(std::move(path)) {}
    Staging(Staging&& other) noexcept : path_(std::exchange(other.path_, {})) {}
    Staging& operator=(Staging&& other) noexcept;
    Staging(const Staging&) = delete;
    Staging& operator=(const Staging&) = delete;
    ~Staging() { discard(); }
    const std::string& path() const { return path_; }
    bool pending() const { return !path_.empty(); }
    void published() { path_.clear(); }

   private:
    void discard() noexcept;
    std::string path_;
  };

  History(MPI_Comm comm, std::string path);
  void open_staging();
  void write_root_attributes(const std::string& deck_text, const std::string& resolved_deck);
  void commit_row_on_rank0();
  // Rank 0: flushes the columns, then writes the indices of rows [visible_rows_, rows) to
  // `row` and flushes it; throws Error on an HDF5 failure.
  void publish_rows_on_rank0(std::int64_t rows);
  bool holds_published_file() const { return rank_ == 0 && file_.valid() && !staging_.pending(); }
  template <class T>
  void append_row(const std::string& path, const std::vector<T>& values, const std::string& unit);
  // append()'s bookkeeping of a column of `width` values; throws Error on a misuse.
  Column& check_append(const std::string& path, std::size_t width, bool integer);
  h5::Handle open_or_create_column(const std::string& path, std::size_t width, bool integer, const std::string& unit);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  std::string path_;
  Staging staging_;                        // rank 0 only, until the first row is committed
  h5::Handle file_;                        // rank 0 only; declared before the columns so
  std::map<std::string, Column> columns_;  // that their datasets close first
  h5::Handle row_;                         // rank 0 only: the committed-rows dataset
  std::int64_t rows_ = 0;
  std::int64_t visible_rows_ = 0;  // rank 0: the length of `row`
  double publish_interval_s_ = 1.0;
  std::chrono::steady_clock::time_point published_at_;  // rank 0: the last publication
  std::future<void> syncing_;     // rank 0: the fsync start_sync() began, until sync()
  std::int64_t syncing_rows_ = 0; // the rows committed when it began
  bool row_committed_ = false; // a row was committed: the columns are fixed
  bool swmr_started_ = false;  // rank 0: SWMR writing began (the file's structure is fixed)
  std::string pending_error_;  // this row's first error, thrown by the next collective call
};

}  // namespace kollektiv::io
