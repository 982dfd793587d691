#!/usr/bin/env bash
# kollektiv's job scripts under a real Slurm: a private single-node cluster on localhost
# (tests/slurm/cluster.sh: munged, slurmctld and slurmd from a generated slurm.conf with
# the site default MpiDefault=none) runs jobs/slurm/*.sbatch with the shipped decks at
# their own settings, and checks:
#   time limit  bench/factory_large.yaml with --time=00:03:00 --signal=B:USR1@90 is
#               signalled, checkpoints, exits 4, is requeued and continues, over and over,
#               to a history bitwise equal (timings aside) to an uninterrupted job's
#   scancel     factory_basic.yaml, while a checkpoint write is in progress (held open by the
#               LD_PRELOAD shim slow_commit.c): `scancel --signal=USR1` stops the job with
#               a checkpoint and it requeues; `scancel` (TERM, then KILL after KillWait)
#               kills it mid-write. Either way the next job continues from the newest valid
#               checkpoint to the history of an uninterrupted run
#   array       --array=1-3: one output directory per task, run.seed = task id
#   launch      a step whose tasks fail to launch (srun exits 0) fails the job: only a run
#               that wrote OUTPUT/finished completes
#   mpi         srun's MPI plugin: the default pmix works; KOLLEKTIV_SRUN_MPI=none fails in
#               MPI_Init as on a site whose default is none
#   test-only   every jobs/slurm/*.sbatch passes sbatch --test-only (a GPU script with GPU
#               options)
#   gpu         gpu.sbatch on the placeholder GPUs runs one task per GPU through cpu.sbatch
#               to factory_basic's history
# Every daemon started is stopped by pid at the end, also on failure.
#
# usage (as root; installs slurm-wlm and munge if missing):
#   tests/slurm/run.sh [BUILD_DIR]        (default: build; the executable is BUILD_DIR/app/kollektiv)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$build/tests/slurm
python=/usr/bin/python3
export KOLLEKTIV_EXE=$build/app/kollektiv
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x "$KOLLEKTIV_EXE" ] || { echo "no executable $KOLLEKTIV_EXE; build first" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "tests/slurm/run.sh runs slurmctld and slurmd as root; run it as root" >&2; exit 2; }

source "$root/tests/slurm/cluster.sh"
SLURM_TEST_DIR=$work/cluster slurm_stop  # a cluster an interrupted run left, if any
rm -rf "$work"
mkdir -p "$work"
trap slurm_stop EXIT
t_start=$SECONDS
slurm_install
slurm_start "$work/cluster"
echo "slurm: $(sbatch --version) on $(hostname -s), $(nproc) CPUs, MpiDefault=none"

failures=0
expect() {  # expect MESSAGE COMMAND...: runs COMMAND; if it fails, prints and counts MESSAGE
  local message=$1
  shift
  if ! "$@"; then
    echo "FAIL: $message"
    failures=$((failures + 1))
  fi
}
same_files() {  # same_files A B WHAT: bitwise equal HDF5 files (timings aside)
  expect "$3: $1 and $2 differ" $python "$root/tests/regression/h5compare.py" "$1" "$2"
}
latest() { echo "$1/checkpoints/$(cat "$1/checkpoints/latest")"; }

# The job's state, once it has ended for good (a requeued job goes on); empty on timeout.
wait_job() {
  local id=$1 timeout=$2 t0=$SECONDS state
  while ((SECONDS - t0 < timeout)); do
    state=$(scontrol show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2 || true)
    if [ -z "$state" ]; then  # purged already (MinJobAge): the completion record says
      local record="^JobId=$id "
      [[ $id == *_* ]] && record="ArrayJobId=${id%_*} ArrayTaskId=${id#*_} "  # an array task
      state=$(grep "$record" "$work/cluster/log/jobcomp.log" 2>/dev/null | tail -1 |
        grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)
    fi
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        echo "$state"
        return 0
        ;;
    esac
    sleep 1
  done
}

wait_for_file() {  # wait_for_file PATH TIMEOUT: 0 once PATH exists
  local t0=$SECONDS
  while ((SECONDS - t0 < $2)); do
    [ -e "$1" ] && return 0
    sleep 0.05
  done
  return 1
}

submit() {  # submit DIR [sbatch options] -- SCRIPT ARGS: prints the job id (run from DIR)
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && sbatch --parsable "$@" | cut -d';' -f1)
}

decks=$root/inputs
cpu=$root/jobs/slurm/cpu.sbatch

