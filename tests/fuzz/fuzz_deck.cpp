// Fuzz target: the deck parser. Any bytes must come back as a Deck or as DeckErrors, never
// as a crash, an exception, a hang or a huge allocation (alias bombs: run with
// -rss_limit_mb and -timeout). A deck that parses must parse again from its resolved_yaml
// to the same resolved_yaml (deck.hpp: "Parsing it again gives the same configuration").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "io/deck.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace kollektiv;

std::string planar2_yaml, planar2_urdf;

// Every robot file a deck names resolves to the planar arm (its URDF for *.urdf), except
// paths containing "missing", so that both the robot checks and the unreadable-file path run.
std::optional<std::string> read_robot_file(const std::string& path) {
  if (path.find("missing") != std::string::npos) return std::nullopt;
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".urdf") == 0) return planar2_urdf;
  return planar2_yaml;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::initialize();
  planar2_yaml = fuzz::read_bytes(fuzz::source_path("inputs/robots/planar2.yaml"));
  planar2_urdf = fuzz::read_bytes(fuzz::source_path("inputs/robots/planar2.urdf"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const io::DeckResult result = io::parse_deck(text, "fuzz.yaml", {}, read_robot_file);
  if (result.deck.has_value() == !result.errors.empty())
    fuzz::fail("parse_deck returned " + std::string(result.deck ? "a deck and errors" : "neither a deck nor errors"));
  for (const io::DeckError& e : result.errors) {
    if (e.message.empty()) fuzz::fail("a DeckError without a message: " + e.format());
  }
  if (!result.deck) return 0;

  const std::string& resolved = result.deck->resolved_yaml;
  const io::DeckResult again = io::parse_deck(resolved, "resolved.yaml", {}, read_robot_file);
  if (!again.deck)
    fuzz::fail("the resolved_yaml of a valid deck does not parse: " + again.errors.front().format() +
               "\n--- resolved_yaml ---\n" + resolved);
  if (again.deck->resolved_yaml != resolved)
    fuzz::fail("resolved_yaml is not a fixed point of parse_deck\n--- first ---\n" + resolved + "\n--- second ---\n" +
               again.deck->resolved_yaml);
  return 0;
}
