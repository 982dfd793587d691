// The error type of kollektiv: a message plus the process exit code it maps to.
#pragma once

#include <stdexcept>
#include <string>

namespace kollektiv {

// Exit codes of the executable (DESIGN.md, "Command line").
enum class ExitCode : int {
  ok = 0,
  failure = 1,          // anything else
  bad_input = 2,        // bad deck or arguments; nothing was written
  bad_checkpoint = 3,   // no readable checkpoint to restart from
  stopped = 4,          // stopped by a signal after writing a checkpoint: requeue me
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ExitCode code = ExitCode::failure)
      : std::runtime_error(what), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

// Convenience for precondition checks outside kernels.
void require(bool condition, const std::string& what, ExitCode code = ExitCode::failure);
// The same for a literal message, which becomes a string only when the check fails: hot
// loops check every step (building the string each time once cost a tenth of a factory run).
inline void require(bool condition, const char* what, ExitCode code = ExitCode::failure) {
  if (!condition) throw Error(what, code);
}

}  // namespace kollektiv
