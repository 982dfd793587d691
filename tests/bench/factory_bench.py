#!/usr/bin/env python3
"""Factory-simulation figures for the README and the closing notes (a benchmark, not a test).

Runs the kollektiv executable and prints one machine-readable line per figure:
  RESULT bench=weak_scaling ranks=R lines=L events_per_s=E events_per_s_per_rank=... efficiency=...
  RESULT bench=serial_line engine=kollektiv parts=P wall_s=W parts_per_s=...   (and engine=simpy)
  RESULT bench=checkpoint ranks=R bytes=B kollektiv_s=T kollektiv_mb_per_s=... dd_mb_per_s=... ratio=...
  RESULT bench=sparse ranks=R events=E events_per_s=... slowdown=...   (against 1 rank, same run)
  RESULT bench=reports ranks=R report_interval_s=I report_s=... advance_s=... report_share=...
  RESULT bench=memory ranks=R stations=S rank0_mb=... other_ranks_max_mb=... fraction_of_1_rank=...

usage: tests/bench/factory_bench.py [--build build] [--quick] [--only weak,serial,checkpoint,sparse,reports,memory]
Weak scaling: inputs/bench/factory_large.yaml with 500 lines per rank at 1 and 2 ranks.
Serial line: inputs/bench/serial_line.yaml on one rank against the same line in SimPy 3
(tests/bench/simpy_serial_line.py, Debian's python3-simpy3). Checkpoint: a 20,000-line
(400,000-station) factory written by 1 and by 2 ranks, against dd writing the same bytes
with fsync: medians of 5 each. Sparse: inputs/bench/sparse_line.yaml (a part and a failure every 100 h
per line, 1 s conveyors) at 1 and 2 ranks, the median of 3 runs each. Reports: factory_large
for two simulated days with a history row every 600 s, at 1 and 2 ranks: the report phase's
share of the run. Memory (not in the default set: about 10 GiB and 3 minutes):
inputs/bench/factory_10m.yaml (10^7 stations, a short run with a report and a checkpoint) at 1
and 16 oversubscribed ranks, each rank's peak resident memory (GNU time).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def kollektiv(exe, ranks, deck, out, *sets):
    cmd = ["mpirun", "-np", str(ranks), "--bind-to", "core" if ranks <= os.cpu_count() else "none", exe,
           os.path.join(ROOT, deck), "--output", out, "--overwrite"]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, check=True)
    return p.stdout


def phase(stdout, name):
    return float(re.search(rf"^{name}\s+([0-9.]+)", stdout, re.M).group(1))


def events(stdout):
    return int(re.search(r"^events (\d+)", stdout, re.M).group(1))


def weak_scaling(exe, work, end_time):
    base = None
    for ranks in (1, 2):
        lines = 500 * ranks
        out = kollektiv(exe, ranks, "inputs/bench/factory_large.yaml", os.path.join(work, f"weak{ranks}"),
                        f"factory.factories.0.lines.0.count={lines}", f"run.end_time_s={end_time}")
        rate = events(out) / phase(out, "advance")
        per_rank = rate / ranks
        base = base or per_rank
        print(f"RESULT bench=weak_scaling ranks={ranks} lines={lines} stations={lines * 20} "
              f"events_per_s={rate:.4g} events_per_s_per_rank={per_rank:.4g} efficiency={per_rank / base:.3f}",
              flush=True)


def serial_line(exe, work, end_time):
    out_dir = os.path.join(work, "serial")
    out = kollektiv(exe, 1, "inputs/bench/serial_line.yaml", out_dir, f"run.end_time_s={end_time}",
                    f"run.report_interval_s={end_time}")
    with h5py.File(os.path.join(out_dir, "history.h5"), "r") as f:
        parts = int(f["factories/sink_count"][-1].sum())
    wall = phase(out, "advance")
    print(f"RESULT bench=serial_line engine=kollektiv parts={parts} wall_s={wall:.3f} parts_per_s={parts / wall:.0f}",
          flush=True)
    # The same line in SimPy (the deck's parameters): Poisson source every 60 s, exponential
    # services of 40, 45, 50, 45, 40 s, 1 s conveyors, unlimited buffers.
    p = subprocess.run([sys.executable, os.path.join(HERE, "simpy_serial_line.py"), "--end-time", str(end_time),
                        "--interval", "60", "--mean", "40", "45", "50", "45", "40", "--conveyor", "1"],
                       capture_output=True, text=True, check=True)
    simpy = dict(kv.split("=") for kv in p.stdout.split()[1:])
    print(f"RESULT bench=serial_line engine=simpy parts={simpy['parts']} wall_s={simpy['wall_s']} "
          f"parts_per_s={simpy['parts_per_s']} kollektiv_over_simpy={parts / wall / float(simpy['parts_per_s']):.1f}",
          flush=True)


def checkpoint(exe, work, ranks, repeats=5):
    """Medians of `repeats` checkpoint writes and of as many dd runs writing the same bytes,
    alternating, so that both see the same state of the page cache and the disk."""
    out_dir = os.path.join(work, f"ckpt{ranks}")
    seconds, dd_rates = [], []
    for _ in range(repeats):
        out = kollektiv(exe, ranks, "inputs/bench/factory_large.yaml", out_dir,
                        "factory.factories.0.lines.0.count=20000", "run.end_time_s=600", "run.report_interval_s=600")
        seconds.append(phase(out, "checkpoint"))
        ckpt = [os.path.join(out_dir, "checkpoints", n) for n in os.listdir(os.path.join(out_dir, "checkpoints"))
                if n.endswith(".h5")][0]
        size = os.path.getsize(ckpt)
        target = os.path.join(out_dir, "dd.bin")
        p = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={max(1, size // 2**20)}",
                            "conv=fsync"], capture_output=True, text=True, check=True)
        dd_rates.append(float(re.search(r"([0-9.]+) ([MG])B/s", p.stderr).group(1)) * (1000 if "GB/s" in p.stderr else 1))
        os.remove(target)
    median = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    rate = size / median(seconds) / 1e6
    dd_rate = median(dd_rates)
    print(f"RESULT bench=checkpoint ranks={ranks} bytes={size} repeats={repeats} kollektiv_s={median(seconds):.3f} "
          f"kollektiv_mb_per_s={rate:.0f} dd_mb_per_s={dd_rate:.0f} ratio={rate / dd_rate:.2f}", flush=True)


def sparse(exe, work, repeats=3):
    rates = {}
    for ranks in (1, 2):
        runs = []
        for _ in range(repeats):
            out = kollektiv(exe, ranks, "inputs/bench/sparse_line.yaml", os.path.join(work, f"sparse{ranks}"))
            runs.append(events(out) / phase(out, "advance"))
        rates[ranks] = sorted(runs)[len(runs) // 2]
        print(f"RESULT bench=sparse ranks={ranks} events={events(out)} events_per_s={rates[ranks]:.4g} "
              f"slowdown={rates[1] / rates[ranks]:.2f}", flush=True)


def reports(exe, work, interval=600):
    for ranks in (1, 2):
        out = kollektiv(exe, ranks, "inputs/bench/factory_large.yaml", os.path.join(work, f"reports{ranks}"),
                        "run.end_time_s=172800", f"run.report_interval_s={interval}")
        report, advance = phase(out, "report"), phase(out, "advance")
        print(f"RESULT bench=reports ranks={ranks} report_interval_s={interval} report_s={report:.2f} "
              f"advance_s={advance:.2f} report_share={report / (report + advance):.3f}", flush=True)


def memory(exe, work, ranks_list=(1, 16)):
    one = None
    for ranks in ranks_list:
        rss = os.path.join(work, f"rss{ranks}")
        os.makedirs(rss, exist_ok=True)
        # Each rank under GNU time, which writes its peak resident set (kB) to its own file.
        wrapper = os.path.join(work, "rss_wrapper.sh")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec /usr/bin/time -f %M -o "$RSS_DIR/rank.$OMPI_COMM_WORLD_RANK" "$@"\n')
        os.chmod(wrapper, 0o755)
        cmd = ["mpirun", "-np", str(ranks), "--bind-to", "none", "-x", "RSS_DIR", wrapper, exe,
               os.path.join(ROOT, "inputs/bench/factory_10m.yaml"), "--output", os.path.join(work, f"mem{ranks}"),
               "--overwrite"]
        subprocess.run(cmd, env=dict(ENV, RSS_DIR=rss), capture_output=True, text=True, check=True)
        mb = [int(open(os.path.join(rss, f"rank.{r}")).read().split()[-1]) / 1024 for r in range(ranks)]
        one = one or mb[0]
        others = max(mb[1:]) if ranks > 1 else mb[0]
        print(f"RESULT bench=memory ranks={ranks} stations=10000000 rank0_mb={mb[0]:.0f} other_ranks_max_mb={others:.0f} "
              f"fraction_of_1_rank={others / one:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    ap.add_argument("--only", default="weak,serial,checkpoint,sparse", help="comma-separated figures to measure")
    args = ap.parse_args()
    only = set(args.only.split(","))
    exe = os.path.join(args.build, "app", "kollektiv")
    work = tempfile.mkdtemp(prefix="kollektiv_bench_")
    try:
        if "weak" in only:
            weak_scaling(exe, work, 21600 if args.quick else 86400)
        if "serial" in only:
            serial_line(exe, work, 3600000 if args.quick else 36000000)
        if "checkpoint" in only:
            for ranks in (1, 2):
                checkpoint(exe, work, ranks)
        if "sparse" in only:
            sparse(exe, work)
        if "reports" in only:
            reports(exe, work)
        if "memory" in only:
            memory(exe, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
