#!/usr/bin/python3
"""Projection of kollektiv's collective learning to 8, 1,000, 10,000 and 100,000 GPUs.

    postprocess/scaling_model.py RUN_DIR [RUN_DIR ...] [--plot scaling_model.png]
        [--mtbf-gpu-hours 50677] [--restart-s 300] [--intra-busbw-gbs 370] [--nic-gbs 50]
        [--fs-node-gbs 2] [--fs-total-gbs 1000] [--compute-speedup 1] [--overlap 0]
    postprocess/scaling_model.py --self-check

Reads training runs of kollektiv of one skill (each RUN_DIR holds the run's history.h5,
checkpoints/ and stdout.log, the run's standard output), measures per rank and iteration
what the run did, and projects each sharing mode (training.sharing.mode) to N GPUs, one rank per GPU, 8 GPUs
per node, each rank keeping the calibrated work (weak scaling). Prints, per mode, a table
of N = 8, 1,000, 10,000, 100,000 (exposed communication per iteration, weak-scaling
efficiency, checkpoint write time, checkpoint interval, waste, goodput), then every
constant with its value and source, and which values were measured here; writes a plot of
efficiency and goodput against N.

Measured, per run (rank 0's history, differences of its cumulative timings/ columns, the
first WARMUP_ITERATIONS left out, medians over the rest):
  compute per iteration   timings/physics_s + inference_s + update_s (communication_s apart)
  bytes per iteration     timings/bytes_sent_max: payload given to the collectives by the
                          rank that gave most (mean over iterations: federated rounds that
                          miss their quorum send nothing)
  checkpoint write        the phase table's `checkpoint` max_s (stdout.log) over the number
                          of checkpoints written (checkpoints/latest's sequence + 1); bytes
                          from the newest checkpoint file, fitted as a + b * ranks over a
                          mode's runs (a: what is written once, b: per rank)
  ranks, parameters       the run's header line in stdout.log
The compute per iteration of the projection is that of the mode's run with the fewest
ranks (normally 1 rank: no time slicing, no waiting). Runs with more ranks are printed for
what they say: on a machine with fewer cores than ranks they are time-sliced, so their
per-rank compute (scaled by cores / ranks) is only an upper bound, and in the replica modes
the per-iteration diagnostics allreduce's waiting counts as update time in the history.

Model (every constant below is named with its source; the command line may replace some):
  allreduce of B bytes over n GPUs, g = min(n, 8) per node, m = ceil(n / 8) nodes:
      t = L + 2 (g-1)/g B / busbw_node + [m > 1] 2 (m-1)/m (B/g) / bw_nic,
      L = base + 2 ((g-1) hop_nvlink + ceil(log2 m) hop_net)      (n > 1; t = 0 at n = 1)
    The bandwidth terms are NCCL's bus-bandwidth convention (a ring allreduce moves
    2(n-1)/n B per GPU): reduce-scatter and all-gather inside the node, each GPU's 1/g
    shard reduced across the nodes through its own NIC. L is NCCL's own latency model for
    a tree allreduce (tuning.cc: 2 ((ppn-1) intra + log2(nodes) inter) + base).
  pairwise exchange of B bytes (gossip): t = base + hop + B / bw, hop and bw those of
    NVLink or of the NIC; a round lasts as long as its slowest pair (every iteration ends
    in an allreduce over all ranks), so a round costs the NIC's time when any of its pairs
    spans two nodes. Sites are dealt to the GPUs in order, one per GPU.
  collectives per iteration: measured, from the history's timings/collectives_max (learning
    and sharing) and timings/diagnostic_collectives_max (episode figures, the replicas'
    disagreement, the bytes maximum), of the run with the most ranks. Histories without
    them fall back to the counts of this build (the regression checks that the two agree):
    allreduce  per update 2 per minibatch (a fixed-point gradient sum is an int32 MPI_MAX of
               exponents and an int64 sum), 1 per epoch (minibatch sizes), 7 more (sample
               count, advantage mean and variance, block ranges, observation statistics, ...);
               diagnostics 3
    gossip     1 pairwise exchange every `period` updates; diagnostics 7
    federated  2 (one fixed-point sum) every `local_updates` updates; diagnostics 7
    isolated   diagnostics 7
    The diagnostics of the replica modes include the replicas' disagreement: a fixed-point
    sum of all parameters (12 bytes per parameter) and one more exact sum. Their bytes are
    not in timings/bytes_sent_max, so the model adds them from the parameter count.
  compute per iteration t_c: measured (above), divided by --compute-speedup (1: a GPU does
    one rank's work in the time a core took here; how fast a GPU is on it was not measured).
  weak-scaling efficiency E = t_c / (t_c + exposed), exposed = (1 - overlap) t_comm; the
    collectives are blocking, so overlap = 0 by default.
  failures: job interruptions at one per MTBF_GPU_HOURS GPU-hours, so the job's mean time
    between interruptions is M = MTBF_GPU_HOURS / N. Checkpoint write time
    C = C_measured (the write time at the mode's most ranks here) + (a + b N) /
    min(m * fs_node, fs_total); restart R = relaunch + one
    checkpoint read at the write bandwidth. Young/Daly interval tau = sqrt(2 C M) of
    compute time; Daly's first-order waste W = C / tau + (tau / 2 + R) / M, clamped to
    [0, 1]; goodput = E (1 - W).

Calibration runs (inputs/bench/collective_modes.yaml: UR5-class arms learning reach, one
site of 128 robots per rank, 20 iterations, a checkpoint every 5; about 3 s at 1 rank and
25 s at 8 ranks on 2 cores; `--oversubscribe` for more ranks than cores):

    box='{min: [0.3, -0.25, 0.2], max: [0.6, 0.25, 0.5]}'
    for mode in allreduce gossip federated isolated; do for r in 1 2 4 8; do
      d=output/scaling/$mode-np$r; mkdir -p $d
      mpirun --oversubscribe -n $r build/app/kollektiv inputs/bench/collective_modes.yaml \\
        --output $d --overwrite --set training.iterations=20 training.checkpoint_every=5 \\
        training.sharing.mode=$mode \\
        "training.sites=[{name: site, count: $r, robots: 128, reach: {target_box: $box}}]" \\
        > $d/stdout.log
    done; done
    postprocess/scaling_model.py output/scaling/*-np* --plot output/scaling/scaling_model.png

`--self-check` verifies analytic identities of the model (no communication on one GPU, the
bus-bandwidth formula, E <= 1, the Young/Daly interval minimises the waste, goodput falls as
failures become more frequent, the Llama 3 rate) and exits 1 if one fails.
"""
import argparse
import math
import os
import re
import sys
from dataclasses import dataclass, replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from history_reader import HistoryReader  # noqa: E402

