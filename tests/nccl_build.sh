#!/bin/bash
# Compiles and links kollektiv with the NCCL Collective (KOLLEKTIV_ENABLE_NCCL) against the
# CUDA toolkit and NCCL in /usr/local/cuda, with the host Kokkos: nothing runs on a GPU
# here, but the backend must build. Usage: tests/nccl_build.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-nccl}
cuda=${CUDA_ROOT:-/usr/local/cuda}
if [ ! -f "$cuda/include/nccl.h" ]; then
  echo "tests/nccl_build.sh: no NCCL in $cuda (set CUDA_ROOT); skipped" >&2
  exit 0
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKOLLEKTIV_ENABLE_NCCL=ON -DCUDAToolkit_ROOT="$cuda" \
      -DKOLLEKTIV_BUILD_TESTS=OFF -DKOLLEKTIV_BUILD_BENCHMARKS=OFF > "$build.cmake.log"
cmake --build "$build" -j"$(nproc)" --target kollektiv
grep -q "comm_nccl" "$build/app/CMakeFiles/kollektiv.dir/link.txt"
echo "tests/nccl_build.sh: kollektiv built and linked with the NCCL Collective in $build"