# --- sbatch --test-only: every job script is accepted with this cluster's resources.
for script in "$root"/jobs/slurm/*.sbatch; do
  options=(--ntasks-per-node="$(nproc)")
  case "$(basename "$script")" in gpu*) options=(--ntasks-per-node=1 --gpus-per-node=1 --cpus-per-task=1) ;; esac
  sbatch --test-only "${options[@]}" "$script" "$decks/factory_basic.yaml" >"$work/test_only.out" 2>&1 || true
  expect "sbatch --test-only ${options[*]} $(basename "$script"): $(cat "$work/test_only.out")" \
    grep -q "to start at" "$work/test_only.out"
done

# --- srun's MPI plugin: pmix by default (every job below); none fails as on such a site.
id=$(KOLLEKTIV_SRUN_MPI=none KOLLEKTIV_OUTPUT=$work/mpi_none/out submit "$work/mpi_none" --ntasks-per-node=2 \
  "$cpu" "$decks/factory_basic.yaml")
state=$(wait_job "$id" 120)
expect "KOLLEKTIV_SRUN_MPI=none: no MPI_Init failure in the job output" \
  grep -q "MPI_Init" "$work"/mpi_none/kollektiv-*.out
expect "KOLLEKTIV_SRUN_MPI=none: job state '$state', expected FAILED" test "$state" = FAILED

# --- A step whose tasks never start: srun (22.05) exits 0, the job must not complete. A
# directory where pmix creates the step's (as a step killed with its cluster leaves in
# TmpFS) fails the launch; the job is held until it is there.
launch=$work/launch_failed
id=$(KOLLEKTIV_OUTPUT=$launch/out submit "$launch" --hold --ntasks-per-node=2 "$cpu" "$decks/factory_basic.yaml")
mkdir -p "$work/cluster/tmp/spmix_appdir_$(id -u)_$id.0"
scontrol release "$id"
state=$(wait_job "$id" 120)
expect "failed step launch: job state '$state', expected FAILED" test "$state" = FAILED
expect "failed step launch: no message that the run did not finish" \
  grep -q "srun exited 0 but the run left no" "$launch"/kollektiv-*.out
expect "failed step launch: $launch/out/finished exists" test ! -e "$launch/out/finished"
expect "failed step launch: the node is not idle after it ($(sinfo -h -N -o %t))" test "$(sinfo -h -N -o %t)" = idle

# --- A time limit shorter than the run: signal, checkpoint, exit 4, requeue, continue.
t0=$SECONDS
ref=$work/large_ref/out
id=$(KOLLEKTIV_OUTPUT=$ref submit "$work/large_ref" --ntasks-per-node=2 "$cpu" "$decks/bench/factory_large.yaml")
state=$(wait_job "$id" 1800)
expect "uninterrupted factory_large job: state '$state'" test "$state" = COMPLETED
expect "uninterrupted factory_large job: no $ref/finished" test -f "$ref/finished"
t_ref=$((SECONDS - t0))
t0=$SECONDS
limited=$work/large_limited/out
id=$(KOLLEKTIV_OUTPUT=$limited submit "$work/large_limited" --ntasks-per-node=2 --time=00:03:00 \
  --signal=B:USR1@90 "$cpu" "$decks/bench/factory_large.yaml")
state=$(wait_job "$id" 3600)
t_limited=$((SECONDS - t0))
log=$(ls "$work"/large_limited/kollektiv-*.out || true)
requeues=$(grep -c "checkpointed on a stop signal (exit 4); requeueing" "$log" || true)
expect "time-limited factory_large job: state '$state'" test "$state" = COMPLETED
expect "time-limited factory_large job was never requeued ($log)" test "$requeues" -ge 1
same_files "$ref/history.h5" "$limited/history.h5" "history after $requeues time-limit requeues"
same_files "$(latest "$ref")" "$(latest "$limited")" "final checkpoint after $requeues time-limit requeues"
echo "time limit: uninterrupted job ${t_ref} s; --time=00:03:00 job ${t_limited} s in $((requeues + 1)) runs"

# --- scancel during a checkpoint write (held open for a few seconds by slow_commit.so).
cc -O2 -shared -fPIC -o "$work/slow_commit.so" "$root/tests/slurm/slow_commit.c" -ldl
quick_ref=$work/quick_ref
mpirun -np 2 --oversubscribe "$KOLLEKTIV_EXE" "$decks/factory_basic.yaml" --output "$quick_ref" >/dev/null

# USR1 mid-write: the write completes, the run checkpoints where it stands, exits 4, requeues.
out=$work/usr1/out
id=$(LD_PRELOAD=$work/slow_commit.so KOLLEKTIV_TEST_COMMIT_DELAY_S=4 KOLLEKTIV_OUTPUT=$out \
  submit "$work/usr1" --ntasks-per-node=2 "$cpu" "$decks/factory_basic.yaml")
expect "scancel --signal=USR1: no second checkpoint write began" \
  wait_for_file "$out/checkpoints/ckpt_00000001.h5.tmp" 300
scancel --signal=USR1 "$id"
state=$(wait_job "$id" 600)
expect "job signalled with USR1 during a checkpoint write: state '$state'" test "$state" = COMPLETED
expect "job signalled with USR1 during a checkpoint write did not requeue" \
  grep -q "checkpointed on a stop signal (exit 4); requeueing" "$work"/usr1/kollektiv-*.out
same_files "$quick_ref/history.h5" "$out/history.h5" "history after USR1 during a checkpoint write"
same_files "$(latest "$quick_ref")" "$(latest "$out")" "final checkpoint after USR1 during a checkpoint write"

# scancel mid-write: TERM, and KILL (KillWait) before the held write can finish. The next
# job of the same output continues from the checkpoint before.
out=$work/cancel/out
id=$(LD_PRELOAD=$work/slow_commit.so KOLLEKTIV_TEST_COMMIT_DELAY_S=30 KOLLEKTIV_OUTPUT=$out \
  submit "$work/cancel" --ntasks-per-node=2 "$cpu" "$decks/factory_basic.yaml")
expect "scancel: no second checkpoint write began" wait_for_file "$out/checkpoints/ckpt_00000001.h5.tmp" 300
scancel "$id"
state=$(wait_job "$id" 120)
expect "cancelled job: state '$state'" test "$state" = CANCELLED
expect "scancel did not kill the job in the middle of its second checkpoint write: $(ls "$out/checkpoints")" \
  test -e "$out/checkpoints/ckpt_00000001.h5.tmp" -a "$(cat "$out/checkpoints/latest")" = ckpt_00000000.h5
id=$(KOLLEKTIV_OUTPUT=$out submit "$work/cancel" --ntasks-per-node=2 "$cpu" "$decks/factory_basic.yaml")
state=$(wait_job "$id" 300)
expect "job after scancel: state '$state'" test "$state" = COMPLETED
expect "the job after scancel did not continue from the checkpoint" \
  grep -q -- "--restart latest" "$work/cancel/kollektiv-kollektiv-$id.out"
same_files "$quick_ref/history.h5" "$out/history.h5" "history after scancel during a checkpoint write"
same_files "$(latest "$quick_ref")" "$(latest "$out")" "final checkpoint after scancel during a checkpoint write"

# --- A job array of replications: one directory per task, seed = task id.
id=$(submit "$work/array" --array=1-3 --ntasks-per-node=1 "$cpu" "$decks/factory_basic.yaml")
for task in 1 2 3; do
  state=$(wait_job "${id}_$task" 300)
  expect "array task $task: state '$state'" test "$state" = COMPLETED
  expect "array task $task: no finished marker" test -f "$work/array/runs/kollektiv-${id}_$task/finished"
done
array_check() {
  $python - "$work/array/runs" "$id" <<'EOF'
import os, sys
import h5py
runs, job = sys.argv[1], sys.argv[2]
dirs = sorted(os.listdir(runs))
expected = [f"kollektiv-{job}_{k}" for k in (1, 2, 3)]
assert dirs == expected, f"array output directories {dirs}, expected {expected}"
throughput = []
for k, d in zip((1, 2, 3), dirs):
    with h5py.File(os.path.join(runs, d, "history.h5"), "r", swmr=True) as f:
        resolved = f.attrs["resolved_deck"]
        resolved = resolved.decode() if isinstance(resolved, bytes) else str(resolved)
        assert f"seed: {k}\n" in resolved, f"{d}: resolved deck without seed {k}"
        rows = f["row"].shape[0]
        assert rows == 48, f"{d}: {rows} history rows, expected 48"
        throughput.append(f["factories/throughput"][rows - 1].tobytes())
assert len(set(throughput)) == 3, "replications with different seeds gave identical results"
EOF
}
expect "job array of replications" array_check

# --- gpu.sbatch on this cluster's placeholder GPUs, with the CPU executable: one task per
# GPU through cpu.sbatch's run (found from the submitted script's path), the same results.
out=$work/gpu/out
id=$(KOLLEKTIV_OUTPUT=$out submit "$work/gpu" --ntasks-per-node=2 --gpus-per-node=2 --cpus-per-task=1 \
  "$root/jobs/slurm/gpu.sbatch" "$decks/factory_basic.yaml")
state=$(wait_job "$id" 300)
expect "gpu.sbatch: state '$state'" test "$state" = COMPLETED
expect "gpu.sbatch: srun without one GPU per task" \
  grep -q -- "--gpus-per-task=1 --gpu-bind=closest" "$work/gpu/kollektiv-kollektiv-gpu-$id.out"
same_files "$quick_ref/history.h5" "$out/history.h5" "history of gpu.sbatch"

echo "slurm tests: $failures failure(s) in $((SECONDS - t_start)) s"
[ "$failures" -eq 0 ]
