// Checkpoints: global 1-D arrays in one parallel HDF5 file per checkpoint, written
// collectively (each rank its hyperslab), made visible atomically (.tmp → rename), each
// dataset checksummed independently of the rank count, read back on any rank count.
//
// Layout in a checkpoint directory (usually OUTPUT/checkpoints):
//   ckpt_<NNNNNNNN>.h5   one per sequence number (zero-padded to 8 digits)
//   latest               a text file holding the file name of the newest
// Root attributes: format ("kollektiv-checkpoint"), format_version (1), sequence,
// ranks_written, build_info, plus whatever the caller adds. Every dataset carries
// `checksum` (uint64): the sum mod 2^64 over its elements of mix(global index, value bits).
//
// Every member function is collective over the communicator and throws the same Error on
// every rank.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/hdf5_file.hpp"

namespace kollektiv::io {

inline constexpr const char* checkpoint_format = "kollektiv-checkpoint";
inline constexpr std::int64_t checkpoint_format_version = 1;

// File name of checkpoint `sequence`: "ckpt_00000042.h5".
std::string checkpoint_file_name(std::int64_t sequence);

// The rank-count-independent content hash: sum over i of mix(first_index + i, bits(data[i])).
template <class T>
std::uint64_t content_hash(const T* data, std::size_t count, std::int64_t first_index);

class CheckpointWriter {
 public:
  // Creates `checkpoint_dir` if needed and ckpt_<sequence>.h5.tmp in it (MPI-IO driver).
  CheckpointWriter(MPI_Comm comm, const std::string& checkpoint_dir, std::int64_t sequence);
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Root attributes; the value must be the same on every rank.
  void attribute(const std::string& name, const std::string& value);
  void attribute(const std::string& name, const char* value) { attribute(name, std::string(value)); }
  void attribute(const std::string& name, double value);
  void attribute(const std::string& name, std::int64_t value);
  void attribute(const std::string& name, int value) { attribute(name, static_cast<std::int64_t>(value)); }

  // Dataset `path` (groups created as needed) holding a global array of `global_size`
  // elements; this rank's `local` goes to [offset, offset + local.size()). The ranks'
  // ranges must partition [0, global_size) (checked). T in {double, std::int64_t,
  // std::uint64_t, std::int32_t}.
  template <class T>
  void write(const std::string& path, std::int64_t global_size, std::int64_t offset, const std::vector<T>& local);

  // The ranks' `local` arrays concatenated in rank order.
  template <class T>
  void write_concatenated(const std::string& path, const std::vector<T>& local);

  // A dataset written in pieces, for data a rank packs a little at a time (a factory's
  // stations, a few thousand at once, into the same memory): begin_dataset() creates it as
  // write() does, this rank to write [offset, offset + count) (the ranks' ranges partition
  // [0, global_size), checked), and returns its handle; write_piece() writes this rank's next
  // `n` elements of it (not collective: any number of calls on each rank, the range front to
  // back, its share of the checksum taken as it goes); end_datasets() (collective) checks that
  // every rank wrote exactly its range of every dataset begun and stores their checksums.
  // write_piece()'s errors (past the range, an I/O failure) are held back and thrown on
  // every rank by end_datasets(). write() is begin_dataset(), one piece, end_datasets().
  template <class T>
  int begin_dataset(const std::string& path, std::int64_t global_size, std::int64_t offset, std::int64_t count);
  template <class T>
  void write_piece(int dataset, const T* data, std::size_t n);
  void end_datasets();

  // Closes the file, renames it to its final name (fsync of file and directory), points
  // `latest` at it (written to a temporary and renamed), then deletes older checkpoints so
  // that `keep` (>= 1) remain, checkpoints with a higher sequence (an abandoned timeline
  // after a restart from an older one) and stale .tmp files. Returns the final path.
  std::string commit(int keep);

  const std::string& path() const { return final_path_; }
  MPI_Comm comm() const { return comm_; }

