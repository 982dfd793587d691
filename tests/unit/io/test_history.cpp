// History: rows of named columns written by rank 0, read back with plain HDF5 (SWMR read
// access, as a reader of a running job opens it); the file published at the first row;
// resume truncation, also of a file whose writer was killed; and every error path. Bodies
// hold at any rank count.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "io/history.hpp"
#include "solvers/comm/collectives.hpp"
#include "tests/unit/io/io_test_support.hpp"

namespace kollektiv::io {
namespace {

namespace fs = std::filesystem;

int rank() { return comm::rank_of(MPI_COMM_WORLD); }

using test::code_of;
std::string fresh_dir(const std::string& name) { return test::fresh_dir("history", name); }

// A dataset of the file as read by plain HDF5 (rank 0 only).
template <class T>
struct Column {
  std::vector<hsize_t> dims;
  std::vector<T> values;
  std::string unit;
};

// String attributes are fixed-length, NUL-terminated UTF-8 (never in HDF5's global heap).
std::string string_attribute(hid_t object, const char* name) {
  hid_t a = H5Aopen(object, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  EXPECT_EQ(H5Tis_variable_str(t), 0);
  EXPECT_EQ(H5Tget_cset(t), H5T_CSET_UTF8);
  EXPECT_EQ(H5Tget_strpad(t), H5T_STR_NULLTERM);
  std::string value(H5Tget_size(t), '\0');
  H5Aread(a, t, value.data());
  value.resize(value.find('\0') == std::string::npos ? value.size() : value.find('\0'));
  H5Tclose(t);
  H5Aclose(a);
  return value;
}

// Opens a history as its readers do: SWMR read access, which also opens a file being
// written or whose writer was killed.
hid_t open_for_reading(const std::string& file) { return H5Fopen(file.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT); }

template <class T>
Column<T> read_column(const std::string& file, const std::string& path) {
  Column<T> column;
  hid_t f = open_for_reading(file);
  hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  column.dims.resize(static_cast<std::size_t>(H5Sget_simple_extent_ndims(s)));
  H5Sget_simple_extent_dims(s, column.dims.data(), nullptr);
  column.values.resize(static_cast<std::size_t>(H5Sget_simple_extent_npoints(s)));
  if (!column.values.empty()) {
    H5Dread(d, std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
            column.values.data());
  }
  column.unit = H5Aexists(d, "unit") > 0 ? string_attribute(d, "unit") : "";
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
  return column;
}

std::vector<hsize_t> read_column_dims(hid_t f, const char* path) {
  hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  std::vector<hsize_t> dims(static_cast<std::size_t>(H5Sget_simple_extent_ndims(s)));
  H5Sget_simple_extent_dims(s, dims.data(), nullptr);
  H5Sclose(s);
  H5Dclose(d);
  return dims;
}

// The committed rows: the length of `row`, whose values are the row indices.
std::int64_t rows_in_file(const std::string& file) {
  const auto row = read_column<std::int64_t>(file, History::row_dataset);
  EXPECT_EQ(row.dims.size(), 1u);
  for (std::size_t k = 0; k < row.values.size(); ++k) EXPECT_EQ(row.values[k], static_cast<std::int64_t>(k));
  return static_cast<std::int64_t>(row.values.size());
}

bool exists(const std::string& path) { return fs::exists(path); }

void append_row(History& history, std::int64_t row) {
  const double r = static_cast<double>(row);
  history.append("lines/throughput_per_h", {r, 10 + r, 20 + r}, "1/h");
  history.append("timings/wall_s", {0.5 * r}, "s");
  history.append("counts", std::vector<std::int64_t>{row, -row});
  history.end_row();
}

// The row's errors surface at end_row(), on every rank.
std::string row_error(History& history, const std::function<void()>& appends) {
  appends();
  std::string message;
  EXPECT_EQ(code_of([&] { history.end_row(); }, &message), ExitCode::failure);
  return message;
}

TEST(History, RowsReadBackWithPlainHdf5) {
  const std::string file = fresh_dir("rows") + "/out/history.h5";  // parent created on demand
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck: text", "deck: resolved");
    history.write_static("stations/names", {"replaced"});
    history.write_static("stations/names", {"weld_1", "pick_2", "säge"});
    history.write_static("empty", {});
    for (std::int64_t row = 0; row < 3; ++row) append_row(history, row);
    EXPECT_EQ(history.rows(), 3);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() != 0) return;
  const auto throughput = read_column<double>(file, "lines/throughput_per_h");
  EXPECT_EQ(throughput.dims, (std::vector<hsize_t>{3, 3}));
  EXPECT_EQ(throughput.values, (std::vector<double>{0, 10, 20, 1, 11, 21, 2, 12, 22}));
  EXPECT_EQ(throughput.unit, "1/h");
  const auto wall = read_column<double>(file, "timings/wall_s");
  EXPECT_EQ(wall.dims, (std::vector<hsize_t>{3}));
  EXPECT_EQ(wall.values, (std::vector<double>{0, 0.5, 1.0}));
  EXPECT_EQ(wall.unit, "s");
  const auto counts = read_column<std::int64_t>(file, "counts");
  EXPECT_EQ(counts.dims, (std::vector<hsize_t>{3, 2}));
  EXPECT_EQ(counts.values, (std::vector<std::int64_t>{0, 0, 1, -1, 2, -2}));
  EXPECT_EQ(counts.unit, "");

  EXPECT_EQ(rows_in_file(file), 3);
  hid_t f = open_for_reading(file);
  EXPECT_EQ(string_attribute(f, "deck"), "deck: text");
  EXPECT_EQ(string_attribute(f, "resolved_deck"), "deck: resolved");
  EXPECT_NE(string_attribute(f, "build_info").find("kollektiv"), std::string::npos);
  hid_t d = H5Dopen2(f, "stations/names", H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  EXPECT_GT(H5Tis_variable_str(t), 0);
  std::vector<char*> names(3);
  H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names.data());
  EXPECT_STREQ(names[0], "weld_1");
  EXPECT_STREQ(names[2], "säge");
  for (char* name : names) H5free_memory(name);
  EXPECT_EQ(read_column_dims(f, "empty"), std::vector<hsize_t>{0});
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
}

// Rank r's block of a spread column in row `row`: entries [first, first + size) of a row whose
// entry i is 1000 row + i.
std::vector<double> block_of(std::int64_t row, std::int64_t first, std::int64_t size) {
  std::vector<double> values(static_cast<std::size_t>(size));
  for (std::int64_t i = 0; i < size; ++i) values[static_cast<std::size_t>(i)] = 1000.0 * row + first + i;
  return values;
}

TEST(History, ColumnsSpreadOverTheRanksArriveWholeInPieces) {
  const std::string file = fresh_dir("blocks") + "/history.h5";
  const int ranks = comm::size_of(MPI_COMM_WORLD);
  // Rank r holds 2r + 3 values, rank 1 none: blocks of uneven size, one empty, several
  // pieces each (at most 3 values per message here), and a row 70,000 wide, past one chunk.
  const auto size_of_block = [](int r) -> std::int64_t { return r == 1 ? 0 : 2 * r + 3; };
  std::int64_t first = 0, width = 0;
  for (int r = 0; r < ranks; ++r) {
    if (r < rank()) first += size_of_block(r);
    width += size_of_block(r);
  }
  const std::int64_t wide = 70000, wide_first = rank() * wide / ranks, wide_end = (rank() + 1) * wide / ranks;
  const std::int64_t saved_count = comm::max_message_count();
  comm::set_max_message_count(3);
  EXPECT_EQ(History::block_piece_values(), 3);
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    history.write_static("stations/names", 7, [](std::int64_t i) { return "station_" + std::to_string(i); });
    for (std::int64_t row = 0; row < 2; ++row) {
      history.append_blocks("stations/processed", block_of(row, first, size_of_block(rank())), width, "parts");
      history.append_blocks("stations/wide", block_of(row, wide_first, wide_end - wide_first), wide);
      if (rank() == 0) history.append("time_s", {static_cast<double>(row)}, "s");
      history.end_row();
    }
  }
  comm::set_max_message_count(saved_count);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() != 0) return;
  const auto processed = read_column<double>(file, "stations/processed");
  ASSERT_EQ(processed.dims, (std::vector<hsize_t>{2, static_cast<hsize_t>(width)}));
  EXPECT_EQ(processed.unit, "parts");
  for (std::int64_t row = 0; row < 2; ++row)
    for (std::int64_t i = 0; i < width; ++i)
      EXPECT_EQ(processed.values[static_cast<std::size_t>(row * width + i)], 1000.0 * row + i);
  const auto wide_column = read_column<double>(file, "stations/wide");
  ASSERT_EQ(wide_column.dims, (std::vector<hsize_t>{2, static_cast<hsize_t>(wide)}));
  std::vector<double> expected = block_of(0, 0, wide);
  const std::vector<double> second = block_of(1, 0, wide);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(wide_column.values, expected);
  EXPECT_EQ(rows_in_file(file), 2);
  // A row wider than 2^16 values is stored in chunks of 2^16, not one chunk per row.
  hid_t f = open_for_reading(file);
  hid_t d = H5Dopen2(f, "stations/wide", H5P_DEFAULT);
  hid_t plist = H5Dget_create_plist(d);
  hsize_t chunk[2] = {0, 0};
  EXPECT_EQ(H5Pget_chunk(plist, 2, chunk), 2);
  EXPECT_EQ(chunk[0], 1u);
  EXPECT_EQ(chunk[1], hsize_t{1} << 16);
  H5Pclose(plist);
  H5Dclose(d);
  d = H5Dopen2(f, "stations/names", H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  std::vector<char*> names(7);
  H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names.data());
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(std::string(names[i]), "station_" + std::to_string(i));
  for (char* name : names) H5free_memory(name);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
}