GPU_COUNTS = (8, 1_000, 10_000, 100_000)
MODES = ("allreduce", "gossip", "federated", "isolated")
WARMUP_ITERATIONS = 2
FIXED_POINT_BYTES_PER_VALUE = 12  # int32 exponent (MPI_MAX) + int64 fixed-point sum


@dataclass(frozen=True)
class Constant:
    value: float
    unit: str
    source: str


# Llama 3's pre-training: unexpected job interruptions in a snapshot, hence GPU-hours per interruption.
LLAMA3_INTERRUPTIONS = 419
LLAMA3_DAYS = 54
LLAMA3_GPUS = 16_384
LLAMA3_GPU_HOURS_PER_INTERRUPTION = LLAMA3_DAYS * 24 * LLAMA3_GPUS / LLAMA3_INTERRUPTIONS
LLAMA3_SOURCE = (f'"The Llama 3 Herd of Models", Meta, 2024 (arXiv:2407.21783), section 3.3.4: '
                 f"{LLAMA3_INTERRUPTIONS} unexpected interruptions in a {LLAMA3_DAYS}-day snapshot of pre-training "
                 f"on {LLAMA3_GPUS:,} H100 GPUs: {LLAMA3_DAYS} x 24 h x {LLAMA3_GPUS:,} / {LLAMA3_INTERRUPTIONS} = "
                 f"{LLAMA3_GPU_HOURS_PER_INTERRUPTION:,.0f} GPU-hours per job interruption")

