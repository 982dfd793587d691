#!/usr/bin/env bash
# The GPU check: on a node with an NVIDIA GPU and a Kokkos built with CUDA (Kokkos_ROOT, as a
# cluster module or Spack provides it), build the `cuda` preset and a CPU build, run the unit
# tests on the GPU, the arm step's rate at N = 4096 ... 1,048,576, a short training run on both
# builds and a large one on the GPU, compare the GPU's results with the CPU's within the
# tolerances stated in tests/device/compare.py, and print RESULT lines.
#
#   Kokkos_ROOT=/opt/kokkos-cuda jobs/device_check.sh [--no-build] [--regressions] [--out DIR]
#
# --no-build   use build-cuda/ and build/ as they are (built elsewhere, e.g. with the same
#              compilers on a login node)
# --regressions  also the app's regression tests (rank invariance, restarts, signals, deck
#              errors) on the GPU build: a few minutes more
# --out DIR    where runs and logs go (default: output/device_check)
# --rehearse   where there is no GPU: every phase with the CPU build (build/, as it is) in
#              the GPU build's place, to check this script itself
# Environment: Kokkos_ROOT (the CUDA Kokkos; required to build), KOKKOS_HOST_ROOT (the CPU
# build's Kokkos; default: the system's, Debian's libtrilinos-kokkos-dev), KOLLEKTIV_CMAKE_ARGS
# (more configure options for both builds), JOBS (parallel compiles, default: the number of
# cores), KOLLEKTIV_DEVICE_RANKS (ranks of the rank-invariance run on the GPU, default 2).
#
# Without --regressions it is meant to take under 10 minutes on a 16-core node: on the 2-core
# development VM the CUDA build is 121 translation units and 51 CPU-minutes (26 minutes), and
# the unit tests take a few CPU-minutes.
# Exits 0 only when everything built, every test passed and every comparison held; a phase
# that fails prints FAILED with its log's tail and the script goes on to the next, so that one
# run on a scarce machine reports everything. Performance goals (1e9 arm steps/s, 1e7
# env-steps/s on one H200) are reported as met or missed, never a failure.
set -uo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_gpu=$root/build-cuda
build_cpu=$root/build
out=$root/output/device_check
build=1
rehearse=0
regressions=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) build=0 ;;
    --regressions) regressions=1 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --rehearse) rehearse=1 build=0 build_gpu=$build_cpu ;;
    *) echo "device_check.sh: unknown option $1 (expected --no-build, --regressions, --out DIR, --rehearse)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
jobs=${JOBS:-$(nproc)}
ranks=${KOLLEKTIV_DEVICE_RANKS:-2}
python=""
for p in python3 /usr/bin/python3; do  # the first with h5py and numpy (a venv may lack them)
  if command -v "$p" > /dev/null && "$p" -c "import h5py, numpy" 2> /dev/null; then python=$(command -v "$p"); break; fi
done
failures=()
start=$SECONDS
sizes=4096,16384,65536,262144,1048576  # robots of the rate runs; the largest is the PPO run's
seconds=1
if [ $rehearse = 1 ]; then sizes=4096,16384 seconds=0.2; fi
large=${sizes##*,}

# phase NAME COMMAND...: runs COMMAND with its output in $out/NAME.log; on failure records
# NAME and prints the log's tail.
phase() {
  local name=$1 t0=$SECONDS
  shift
  echo "== $name"
  if "$@" > "$out/$name.log" 2>&1; then
    echo "   ok ($((SECONDS - t0)) s)"
  else
    echo "   FAILED ($((SECONDS - t0)) s); last lines of $out/$name.log:"
    tail -n 25 "$out/$name.log" | sed 's/^/   | /'
    failures+=("$name")
  fi
}

# Preconditions: a GPU, a CUDA Kokkos, the tools. Without them nothing below means anything.
die() { echo "device_check.sh: $*" >&2; exit 2; }
if [ $rehearse = 1 ]; then
  gpu="none (rehearsal: the CPU build stands in for the GPU's)"
else
  command -v nvidia-smi > /dev/null || die "nvidia-smi not found: no NVIDIA driver on this node"
  gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -n 1)
  [ -n "$gpu" ] || die "nvidia-smi lists no GPU"
fi
echo "GPU: $gpu"
if [ $build = 1 ]; then
  [ -n "${Kokkos_ROOT:-}" ] || die "set Kokkos_ROOT to a Kokkos installed with CUDA (its lib/cmake/Kokkos and bin/nvcc_wrapper)"
  config=$(find "$Kokkos_ROOT/include" -maxdepth 2 -name KokkosCore_config.h 2> /dev/null | head -n 1)
  grep -q "define KOKKOS_ENABLE_CUDA" "${config:-/dev/null}" ||
    die "$Kokkos_ROOT is not a Kokkos built with CUDA (no KOKKOS_ENABLE_CUDA in KokkosCore_config.h)"
fi
[ -n "$python" ] || die "no python3 with h5py and numpy (Debian: python3-h5py python3-numpy)"