TEST(History, SpreadColumnErrorsFailEveryRankAndLeaveTheHistoryUsable) {
  const std::string file = fresh_dir("block_errors") + "/history.h5";
  History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
  const int ranks = comm::size_of(MPI_COMM_WORLD);
  history.append_blocks("x", {1.0, 2.0}, 2 * ranks);
  history.end_row();
  // Blocks that do not make the row's width: only rank 0 can see it, every rank fails.
  std::string message = row_error(history, [&] { history.append_blocks("x", {1.0}, 2 * ranks); });
  EXPECT_NE(message.find("'x': the ranks' blocks hold " + std::to_string(ranks) + " values, not the row's " +
                         std::to_string(2 * ranks)),
            std::string::npos)
      << message;
  // An error earlier in the row: the blocks still travel (no rank waits), the row fails.
  message = row_error(history, [&] {
    history.append_blocks("x", {1.0, 2.0}, 2 * ranks);
    history.append_blocks("x", {1.0, 2.0}, 2 * ranks);
  });
  EXPECT_NE(message.find("appended twice"), std::string::npos) << message;
  EXPECT_NE(row_error(history, [&] { history.append_blocks("y", {}, 0); }).find("at least one value"), std::string::npos);
  history.append_blocks("x", {3.0, 4.0}, 2 * ranks);
  history.end_row();
  EXPECT_EQ(history.rows(), 2);
  history = History();
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() != 0) return;
  const auto x = read_column<double>(file, "x");
  ASSERT_EQ(x.dims, (std::vector<hsize_t>{2, static_cast<hsize_t>(2 * ranks)}));
  EXPECT_EQ(x.values[static_cast<std::size_t>(2 * ranks)], 3.0);
  EXPECT_EQ(x.values.back(), 4.0);
}

