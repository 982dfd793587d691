// Output directory checks and creation.
#include "app/output_dir.hpp"

#include <filesystem>
#include <system_error>

#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::app {

namespace fs = std::filesystem;

OutputPaths output_paths(const std::string& dir) {
  return OutputPaths{dir, (fs::path(dir) / "history.h5").string(), (fs::path(dir) / "checkpoints").string()};
}

void prepare_output_dir(MPI_Comm comm, const OutputPaths& paths, bool restart, bool overwrite) {
  std::string problem;
  if (comm::rank_of(comm) == 0) {
    std::error_code ec;
    const bool exists = fs::exists(paths.dir, ec);
    if (exists && !restart && !overwrite) {
      problem = "output directory '" + paths.dir +
                "' already exists; continue it with --restart latest, replace its results with "
                "--overwrite, or choose another with --output";
    } else {
      if (exists && overwrite && !restart) {
        // Only what kollektiv writes there; anything else the user keeps in it stays.
        fs::remove(paths.history, ec);
        if (!ec) fs::remove_all(paths.checkpoints, ec);
        if (ec) problem = "cannot clear output directory '" + paths.dir + "': " + ec.message();
      }
      if (problem.empty()) {
        fs::create_directories(paths.checkpoints, ec);
        if (ec) problem = "cannot create output directory '" + paths.checkpoints + "': " + ec.message();
      }
    }
  }
  problem = comm::broadcast(comm, problem);
  if (!problem.empty()) throw Error(problem, ExitCode::bad_input);
}

}  // namespace kollektiv::app
