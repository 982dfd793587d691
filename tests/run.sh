#!/usr/bin/env bash
# Run the whole test suite: set up (packages, build incl. tests), then ctest, printing the
# output of any failing test, then the job scripts under a real Slurm (tests/slurm/run.sh:
# as root, when no ctest arguments select a subset). Extra arguments go to ctest (e.g. -R deck).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../jobs/setup.sh"
cd "$KOLLEKTIV_ROOT/build"
ctest --output-on-failure -j "$(nproc)" "$@"
if [ $# -gt 0 ]; then
  echo "tests/run.sh: ctest arguments given; the Slurm test (tests/slurm/run.sh) is not run"
elif [ "$(id -u)" -ne 0 ]; then
  echo "tests/run.sh: not root; the Slurm test (tests/slurm/run.sh, which starts slurmctld and slurmd) is not run"
else
  "$KOLLEKTIV_ROOT/tests/slurm/run.sh" "$KOLLEKTIV_ROOT/build"
fi
