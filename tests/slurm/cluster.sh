# Private single-node Slurm cluster on localhost for tests (sourced, not run):
#   source tests/slurm/cluster.sh
#   slurm_install; slurm_start "$scratch"; trap slurm_stop EXIT
#   sbatch --wait ...          # SLURM_CONF points at $scratch/slurm.conf
# Everything (munge key and socket, config, state, spool, logs, pids) lives under the
# scratch directory; nothing in /etc is read or written. Runs as root (SlurmUser=root).
# slurm_stop ends only what this cluster runs: its jobs, then its daemons by pid. Safe under
# `set -euo pipefail`. Knobs: SLURM_TEST_PORT_BASE (first port tried, 16817),
# SLURM_TEST_START_TIMEOUT (seconds, 60), SLURM_TEST_PROCTRACK (linuxproc or pgid).

source "$(dirname "${BASH_SOURCE[0]}")/../../jobs/packages.sh"
slurm_test_packages=(slurm-wlm munge slurm-wlm-basic-plugins libpmix-dev)
slurm_cluster=kollektiv-test

# Installs Slurm, munge and what srun --mpi=pmix needs (Debian 12: slurm-wlm 22.05.8). The
# pmix plugin (mpi_pmix_v4.so) is in slurm-wlm-basic-plugins, but it dlopen()s the
# unversioned pmix2/lib/libpmix.so, which only libpmix-dev ships.
slurm_install() {
  install_missing_packages --no-install-recommends "${slurm_test_packages[@]}"
}

