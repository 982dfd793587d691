#!/usr/bin/env bash
# Run the whole test suite: set up (packages, build incl. tests), then ctest, printing the
# output of any failing test. Extra arguments go to ctest (e.g. -R deck).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../jobs/setup.sh"
cd "$KOLLEKTIV_ROOT/build"
ctest --output-on-failure -j "$(nproc)" "$@"
