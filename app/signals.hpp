// SIGTERM and SIGUSR1 (Slurm's warning signal) ask the run to checkpoint and stop at the
// next step boundary. The handler only sets a flag; the run loop agrees on it across ranks.
#pragma once

namespace kollektiv::app {

void install_stop_signal_handlers();
bool stop_signal_received();      // this rank saw a signal
const char* stop_signal_name();   // "SIGTERM", "SIGUSR1" or "none"

}  // namespace kollektiv::app