# Prints the first port >= $1 such that it and the next one have no listener.
_slurm_free_ports() {
  local p=$1
  while (: >"/dev/tcp/127.0.0.1/$p") 2>/dev/null ||
    (: >"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; do
    p=$((p + 2))
  done
  echo "$p"
}

# Writes $SLURM_TEST_DIR/slurm.conf and gres.conf for this host.
_slurm_write_conf() {
  local d=$SLURM_TEST_DIR node cpus mem port
  node=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  port=$(_slurm_free_ports "${SLURM_TEST_PORT_BASE:-16817}")
  cat >"$d/slurm.conf" <<EOF
ClusterName=$slurm_cluster
SlurmctldHost=$node(127.0.0.1)
# Private ports (slurmctld, slurmd), so a site cluster or a second test cluster can coexist.
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
# Job scratch (srun --mpi=pmix's per-step directories spmix_appdir_<uid>_<job>.<step>)
# under the scratch directory: a step killed with the cluster leaves its directory behind,
# and a stale one in the shared /tmp fails the launch of the next cluster's step with the
# same job id.
TmpFS=$d/tmp
# No mail is sent (silences "MailProg is invalid" when mailutils is absent).
MailProg=/bin/true
# Munge through our own munged; cred_expire (min 5 s) also sets how long a requeued
# job waits before it may start again (cred_expire + 1 s; the default is 121 s).
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=5
# No cgroups, affinity or accounting. linuxproc tracks by parentage: orphans a job leaves
# behind escape until slurm_stop; pgid kills them at job end but, where PID 1 reaps zombies
# late (this VM: ~2 s), waits 1-3 s at the end of every job that ran srun (its shepherd).
ProctrackType=proctrack/${SLURM_TEST_PROCTRACK:-linuxproc}
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# A completion record per job (state, exit code) survives MinJobAge purges.
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Deliberately no MPI by default, as on many sites: job scripts must pass --mpi.
MpiDefault=none
# Grace between SIGTERM and SIGKILL when a job is cancelled or times out.
KillWait=2
# Batch jobs may be requeued (scontrol requeue, node failure).
JobRequeue=1
# A node that was DOWN comes back as soon as its slurmd registers.
ReturnToService=2
# Finished jobs stay in scontrol for 5 min (the test polls them; sbatch --wait, which then
# polls every 8-32 s instead of 2 s, is not used).
MinJobAge=300
# Short failure detection (no backup controller; node DOWN if silent for 10 s).
SlurmctldTimeout=5
SlurmdTimeout=10
# Never cancel a job because srun/salloc went quiet, nor because one task ended early.
InactiveLimit=0
Waittime=0
# Full scheduling and backfill passes every second (default 60 s and 30 s): a requeued
# job starts as soon as its begin time is past, not at the next minute's pass.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
# Fake GPUs, enough to evaluate --gpus-per-node. 22.05's slurmd drops a gpu without File=,
# so gres.conf names two empty placeholder files under the scratch directory.
GresTypes=gpu
# Trust this file over the hardware (do not drain a node that reports differently).
SlurmdParameters=config_overrides
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  mkdir -p "$d/dev" && touch "$d/dev/nvidia0" "$d/dev/nvidia1"
  printf 'AutoDetect=off\nName=gpu File=%s/dev/nvidia[0-1]\n' "$d" >"$d/gres.conf"
}

# Starts munged, slurmctld and slurmd for a cluster under SCRATCH_DIR and waits until
# the node is idle. Sets SLURM_TEST_DIR, SLURM_CONF and slurm_{munged,ctld,slurmd}_pid.
slurm_start() {
  local d=${1:?usage: slurm_start SCRATCH_DIR} name pid i
  # A cluster this very shell started before is stopped (not one a subshell inherited).
  if [ "${slurm_owner_pid:-}" = "$BASHPID" ]; then slurm_stop; fi
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  if [ -f "$d/pids" ]; then
    while read -r name pid; do
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
        echo "slurm: a cluster still runs in $d ($name $pid); slurm_stop it first" >&2
        return 1
      fi
    done <"$d/pids"
  fi
  SLURM_TEST_DIR=$d slurm_owner_pid=$BASHPID
  rm -rf "$d/state" "$d/spool" "$d/munge" "$d/log" "$d/tmp"
  mkdir -m 0755 "$d/state" "$d/spool" "$d/log" "$d/munge" "$d/tmp"
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$d/munge/munge.key"
  _slurm_write_conf
  export SLURM_CONF=$d/slurm.conf
  : >"$d/pids"
  # munged: -F stays in the foreground so $! is its pid (and logs to stderr: munged.out,
  # not --log-file); --force lets it run as root.
  munged -F --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.socket" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
    --seed-file="$d/munge/munged.seed" </dev/null >>"$d/log/munged.out" 2>&1 &
  slurm_munged_pid=$!
  echo "munged $slurm_munged_pid" >>"$d/pids"
  for ((i = 0; i < 50; i++)); do [ -S "$d/munge/munge.socket" ] && break; sleep 0.1; done
  slurmctld -D -f "$SLURM_CONF" </dev/null >>"$d/log/slurmctld.out" 2>&1 &
  slurm_ctld_pid=$!
  echo "slurmctld $slurm_ctld_pid" >>"$d/pids"
  slurmd -D -f "$SLURM_CONF" </dev/null >>"$d/log/slurmd.out" 2>&1 &
  slurm_slurmd_pid=$!
  echo "slurmd $slurm_slurmd_pid" >>"$d/pids"
  local state="" timeout=${SLURM_TEST_START_TIMEOUT:-60}
  for ((i = 0; i < timeout * 2; i++)); do
    state=$(sinfo -h -N -o %t 2>/dev/null || true)
    [ "$state" = idle ] && return 0
    for pid in "$slurm_munged_pid" "$slurm_ctld_pid" "$slurm_slurmd_pid"; do
      kill -0 "$pid" 2>/dev/null || break 2
    done
    sleep 0.5
  done
  echo "slurm: node not idle after $((i / 2)) s (state '$state', or a daemon died); see $d/log:" >&2
  tail -n 20 "$d"/log/*.log "$d"/log/*.out >&2 || true
  slurm_stop
  return 1
}

# Kills pid $2 if it is still the $1 we started: TERM, up to 5 s grace, then KILL.
_slurm_kill() {
  local name=$1 pid=$2 i
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Cancels this cluster's jobs, stops its daemons, kills its leftover processes.
# Idempotent, and fit for an EXIT trap (never fails).
slurm_stop() {
  local d=${SLURM_TEST_DIR:-} name pid i env
  [ -n "$d" ] && [ -f "$d/pids" ] || return 0
  if [ -n "${slurm_ctld_pid:-}" ] && kill -0 "$slurm_ctld_pid" 2>/dev/null; then
    # slurmd sends SIGKILL max(KillWait, 5) s after SIGTERM: wait up to 8 s for that.
    timeout 5 scancel --full --user="$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 16; i++)); do
      [ -z "$(timeout 5 squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  while read -r name pid; do _slurm_kill "$name" "$pid"; done < <(tac "$d/pids")
  # Leftovers: slurmstepds (they daemonize away from slurmd) and job processes that escaped
  # tracking. Both carry our SLURM_CONF; job processes also our SLURM_CLUSTER_NAME.
  for env in $(grep -lzxF "SLURM_CONF=$d/slurm.conf" /proc/[0-9]*/environ 2>/dev/null || true); do
    pid=${env#/proc/} && pid=${pid%/environ}
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ] ||
      grep -qzxF "SLURM_CLUSTER_NAME=$slurm_cluster" "$env" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$d/pids"
  slurm_munged_pid="" slurm_ctld_pid="" slurm_slurmd_pid=""
  return 0
}
