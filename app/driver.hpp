// The whole program: MPI and Kokkos lifetime, command line, deck, then the run itself.
#pragma once

namespace kollektiv::app {

// Returns the process exit code (DESIGN.md "Command line").
int run(int argc, char** argv);

}  // namespace kollektiv::app
