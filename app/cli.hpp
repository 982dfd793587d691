// Command line of the kollektiv executable (parsed with CLI11 on every rank).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kollektiv::app {

struct CliOptions {
  std::string deck;
  std::optional<std::string> restart;  // "latest" or a checkpoint file
  std::vector<std::string> overrides;  // --set key.path=value
  bool validate = false;
  std::optional<std::string> output;   // overrides run.output_dir
  bool overwrite = false;
  std::optional<std::string> list_skills;  // a skill library to list instead of running a deck
};

// Either options to run with, or an exit code (0 after --help/--version, 2 on bad
// arguments) with the text that was printed (only rank 0 prints).
struct CliResult {
  std::optional<CliOptions> options;
  int exit_code = 0;
};

CliResult parse_cli(int argc, char** argv, bool print);

}  // namespace kollektiv::app