CONSTANTS = {
    "gpus_per_node": Constant(8, "GPUs", "NVIDIA DGX/HGX H100 and H200: 8 GPUs on NVLink 4 / NVSwitch per node "
                                         "(https://docs.nvidia.com/dgx/dgxh100-user-guide/"
                                         "introduction-to-dgxh100.html)"),
    "intra_busbw": Constant(370e9, "B/s", "NCCL all_reduce bus bandwidth inside an 8-GPU H100/H200 node: the low "
                                          "end of 370-480 GB/s from nccl-tests (the issue's figures, not measured "
                                          "here; NVLink 4 carries 450 GB/s per direction per GPU). Bus bandwidth = "
                                          "algorithm bandwidth x 2(n-1)/n for allreduce: "
                                          "https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md"),
    "nic_bw": Constant(50e9, "B/s", "one 400 Gb/s NDR InfiniBand ConnectX-7 NIC per GPU (DGX H100: 8 x 400 Gb/s "
                                    "compute ports; same user guide): 400 Gb/s = 50 GB/s"),
    "base_latency": Constant(12e-6, "s", "NCCL tuning model, baseLat of tree and ring with the LL protocol "
                                         "(12 us in recent releases, 4.4-6.8 us in older ones): "
                                         "https://github.com/NVIDIA/nccl/blob/master/src/graph/tuning.cc"),
    "hop_nvlink": Constant(0.6e-6, "s", "NCCL tuning.cc hwLat[NVLINK][tree][LL], per step inside a node"),
    "hop_net": Constant(5.0e-6, "s", "NCCL tuning.cc hwLat[NET][tree][LL], per tree level between nodes "
                                     "(the issue's ~5 us per hop)"),
    "mtbf_gpu_hours": Constant(LLAMA3_GPU_HOURS_PER_INTERRUPTION, "GPU-h", LLAMA3_SOURCE),
    "relaunch_s": Constant(300.0, "s", "assumption: Slurm requeue, relaunch and communicator set-up of a large "
                                       "job (not measured); a restart adds one checkpoint read"),
    "fs_node_bw": Constant(2e9, "B/s", "assumption: one node's share of a parallel file system's write "
                                       "bandwidth (not measured)"),
    "fs_total_bw": Constant(1e12, "B/s", "assumption: aggregate write bandwidth of a large all-flash parallel "
                                         "file system (not measured)"),
    "compute_speedup": Constant(1.0, "x", "assumption: a GPU does one rank's work in the time a core took "
                                          "here (GPU speed on this workload not measured)"),
    "overlap": Constant(0.0, "1", "kollektiv's collectives are blocking: nothing overlaps computation"),
}

FORMULA_SOURCES = ('Young, "A first order approximation to the optimum checkpoint interval", CACM 17(9), 1974; '
                   'Daly, "A higher order estimate of the optimum checkpoint interval for restart dumps", '
                   "FGCS 22(3), 2006: tau = sqrt(2 C M), first-order waste C/tau + (tau/2 + R)/M")

# Collectives per iteration where a history does not record them (see the module docstring):
# small ones per update of the one learner (allreduce mode), and the diagnostics.
SMALL_PER_UPDATE = 7
DIAGNOSTICS_ALLREDUCE = 3
DIAGNOSTICS_REPLICAS = 7


# ---- the network ----

def nodes_of(n, c):
    return math.ceil(n / c["gpus_per_node"].value)


def allreduce_s(nbytes, n, c):
    """Time of one allreduce of `nbytes` over `n` GPUs (the model in the docstring)."""
    if n <= 1:
        return 0.0
    g = min(n, int(c["gpus_per_node"].value))
    m = nodes_of(n, c)
    latency = c["base_latency"].value + 2 * ((g - 1) * c["hop_nvlink"].value
                                             + math.ceil(math.log2(m)) * c["hop_net"].value)
    intra = 2 * (g - 1) / g * nbytes / c["intra_busbw"].value
    inter = 2 * (m - 1) / m * (nbytes / g) / c["nic_bw"].value if m > 1 else 0.0
    return latency + intra + inter


def allreduces_s(count, nbytes, n, c):
    """`count` allreduces carrying `nbytes` in all: latency per call, bandwidth per byte."""
    if count == 0:
        return 0.0
    return count * allreduce_s(nbytes / count, n, c)


