// Structured mutation of a valid HDF5 file (a checkpoint or a policy): the fuzz input is a
// list of edits of its datasets and numeric root attributes, applied with the HDF5 C API,
// so that the mutated file is still well-formed HDF5 and the readers get past the HDF5
// layer to their own checks. Checkpoints checksum every dataset: with rewrite_checksums
// each dataset's `checksum` attribute is recomputed (io::content_hash) after the edits, so
// that the edited values reach the validation and restore code instead of the checksum.
//
// Input format: records of 12 bytes (a shorter tail is ignored), at most max_edits of them:
//   byte 0       op (taken mod 9, see EditOp)
//   byte 1       target: dataset or attribute number (mod their count, in name order)
//   bytes 2-3    index (little-endian uint16): element (mod the length), or a new length
//   bytes 4-11   value (little-endian 64 bits): new bits, a delta, or a table choice
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kollektiv::fuzz {

enum class EditOp : std::uint8_t {
  set_bits = 0,         // element := value bits (low 32 bits for 4-byte elements)
  add_delta = 1,        // element += int16(value) (integers) or += int16(value) / 16 (floats)
  set_special = 2,      // element := one of a table of edge values (0, -1, limits, NaN, inf, ...)
  resize = 3,           // dataset length := index mod min(2 * length + 16, max_length), zero-padded
  remove_dataset = 4,   // the dataset is unlinked
  set_attribute = 5,    // numeric root attribute := value bits
  special_attribute = 6,// numeric root attribute := an edge value
  add_attribute = 7,    // numeric root attribute += int16(value)
  remove_attribute = 8, // the root attribute is deleted
};

inline constexpr std::size_t edit_record_bytes = 12;
inline constexpr std::size_t max_edits = 64;
inline constexpr std::uint64_t max_length = 1 << 16;  // elements of a resized dataset

// Applies the edits in `data` to the HDF5 file at `path`, in place. Never fails on any
// input: edits that do not apply (no datasets left, an empty dataset) are skipped.
void apply_edits(const std::string& path, const std::uint8_t* data, std::size_t size, bool rewrite_checksums);

}  // namespace kollektiv::fuzz
