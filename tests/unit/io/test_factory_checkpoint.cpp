// The factory's part of a checkpoint, packed and written a piece of stations at a time: the
// same file (every dataset's bits and checksum) for any piece size at a given rank count,
// and it reads back to the state the ranks saved.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/deck.hpp"
#include "io/factory_checkpoint.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/factory/factory.hpp"
#include "tests/unit/io/io_test_support.hpp"

namespace kollektiv::io {
namespace {

// Every dataset under /factory: its raw bytes and its stored checksum.
struct Stored {
  std::vector<unsigned char> bytes;
  std::uint64_t checksum = 0;
};

std::map<std::string, Stored> factory_datasets(const std::string& file) {
  std::map<std::string, Stored> out;
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t g = H5Gopen2(f, "factory", H5P_DEFAULT);
  H5G_info_t info;
  H5Gget_info(g, &info);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256] = {};
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
    const hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    const hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    Stored s;
    s.bytes.resize(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)) * H5Tget_size(type));
    if (!s.bytes.empty()) H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.bytes.data());
    const hid_t a = H5Aopen(d, "checksum", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_UINT64, &s.checksum);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(d);
    out[name] = std::move(s);
  }
  H5Gclose(g);
  H5Fclose(f);
  return out;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Two shipped decks: plant_example (routes, pools, genealogy, several servers) and
// factory_multiline (part types, rework, shifts), a few simulated hours in.
class FactoryCheckpoint : public ::testing::TestWithParam<const char*> {};

TEST_P(FactoryCheckpoint, PiecesOfAnySizeWriteTheSameFile) {
  const std::string name = GetParam();
  const DeckResult parsed =
      parse_deck(read_file_from_disk(std::string(KOLLEKTIV_SOURCE_DIR) + "/inputs/" + name + ".yaml").value_or(""),
                 name + ".yaml");
  ASSERT_TRUE(parsed.deck.has_value());
  factory::Factory f(parsed.deck->factory, parsed.deck->run.seed, MPI_COMM_WORLD);
  f.advance(4 * 3600.0);
  std::vector<std::string> files;
  for (const std::int64_t per : {std::int64_t{1}, std::int64_t{2}, std::int64_t{5}, checkpoint_piece_stations}) {
    CheckpointWriter writer(MPI_COMM_WORLD, test::fresh_dir("factory_pieces", name + std::to_string(per)), 1);
    writer.attribute("time_s", f.time_s());
    write_factory_state(writer, f, per);
    files.push_back(writer.commit(1));
  }
  if (comm::rank_of(MPI_COMM_WORLD) == 0) {
    const auto reference = factory_datasets(files.back());
    EXPECT_EQ(reference.size(), 25u);
    for (std::size_t k = 0; k + 1 < files.size(); ++k) {
      const auto stored = factory_datasets(files[k]);
      ASSERT_EQ(stored.size(), reference.size()) << files[k];
      for (const auto& [path, s] : reference) {
        const Stored& other = stored.at(path);
        EXPECT_TRUE(other.bytes == s.bytes) << files[k] << ": " << path;
        EXPECT_EQ(other.checksum, s.checksum) << files[k] << ": " << path;
      }
    }
  }
  // Read back (checksums verified) by the same ranks: the state each one saved.
  const factory::FactoryState saved = f.save();
  load_newest_valid(MPI_COMM_WORLD, files.front(), [&](CheckpointReader& r) -> CheckpointApply {
    const FactorySnapshot snapshot = read_factory_state(r, f);
    const factory::FactoryState& s = snapshot.state;
    EXPECT_TRUE(same_bits(s.station_int, saved.station_int) && same_bits(s.station_real, saved.station_real) &&
                same_bits(s.part_id, saved.part_id) && same_bits(s.part_time_s, saved.part_time_s) &&
                same_bits(s.credit_time_s, saved.credit_time_s) && same_bits(s.server_int, saved.server_int) &&
                same_bits(s.route_int, saved.route_int) && same_bits(s.route_real, saved.route_real) &&
                same_bits(s.genealogy, saved.genealogy) && same_bits(s.type_sink, saved.type_sink) &&
                same_bits(s.type_lead_s, saved.type_lead_s));
    return [] {};
  });
}

INSTANTIATE_TEST_SUITE_P(Decks, FactoryCheckpoint, ::testing::Values("plant_example", "factory_multiline"));

}  // namespace
}  // namespace kollektiv::io
