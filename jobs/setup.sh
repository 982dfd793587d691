#!/usr/bin/env bash
# Shared set-up of the workstation and test commands (sourced, not run): installs the
# Debian packages kollektiv needs when any is missing, then configures and builds in
# build/ with the `default` preset. Idempotent: with everything in place it only checks.
set -euo pipefail

KOLLEKTIV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KOLLEKTIV_ROOT
source "$KOLLEKTIV_ROOT/jobs/packages.sh"

# Open MPI refuses root and more ranks than cores unless told; say it once here.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

kollektiv_packages=(
  cmake g++ make pkg-config git
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libyaml-cpp-dev libtrilinos-kokkos-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev liburdfdom-dev libmujoco-dev libopenblas-dev
  python3 python3-h5py python3-matplotlib python3-numpy python3-simpy3
)

kollektiv_build() {
  local jobs
  jobs=$(nproc)
  if [ ! -f "$KOLLEKTIV_ROOT/build/CMakeCache.txt" ]; then
    cmake --preset default -S "$KOLLEKTIV_ROOT" >/dev/null
  fi
  cmake --build "$KOLLEKTIV_ROOT/build" -j "$jobs"
}

install_missing_packages "${kollektiv_packages[@]}"
(cd "$KOLLEKTIV_ROOT" && kollektiv_build)
