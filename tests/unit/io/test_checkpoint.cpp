// Checkpoints: round trip on another split, pruning, rank-count-independent checksums,
// fallback past corrupt or truncated files, and every error path. Bodies hold at any rank count.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "solvers/comm/collectives.hpp"
#include "tests/unit/io/io_test_support.hpp"

namespace kollektiv::io {
namespace {

namespace fs = std::filesystem;

int rank() { return comm::rank_of(MPI_COMM_WORLD); }
int ranks() { return comm::size_of(MPI_COMM_WORLD); }

using test::code_of;
std::string fresh_dir(const std::string& name) { return test::fresh_dir("ckpt", name); }

double value(std::int64_t i, std::int64_t sequence) { return 0.25 * static_cast<double>(i) + std::sin(1.0 * i) + sequence; }

// Uneven blocks: rank r holds r + 2 elements (so rank 0 is not alone in holding data).
struct Block {
  std::int64_t offset, count, total;
};
Block uneven_block(int r, int n) {
  std::int64_t offset = 0;
  for (int q = 0; q < r; ++q) offset += q + 2;
  std::int64_t total = 0;
  for (int q = 0; q < n; ++q) total += q + 2;
  return {offset, r + 2, total};
}
// An even split of `total` elements, with the larger blocks on the high ranks.
Block even_block(std::int64_t total, int r, int n) {
  const int reversed = n - 1 - r;
  return {total * reversed / n, total * (reversed + 1) / n - total * reversed / n, total};
}

// Writes checkpoint `sequence` of `dir`: "state/x" (double), "state/ids" (int64), "counts"
// (int32, written by rank 0 only), "hashes" (uint64, concatenated).
std::string write_checkpoint(const std::string& dir, std::int64_t sequence, int keep = 5) {
  const Block b = uneven_block(rank(), ranks());
  std::vector<double> x;
  std::vector<std::int64_t> ids;
  std::vector<std::uint64_t> hashes;
  for (std::int64_t i = b.offset; i < b.offset + b.count; ++i) {
    x.push_back(value(i, sequence));
    ids.push_back(1000 * sequence + i);
    hashes.push_back(0xfedcba9876543210ULL * static_cast<std::uint64_t>(i + 1));
  }
  std::vector<std::int32_t> counts;
  if (rank() == 0) counts = {-3, 7, 11};
  CheckpointWriter writer(MPI_COMM_WORLD, dir, sequence);
  writer.attribute("iteration", sequence);
  writer.attribute("time_s", 0.5 * sequence);
  writer.attribute("deck", std::string("run: {name: test}"));
  writer.write("state/x", b.total, b.offset, x);
  writer.write("state/ids", b.total, b.offset, ids);
  writer.write("counts", 3, 0, counts);
  writer.write_concatenated("hashes", hashes);
  return writer.commit(keep);
}

// A loader that only reads (nothing to apply).
template <class Read>
CheckpointLoad reading(Read read) {
  return [read](CheckpointReader& r) -> CheckpointApply {
    read(r);
    return {};
  };
}

// Loads "state/x" in an even split and checks it against `sequence`'s values.
void load_and_check(CheckpointReader& reader, std::int64_t sequence) {
  const std::int64_t total = reader.size("state/x");
  const Block b = even_block(total, rank(), ranks());
  const std::vector<double> x = reader.read<double>("state/x", b.offset, b.count);
  for (std::int64_t k = 0; k < b.count; ++k) EXPECT_EQ(x[k], value(b.offset + k, sequence));
}

// Rank 0 flips 8 bytes in the middle of dataset `path`'s raw data in `file`.
void corrupt_dataset(const std::string& file, const std::string& path) {
  if (rank() == 0) {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
    const haddr_t offset = H5Dget_offset(d);
    const hsize_t bytes = H5Dget_storage_size(d);
    H5Dclose(d);
    H5Fclose(f);
    ASSERT_NE(offset, HADDR_UNDEF);
    ASSERT_GE(bytes, 8u);
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    const auto at = static_cast<std::streamoff>(offset + bytes / 2 - 4);
    char buffer[8];
    io.seekg(at);
    io.read(buffer, 8);
    for (char& c : buffer) c = static_cast<char>(~c);
    io.seekp(at);
    io.write(buffer, 8);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// Rank 0's stderr while it lives; released even when a test body throws.
class StderrCapture {
 public:
  StderrCapture() {
    if (rank() == 0) testing::internal::CaptureStderr();
  }
  ~StderrCapture() { text(); }
  std::string text() {
    if (rank() == 0 && !done_) {
      done_ = true;
      text_ = testing::internal::GetCapturedStderr();
    }
    return text_;
  }

 private:
  bool done_ = false;
  std::string text_;
};

void truncate_to_half(const std::string& file) {
  if (rank() == 0) fs::resize_file(file, fs::file_size(file) / 2);
  MPI_Barrier(MPI_COMM_WORLD);
}

std::uint64_t stored_checksum(const std::string& file, const std::string& path) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  hid_t a = H5Aopen(d, "checksum", H5P_DEFAULT);
  std::uint64_t value = 0;
  H5Aread(a, H5T_NATIVE_UINT64, &value);
  H5Aclose(a);
  H5Dclose(d);
  H5Fclose(f);
  return value;
}

std::string read_text(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(Checkpoint, RoundTripOnAnotherSplit) {
  const std::string dir = fresh_dir("roundtrip");
  const std::string path = write_checkpoint(dir, 7);
  EXPECT_EQ(path, (fs::path(dir) / "ckpt_00000007.h5").string());
  EXPECT_EQ(read_text(dir + "/latest"), "ckpt_00000007.h5");

  CheckpointReader reader(MPI_COMM_WORLD, path);
  EXPECT_EQ(reader.attribute_string("format"), "kollektiv-checkpoint");
  EXPECT_EQ(reader.attribute_int("format_version"), 1);
  EXPECT_EQ(reader.attribute_int("ranks_written"), ranks());
  EXPECT_EQ(reader.attribute_int("iteration"), 7);
  EXPECT_EQ(reader.attribute_double("time_s"), 3.5);
  EXPECT_EQ(reader.attribute_string("deck"), "run: {name: test}");
  EXPECT_NE(reader.attribute_string("build_info").find("kollektiv"), std::string::npos);
  EXPECT_TRUE(reader.has("state/x"));
  EXPECT_TRUE(reader.has("state"));
  EXPECT_FALSE(reader.has("state/y"));
  EXPECT_FALSE(reader.has("nothing/x"));

  const std::int64_t total = uneven_block(0, ranks()).total;
  ASSERT_EQ(reader.size("state/x"), total);
  load_and_check(reader, 7);
  const Block b = even_block(total, rank(), ranks());
  const auto ids = reader.read<std::int64_t>("state/ids", b.offset, b.count);
  const auto hashes = reader.read<std::uint64_t>("hashes", b.offset, b.count);
  for (std::int64_t k = 0; k < b.count; ++k) {
    EXPECT_EQ(ids[k], 7000 + b.offset + k);
    EXPECT_EQ(hashes[k], 0xfedcba9876543210ULL * static_cast<std::uint64_t>(b.offset + k + 1));
  }
  EXPECT_EQ(reader.read_all<std::int32_t>("counts"), (std::vector<std::int32_t>{-3, 7, 11}));
  EXPECT_NO_THROW(reader.verify());
}

TEST(Checkpoint, KeepPrunesTheOldest) {
  const std::string dir = fresh_dir("keep");
  for (std::int64_t s = 1; s <= 5; ++s) write_checkpoint(dir, s, 2);
  std::vector<std::string> expected = {dir + "/ckpt_00000005.h5", dir + "/ckpt_00000004.h5"};
  EXPECT_EQ(list_checkpoints(dir), expected);
  EXPECT_EQ(read_text(dir + "/latest"), "ckpt_00000005.h5");
  // Restarting from 4 and committing 4 again drops 5: it belongs to the abandoned timeline.
  write_checkpoint(dir, 4, 2);
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(list_checkpoints(dir), std::vector<std::string>{dir + "/ckpt_00000004.h5"});
}

TEST(Checkpoint, ListPutsLatestFirstAndIgnoresOtherFiles) {
  const std::string dir = fresh_dir("list");
  write_checkpoint(dir, 3);
  write_checkpoint(dir, 10);
  if (rank() == 0) {
    std::ofstream(dir + "/latest") << "ckpt_00000003.h5\n";
    std::ofstream(dir + "/ckpt_00000020.h5.tmp") << "partial";
    std::ofstream(dir + "/ckpt_x.h5") << "junk";
    std::ofstream(dir + "/notes.txt") << "junk";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(list_checkpoints(dir), (std::vector<std::string>{dir + "/ckpt_00000003.h5", dir + "/ckpt_00000010.h5"}));
  EXPECT_TRUE(list_checkpoints(dir + "/absent").empty());
}

TEST(Checkpoint, TemporaryIsNeverVisible) {
  const std::string dir = fresh_dir("tmp");
  write_checkpoint(dir, 1);
  {
    CheckpointWriter writer(MPI_COMM_WORLD, dir, 2);
    writer.write_concatenated("x", std::vector<double>{1.0, 2.0});
    MPI_Barrier(MPI_COMM_WORLD);
    EXPECT_TRUE(fs::exists(dir + "/ckpt_00000002.h5.tmp"));
    EXPECT_EQ(list_checkpoints(dir), std::vector<std::string>{dir + "/ckpt_00000001.h5"});
    EXPECT_EQ(read_text(dir + "/latest"), "ckpt_00000001.h5");
  }  // never committed: the temporary goes away
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(fs::exists(dir + "/ckpt_00000002.h5.tmp"));
  EXPECT_EQ(load_newest_valid(MPI_COMM_WORLD, dir, reading([](CheckpointReader& r) { load_and_check(r, 1); })),
            dir + "/ckpt_00000001.h5");
}

TEST(Checkpoint, ChecksumDoesNotDependOnRankCount) {
  const std::string dir_n = fresh_dir("checksum_n"), dir_1 = fresh_dir("checksum_1");
  const std::string file_n = write_checkpoint(dir_n, 2);
  if (rank() == 0) {
    // The same global data written by one rank alone.
    const std::int64_t total = uneven_block(0, ranks()).total;
    std::vector<double> x;
    std::vector<std::int64_t> ids;
    for (std::int64_t i = 0; i < total; ++i) {
      x.push_back(value(i, 2));
      ids.push_back(2000 + i);
    }
    CheckpointWriter writer(MPI_COMM_SELF, dir_1, 2);
    writer.write("state/x", total, 0, x);
    writer.write_concatenated("state/ids", ids);
    const std::string file_1 = writer.commit(1);
    EXPECT_EQ(stored_checksum(file_1, "state/x"), stored_checksum(file_n, "state/x"));
    EXPECT_EQ(stored_checksum(file_1, "state/ids"), stored_checksum(file_n, "state/ids"));
    EXPECT_EQ(stored_checksum(file_1, "state/x"), content_hash(x.data(), x.size(), 0));
    EXPECT_NE(stored_checksum(file_1, "state/x"), stored_checksum(file_1, "state/ids"));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(Checkpoint, HashSeesPositionAndValue) {
  const std::vector<double> a = {1.0, 2.0, 3.0}, swapped = {2.0, 1.0, 3.0}, signed_zero = {-0.0}, zero = {0.0};
  EXPECT_NE(content_hash(a.data(), 3, 0), content_hash(swapped.data(), 3, 0));
  EXPECT_NE(content_hash(a.data(), 3, 0), content_hash(a.data(), 3, 1));
  EXPECT_NE(content_hash(zero.data(), 1, 0), content_hash(signed_zero.data(), 1, 0));
  EXPECT_EQ(content_hash(a.data(), 3, 0), content_hash(a.data(), 1, 0) + content_hash(a.data() + 1, 2, 1));
}

// The checksum is part of the file format: content_hash must equal its definition
// (checkpoint.hpp), element by element, whatever the vector width the loop is compiled to,
// for every length around the vector body and its tail, and for 8- and 4-byte elements.
TEST(Checkpoint, HashIsItsDefinitionAtEveryLength) {
  const auto mix = [](std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  const auto definition = [&](const auto* data, std::size_t n, std::int64_t first) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t bits = 0;
      std::memcpy(&bits, data + i, sizeof(data[i]));  // 4-byte elements: zero-extended
      sum += mix(bits ^ mix(static_cast<std::uint64_t>(first + static_cast<std::int64_t>(i)) + 0x9e3779b97f4a7c15ULL));
    }
    return sum;
  };
  std::vector<std::int64_t> wide(40);
  std::vector<std::int32_t> narrow(40);
  for (std::size_t i = 0; i < wide.size(); ++i) {
    wide[i] = static_cast<std::int64_t>(i * 0x9e3779b97f4a7c15ULL);
    narrow[i] = -static_cast<std::int32_t>(7 * i + 1);
  }
  for (std::size_t n = 0; n <= 37; ++n)
    for (std::int64_t first : {std::int64_t{0}, std::int64_t{5}, std::int64_t{1} << 40}) {
      EXPECT_EQ(content_hash(wide.data() + 1, n, first), definition(wide.data() + 1, n, first)) << n << " " << first;
      EXPECT_EQ(content_hash(narrow.data() + 1, n, first), definition(narrow.data() + 1, n, first)) << n << " " << first;
    }
  // From 8 MiB on, two threads hash a half each: the same sum.
  std::vector<std::int64_t> large((std::size_t{8} << 20) / sizeof(std::int64_t) + 37);
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<std::int64_t>(i * i);
  EXPECT_EQ(content_hash(large.data(), large.size(), 11), definition(large.data(), large.size(), 11));
  EXPECT_EQ(content_hash(large.data(), large.size(), 11),
            content_hash(large.data(), 1000, 11) + content_hash(large.data() + 1000, large.size() - 1000, 1011));
  // And one value frozen: checkpoints written by earlier builds must still verify.
  EXPECT_EQ(content_hash(wide.data(), wide.size(), 3), 0x185b33e9d25069ccULL);
}

TEST(Checkpoint, CorruptNewestFallsBackToThePrevious) {
  const std::string dir = fresh_dir("corrupt");
  write_checkpoint(dir, 1);
  const std::string newest = write_checkpoint(dir, 2);
  corrupt_dataset(newest, "state/x");
  std::int64_t loaded = -1;
  std::vector<double> x;
  int applied = 0;
  StderrCapture capture;
  const std::string used = load_newest_valid(MPI_COMM_WORLD, dir, [&](CheckpointReader& r) -> CheckpointApply {
    const std::int64_t iteration = r.attribute_int("iteration");
    const std::int64_t total = r.size("state/x");
    auto read = std::make_shared<std::vector<double>>(r.read<double>("state/x", 0, rank() == 0 ? total : 0));
    // The run sees the values only once load_newest_valid has verified them: the corrupt
    // newest checkpoint is read but never applied.
    return [&, iteration, read] {
      ++applied;
      loaded = iteration;
      x = *read;
    };
  });
  EXPECT_EQ(applied, 1);
  for (std::size_t k = 0; k < x.size(); ++k) EXPECT_EQ(x[k], value(static_cast<std::int64_t>(k), 1));
  if (rank() == 0) {
    const std::string err = capture.text();
    EXPECT_NE(err.find("warning: checkpoint " + newest + " is unusable ("), std::string::npos) << err;
    EXPECT_NE(err.find("checksum"), std::string::npos) << err;
    EXPECT_NE(err.find("trying the previous one"), std::string::npos) << err;
  }
  EXPECT_EQ(used, dir + "/ckpt_00000001.h5");
  EXPECT_EQ(loaded, 1);
}

TEST(Checkpoint, ApplyRefusingTheValuesFallsBackToThePrevious) {
  const std::string dir = fresh_dir("apply_refuses");
  write_checkpoint(dir, 1);
  write_checkpoint(dir, 2);
  std::int64_t applied = -1;
  StderrCapture capture;
  const std::string used = load_newest_valid(MPI_COMM_WORLD, dir, [&](CheckpointReader& r) -> CheckpointApply {
    const std::int64_t iteration = r.attribute_int("iteration");
    return [&, iteration] {
      // Out of range for this run on one rank only: refused on every rank alike.
      if (iteration == 2 && rank() == ranks() - 1) throw Error("value out of range", ExitCode::bad_checkpoint);
      applied = iteration;
    };
  });
  capture.text();
  EXPECT_EQ(used, dir + "/ckpt_00000001.h5");
  EXPECT_EQ(applied, 1);
}

// A dataset that declares far more elements than the file holds (a chunked dataset with no
// chunks written reads as fill values, so HDF5 itself would happily return 10^12 zeros):
// the reader refuses it before allocating, and the previous checkpoint is used.
TEST(Checkpoint, HugeDeclaredSizeFallsBackToThePrevious) {
  const std::string dir = fresh_dir("huge");
  write_checkpoint(dir, 1);
  const std::string newest = write_checkpoint(dir, 2);
  if (rank() == 0) {
    const hid_t file = H5Fopen(newest.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    ASSERT_GE(H5Ldelete(file, "state/x", H5P_DEFAULT), 0);
    const hsize_t dims = 1000000000000ULL, chunk = 1024;
    const hid_t space = H5Screate_simple(1, &dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    const hid_t set = H5Dcreate2(file, "state/x", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(set, 0);
    H5Dclose(set);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  StderrCapture capture;
  const std::string used = load_newest_valid(MPI_COMM_WORLD, dir, reading([](CheckpointReader& r) {
    const std::int64_t total = r.size("state/x");
    const Block b = even_block(total, rank(), ranks());
    r.read<double>("state/x", b.offset, b.count);
  }));
  if (rank() == 0) {
    const std::string err = capture.text();
    EXPECT_NE(err.find("declares 1000000000000 elements but the file holds"), std::string::npos) << err;
  }
  EXPECT_EQ(used, dir + "/ckpt_00000001.h5");
}

TEST(Checkpoint, TruncatedNewestFallsBackToThePrevious) {
  const std::string dir = fresh_dir("truncated");
  write_checkpoint(dir, 1);
  const std::string newest = write_checkpoint(dir, 2);
  truncate_to_half(newest);
  StderrCapture capture;
  const std::string used = load_newest_valid(MPI_COMM_WORLD, dir, reading([&](CheckpointReader& r) { load_and_check(r, 1); }));
  if (rank() == 0) {
    const std::string err = capture.text();
    EXPECT_NE(err.find("warning: checkpoint " + newest + " is unusable"), std::string::npos) << err;
  }
  EXPECT_EQ(used, dir + "/ckpt_00000001.h5");
}

TEST(Checkpoint, AllUnusableIsBadCheckpoint) {
  const std::string dir = fresh_dir("all_bad");
  const std::string first = write_checkpoint(dir, 1);
  const std::string second = write_checkpoint(dir, 2);
  corrupt_dataset(first, "state/x");
  truncate_to_half(second);
  std::string message;
  StderrCapture capture;
  const ExitCode code = code_of(
      [&] {
        load_newest_valid(MPI_COMM_WORLD, dir, reading([](CheckpointReader& r) {
          const std::int64_t total = r.size("state/x");
          r.read<double>("state/x", 0, rank() == 0 ? total : 0);
        }));
      },
      &message);
  capture.text();
  EXPECT_EQ(code, ExitCode::bad_checkpoint);
  EXPECT_EQ(message.rfind("no valid checkpoint in " + dir + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(first), std::string::npos) << message;
  EXPECT_NE(message.find(second), std::string::npos) << message;
}

TEST(Checkpoint, NoCheckpointAtAllIsBadCheckpoint) {
  const std::string dir = fresh_dir("empty");
  std::string message;
  EXPECT_EQ(code_of([&] { load_newest_valid(MPI_COMM_WORLD, dir, reading([](CheckpointReader&) {})); }, &message),
            ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("no checkpoint files"), std::string::npos) << message;
}

TEST(Checkpoint, OutputDirectoryAndSingleFileWork) {
  const std::string output = fresh_dir("output");
  const std::string file = write_checkpoint(output + "/checkpoints", 4);
  auto check = [](CheckpointReader& r) { load_and_check(r, 4); };
  EXPECT_EQ(load_newest_valid(MPI_COMM_WORLD, output, reading(check)), file);
  EXPECT_EQ(load_newest_valid(MPI_COMM_WORLD, file, reading(check)), file);
}

TEST(Checkpoint, OtherErrorsInLoadPropagate) {
  const std::string dir = fresh_dir("propagate");
  write_checkpoint(dir, 1);
  EXPECT_EQ(code_of([&] {
              load_newest_valid(MPI_COMM_WORLD, dir, reading([](CheckpointReader&) { throw Error("deck mismatch", ExitCode::bad_input); }));
            }),
            ExitCode::bad_input);
}

TEST(Checkpoint, UnevenAndRepeatedReadsAreStillVerified) {
  const std::string dir = fresh_dir("reread");
  const std::string file = write_checkpoint(dir, 1);
  {
    // Every rank reads everything with read(): not "exactly once", so verify() re-reads.
    CheckpointReader reader(MPI_COMM_WORLD, file);
    const std::int64_t total = reader.size("state/x");
    reader.read<double>("state/x", 0, total);
    EXPECT_NO_THROW(reader.verify());
    // Only a part read: the re-read still checks the whole dataset.
    reader.read<double>("state/x", 0, rank() == 0 ? 1 : 0);
    EXPECT_NO_THROW(reader.verify());
  }
  corrupt_dataset(file, "state/ids");
  CheckpointReader reader(MPI_COMM_WORLD, file);
  reader.read<std::int64_t>("state/ids", 0, rank() == 0 ? 1 : 0);
  std::string message;
  EXPECT_EQ(code_of([&] { reader.verify(); }, &message), ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("'state/ids' fails its checksum"), std::string::npos) << message;
}

TEST(Checkpoint, ReadAllDetectsCorruption) {
  const std::string dir = fresh_dir("read_all");
  const std::string file = write_checkpoint(dir, 1);
  corrupt_dataset(file, "hashes");
  CheckpointReader reader(MPI_COMM_WORLD, file);
  EXPECT_EQ(code_of([&] { reader.read_all<std::uint64_t>("hashes"); }), ExitCode::bad_checkpoint);
}

TEST(Checkpoint, ReaderErrorsAreBadCheckpoint) {
  const std::string dir = fresh_dir("reader_errors");
  const std::string file = write_checkpoint(dir, 1);
  std::string message;
  EXPECT_EQ(code_of([&] { CheckpointReader(MPI_COMM_WORLD, dir + "/absent.h5"); }, &message), ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
  if (rank() == 0) std::ofstream(dir + "/text.h5") << "not HDF5 at all";
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(code_of([&] { CheckpointReader(MPI_COMM_WORLD, dir + "/text.h5"); }, &message), ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("cannot open it as HDF5"), std::string::npos) << message;
  if (rank() == 0) {
    hid_t f = H5Fcreate((dir + "/other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(code_of([&] { CheckpointReader(MPI_COMM_WORLD, dir + "/other.h5"); }, &message), ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("'format' is missing"), std::string::npos) << message;

  CheckpointReader reader(MPI_COMM_WORLD, file);
  EXPECT_EQ(code_of([&] { reader.attribute_int("absent"); }), ExitCode::bad_checkpoint);
  EXPECT_EQ(code_of([&] { reader.attribute_double("deck"); }), ExitCode::bad_checkpoint);
  EXPECT_EQ(code_of([&] { reader.attribute_string("iteration"); }), ExitCode::bad_checkpoint);
  EXPECT_EQ(code_of([&] { reader.size("state/absent"); }), ExitCode::bad_checkpoint);
  EXPECT_EQ(code_of([&] { reader.read<double>("state/absent", 0, 0); }), ExitCode::bad_checkpoint);
  EXPECT_EQ(code_of([&] { reader.read<std::int32_t>("state/x", 0, 1); }, &message), ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("another element type"), std::string::npos) << message;
  // One rank asking past the end fails every rank.
  EXPECT_EQ(code_of([&] { reader.read<double>("state/x", 0, rank() == ranks() - 1 ? 1000 : 1); }, &message),
            ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("which holds"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { reader.read_all<double>("state"); }), ExitCode::bad_checkpoint);
}

TEST(Checkpoint, WriterErrorsFailEveryRank) {
  const std::string dir = fresh_dir("writer_errors");
  std::string message;
  EXPECT_EQ(code_of([&] { CheckpointWriter(MPI_COMM_WORLD, dir, -1); }), ExitCode::failure);
  if (rank() == 0) std::ofstream(dir + "/file") << "x";
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(code_of([&] { CheckpointWriter(MPI_COMM_WORLD, dir + "/file/sub", 1); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("cannot create checkpoint directory"), std::string::npos) << message;

  CheckpointWriter writer(MPI_COMM_WORLD, dir, 1);
  const Block b = uneven_block(rank(), ranks());
  const std::vector<double> local(static_cast<std::size_t>(b.count), 1.0);
  EXPECT_EQ(code_of([&] { writer.write("gap", b.total + 1, b.offset, local); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("unwritten"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { writer.write("outside", b.total, b.offset + 1, local); }, &message), ExitCode::failure);
  EXPECT_EQ(code_of([&] { writer.write("sizes", rank() == 0 ? b.total : b.total + 1, b.offset, local); }),
            ranks() > 1 ? ExitCode::failure : ExitCode::ok);
  if (ranks() > 1) {
    EXPECT_EQ(code_of([&] { writer.write("overlap", b.total, 0, std::vector<double>(2, 0.0)); }, &message),
              ExitCode::failure);
    EXPECT_NE(message.find("overlap"), std::string::npos) << message;
  }
  EXPECT_EQ(code_of([&] { writer.write("", b.total, b.offset, local); }), ExitCode::failure);
  writer.write("ok", b.total, b.offset, local);
  EXPECT_EQ(code_of([&] { writer.write("ok", b.total, b.offset, local); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("cannot create checkpoint dataset 'ok'"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { writer.commit(0); }), ExitCode::failure);
  writer.commit(1);
  EXPECT_EQ(code_of([&] { writer.commit(1); }), ExitCode::failure);
  EXPECT_EQ(code_of([&] { writer.attribute("late", std::int64_t{1}); }), ExitCode::failure);
  EXPECT_EQ(code_of([&] { writer.write("late", b.total, b.offset, local); }), ExitCode::failure);
}

// String attributes are fixed-length (in the attribute's checksummed storage), of any
// length a deck has; a variable-length one (HDF5's unchecksummed global heap, on which
// HDF5 1.10 hangs or reads out of bounds when damaged: found by tests/fuzz) is refused as a
// bad checkpoint.
TEST(Checkpoint, StringAttributesAreFixedLengthAndVariableLengthIsRefused) {
  const std::string dir = fresh_dir("strings");
  const std::string long_text(200000, 'd');
  std::string file;
  {
    CheckpointWriter writer(MPI_COMM_WORLD, dir, 1);
    writer.attribute("deck", long_text);
    writer.attribute("empty", std::string());
    file = writer.commit(1);
  }
  {
    CheckpointReader reader(MPI_COMM_WORLD, file);
    EXPECT_EQ(reader.attribute_string("deck"), long_text);
    EXPECT_EQ(reader.attribute_string("empty"), "");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, "old_style", type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* text = "variable";
    H5Awrite(a, type, &text);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CheckpointReader reader(MPI_COMM_WORLD, file);
  std::string message;
  EXPECT_EQ(code_of([&] { reader.attribute_string("old_style"); }, &message), ExitCode::bad_checkpoint);
  EXPECT_NE(message.find("is a variable-length string"), std::string::npos) << message;
}

TEST(Checkpoint, EmptyDatasetsRoundTrip) {
  const std::string dir = fresh_dir("empty_datasets");
  std::string file;
  {
    CheckpointWriter writer(MPI_COMM_WORLD, dir, 1);
    writer.write_concatenated("none", std::vector<double>{});
    writer.write_concatenated("rank0_only", rank() == 0 ? std::vector<std::int64_t>{5} : std::vector<std::int64_t>{});
    file = writer.commit(1);
  }
  const std::string used = load_newest_valid(MPI_COMM_WORLD, dir, reading([](CheckpointReader& r) {
    EXPECT_EQ(r.size("none"), 0);
    EXPECT_TRUE(r.read<double>("none", 0, 0).empty());
    EXPECT_EQ(r.read<std::int64_t>("rank0_only", 0, rank() == ranks() - 1 ? 1 : 0).size(),
              rank() == ranks() - 1 ? 1u : 0u);
  }));
  EXPECT_EQ(used, file);
}

// Datasets written in pieces (a factory's stations, a few thousand at a time): two open at
// once, pieces of 1, 2 and 3 elements interleaved, a rank whose range is empty. The file
// holds what write() would have written, checksums included, and reads back on any split.
TEST(Checkpoint, PiecesWriteWhatOneWriteWrites) {
  const std::string dir_whole = fresh_dir("pieces_whole"), dir_pieces = fresh_dir("pieces");
  const Block b = uneven_block(rank(), ranks());
  std::vector<double> x;
  std::vector<std::int64_t> ids;
  for (std::int64_t i = b.offset; i < b.offset + b.count; ++i) {
    x.push_back(value(i, 3));
    ids.push_back(3000 + i);
  }
  const std::vector<double> only_last = rank() == ranks() - 1 ? std::vector<double>{1.5, -2.5} : std::vector<double>{};
  std::string whole, pieces;
  {
    CheckpointWriter writer(MPI_COMM_WORLD, dir_whole, 3);
    writer.write("state/x", b.total, b.offset, x);
    writer.write("state/ids", b.total, b.offset, ids);
    writer.write_concatenated("last", only_last);
    whole = writer.commit(1);
  }
  {
    CheckpointWriter writer(MPI_COMM_WORLD, dir_pieces, 3);
    const int dx = writer.begin_dataset<double>("state/x", b.total, b.offset, b.count);
    const int di = writer.begin_dataset<std::int64_t>("state/ids", b.total, b.offset, b.count);
    const int dl = writer.begin_dataset<double>("last", 2, rank() == ranks() - 1 ? 0 : 2, static_cast<std::int64_t>(only_last.size()));
    std::size_t at = 0;
    for (std::size_t n = 1; at < x.size(); ++n) {  // pieces of 1, 2, 3, ... elements
      const std::size_t k = std::min(n, x.size() - at);
      writer.write_piece(dx, x.data() + at, k);
      writer.write_piece(di, ids.data() + at, 0);  // an empty piece writes nothing
      writer.write_piece(di, ids.data() + at, k);
      at += k;
    }
    writer.write_piece(dl, only_last.data(), only_last.size());
    writer.end_datasets();
    pieces = writer.commit(1);
  }
  if (rank() == 0) {
    for (const char* path : {"state/x", "state/ids", "last"}) {
      EXPECT_EQ(stored_checksum(pieces, path), stored_checksum(whole, path)) << path;
      EXPECT_NE(stored_checksum(pieces, path), 0u) << path;
    }
  }
  load_newest_valid(MPI_COMM_WORLD, dir_pieces, reading([&](CheckpointReader& r) {
    const Block e = even_block(b.total, rank(), ranks());
    const auto read_x = r.read<double>("state/x", e.offset, e.count);
    const auto read_ids = r.read<std::int64_t>("state/ids", e.offset, e.count);
    for (std::int64_t k = 0; k < e.count; ++k) {
      EXPECT_EQ(read_x[static_cast<std::size_t>(k)], value(e.offset + k, 3));
      EXPECT_EQ(read_ids[static_cast<std::size_t>(k)], 3000 + e.offset + k);
    }
    EXPECT_EQ(r.read_all<double>("last"), (std::vector<double>{1.5, -2.5}));
  }));
}

// A piece past the rank's range, a range left short, a dataset begun and never ended: each
// fails every rank, at end_datasets() (or commit()), naming the dataset; the file is dropped.
TEST(Checkpoint, PieceErrorsFailEveryRank) {
  const std::string dir = fresh_dir("piece_errors");
  const Block b = uneven_block(rank(), ranks());
  const std::vector<double> local(static_cast<std::size_t>(b.count), 1.0);
  std::string message;
  const auto attempt = [&](const std::function<void(CheckpointWriter&, int)>& pieces, bool end = true) {
    CheckpointWriter writer(MPI_COMM_WORLD, dir, 1);
    const int d = writer.begin_dataset<double>("state/x", b.total, b.offset, b.count);
    pieces(writer, d);
    if (end) writer.end_datasets();
    writer.commit(1);
  };
  // Rank 0 writes one element more than its range holds.
  EXPECT_EQ(code_of([&] { attempt([&](CheckpointWriter& w, int d) {
                        w.write_piece(d, local.data(), local.size());
                        if (rank() == 0) w.write_piece(d, local.data(), 1);
                      }); },
                    &message),
            ExitCode::failure);
  EXPECT_NE(message.find("'state/x'"), std::string::npos) << message;
  EXPECT_NE(message.find("runs past"), std::string::npos) << message;
  // The last rank stops one element short.
  EXPECT_EQ(code_of([&] { attempt([&](CheckpointWriter& w, int d) {
                        w.write_piece(d, local.data(), local.size() - (rank() == ranks() - 1 ? 1 : 0));
                      }); },
                    &message),
            ExitCode::failure);
  EXPECT_NE(message.find("only up to element"), std::string::npos) << message;
  // A piece of another element type, and a dataset that was never begun.
  EXPECT_EQ(code_of([&] { attempt([&](CheckpointWriter& w, int d) {
                        const std::vector<std::int32_t> narrow(local.size(), 1);
                        w.write_piece(d, narrow.data(), narrow.size());
                      }); },
                    &message),
            ExitCode::failure);
  EXPECT_NE(message.find("another element type"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { attempt([&](CheckpointWriter& w, int d) { w.write_piece(d + 1, local.data(), 1); }); },
                    &message),
            ExitCode::failure);
  EXPECT_NE(message.find("no dataset"), std::string::npos) << message;
  // Begun, written, never ended: commit refuses.
  EXPECT_EQ(code_of([&] { attempt([&](CheckpointWriter& w, int d) { w.write_piece(d, local.data(), local.size()); },
                                  false); },
                    &message),
            ExitCode::failure);
  EXPECT_NE(message.find("begun and not ended"), std::string::npos) << message;
  EXPECT_TRUE(list_checkpoints(dir).empty());
}

}  // namespace
}  // namespace kollektiv::io
