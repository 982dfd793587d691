// The input deck: YAML text (plus --set overrides) in, validated plain config structs out.
// Every error of a deck is collected, each with file:line:column, so a user fixes them in
// one pass. The keys, types, defaults and ranges are documented in inputs/README.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/run_config.hpp"
#include "solvers/factory/factory_config.hpp"

namespace kollektiv::io {

// One problem in a deck. Lines and columns are 1-based. Errors in a --set override have
// file "--set", line 1 and the column inside the override string.
struct DeckError {
  std::string file;
  int line = 1;
  int column = 1;
  std::string key_path;  // e.g. "factory.factories.0.lines.1.count"; empty for YAML syntax errors
  std::string message;   // "what was expected, what was found"

  // "FILE:LINE:COL: key.path: message" (without "key.path: " when the path is empty).
  std::string format() const;
};

struct Deck {
  RunConfig run;
  factory::FactoryModelConfig factory;  // lines and stations expanded (count replicas)
  std::string file;                     // the name the deck was read from
  std::string text;                     // the original bytes, stored in output files
  // Every key with its resolved value: defaults filled in, overrides applied, `count` kept
  // (not expanded). Parsing it again gives the same configuration.
  std::string resolved_yaml;
};

// Either a deck (errors empty) or every error found (deck empty), sorted by position:
// deck file first, then the overrides in the order given.
struct DeckResult {
  std::optional<Deck> deck;
  std::vector<DeckError> errors;
};

// Parses and validates a deck. Pure: no MPI, no filesystem, so that rank 0 can read the
// file and broadcast the bytes and every rank reaches the same verdict.
// `overrides` are "key.path=value" strings from --set; sequence elements are addressed by
// index ("factory.factories.0.lines.1.count=5"); the value is read as YAML and checked
// exactly like a value in the file.
DeckResult parse_deck(const std::string& text, const std::string& file,
                      const std::vector<std::string>& overrides = {});

// The largest number of stations a deck may expand to (sum of all line and station
// replicas); guards against a typo allocating the machine away.
inline constexpr long long max_total_stations = 100'000'000;

}  // namespace kollektiv::io