def exchange_s(nbytes, across_nodes, c):
    """One pairwise exchange of `nbytes` each way (full duplex)."""
    hop, bw = (c["hop_net"].value, c["nic_bw"].value) if across_nodes else (c["hop_nvlink"].value,
                                                                          c["intra_busbw"].value)
    return c["base_latency"].value + hop + nbytes / bw


def gossip_rounds_across_nodes(schedule, n, c):
    """Fraction of gossip rounds in which some pair spans two nodes (sites in GPU order)."""
    if n <= c["gpus_per_node"].value:
        return 0.0
    if schedule == "hypercube":  # dimension d pairs s with s xor 2^d: across nodes for 2^d >= 8
        dims = math.ceil(math.log2(n))
        return (dims - math.log2(c["gpus_per_node"].value)) / dims
    if schedule == "ring":  # of the two alternating matchings, the odd one crosses node borders
        return 0.5
    return 1.0  # random_pairs


# ---- measured runs ----

@dataclass
class Run:
    path: str
    mode: str
    ranks: int
    parameters: int
    deck: dict
    compute_s: float          # per iteration, rank 0, median
    communication_s: float    # per iteration, rank 0, median (measured here, MPI on this machine)
    bytes_per_iteration: float
    checkpoint_s: float       # per write, max over ranks
    checkpoint_bytes: int
    calls: float = None             # collective calls per iteration, learning and sharing (max over ranks)
    diagnostic_calls: float = None  # the same of the diagnostics; None in histories without them


def log_figures(path):
    """Ranks, parameters and the checkpoint phase's max_s from the run's stdout.log."""
    log = os.path.join(path, "stdout.log")
    if not os.path.exists(log):
        sys.exit(f"{log} is missing: keep the run's standard output there (see the calibration commands)")
    text = open(log).read()
    header = re.search(r"\((\d+) observations, (\d+) actions, (\d+) parameters\) on (\d+) ranks", text)
    checkpoint = re.search(r"^checkpoint\s+[\d.]+\s+[\d.]+\s+([\d.]+)", text, re.M)
    if header is None or checkpoint is None:
        sys.exit(f"{log}: no header line or no phase table (did the run finish?)")
    return int(header.group(4)), int(header.group(3)), float(checkpoint.group(1))


def checkpoints_written(path):
    """Checkpoints the run wrote (sequence numbers start at 0) and the newest one's bytes."""
    directory = os.path.join(path, "checkpoints")
    newest = open(os.path.join(directory, "latest")).read().strip()
    sequence = int(re.match(r"ckpt_(\d+)\.h5", newest).group(1))
    return sequence + 1, os.path.getsize(os.path.join(directory, newest))


def per_iteration(h, name):
    values = np.diff(h.column(name), prepend=0.0)
    return values[WARMUP_ITERATIONS:]


def read_run(path):
    ranks, parameters, checkpoint_total_s = log_figures(path)
    written, checkpoint_bytes = checkpoints_written(path)
    with HistoryReader(os.path.join(path, "history.h5")) as h:
        deck = yaml.safe_load(h.attrs["resolved_deck"])["training"]
        compute = sum(per_iteration(h, f"timings/{p}_s") for p in ("physics", "inference", "update"))
        communication = per_iteration(h, "timings/communication_s")
        sent = h.column("timings/bytes_sent_max")[WARMUP_ITERATIONS:]
        calls = {name: float(np.mean(h.column(f"timings/{name}")[WARMUP_ITERATIONS:]))
                 for name in ("collectives_max", "diagnostic_collectives_max") if f"timings/{name}" in h}
    if len(compute) < 3:
        sys.exit(f"{path}: too few iterations (at least {WARMUP_ITERATIONS + 3})")
    return Run(path, deck["sharing"]["mode"], ranks, parameters, deck, float(np.median(compute)),
               float(np.median(communication)), float(np.mean(sent)), checkpoint_total_s / written, checkpoint_bytes,
               calls.get("collectives_max"), calls.get("diagnostic_collectives_max"))


# ---- one mode's projection ----

@dataclass
class Calibration:
    mode: str
    runs: list
    compute_s: float            # per iteration, from the run with the fewest ranks
    bytes_per_iteration: float  # the mode's own traffic, from the run with the most ranks
    checkpoint_s: float         # per write, at the most ranks
    checkpoint_once_bytes: float
    checkpoint_rank_bytes: float
    parameters: int
    deck: dict
    own_calls: float = None         # measured calls per iteration (the run with the most ranks), or None
    diagnostic_calls: float = None