// A row that fails on another rank only, after rank 0 published it, counts once, with the
// values of its retry. (That the retry flushes its columns again before `row` covers them is
// not visible here: a reader in the writer's process shares its caches.)
TEST(History, ARowThatFailedElsewhereIsPublishedAgain) {
  if (comm::size_of(MPI_COMM_WORLD) < 2) return;  // needs a rank besides 0
  const std::string file = fresh_dir("failed_elsewhere") + "/history.h5";
  History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
  history.set_publish_interval(0);
  history.append("x", {1.0});
  history.end_row();
  history.append("x", rank() == 1 ? std::vector<double>{5.0, 5.0} : std::vector<double>{5.0});  // wrong on rank 1
  EXPECT_EQ(code_of([&] { history.end_row(); }), ExitCode::failure);
  history.append("x", {7.0});
  history.end_row();
  EXPECT_EQ(history.rows(), 2);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) {
    EXPECT_EQ(rows_in_file(file), 2);
    EXPECT_EQ(read_column<double>(file, "x").values, (std::vector<double>{1.0, 7.0}));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(History, ResumeDropsRowsAfterTheCheckpoint) {
  const std::string file = fresh_dir("resume") + "/history.h5";
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    for (std::int64_t row = 0; row < 5; ++row) append_row(history, row);
    history.append("timings/wall_s", {99.0});  // killed in the middle of row 5
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) {
    EXPECT_EQ(rows_in_file(file), 5);
    EXPECT_EQ(read_column<double>(file, "timings/wall_s").dims, (std::vector<hsize_t>{6}));
  }
  {
    History history = History::resume(MPI_COMM_WORLD, file, 3, "deck 2", "resolved 2");
    EXPECT_EQ(history.rows(), 3);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) {  // the cut copy replaces the file at the first row; until then it is untouched
      EXPECT_EQ(rows_in_file(file), 5);
      const std::string copy = file + ".new";
      EXPECT_EQ(rows_in_file(copy), 3);
      EXPECT_EQ(read_column<double>(copy, "lines/throughput_per_h").dims, (std::vector<hsize_t>{3, 3}));
      EXPECT_EQ(read_column<double>(copy, "timings/wall_s").dims, (std::vector<hsize_t>{3}));
      EXPECT_EQ(read_column<std::int64_t>(copy, "counts").dims, (std::vector<hsize_t>{3, 2}));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    for (std::int64_t row = 3; row < 5; ++row) append_row(history, 100 + row);
    EXPECT_EQ(history.rows(), 5);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) {
    EXPECT_EQ(rows_in_file(file), 5);
    EXPECT_EQ(read_column<double>(file, "timings/wall_s").values, (std::vector<double>{0, 0.5, 1.0, 51.5, 52.0}));
    EXPECT_EQ(read_column<double>(file, "lines/throughput_per_h").unit, "1/h");
    hid_t f = open_for_reading(file);
    EXPECT_EQ(string_attribute(f, "deck"), "deck 2");
    H5Fclose(f);
  }
}