# ---- build: the CPU reference (the two programs compared) and the whole cuda preset --------
# KOLLEKTIV_CMAKE_ARGS: more configure options for both, e.g. "-DKOLLEKTIV_WITH_MUJOCO=OFF
# -DKOLLEKTIV_BUILD_BENCHMARKS=OFF" on a node without MuJoCo and Google Benchmark. The CPU
# build compiles only the two programs compared.
build_cpu_tree() {
  # shellcheck disable=SC2086
  env -u Kokkos_ROOT cmake --preset default ${KOKKOS_HOST_ROOT:+-DKokkos_ROOT="$KOKKOS_HOST_ROOT"} \
    ${KOLLEKTIV_CMAKE_ARGS:-} &&
    cmake --build "$build_cpu" -j"$jobs" --target kollektiv dynamics_rate
}
build_gpu_tree() {
  # shellcheck disable=SC2086
  cmake --preset cuda ${KOLLEKTIV_CMAKE_ARGS:-} && cmake --build "$build_gpu" -j"$jobs"
}
if [ $build = 1 ]; then
  cd "$root" || exit 2
  phase build_cpu build_cpu_tree
  phase build_cuda build_gpu_tree
fi
for exe in "$build_gpu/app/kollektiv" "$build_gpu/tests/device/dynamics_rate" "$build_cpu/app/kollektiv" \
           "$build_cpu/tests/device/dynamics_rate"; do
  [ -x "$exe" ] || { echo "device_check.sh: no $exe (failed: ${failures[*]:-none}); nothing to run" >&2; exit 1; }
done
version=$("$build_gpu/app/kollektiv" --version)
echo "GPU build: $version"
case $rehearse$version in 1* | *CUDA*) ;; *) echo "device_check.sh: $build_gpu was not built with a CUDA Kokkos" >&2; exit 1 ;; esac

# ---- unit tests on the GPU (every test but the app regressions, which follow) --------------
phase unit_tests ctest --test-dir "$build_gpu" -E '^regression_' -j4 --output-on-failure --timeout 600

# ---- the arm step: rates on the GPU, states against the CPU's ------------------------------
dynamics() {
  "$build_gpu/tests/device/dynamics_rate" --sizes "$sizes" --seconds "$seconds" \
    --state "$out/state_gpu.txt" | tee "$out/dynamics_gpu.out" &&
    "$build_cpu/tests/device/dynamics_rate" --sizes 4096 --seconds 0.2 --state "$out/state_cpu.txt" &&
    "$python" "$root/tests/device/compare.py" states "$out/state_gpu.txt" "$out/state_cpu.txt"
}
phase dynamics dynamics

# ---- training: the smoke deck on both builds, at 1 and $ranks ranks on the GPU, and with its
# sums over NCCL (one rank: NCCL takes one rank per GPU in a communicator) ---------------------
train() {  # train EXE RANKS DECK DIR [options]
  local exe=$1 np=$2 deck=$3 dir=$4
  shift 4
  mpirun -np "$np" --bind-to none "$exe" "$root/inputs/$deck" --output "$dir" --overwrite "$@"
}
training() {
  train "$build_gpu/app/kollektiv" 1 train_smoke.yaml "$out/train_gpu" &&
    train "$build_gpu/app/kollektiv" "$ranks" train_smoke.yaml "$out/train_gpu_np$ranks" &&
    train "$build_cpu/app/kollektiv" 1 train_smoke.yaml "$out/train_cpu" &&
    echo "GPU at 1 and $ranks ranks, bit for bit:" &&
    "$python" "$root/tests/regression/h5compare.py" "$out/train_gpu/history.h5" "$out/train_gpu_np$ranks/history.h5" &&
    if [ $rehearse = 0 ]; then
      train "$build_gpu/app/kollektiv" 1 train_smoke.yaml "$out/train_gpu_nccl" --set training.sharing.backend=nccl &&
        echo "GPU over NCCL and over MPI, bit for bit:" &&
        "$python" "$root/tests/regression/h5compare.py" "$out/train_gpu/history.h5" "$out/train_gpu_nccl/history.h5"
    fi &&
    echo "GPU against CPU:" &&
    "$python" "$root/tests/device/compare.py" training "$out/train_gpu/history.h5" "$out/train_cpu/history.h5"
}
phase training training

# ---- PPO throughput on the GPU: train_reach's learner with 2^20 robots, a few iterations ----
throughput() {
  train "$build_gpu/app/kollektiv" 1 train_reach.yaml "$out/train_large" --set training.robots="$large" \
    --set training.ppo.robots_per_block=1024 --set training.iterations=4 --set training.checkpoint_every=0
}
phase throughput throughput

# ---- the app regressions (rank invariance, restarts, errors) on the GPU build ---------------
if [ $regressions = 1 ]; then
  phase regressions ctest --test-dir "$build_gpu" -R '^regression_' -j4 --output-on-failure --timeout 600
fi

# ---- RESULT lines ----------------------------------------------------------------------------
echo
grep -h '^RESULT' "$out/dynamics_gpu.out" 2> /dev/null || true
best=$(grep -h '^RESULT' "$out/dynamics_gpu.out" 2> /dev/null |
       sed -n 's/.*robot_steps_per_s=\([^ ]*\).*/\1/p' | sort -g | tail -n 1)
rate=$(grep -h '^RESULT' "$out/throughput.log" 2> /dev/null | sed -n 's/.*env_steps_per_s=\([^ ]*\).*/\1/p' | tail -n 1)
grep -h '^RESULT' "$out/throughput.log" 2> /dev/null || true
verdict() { awk -v v="${1:-0}" -v g="$2" 'BEGIN { print (v + 0 >= g ? "met" : "missed") }'; }
echo "RESULT device_check gpu=\"${gpu%%,*}\" arm_steps_per_s=${best:-none} goal=1e9 ($(verdict "$best" 1e9))" \
     "ppo_env_steps_per_s=${rate:-none} goal=1e7 ($(verdict "$rate" 1e7)) wall_s=$((SECONDS - start))" \
     "failed=${#failures[@]}${failures[*]:+ (${failures[*]})}"
[ ${#failures[@]} -eq 0 ]