def calibrate(mode, runs):
    runs = sorted(runs, key=lambda r: r.ranks)
    fewest, most = runs[0], runs[-1]
    ranks = np.array([r.ranks for r in runs], dtype=float)
    sizes = np.array([r.checkpoint_bytes for r in runs], dtype=float)
    if len(set(ranks)) > 1:
        per_rank, once = np.polyfit(ranks, sizes, 1)
    else:
        per_rank, once = sizes[0] / ranks[0], 0.0
    return Calibration(mode, runs, fewest.compute_s, most.bytes_per_iteration, most.checkpoint_s,
                       max(once, 0.0), per_rank, most.parameters, most.deck, most.calls, most.diagnostic_calls)


def counted_calls(cal):
    """Calls per iteration as counted from the code (the docstring): (own, diagnostics)."""
    ppo, sharing = cal.deck["ppo"], cal.deck["sharing"]
    if cal.mode == "allreduce":
        return 2 * ppo["epochs"] * ppo["minibatches"] + ppo["epochs"] + SMALL_PER_UPDATE, DIAGNOSTICS_ALLREDUCE
    if cal.mode == "gossip":
        return 1.0 / sharing["gossip"]["period"], DIAGNOSTICS_REPLICAS
    if cal.mode == "federated":
        return 2.0 / sharing["federated"]["local_updates"], DIAGNOSTICS_REPLICAS
    return 0.0, DIAGNOSTICS_REPLICAS


def calls_per_iteration(cal):
    """(own, diagnostics): measured where the history records them, else counted."""
    own, diagnostics = counted_calls(cal)
    return (own if cal.own_calls is None else cal.own_calls,
            diagnostics if cal.diagnostic_calls is None else cal.diagnostic_calls)


def communication_s(cal, n, c):
    """Communication per iteration of one mode at n GPUs: (the mode's own, diagnostics)."""
    sharing = cal.deck["sharing"]
    calls, diagnostic_calls = calls_per_iteration(cal)
    if cal.mode == "allreduce":
        return allreduces_s(calls, cal.bytes_per_iteration, n, c), allreduces_s(diagnostic_calls, 0, n, c)
    diagnostics = allreduces_s(diagnostic_calls, FIXED_POINT_BYTES_PER_VALUE * cal.parameters, n, c)
    if cal.mode == "gossip":
        gossip = sharing["gossip"]
        round_bytes = cal.bytes_per_iteration * gossip["period"]
        across = gossip_rounds_across_nodes(gossip["schedule"], n, c)
        per_round = 0.0 if n <= 1 else (across * exchange_s(round_bytes, True, c)
                                        + (1 - across) * exchange_s(round_bytes, False, c))
        return per_round / gossip["period"], diagnostics
    if cal.mode == "federated":
        rounds = 1.0 / sharing["federated"]["local_updates"]
        return allreduces_s(2 * rounds, cal.bytes_per_iteration, n, c), diagnostics
    return 0.0, diagnostics  # isolated


def checkpoint_write_s(cal, n, c):
    nbytes = cal.checkpoint_once_bytes + cal.checkpoint_rank_bytes * n
    bandwidth = min(nodes_of(n, c) * c["fs_node_bw"].value, c["fs_total_bw"].value)
    return cal.checkpoint_s + nbytes / bandwidth


def efficiency(compute_s, comm_s, overlap):
    exposed = (1 - overlap) * comm_s
    return compute_s / (compute_s + exposed), exposed


def waste(checkpoint_s, interval_s, restart_s, mtbf_s):
    """Daly's first-order fraction of time lost: checkpoints, half an interval and a restart per failure."""
    return min(max(checkpoint_s / interval_s + (interval_s / 2 + restart_s) / mtbf_s, 0.0), 1.0)


def young_daly_interval(checkpoint_s, mtbf_s):
    return math.sqrt(2 * checkpoint_s * mtbf_s)


