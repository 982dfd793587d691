// Making files durable: what a checkpoint or a history counts on must survive a node crash.
#pragma once

#include <string>

namespace kollektiv::io {

// fsync(2) of a file, or of a directory (after a rename in it). Throws Error on failure.
void fsync_path(const std::string& path, bool directory);

}  // namespace kollektiv::io
