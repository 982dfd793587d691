// Program flow: init → command line → deck (rank 0 reads, all parse) → run → exit code.
// Errors that every rank meets alike (deck, arguments, checkpoints) are reported once by
// rank 0 and end the run cleanly with their exit code; anything else is reported by the
// rank that met it and aborts the job, so no rank waits forever in a collective.
#include "app/driver.hpp"

#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "app/cli.hpp"
#include "app/experiment_run.hpp"
#include "app/factory_run.hpp"
#include "app/memory.hpp"
#include "app/output_dir.hpp"
#include "app/signals.hpp"
#include "app/training_run.hpp"
#include "io/deck.hpp"
#include "io/policy_io.hpp"
#include "solvers/comm/collectives.hpp"
#include "solvers/core/error.hpp"

namespace kollektiv::app {

namespace {

class MpiSession {
 public:
  // Funneled: only this thread calls MPI. Others may run beside it: the checkpoint's
  // helper threads (a history fsync, half a large dataset's checksum) call neither MPI nor
  // HDF5. Every MPI in use provides it.
  MpiSession(int& argc, char**& argv) {
    int provided = MPI_THREAD_SINGLE;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  }
  ~MpiSession() { MPI_Finalize(); }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

class KokkosSession {
 public:
  KokkosSession(int& argc, char** argv) { Kokkos::initialize(argc, argv); }
  ~KokkosSession() { Kokkos::finalize(); }
  KokkosSession(const KokkosSession&) = delete;
  KokkosSession& operator=(const KokkosSession&) = delete;
};

// Files a deck refers to (robot models): rank 0 reads, every rank gets the same bytes or
// the same "cannot read". Parsing calls this in the same order on every rank.
io::FileReader broadcast_reader(MPI_Comm comm) {
  return [comm](const std::string& path) -> std::optional<std::string> {
    std::optional<std::string> text;
    if (comm::rank_of(comm) == 0) text = io::read_file_from_disk(path);
    const bool found = comm::any_rank(comm, text.has_value());
    const std::string bytes = comm::broadcast(comm, text.value_or(std::string()));
    if (!found) return std::nullopt;
    return bytes;
  };
}

// Rank 0 reads the deck; every rank gets the same bytes (or the same error).
std::string read_deck(MPI_Comm comm, const std::string& path) {
  std::string text, problem;
  if (comm::rank_of(comm) == 0) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      problem = "cannot read deck '" + path + "': no such file or not readable";
    } else {
      std::ostringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
  }
  problem = comm::broadcast(comm, problem);
  if (!problem.empty()) throw Error(problem, ExitCode::bad_input);
  return comm::broadcast(comm, text);
}

// Every file a deck refers to is read once (collectively, through broadcast_reader) and kept,
// so that the decks of an experiment's replications parse without communicating.
struct FileCache {
  std::map<std::string, std::optional<std::string>> files;
  io::FileReader reading(MPI_Comm comm) {
    return [this, inner = broadcast_reader(comm)](const std::string& path) {
      const auto it = files.find(path);
      if (it != files.end()) return it->second;
      return files[path] = inner(path);
    };
  }
  io::FileReader cached_only() const {
    return [this](const std::string& path) -> std::optional<std::string> {
      const auto it = files.find(path);
      return it == files.end() ? std::nullopt : it->second;
    };
  }
};

// Prints a deck's errors on rank 0 (with `what`: "in deck D" or "in scenario S of deck D").
int report_errors(bool root, const std::vector<io::DeckError>& errors, const std::string& what) {
  if (root) {
    for (const auto& e : errors) std::cerr << e.format() << "\n";
    std::cerr << errors.size() << (errors.size() == 1 ? " error" : " errors") << " " << what
              << "; nothing was run or written\n";
  }
  return static_cast<int>(ExitCode::bad_input);
}

int run_with(MPI_Comm comm, const CliOptions& cli) {
  const bool root = comm::rank_of(comm) == 0;
  const std::string text = read_deck(comm, cli.deck);
  FileCache cache;
  io::DeckResult parsed = io::parse_deck(text, cli.deck, cli.overrides, cache.reading(comm), memory_per_rank_bytes(comm), comm::size_of(comm));
  if (!parsed.errors.empty()) return report_errors(root, parsed.errors, "in deck " + cli.deck);
  io::Deck deck = std::move(*parsed.deck);
  if (cli.output) deck.run.output_dir = *cli.output;
  const io::ExperimentConfig& experiment = deck.experiment;
  // An experiment's scenarios are decks too: each is checked now, before anything runs.
  const auto overrides_of = [&](std::size_t s, std::optional<std::int64_t> replication) {
    std::vector<std::string> o = cli.overrides;
    o.insert(o.end(), experiment.scenarios[s].overrides.begin(), experiment.scenarios[s].overrides.end());
    if (replication) o.push_back("run.seed=" + std::to_string(deck.run.seed + static_cast<std::uint64_t>(*replication)));
    return o;
  };
  for (std::size_t s = 0; s < experiment.scenarios.size(); ++s) {
    const io::DeckResult scenario =
        io::parse_deck(text, cli.deck, overrides_of(s, std::nullopt), cache.reading(comm), memory_per_rank_bytes(comm), comm::size_of(comm));
    if (!scenario.errors.empty())
      return report_errors(root, scenario.errors, "in scenario " + experiment.scenarios[s].name + " of deck " + cli.deck);
  }
  if (cli.validate) {
    if (root) std::cout << deck.resolved_yaml << std::endl;
    return 0;
  }
  const auto run_deck = [&]() -> int {
    if (deck.training.enabled) return run_training(comm, deck, cli);
    if (experiment.replications > 0) {
      const TaskDeck task_deck = [&](std::size_t s, std::int64_t r) {
        io::DeckResult d = io::parse_deck(text, cli.deck, overrides_of(s, r), cache.cached_only());
        if (!d.errors.empty())
          throw Error("scenario " + experiment.scenarios[s].name + ", replication " + std::to_string(r) + ": " +
                          d.errors.front().format(),
                      ExitCode::bad_input);
        return std::move(*d.deck);
      };
      return run_experiment(comm, deck, task_deck, cli);
    }
    return run_factory(comm, deck, cli);
  };
  const int code = run_deck();
  // After every file is closed: a job script takes this marker as the proof of a whole run.
  if (code == 0) mark_finished(comm, output_paths(deck.run.output_dir), cli.deck);
  return code;
}

}  // namespace

int run(int argc, char** argv) {
  // Before anything that can take long (MPI start-up, a deck read from a slow file system,
  // a restart): a stop signal then waits for the run loop instead of killing the process.
  install_stop_signal_handlers();
  MpiSession mpi(argc, argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  const int rank = comm::rank_of(comm);
  const CliResult cli = parse_cli(argc, argv, rank == 0);
  if (!cli.options) return cli.exit_code;
  if (cli.options->list_skills) {  // read on rank 0 alone; the others wait for its verdict
    std::string problem;
    if (rank == 0) {
      try {
        std::cout << io::skill_library_table(*cli.options->list_skills) << std::flush;
      } catch (const Error& e) {
        problem = e.what();
        std::cerr << "error: " << problem << std::endl;
      }
    }
    return comm::broadcast(comm, problem).empty() ? 0 : static_cast<int>(ExitCode::bad_input);
  }
  KokkosSession kokkos(argc, argv);
  try {
    return run_with(comm, *cli.options);
  } catch (const Error& e) {
    if (e.code() == ExitCode::bad_input || e.code() == ExitCode::bad_checkpoint) {
      if (rank == 0) std::cerr << "error: " << e.what() << std::endl;
      return static_cast<int>(e.code());
    }
    std::cerr << "error on rank " << rank << ": " << e.what() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "error on rank " << rank << ": " << e.what() << std::endl;
  }
  MPI_Abort(comm, static_cast<int>(ExitCode::failure));
  return static_cast<int>(ExitCode::failure);
}

}  // namespace kollektiv::app
