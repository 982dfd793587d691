// Out-of-line part of the error helpers.
#include "solvers/core/error.hpp"

namespace kollektiv {

void require(bool condition, const std::string& what, ExitCode code) {
  if (!condition) throw Error(what, code);
}

}  // namespace kollektiv