 private:
  MPI_Comm comm_;
  std::string dir_;
  std::int64_t sequence_;
  std::string tmp_path_;
  std::string final_path_;
  h5::Handle file_;
  // The datasets begun and not yet ended: where this rank's next piece goes, the end of its
  // range, its share of the checksum so far; the first error of a piece, held back.
  struct Open {
    std::string path;
    h5::Handle dataset;
    std::int64_t next = 0, end = 0, hinted = 0;  // hinted: write-back started up to here
    std::size_t element_size = 0;
    std::uint64_t hash = 0;
  };
  std::vector<Open> open_;
  std::string piece_error_;
  // A plain descriptor of the .tmp file, only to start the write-back of each rank's
  // dataset bytes early (sync_file_range), so the disk works while the next dataset is
  // hashed and written and the fsync at commit() has less left to wait for. -1 if none.
  int writeback_fd_ = -1;
  void start_writeback(hid_t dataset, std::int64_t first_byte, std::int64_t bytes);
  void close_writeback();
};

class CheckpointReader {
 public:
  // Opens `file` read-only with the MPI-IO driver and checks its format attributes.
  // Throws Error(ExitCode::bad_checkpoint) on every rank if that fails.
  CheckpointReader(MPI_Comm comm, const std::string& file);
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const std::string& file() const { return file_; }
  MPI_Comm comm() const { return comm_; }

  // Root attributes; Error(bad_checkpoint) if missing or of the wrong kind.
  std::string attribute_string(const std::string& name);
  double attribute_double(const std::string& name);
  std::int64_t attribute_int(const std::string& name);

  bool has(const std::string& path);
  bool has_attribute(const std::string& name);  // a root attribute
  // Number of elements of dataset `path`; Error(bad_checkpoint) if there is none.
  std::int64_t size(const std::string& path);

  // Elements [offset, offset + count) of dataset `path` (collective read; count may differ
  // between ranks and be zero). Remembers this rank's share of the checksum; verify()
  // checks it. Error(bad_checkpoint) if the dataset is missing, of another type, shorter,
  // or declares more elements than the file holds bytes for (nothing is allocated then).
  template <class T>
  std::vector<T> read(const std::string& path, std::int64_t offset, std::int64_t count);

  // The whole dataset on every rank, checksum verified at once.
  template <class T>
  std::vector<T> read_all(const std::string& path);

  // Checks the checksum of every dataset read with read() since the last verify(). Cheap
  // when the ranks together read each dataset exactly once; otherwise the dataset is read
  // again in an even split to check it. Error(bad_checkpoint) naming the dataset on mismatch.
  void verify();

 private:
  struct Partial {
    std::uint64_t hash = 0;
    std::int64_t count = 0;
  };
  h5::Handle open_dataset(const std::string& path);
  // Elements [offset, offset + count) of `path`, or all of it (checksum checked) if `whole`.
  template <class T>
  std::vector<T> read_range(const std::string& path, std::int64_t offset, std::int64_t count, bool whole);

  MPI_Comm comm_;
  std::string file_;
  h5::Handle handle_;
  std::map<std::string, Partial> partial_;  // ordered: the same order on every rank
  std::map<std::string, hid_t> type_of_;    // memory type each pending dataset was read as
};

// The checkpoint files in `checkpoint_dir`, newest first: the one `latest` names (if it
// exists), then the rest by descending sequence. *.tmp files are never listed.
std::vector<std::string> list_checkpoints(const std::string& checkpoint_dir);

// A loader reads what it needs from one candidate checkpoint and checks it, without
// touching the run, and returns the step that applies it (or nothing). The step runs only
// after the checksums of everything read have been verified; it may still throw
// Error(bad_checkpoint) for values out of range for this run, before it changes anything.
using CheckpointApply = std::function<void()>;
using CheckpointLoad = std::function<CheckpointApply(CheckpointReader&)>;

// Restores from the newest usable checkpoint. `where` is a checkpoint file, a checkpoint
// directory, or an output directory holding `checkpoints/`. For each candidate, newest
// first: opens it, calls `load(reader)`, verifies the checksums of what it read, then calls
// the returned apply step. A candidate that fails with Error(bad_checkpoint) on any rank
// (unreadable, corrupt, a declared size the file does not hold, a value out of range) is
// reported on rank 0's stderr ("warning: checkpoint FILE is unusable (REASON); trying the
// previous one") and the next is tried. Returns the path used. Throws
// Error(bad_checkpoint, "no valid checkpoint in WHERE: ...") with every candidate's reason
// if none works. Other errors propagate unchanged.
std::string load_newest_valid(MPI_Comm comm, const std::string& where, const CheckpointLoad& load);

}  // namespace kollektiv::io