TEST(History, ResumeWithoutAFileStartsANewOne) {
  const std::string file = fresh_dir("resume_absent") + "/history.h5";
  History history = History::resume(MPI_COMM_WORLD, file, 7, "deck", "resolved");
  EXPECT_EQ(history.rows(), 0);
  append_row(history, 0);
  EXPECT_EQ(history.rows(), 1);
}

// A continued run may add columns in its first row; the earlier rows read as missing.
TEST(History, ColumnsNewInAContinuedRunAreFilledWithMissingValues) {
  const std::string file = fresh_dir("late") + "/history.h5";
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    for (double a : {1.0, 2.0}) {
      history.append("a", {a});
      history.end_row();
    }
  }
  {
    History history = History::resume(MPI_COMM_WORLD, file, 2, "deck", "resolved");
    history.append("a", {3.0});
    history.append("b", {3.0, 4.0});
    history.append("c", std::vector<std::int64_t>{5});
    history.end_row();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() != 0) return;
  const auto b = read_column<double>(file, "b");
  EXPECT_EQ(b.dims, (std::vector<hsize_t>{3, 2}));
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(std::isnan(b.values[k]));
  EXPECT_EQ(b.values[4], 3.0);
  const auto c = read_column<std::int64_t>(file, "c");
  const std::int64_t missing = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(c.values, (std::vector<std::int64_t>{missing, missing, 5}));
}