@dataclass
class Projection:
    n: int
    compute_s: float
    own_s: float              # the mode's own collectives, per iteration
    diagnostics_s: float      # the diagnostics collectives, per iteration
    exposed_s: float
    efficiency: float
    mtbf_s: float
    checkpoint_s: float
    interval_s: float
    waste: float
    goodput: float


def project(cal, n, c):
    compute = cal.compute_s / c["compute_speedup"].value
    own, diagnostics = communication_s(cal, n, c)
    eff, exposed = efficiency(compute, own + diagnostics, c["overlap"].value)
    mtbf = c["mtbf_gpu_hours"].value * 3600.0 / n
    write = checkpoint_write_s(cal, n, c)
    restart = c["relaunch_s"].value + write  # relaunch, then read the checkpoint at the write bandwidth
    tau = young_daly_interval(write, mtbf)
    w = waste(write, tau, restart, mtbf)
    return Projection(n, compute, own, diagnostics, exposed, eff, mtbf, write, tau, w, eff * (1 - w))


# ---- output ----

def fmt_s(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 3600:
        return f"{seconds:.1f} s"
    return f"{seconds / 3600:.1f} h"


def print_measured(cals, cores):
    print(f"Measured here ({cores} cores), rank 0's medians per iteration after {WARMUP_ITERATIONS} warm-up "
          "iterations;\ncompute = physics + inference + update:")
    print(f"{'mode':<10} {'ranks':>5} {'compute':>10} {'x cores/ranks':>13} {'comm':>9} "
          f"{'bytes/iter':>11} {'ckpt write':>10} {'ckpt bytes':>10}  run")
    for cal in cals:
        for r in cal.runs:
            scaled = r.compute_s * min(1.0, cores / r.ranks)
            note = "" if r.ranks <= cores else "  *"
            print(f"{cal.mode:<10} {r.ranks:>5} {fmt_s(r.compute_s):>10} {fmt_s(scaled):>13} "
                  f"{fmt_s(r.communication_s):>9} {r.bytes_per_iteration:>11,.0f} {fmt_s(r.checkpoint_s):>10} "
                  f"{r.checkpoint_bytes:>10,}  {r.path}{note}")
    print("* more ranks than cores: time-sliced, so the compute only bounds a dedicated rank's from above;\n"
          "in the replica modes the per-iteration diagnostics allreduce's waiting is counted as update\n"
          "time, and the measured communication is MPI through shared memory on this machine, not NCCL.\n")


def print_projection(cal, c):
    largest = project(cal, GPU_COUNTS[-1], c)
    fewest, most = cal.runs[0], cal.runs[-1]
    print(f"== {cal.mode}: compute {fmt_s(largest.compute_s)} per iteration ({fewest.path}, {fewest.ranks} rank(s))")
    print(f"   own collectives {cal.bytes_per_iteration:,.0f} B per iteration, "
          f"{cal.bytes_per_iteration / cal.parameters:.0f} B per parameter ({most.path})")
    own_calls, diagnostic_calls = calls_per_iteration(cal)
    counted = counted_calls(cal)
    how = ("measured: timings/collectives_max, timings/diagnostic_collectives_max" if cal.own_calls is not None
           else "counted from the code: the history has no call counts")
    print(f"   collective calls per iteration {own_calls:g} own + {diagnostic_calls:g} diagnostics ({how}; "
          f"the fallback count: {counted[0]:g} + {counted[1]:g})")
    print(f"   checkpoint {cal.checkpoint_once_bytes:,.0f} B + {cal.checkpoint_rank_bytes:,.0f} B per rank; "
          f"efficiency 0.5 at {GPU_COUNTS[-1]:,} GPUs if compute were "
          f"{largest.compute_s / largest.exposed_s:.0f}x faster")
    print(f"{'GPUs':>7} {'own comm':>9} {'diagnost.':>9} {'exposed':>9} {'effic.':>6} {'job MTBF':>9} "
          f"{'ckpt C':>8} {'interval':>9} {'iters':>7} {'waste':>6} {'goodput':>7}")
    for n in GPU_COUNTS:
        p = project(cal, n, c)
        iterations = p.interval_s / (p.compute_s + p.exposed_s)
        print(f"{n:>7,} {fmt_s(p.own_s):>9} {fmt_s(p.diagnostics_s):>9} {fmt_s(p.exposed_s):>9} "
              f"{p.efficiency:>6.3f} {fmt_s(p.mtbf_s):>9} {fmt_s(p.checkpoint_s):>8} {fmt_s(p.interval_s):>9} "
              f"{iterations:>7,.0f} {p.waste:>6.3f} {p.goodput:>7.3f}")
    print()


def fmt_constant(k):
    if k.unit == "B/s":
        return f"{k.value / 1e9:g} GB/s"
    if k.unit == "s" and k.value < 1e-3:
        return f"{k.value * 1e6:g} us"
    return f"{k.value:,.6g} {k.unit}"


def print_constants(c, cals):
    print("Constants and sources:")
    for name, k in c.items():
        print(f"  {name:<16} {fmt_constant(k):<14} {k.source}")
    print(f"  {'formulas':<16} {'':<14} {FORMULA_SOURCES}")
    print("Measured here (compute per iteration, bytes per iteration, checkpoint write time and bytes, parameters):")
    for cal in cals:
        print(f"  {cal.mode}: " + ", ".join(r.path for r in cal.runs))


def plot(cals, c, path):
    ns = np.unique(np.logspace(0, 5, 61).astype(int))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    styles = dict(zip(MODES, ("-", "--", "-.", ":")))  # the replica modes' curves nearly coincide
    for cal in cals:
        curves = [project(cal, int(n), c) for n in ns]
        marks = [project(cal, n, c) for n in GPU_COUNTS]
        for ax, key in zip(axes, ("efficiency", "goodput")):
            line, = ax.plot(ns, [getattr(p, key) for p in curves], styles[cal.mode], label=cal.mode)
            ax.plot(GPU_COUNTS, [getattr(p, key) for p in marks], "o", color=line.get_color())
    for ax, title in zip(axes, ("weak-scaling efficiency", "goodput (efficiency x (1 - failure waste))")):
        ax.set_xscale("log")
        ax.set_xlabel("GPUs (8 per node)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"kollektiv sharing modes projected (MTBF {c['mtbf_gpu_hours'].value:,.0f} GPU-h, "
                 f"restart {c['relaunch_s'].value:.0f} s + read, NIC {c['nic_bw'].value / 1e9:.0f} GB/s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


# ---- self-check ----

def self_check():
    c = dict(CONSTANTS)
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    check(allreduce_s(1e9, 1, c) == 0.0, "allreduce on one GPU takes no time")
    nbytes = 1e9
    ring = allreduce_s(nbytes, 8, c) - allreduce_s(0.0, 8, c)
    check(math.isclose(ring, 2 * 7 / 8 * nbytes / c["intra_busbw"].value),
          "bandwidth term on 8 GPUs is 2(n-1)/n B / busbw (nccl-tests' bus bandwidth)")
    check(all(allreduce_s(1e6, n, c) <= allreduce_s(1e6, 2 * n, c) for n in (1, 8, 64, 4096, 65536)),
          "allreduce time does not fall as GPUs are added")
    check(math.isclose(allreduce_s(0.0, 16, c), c["base_latency"].value + 2 * (7 * c["hop_nvlink"].value
                                                                                + c["hop_net"].value)),
          "latency on 2 nodes is NCCL's tree latency base + 2((ppn-1) hop_nvlink + log2(2) hop_net)")
    check(efficiency(1.0, 0.0, 0.0)[0] == 1.0 and all(0 < efficiency(1.0, t, 0.0)[0] <= 1 for t in (1e-6, 1, 1e3)),
          "efficiency is 1 without communication and in (0, 1] with it")
    check(efficiency(1.0, 1.0, 1.0)[0] == 1.0, "full overlap hides all communication")
    tau = young_daly_interval(10.0, 36_000.0)
    check(all(waste(10.0, tau, 0.0, 36_000.0) <= waste(10.0, tau * f, 0.0, 36_000.0) for f in (0.5, 0.9, 1.1, 2.0)),
          "Young/Daly's interval minimises the first-order waste")
    cal = Calibration("allreduce", [], 0.1, 5.8e6, 0.05, 1e5, 3e5, 12_109,
                      {"ppo": {"epochs": 5, "minibatches": 8}, "sharing": {}})
    goodputs = [project(cal, 10_000, {**c, "mtbf_gpu_hours": replace(c["mtbf_gpu_hours"], value=h)}).goodput
                for h in (1e6, 5e4, 5e3, 5e2)]
    check(all(a > b for a, b in zip(goodputs, goodputs[1:])), "goodput falls as failures become more frequent")
    check(all(0 <= project(cal, n, c).goodput <= project(cal, n, c).efficiency <= 1 for n in GPU_COUNTS),
          "0 <= goodput <= efficiency <= 1")
    check(50_000 <= LLAMA3_GPU_HOURS_PER_INTERRUPTION <= 51_000,
          f"Llama 3: one interruption per {LLAMA3_GPU_HOURS_PER_INTERRUPTION:,.0f} GPU-hours (about 50,000)")
    check(gossip_rounds_across_nodes("hypercube", 8, c) == 0.0
          and math.isclose(gossip_rounds_across_nodes("hypercube", 64, c), 0.5),
          "hypercube gossip: inside the node up to 8 GPUs, half its rounds across nodes at 64")
    print("self-check: " + ("passed" if not failures else f"{len(failures)} failed"))
    return 1 if failures else 0


# ---- command line ----

def constants_from(args):
    c = dict(CONSTANTS)
    given = {"mtbf_gpu_hours": (args.mtbf_gpu_hours, 1.0), "relaunch_s": (args.restart_s, 1.0),
             "intra_busbw": (args.intra_busbw_gbs, 1e9), "nic_bw": (args.nic_gbs, 1e9),
             "fs_node_bw": (args.fs_node_gbs, 1e9), "fs_total_bw": (args.fs_total_gbs, 1e9),
             "compute_speedup": (args.compute_speedup, 1.0), "overlap": (args.overlap, 1.0)}
    for name, (value, scale) in given.items():
        if value is not None:
            flag = "--" + {"relaunch_s": "restart-s", "intra_busbw": "intra-busbw-gbs", "nic_bw": "nic-gbs",
                           "fs_node_bw": "fs-node-gbs", "fs_total_bw": "fs-total-gbs"}.get(name, name.replace("_", "-"))
            c[name] = Constant(value * scale, c[name].unit, f"{flag} on the command line (default: {c[name].source})")
    return c


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="run directories (history.h5, checkpoints/, stdout.log)")
    parser.add_argument("--plot", default="scaling_model.png", help="PNG to write (default: %(default)s)")
    parser.add_argument("--mtbf-gpu-hours", type=float, help="GPU-hours per job interruption (default: Llama 3's)")
    parser.add_argument("--restart-s", type=float, help="relaunch time per interruption, s (default 300)")
    parser.add_argument("--intra-busbw-gbs", type=float, help="NCCL bus bandwidth inside a node, GB/s (default 370)")
    parser.add_argument("--nic-gbs", type=float, help="NIC bandwidth per GPU, GB/s (default 50)")
    parser.add_argument("--fs-node-gbs", type=float, help="file-system write bandwidth per node, GB/s (default 2)")
    parser.add_argument("--fs-total-gbs", type=float, help="aggregate file-system write bandwidth, GB/s (default 1000)")
    parser.add_argument("--compute-speedup", type=float, help="a GPU's speed on one rank's work over a core's here")
    parser.add_argument("--overlap", type=float, help="fraction of communication hidden behind compute (default 0)")
    parser.add_argument("--cores", type=int, default=os.cpu_count(),
                        help="cores of the machine that made the runs (default: this one's, %(default)s)")
    parser.add_argument("--self-check", action="store_true", help="verify the model's identities and exit")
    args = parser.parse_args()
    if args.self_check:
        return self_check()
    if not args.runs:
        parser.error("give at least one run directory (or --self-check)")
    if args.overlap is not None and not 0 <= args.overlap <= 1:
        parser.error("--overlap must lie in [0, 1]")
    c = constants_from(args)
    runs = [read_run(path) for path in args.runs]
    cals = [calibrate(mode, [r for r in runs if r.mode == mode]) for mode in MODES if any(r.mode == mode for r in runs)]
    print_measured(cals, args.cores)
    for cal in cals:
        print_projection(cal, c)
    print_constants(c, cals)
    plot(cals, c, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
