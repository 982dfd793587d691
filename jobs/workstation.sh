#!/usr/bin/env bash
# Run a deck on this machine: set up (packages, build), then mpirun on all local cores.
#   jobs/workstation.sh DECK [kollektiv options...]      e.g. inputs/quickstart.yaml
# KOLLEKTIV_RANKS overrides the number of ranks (default: the number of cores).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ranks=${KOLLEKTIV_RANKS:-$(nproc)}
exec mpirun -np "$ranks" --bind-to none "$KOLLEKTIV_ROOT/build/app/kollektiv" "$@"