// SWMR writing fixes the file's structure at the first row: later columns and static
// datasets are errors (every rank), and the reserved `row` is no column.
TEST(History, ColumnsAndStaticDataAreFixedByTheFirstRow) {
  History history = History::create(MPI_COMM_WORLD, fresh_dir("fixed") + "/history.h5", "deck", "resolved");
  std::string message;
  history.append(History::row_dataset, std::vector<std::int64_t>{1});
  EXPECT_EQ(code_of([&] { history.end_row(); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("is reserved"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { history.write_static(History::row_dataset, {"a"}); }), ExitCode::failure);
  history.append("a", {1.0});
  history.end_row();
  EXPECT_NE(row_error(history, [&] {
              history.append("a", {2.0});
              history.append("late", {2.0});
            }).find("'late' is first appended in row 1, after the first row"),
            std::string::npos);
  EXPECT_EQ(code_of([&] { history.write_static("names", {"a"}); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("after the first row"), std::string::npos) << message;
  history.append("a", {2.0});
  history.end_row();  // the failed row left the history usable
  EXPECT_EQ(history.rows(), 2);
}

// `path` is the previous file, or one readers can follow: the new one is built under
// `.new` and renamed over it at the first row; without a row it is removed.
TEST(History, TheFileAppearsAtTheFirstRow) {
  const std::string file = fresh_dir("publish") + "/history.h5";
  const std::string staging = file + ".new";
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    MPI_Barrier(MPI_COMM_WORLD);
    EXPECT_FALSE(exists(file));
    if (rank() == 0) {
      EXPECT_TRUE(exists(staging));
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(exists(staging));  // a History without rows leaves nothing
  EXPECT_FALSE(exists(file));
  MPI_Barrier(MPI_COMM_WORLD);  // before rank 0 creates the next file
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    append_row(history, 0);
    append_row(history, 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  {
    // --overwrite: the old file stays whole until the new one has a row.
    History history = History::create(MPI_COMM_WORLD, file, "deck 2", "resolved", true);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) {
      EXPECT_EQ(rows_in_file(file), 2);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    append_row(history, 7);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) {
      EXPECT_FALSE(exists(staging));
      EXPECT_EQ(rows_in_file(file), 1);
      EXPECT_EQ(read_column<std::int64_t>(file, "counts").values, (std::vector<std::int64_t>{7, -7}));
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

// Rows reach readers in groups: the first at once (it publishes the file), later ones with
// the first row after the publish interval has passed, or at publish(), sync(), start_sync(),
// an assignment over the history and its destruction. Readers see only published rows; every committed row is
// in the file at the end.
TEST(History, RowsReachReadersWithinThePublishInterval) {
  const std::string file = fresh_dir("interval") + "/history.h5";
  const auto visible = [&](std::int64_t expected) {
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) {
      EXPECT_EQ(rows_in_file(file), expected);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  };
  History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
  EXPECT_EQ(history.publish_interval_s(), 1.0);  // the default
  history.set_publish_interval(3600);
  for (std::int64_t row = 0; row < 4; ++row) append_row(history, row);
  EXPECT_EQ(history.rows(), 4);
  visible(1);
  history.publish();
  visible(4);
  history.publish();  // nothing new: nothing to do
  visible(4);
  append_row(history, 4);
  append_row(history, 5);
  visible(4);
  history.sync();
  visible(6);
  append_row(history, 6);
  history.start_sync();
  visible(7);
  history.sync();
  history.set_publish_interval(2.0);  // from the sync's publication on
  append_row(history, 7);
  visible(7);
  usleep(2200000);  // the interval passes: the next row publishes both
  append_row(history, 8);
  visible(9);
  history.set_publish_interval(3600);
  append_row(history, 9);
  visible(9);
  history = History();  // assigned over: its rows are published
  visible(10);
  if (rank() == 0) {
    const auto wall = read_column<double>(file, "timings/wall_s");
    EXPECT_EQ(wall.values.size(), 10u);
    for (std::size_t k = 0; k < wall.values.size(); ++k) EXPECT_EQ(wall.values[k], 0.5 * static_cast<double>(k));
  }
  {
    History resumed = History::resume(MPI_COMM_WORLD, file, 8, "deck", "resolved");
    resumed.set_publish_interval(3600);
    append_row(resumed, 80);  // the first row publishes the file
    append_row(resumed, 90);
    visible(9);
  }  // destroyed: its rows are published
  visible(10);
  if (rank() == 0) {
    const auto counts = read_column<std::int64_t>(file, "counts");
    EXPECT_EQ(counts.values[16], 80);
    EXPECT_EQ(counts.values[18], 90);
  }
}

// A writer killed while SWMR writing leaves its mark in the file: plain HDF5 refuses to
// open it, SWMR readers and resume() do not. The copy taken while the writer has the file
// open is such a file.
TEST(History, AFileWhoseWriterWasKilledIsReadAndResumed) {
  const std::string dir = fresh_dir("killed");
  const std::string file = dir + "/history.h5", killed = dir + "/killed.h5";
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    history.set_publish_interval(0);  // every row reaches the file at once
    for (std::int64_t row = 0; row < 4; ++row) append_row(history, row);
    history.append("timings/wall_s", {99.0});  // killed in the middle of row 4
    if (rank() == 0) fs::copy_file(file, killed);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  if (rank() == 0) {
    hid_t plain = -1;
    H5E_BEGIN_TRY { plain = H5Fopen(killed.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    EXPECT_LT(plain, 0) << "plain HDF5 opened a file marked as being written";
    if (plain >= 0) H5Fclose(plain);
    EXPECT_EQ(rows_in_file(killed), 4);
    EXPECT_EQ(read_column<double>(killed, "timings/wall_s").values, (std::vector<double>{0, 0.5, 1.0, 1.5}));
  }
  {
    History history = History::resume(MPI_COMM_WORLD, killed, 3, "deck", "resolved");
    append_row(history, 30);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() != 0) return;
  EXPECT_EQ(rows_in_file(killed), 4);
  EXPECT_EQ(read_column<double>(killed, "timings/wall_s").values, (std::vector<double>{0, 0.5, 1.0, 15.0}));
  hid_t plain = H5Fopen(killed.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);  // closed cleanly now
  EXPECT_GE(plain, 0);
  if (plain >= 0) H5Fclose(plain);
}

// A history of the version before SWMR (a `rows` attribute, no `row` dataset) is
// continued in the current layout, so that a restart across the upgrade works.
TEST(History, AHistoryOfTheEarlierLayoutIsContinued) {
  const std::string file = fresh_dir("earlier") + "/history.h5";
  if (rank() == 0) {
    hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims = 4, max_dims = H5S_UNLIMITED, chunk = 8;
    hid_t space = H5Screate_simple(1, &dims, &max_dims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    hid_t d = H5Dcreate2(f, "a", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    const double values[4] = {10, 11, 12, 13};  // 3 committed rows and a partial one
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "rows", H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    const std::int64_t rows = 3;
    H5Awrite(a, H5T_NATIVE_INT64, &rows);
    for (hid_t id : {a, scalar, d, dcpl, space}) H5Idec_ref(id);
    H5Fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  std::string message;
  EXPECT_EQ(code_of([&] { History::resume(MPI_COMM_WORLD, file, 4, "deck", "resolved"); }, &message),
            ExitCode::failure);
  EXPECT_NE(message.find("holds 3 rows, fewer than the 4"), std::string::npos) << message;
  {
    History history = History::resume(MPI_COMM_WORLD, file, 2, "deck", "resolved");
    history.append("a", {20.0});
    history.end_row();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() != 0) return;
  EXPECT_EQ(rows_in_file(file), 3);
  EXPECT_EQ(read_column<double>(file, "a").values, (std::vector<double>{10, 11, 20}));
}

// sync() makes the rows durable before a checkpoint: nothing to do before the file is
// published; a failure (here: the file removed from under the run) fails every rank.
TEST(History, SyncFailsEveryRankWhenTheFileIsGone) {
  const std::string file = fresh_dir("sync") + "/history.h5";
  History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
  history.sync();  // unpublished: nothing to sync
  append_row(history, 0);
  history.sync();
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) fs::remove(file);
  std::string message;
  EXPECT_EQ(code_of([&] { history.sync(); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("cannot open " + file + " to sync it"), std::string::npos) << message;
}

// start_sync() runs that fsync on a thread; the next sync() waits for it, reports its
// failure on every rank, and syncs again if rows were committed in between.
TEST(History, StartedSyncFailsAtTheNextSyncOnEveryRank) {
  const std::string file = fresh_dir("start_sync") + "/history.h5";
  History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
  history.start_sync();  // unpublished: nothing started
  history.sync();
  append_row(history, 0);
  history.start_sync();
  history.start_sync();  // one at a time: a second start waits for sync()
  append_row(history, 1);  // committed after the start: sync() syncs again
  history.sync();
  history.sync();  // nothing started: a plain sync
  EXPECT_EQ(history.rows(), 2);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) fs::remove(file);
  history.start_sync();  // fails on its thread (rank 0)...
  std::string message;
  EXPECT_EQ(code_of([&] { history.sync(); }, &message), ExitCode::failure);  // ...and here, everywhere
  EXPECT_NE(message.find("cannot open " + file + " to sync it"), std::string::npos) << message;
}

TEST(History, LargeDeckTextIsKept) {
  const std::string file = fresh_dir("large_deck") + "/history.h5";
  std::string deck;
  while (deck.size() < 200000) deck += "line: " + std::to_string(deck.size()) + "\n";
  {
    History history = History::create(MPI_COMM_WORLD, file, deck, deck);
    append_row(history, 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() != 0) return;
  hid_t f = open_for_reading(file);
  EXPECT_EQ(string_attribute(f, "deck"), deck);
  H5Fclose(f);
}

TEST(History, CreatingOverAnExistingFileFails) {
  const std::string file = fresh_dir("exists") + "/history.h5";
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    append_row(history, 0);
  }
  std::string message;
  EXPECT_EQ(code_of([&] { History::create(MPI_COMM_WORLD, file, "deck", "resolved"); }, &message), ExitCode::bad_input);
  EXPECT_NE(message.find("already exists"), std::string::npos) << message;
  History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved", true);
  EXPECT_EQ(history.rows(), 0);
}

TEST(History, UsageErrorsFailEveryRankAtTheEndOfTheRow) {
  const std::string dir = fresh_dir("usage");
  History history = History::create(MPI_COMM_WORLD, dir + "/history.h5", "deck", "resolved");
  history.append("x", {1.0, 2.0});
  history.append("z", {1.0});
  history.end_row();
  EXPECT_NE(row_error(history, [&] { history.append("x", {1.0}); }).find("'x' has 2 values per row, got 1"),
            std::string::npos);
  EXPECT_NE(row_error(history, [&] { history.append("x", std::vector<std::int64_t>{1, 2}); }).find("holds float64"),
            std::string::npos);
  EXPECT_NE(row_error(history, [&] {
              history.append("x", {1.0, 2.0});
              history.append("x", {1.0, 2.0});
            }).find("appended twice"),
            std::string::npos);
  EXPECT_NE(row_error(history, [&] { history.append("y", std::vector<double>{}); }).find("at least one value"),
            std::string::npos);
  EXPECT_NE(row_error(history, [&] { history.append("", {1.0}); }).find("must not be empty"), std::string::npos);
  EXPECT_NE(row_error(history, [&] { history.append("x", {1.0, 2.0}); }).find("lacks columns: z"), std::string::npos);
  EXPECT_EQ(history.rows(), 1);
  history.append("x", {3.0, 4.0});
  history.append("z", {5.0});
  history.end_row();  // a failed row leaves the history usable
  EXPECT_EQ(history.rows(), 2);
  EXPECT_EQ(code_of([&] { history.write_static("", {"a"}); }), ExitCode::failure);
  history.append("x", {1.0});
  EXPECT_EQ(code_of([&] { history.write_static("names", {"a"}); }), ExitCode::failure);
}

TEST(History, OnlyRankZeroMayAppend) {
  const std::string file = fresh_dir("rank0") + "/history.h5";
  History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
  if (rank() == 0) history.append("x", {1.0});
  history.end_row();
  EXPECT_EQ(history.rows(), 1);
  // An error only rank 0 can see still fails every rank.
  if (rank() == 0) history.append("x", {1.0, 2.0});
  std::string message;
  EXPECT_EQ(code_of([&] { history.end_row(); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("has 1 values per row, got 2"), std::string::npos) << message;
}

TEST(History, ResumeErrorsFailEveryRank) {
  const std::string dir = fresh_dir("resume_errors");
  const std::string file = dir + "/history.h5";
  {
    History history = History::create(MPI_COMM_WORLD, file, "deck", "resolved");
    append_row(history, 0);
  }
  std::string message;
  EXPECT_EQ(code_of([&] { History::resume(MPI_COMM_WORLD, file, 2, "deck", "resolved"); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("holds 1 rows, fewer than the 2"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { History::resume(MPI_COMM_WORLD, file, -1, "deck", "resolved"); }), ExitCode::failure);

  if (rank() == 0) {
    hid_t f = H5Fcreate((dir + "/other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    std::ofstream(dir + "/text.h5") << "not HDF5";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(code_of([&] { History::resume(MPI_COMM_WORLD, dir + "/other.h5", 0, "d", "r"); }, &message),
            ExitCode::failure);
  EXPECT_NE(message.find("not a kollektiv history file"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { History::resume(MPI_COMM_WORLD, dir + "/text.h5", 0, "d", "r"); }, &message),
            ExitCode::failure);
  EXPECT_NE(message.find("cannot open history file"), std::string::npos) << message;

  // A column that changed width since the checkpoint fails at the end of the row, everywhere.
  History history = History::resume(MPI_COMM_WORLD, file, 1, "deck", "resolved");
  history.append("lines/throughput_per_h", {1.0, 2.0});
  EXPECT_EQ(code_of([&] { history.end_row(); }, &message), ExitCode::failure);
  EXPECT_NE(message.find("another width or type"), std::string::npos) << message;
}

}  // namespace
}  // namespace kollektiv::io
