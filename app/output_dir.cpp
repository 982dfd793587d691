// Output directory checks and creation.
#include "app/output_dir.hpp"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::app {

namespace fs = std::filesystem;

OutputPaths output_paths(const std::string& dir) {
  const fs::path d(dir);
  return OutputPaths{dir, (d / "history.h5").string(), (d / "checkpoints").string(), (d / "finished").string()};
}

namespace {

// Files kollektiv writes in DIR/checkpoints: checkpoints, their temporaries, `latest` and
// its temporary.
bool written_by_us(const std::string& name) {
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name == "latest" || name == "latest.tmp") return true;
  return name.rfind("ckpt_", 0) == 0 && (ends_with(".h5") || ends_with(".h5.tmp"));
}

// Removes history.h5 (and history.h5.new) and what kollektiv wrote in checkpoints/; refuses (and removes
// nothing) when checkpoints/ holds anything else. Returns the problem, or "".
std::string clear_our_files(const OutputPaths& paths) {
  std::error_code ec;
  std::vector<fs::path> ours;
  if (fs::is_directory(paths.checkpoints, ec)) {
    for (const auto& entry : fs::directory_iterator(paths.checkpoints, ec)) {
      const std::string name = entry.path().filename().string();
      if (!written_by_us(name) || entry.is_directory(ec))
        return "--overwrite removes only what kollektiv wrote, but '" + entry.path().string() +
               "' is not a checkpoint file; move it away or choose another output directory";
      ours.push_back(entry.path());
    }
  } else if (fs::exists(paths.checkpoints, ec)) {
    return "--overwrite: '" + paths.checkpoints + "' is not a directory; move it away or choose another output directory";
  }
  if (ec) return "cannot list '" + paths.checkpoints + "': " + ec.message();
  for (const fs::path& file : ours) {
    if (!fs::remove(file, ec) && ec) return "cannot remove '" + file.string() + "': " + ec.message();
  }
  for (const std::string& file : {paths.history, paths.history + ".new"}) {  // .new: a history being set up
    fs::remove(file, ec);
    if (ec) return "cannot remove '" + file + "': " + ec.message();
  }
  return std::string();
}

// Removes DIR/finished if there. Returns the problem, or "".
std::string remove_marker(const OutputPaths& paths) {
  std::error_code ec;
  fs::remove(paths.finished, ec);
  return ec ? "cannot remove '" + paths.finished + "': " + ec.message() : std::string();
}

// Runs `act` on rank 0 alone (it returns the problem, or ""); every rank throws
// Error(code) if there was one.
template <class Act>
void on_root(MPI_Comm comm, ExitCode code, const Act& act) {
  std::string problem;
  if (comm::rank_of(comm) == 0) problem = act();
  problem = comm::broadcast(comm, problem);
  if (!problem.empty()) throw Error(problem, code);
}

}  // namespace

void prepare_output_dir(MPI_Comm comm, const OutputPaths& paths, bool restart, bool overwrite) {
  on_root(comm, ExitCode::bad_input, [&] {
    std::error_code ec;
    const bool exists = fs::exists(paths.dir, ec);
    if (exists && !restart && !overwrite)
      return "output directory '" + paths.dir +
             "' already exists; continue it with --restart latest, replace its results with "
             "--overwrite, or choose another with --output";
    if (exists && overwrite && !restart) {
      const std::string problem = clear_our_files(paths);
      if (!problem.empty()) return problem;
    }
    fs::create_directories(paths.checkpoints, ec);
    if (ec) return "cannot create output directory '" + paths.checkpoints + "': " + ec.message();
    return restart ? std::string() : remove_marker(paths);
  });
}

void clear_finished(MPI_Comm comm, const OutputPaths& paths) {
  on_root(comm, ExitCode::failure, [&] { return remove_marker(paths); });
}

void mark_finished(MPI_Comm comm, const OutputPaths& paths, const std::string& deck) {
  on_root(comm, ExitCode::failure, [&] {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    std::ofstream out(paths.finished, std::ios::trunc);
    out << "finished " << deck << " at " << stamp << '\n';
    out.close();
    return out ? std::string() : "cannot write '" + paths.finished + "'";
  });
}

}  // namespace kollektiv::app
