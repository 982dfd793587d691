// CLI11 definition of the command line.
#include "app/cli.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <sstream>

#include "build_info.hpp"

namespace kollektiv::app {

CliResult parse_cli(int argc, char** argv, bool print) {
  CliOptions o;
  CLI::App app{"kollektiv: simulate a factory of robot cells and train its robots' skills "
               "across MPI ranks.\nExit codes: 0 done, 1 failure, 2 bad deck or arguments, "
               "3 no readable checkpoint, 4 stopped by a signal after a checkpoint (requeue).",
               "kollektiv"};
  app.set_version_flag("--version", build_info::summary);
  app.add_option("DECK", o.deck, "YAML input deck");
  std::string restart;
  app.add_option("--restart", restart,
                 "continue from a checkpoint: 'latest' (newest valid one in OUTPUT/checkpoints) "
                 "or a checkpoint file");
  app.add_option("--set", o.overrides, "override a deck value, e.g. --set run.end_time_s=3600")
      ->type_name("KEY.PATH=VALUE")
      ->take_all();
  app.add_flag("--validate", o.validate, "check the deck, print it with every default resolved, and exit");
  std::string output;
  app.add_option("--output", output, "output directory (overrides run.output_dir)");
  app.add_flag("--overwrite", o.overwrite, "replace the results in an existing output directory");
  std::string library;
  app.add_option("--list-skills", library,
                 "list the policies in a directory (a skill library: skill, robot, layers, site, env-steps, seed, "
                 "observation) and exit")
      ->type_name("DIR");

  std::ostringstream out, err;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    if (print) {
      std::cout << out.str();
      std::cerr << err.str();
    }
    return CliResult{std::nullopt, code == 0 ? 0 : 2};
  }
  if (library.empty() && o.deck.empty()) {
    if (print) std::cerr << "DECK is required (or --list-skills DIR)\nRun with --help for more information.\n";
    return CliResult{std::nullopt, 2};
  }
  if (!library.empty()) o.list_skills = library;
  if (!restart.empty()) o.restart = restart;
  if (!output.empty()) o.output = output;
  return CliResult{o, 0};
}

}  // namespace kollektiv::app
