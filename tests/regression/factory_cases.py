"""End-to-end regression cases of the kollektiv executable on factory decks.

Each case runs the real executable under mpiexec and checks a promise of DESIGN.md:
  ranks     history and final checkpoint bitwise identical at 1, 2, 3 and 4 ranks
  restart   N + restart + N equals 2N, also onto a different rank count, and a restart
            into the same directory drops history rows written after the checkpoint;
            automatic (Young/Daly) checkpoints change how many are written, not the history
  corrupt   a corrupt or truncated newest checkpoint falls back to the previous one;
            none valid is exit 3
  signal    SIGUSR1 leaves a valid checkpoint and exit 4; continuing equals a straight run
  follow    a reader polls the history while a run writes it and sees only whole committed
            rows; a killed run's history reads and plots, and its restart equals a straight run
  cli       exit codes and messages of bad decks, arguments and output directories

usage: factory_cases.py CASE --exe KOLLEKTIV --mpiexec MPIEXEC --deck DECK --work DIR
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h5compare import differences  # noqa: E402
from cases import (ENV, HistoryReader, Runner, check, text, latest, report, run_and_signal,  # noqa: E402
                   same_files, signal_while_reading_deck)

INPUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "inputs")
EXE = []  # the executable, set in main()






def checkpoints(out):
    d = os.path.join(out, "checkpoints")
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.startswith("ckpt_") and n.endswith(".h5"))



def end_time(out):
    with HistoryReader(os.path.join(out, "history.h5")) as h:
        return float(h.column("time_s")[-1])


def case_ranks(r):
    ref = r.dir("np1")
    r.run(1, ref)
    for n in (2, 3, 4):
        out = r.dir(f"np{n}")
        r.run(n, out)
        same_files(os.path.join(ref, "history.h5"), os.path.join(out, "history.h5"), f"history at {n} ranks")
        same_files(latest(ref), latest(out), f"final checkpoint at {n} ranks")


def restarts_match(r, full, splits):
    """Runs half of the deck on `first` ranks and the rest after a restart on `second`, for
    each (first, second) in `splits`: history and final checkpoint equal those of `full`."""
    half = end_time(full) / 2
    for first, second in splits:
        out = r.dir(f"split_{first}_{second}")
        r.run(first, out, "--set", f"run.end_time_s={half}")
        r.run(second, out, "--restart", "latest")
        same_files(os.path.join(full, "history.h5"), os.path.join(out, "history.h5"),
                   f"history after restart {first}->{second} ranks")
        same_files(latest(full), latest(out), f"final checkpoint after restart {first}->{second} ranks")


def case_restart(r):
    full = r.dir("full")
    r.run(2, full)
    restarts_match(r, full, ((2, 2), (2, 3), (3, 1)))
    # A restart may change the run settings: 600 s reports to 6000 s, then 300 s reports to
    # the end. The next report is the first multiple after the restart time (this once
    # computed a report before the restart time and spun forever).
    deck = os.path.join(INPUTS, "factory_basic.yaml")
    out = r.dir("new_interval")
    r.run(2, out, "--set", "run.end_time_s=6000", deck=deck)
    r.run(1, out, "--restart", "latest", "--set", "run.report_interval_s=300", deck=deck, timeout=120)
    with HistoryReader(os.path.join(out, "history.h5")) as h:
        times = list(h.column("time_s"))
    expected = [600.0 * k for k in range(1, 11)] + [6000.0 + 300.0 * k for k in range(1, 77)]
    check(times == expected, f"report times after a restart with a shorter interval: {times}")
    # Automatic checkpoints: a node failing every microsecond makes Young/Daly's interval
    # shorter than a pass, so nearly every pass checkpoints; one failing every 30 years leaves
    # the first (which measures the write time) and the final one. Neither changes the history.
    # (Checkpoint sequence numbers start at 0; the deck's 12 reports are 12 passes.)
    for mtbf, fewest, most in (("1e-6", 8, 12), ("1e9", 2, 2)):
        out = r.dir(f"auto_{mtbf}")
        p = r.run(2, out, "--set", "run.checkpoint_interval_s=auto", "--set", f"run.node_mtbf_s={mtbf}")
        check("checkpoint interval (auto): sqrt(2 C M) = " in p.stdout, f"auto interval not printed:\n{p.stdout}")
        written = int(os.path.basename(latest(out))[5:13]) + 1
        check(fewest <= written <= most, f"node_mtbf_s={mtbf}: {written} checkpoints, expected {fewest}..{most}")
        d = differences(os.path.join(full, "history.h5"), os.path.join(out, "history.h5"), ignore_attrs=("deck", "resolved_deck"))
        check(not d, f"history with automatic checkpoints (node_mtbf_s={mtbf}):\n  " + "\n  ".join(d[:20]))
    # Restart into the same directory from an older checkpoint: later rows are dropped first.
    out = r.dir("rewind")
    shutil.copytree(full, out)
    older = checkpoints(out)[0]
    p = r.run(4, out, "--restart", older)
    check("restarted from" in p.stdout, "restart does not say where it restarted from")
    same_files(os.path.join(full, "history.h5"), os.path.join(out, "history.h5"), "history after rewinding restart")


def case_plant(r):
    """A routed plant (plant_example.yaml): the same bits at 1-4 ranks and across restarts
    onto other rank counts, and a genealogy whose every car has a body and an engine."""
    case_ranks(r)
    ref = os.path.join(r.work, "np1")
    restarts_match(r, ref, ((2, 3), (3, 1)))
    script = os.path.join(os.path.dirname(INPUTS), "postprocess", "genealogy.py")
    p = subprocess.run([sys.executable, script, ref, "--csv"], env=ENV, capture_output=True, text=True)
    check(p.returncode == 0, f"genealogy.py failed:\n{p.stderr}")
    rows = [line.split(",") for line in p.stdout.strip().splitlines()[1:]]
    marry = [row for row in rows if row[1] == "assembly_plant/final/marry"]
    check(len(marry) > 100, f"only {len(marry)} assemblies at marry")
    check(all(row[2] == "assembly" and len(row) == 6 for row in marry), f"an assembly without two components: {marry[:3]}")
    # Parts from three lines: the chassis (final, line 2), the body (line 0), the engine (line 1).
    check(all(int(row[3]) >> 40 == 2 and int(row[4]) >> 40 == 0 and int(row[5]) >> 40 == 1 for row in marry),
          f"components from the wrong lines: {marry[:3]}")
    p = subprocess.run([sys.executable, script, ref, "--part", marry[0][3]], env=ENV, capture_output=True, text=True)
    check(p.returncode == 0 and marry[0][4] in p.stdout and marry[0][5] in p.stdout,
          f"genealogy.py --part does not show the components:\n{p.stdout}{p.stderr}")
    # The trim stations borrow robots from the pool at marry: a call waits at least for its
    # call (2 s) and the robot's travel (15 s), and the pool's robots are out part of the time.
    with h5py.File(os.path.join(ref, "history.h5"), "r") as h:
        names = [n.decode() for n in h["stations/names"][:]]
        wait, out = h["stations/robot_wait"][-1], h["stations/pool_utilisation"][-1]
    at = {name: k for k, name in enumerate(names)}
    for trim in ("assembly_plant/final/trim#0", "assembly_plant/final/trim#1"):
        check(wait[at[trim]] >= 17.0, f"{trim}: robot_wait {wait[at[trim]]} s, below call + travel")
    check(0.2 < out[at["assembly_plant/final/marry"]] < 1.0, f"pool utilisation {out[at['assembly_plant/final/marry']]}")
    check(all(out[k] == 0.0 for name, k in at.items() if name != "assembly_plant/final/marry"),
          "pool utilisation at a station without a pool")


def corrupt_middle(path):
    size = os.path.getsize(path)
    with h5py.File(path, "r") as f:  # flip bytes inside the largest dataset's raw data
        best = None

        def visit(name, obj):
            nonlocal best
            if isinstance(obj, h5py.Dataset) and obj.id.get_offset() is not None and obj.nbytes > 0:
                if best is None or obj.nbytes > best[1]:
                    best = (obj.id.get_offset(), obj.nbytes)

        f.visititems(visit)
    offset, nbytes = best if best else (size // 2, 8)
    with open(path, "r+b") as f:
        f.seek(offset + nbytes // 2)
        chunk = bytearray(f.read(8))
        f.seek(offset + nbytes // 2)
        f.write(bytes(b ^ 0x5A for b in chunk))


def case_corrupt(r):
    full = r.dir("full")
    r.run(2, full)
    for how in ("corrupt", "truncate"):
        out = r.dir(how)
        r.run(2, out)
        files = checkpoints(out)
        check(len(files) >= 2, f"deck must keep at least two checkpoints, found {files}")
        newest = files[-1]
        if how == "corrupt":
            corrupt_middle(newest)
        else:
            os.truncate(newest, os.path.getsize(newest) // 2)
        p = r.run(2, out, "--restart", "latest", "--set", f"run.end_time_s={end_time(full)}")
        check(os.path.basename(newest) in p.stderr and "unusable" in p.stderr,
              f"{how}: no warning naming the unusable checkpoint:\n{p.stderr}")
        # Continuing from the previous checkpoint recomputes the same results.
        same_files(os.path.join(full, "history.h5"), os.path.join(out, "history.h5"), f"history after {how} fallback")
    out = r.dir("none_valid")
    r.run(2, out)
    for path in checkpoints(out):
        os.truncate(path, 100)
    p = r.run(2, out, "--restart", "latest", expect=3)
    check("no valid checkpoint" in p.stderr, f"exit 3 without a clear message:\n{p.stderr}")


def deck_end_time(deck):
    p = subprocess.run([EXE[0], deck, "--validate"], env=ENV, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.strip().startswith("end_time_s:"):
            return float(line.split(":")[1])
    raise SystemExit(f"no end_time_s in the resolved deck of {deck}")


def case_signal(r):
    # The shipped decks at their own settings (reports every 600 s or every day, windows of 5
    # to 15 s): a signal after the first progress line stops the run early, with a checkpoint.
    for name in ("factory_basic.yaml", "bench/factory_large.yaml"):
        deck = os.path.join(INPUTS, name)
        out = r.dir("signalled_" + name.replace("/", "_"))
        run_and_signal(r, 2, out, [], "t=", deck=deck)
        check(end_time(out) < deck_end_time(deck), f"{name}: the signal did not stop the run before its end")
        check(not os.path.exists(os.path.join(out, "finished")), f"{name}: a stopped run wrote its finished marker")
        if name == "factory_basic.yaml":
            # The signal stopped the run at an arbitrary window; continuing must still give
            # exactly the straight run's results.
            r.run(2, out, "--restart", "latest", deck=deck)
            check(os.path.isfile(os.path.join(out, "finished")), "a run continued to its end wrote no finished marker")
            straight = r.dir("straight")
            r.run(2, straight, deck=deck)
            same_files(os.path.join(straight, "history.h5"), os.path.join(out, "history.h5"),
                       "history after signal and restart")
            same_files(latest(straight), latest(out), "final checkpoint after signal and restart")
    # A signal while the run is still setting up (here: reading its deck, before a restart)
    # waits for the run loop: checkpoint and exit 4, never death by signal.
    deck = os.path.join(INPUTS, "factory_basic.yaml")
    out = r.dir("early")
    r.run(1, out, "--set", "run.end_time_s=3600", deck=deck)
    check(os.path.isfile(os.path.join(out, "finished")), "a run to its end wrote no finished marker")
    # A restart refused before it runs (another seed) leaves the finished run's marker alone.
    p = r.run(1, out, "--restart", "latest", "--set", "run.seed=2", deck=deck, expect=2)
    check(os.path.isfile(os.path.join(out, "finished")), f"a refused restart removed the finished marker\n{p.stderr}")
    code, stdout, stderr = signal_while_reading_deck(r, deck, out, "--restart", "latest")
    check(code == 4, f"signal during set-up: exit {code}, expected 4\n{stdout[-2000:]}\n{stderr[-2000:]}")
    check("stopped by SIGUSR1" in stdout, f"signal during set-up: no message\n{stdout[-2000:]}")
    # The first run's marker must not vouch for the stopped continuation.
    check(not os.path.exists(os.path.join(out, "finished")), "signal during set-up: the earlier finished marker stayed")
    with h5py.File(latest(out), "r") as f:
        stopped_at = float(f.attrs["time_s"])
    check(3600 < stopped_at < 28800, f"signal during set-up: the checkpoint is at t = {stopped_at}")


def numeric_columns(h):
    """The names of a history's numeric datasets, wall-clock timings aside."""
    names = []
    h.file.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) and
                      obj.dtype.kind in "fi" and not name.startswith("timings/") else None)
    return names


def plot(history, out):
    """Runs postprocess/plot_factory.py; returns its process."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "postprocess", "plot_factory.py")
    os.makedirs(out, exist_ok=True)
    return subprocess.run([sys.executable, script, history, "--out", out], capture_output=True, text=True, timeout=300)


def case_follow(r):
    # The serial-line benchmark over 100 times its own simulated time writes 100 rows over a
    # few seconds, published in groups every 0.1 s (run.history_publish_s; 1 s by default, too
    # long for a run this short to show several groups). A reader in another process polls the
    # file while the run writes it: every snapshot must be whole committed rows, equal to the
    # final file's first rows, and the row count must only grow.
    deck = os.path.join(INPUTS, "bench", "serial_line.yaml")
    out = r.dir("followed")
    history = os.path.join(out, "history.h5")
    proc = subprocess.Popen(r.command(2, deck, "--output", out, "--set", "run.end_time_s=360000000",
                                      "--set", "run.report_interval_s=3600000", "--set", "run.history_publish_s=0.1"),
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    snapshots, errors, plotted = [], [], None
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
        if os.path.exists(history):
            try:
                with HistoryReader(history) as h:
                    snapshots.append((h.rows, {name: h.column(name) for name in numeric_columns(h)}))
            except (OSError, ValueError, KeyError) as e:
                errors.append(repr(e))
            if plotted is None and snapshots and snapshots[-1][0] >= 10:
                plotted = plot(history, os.path.join(out, "plots_while_running"))
                plotted_running = proc.poll() is None
        time.sleep(0.01)
    _, stderr = proc.communicate(timeout=60)
    check(proc.returncode == 0, f"followed run: exit {proc.returncode}\n{stderr[-2000:]}")
    check(not errors, f"a reader failed while the run wrote the history: {errors[:3]}")
    counts = [n for n, _ in snapshots]
    with HistoryReader(history) as h:
        final_rows = h.rows
        final = {name: h.column(name) for name in numeric_columns(h)}
    intermediate = sorted({n for n in counts if 0 < n < final_rows})
    print(f"follow: {len(snapshots)} snapshots, {len(intermediate)} distinct intermediate row counts of {final_rows}")
    check(len(intermediate) >= 3, f"the reader saw too few intermediate states: {intermediate}")
    check(counts == sorted(counts), "the committed row count went down while the run wrote")
    for n, columns in snapshots:
        check(set(columns) == set(final), f"snapshot at {n} rows has other columns than the final file")
        for name, values in columns.items():
            if name in final and values.tobytes() != final[name][:n].tobytes():
                check(False, f"snapshot at {n} rows: '{name}' is not the final file's first {n} rows")
                break
    if check(plotted is not None, "no plot of the running history was attempted"):
        check(plotted.returncode == 0, f"plot_factory.py on a running history failed:\n{plotted.stderr[-2000:]}")
        print(f"follow: plot_factory.py ran {'while the run was still writing' if plotted_running else 'after the run'}")

    # SIGKILL in the middle (checkpoints every 100 simulated hours): the history opens for
    # SWMR readers and plots, though plain HDF5 refuses it (its writer never closed it);
    # the restart continues it to a history bitwise equal to a straight run's.
    settings = ["--set", "run.checkpoint_interval_s=360000"]
    out = r.dir("killed")
    history = os.path.join(out, "history.h5")
    proc = subprocess.Popen(r.command(2, deck, "--output", out, *settings), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    rows = 0
    while proc.poll() is None and time.time() < deadline and rows < 40:
        if os.path.exists(history):
            with HistoryReader(history) as h:
                rows = h.rows
        time.sleep(0.01)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it finished first: the row count check below says so
        pass
    proc.wait()
    with HistoryReader(history) as h:
        killed_rows = h.rows
    check(40 <= killed_rows < 100, f"the run was killed at {killed_rows} rows, expected 40 to 99")
    try:
        h5py.File(history, "r").close()
        check(False, "plain HDF5 opened the history of a killed SWMR writer (the SWMR test proves nothing)")
    except OSError:
        pass
    p = plot(history, os.path.join(out, "plots"))
    check(p.returncode == 0 and os.path.exists(os.path.join(out, "plots", "factory_kpis.png")),
          f"plot_factory.py on a killed run's history failed:\n{p.stderr[-2000:]}")
    r.run(2, out, "--restart", "latest", *settings, deck=deck)
    straight = r.dir("straight")
    r.run(2, straight, *settings, deck=deck)
    same_files(os.path.join(straight, "history.h5"), history, "history after SIGKILL and restart")
    same_files(latest(straight), latest(out), "final checkpoint after SIGKILL and restart")


def case_cli(r):
    bad = os.path.join(r.work, "bad.yaml")
    os.makedirs(r.work, exist_ok=True)
    with open(bad, "w") as f:
        f.write("run:\n  seed: -3\n  end_tme_s: 10\n")
    out = r.dir("never")
    p = subprocess.run(r.command(2, bad, "--output", out), env=ENV, capture_output=True, text=True)
    check(p.returncode == 2, f"bad deck: exit {p.returncode}")
    check(f"{bad}:2:9: run.seed:" in p.stderr, f"bad deck: no file:line:col error for run.seed:\n{p.stderr}")
    check("did you mean 'end_time_s'?" in p.stderr, f"bad deck: no suggestion:\n{p.stderr}")
    check(p.stderr.count("run.seed") == 1, "error printed by more than one rank")
    check(not os.path.exists(out), "a bad deck created the output directory")
    p = subprocess.run(r.command(1, r.deck, "--output", out, "--set", "run.seed=abc"), env=ENV, capture_output=True,
                       text=True)
    check(p.returncode == 2 and "--set:1:10: run.seed:" in p.stderr, f"bad --set:\n{p.stderr}")
    # A factory whose configuration (held on every rank) exceeds the memory of a rank is a
    # deck error (14.1 M copies of the quickstart's 7-station line: 99 M stations, ~20 GB).
    quickstart = os.path.join(INPUTS, "factory_basic.yaml")
    p = subprocess.run(r.command(2, quickstart, "--output", out, "--set", "factory.factories.0.lines.0.count=14142857"),
                       env=ENV, capture_output=True, text=True, timeout=300)
    check(p.returncode == 2 and "expected a factory that fits in memory" in p.stderr and not os.path.exists(out),
          f"a factory larger than memory: exit {p.returncode}\n{p.stderr[-2000:]}")
    p = subprocess.run(r.command(1, r.deck, "--bogus"), env=ENV, capture_output=True, text=True)
    check(p.returncode == 2, f"unknown option: exit {p.returncode}")
    p = subprocess.run(r.command(1, os.path.join(r.work, "missing.yaml")), env=ENV, capture_output=True, text=True)
    check(p.returncode == 2 and "cannot read deck" in p.stderr, f"missing deck:\n{p.stderr}")
    p = subprocess.run([r.exe, "--version"], env=ENV, capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.startswith("kollektiv "), f"--version:\n{p.stdout}{p.stderr}")
    p = subprocess.run(r.command(1, r.deck, "--validate"), env=ENV, capture_output=True, text=True)
    check(p.returncode == 0 and "end_time_s" in p.stdout, f"--validate:\n{p.stdout}{p.stderr}")
    check(not os.path.exists(out), "--validate created the output directory")
    r.run(1, out, "--set", "run.end_time_s=1200")
    p = r.run(1, out, expect=2)
    check("already exists" in p.stderr, f"existing output directory: {p.stderr}")
    r.run(1, out, "--overwrite", "--set", "run.end_time_s=1200")
    # --overwrite removes only what kollektiv wrote: with anything else in checkpoints/ it
    # refuses and removes nothing.
    keep = os.path.join(out, "checkpoints", "my_notes.txt")
    with open(keep, "w") as f:
        f.write("mine")
    before = sorted(os.listdir(os.path.join(out, "checkpoints")))
    p = r.run(1, out, "--overwrite", "--set", "run.end_time_s=1200", expect=2)
    check("--overwrite removes only what kollektiv wrote" in p.stderr and "my_notes.txt" in p.stderr,
          f"--overwrite with a foreign file: {p.stderr}")
    check(sorted(os.listdir(os.path.join(out, "checkpoints"))) == before and os.path.exists(
        os.path.join(out, "history.h5")), "--overwrite removed files although it refused")
    os.remove(keep)
    r.run(1, out, "--overwrite", "--set", "run.end_time_s=1200")
    p = subprocess.run(r.command(1, r.deck, "--output", r.dir("fresh"), "--restart", "latest"), env=ENV,
                       capture_output=True, text=True)
    check(p.returncode == 3 and "no valid checkpoint" in p.stderr, f"restart without checkpoints:\n{p.stderr}")
    with HistoryReader(os.path.join(out, "history.h5")) as h:
        check("kollektiv" in text(h.attrs["build_info"]), "history without build_info")
        check("run:" in text(h.attrs["deck"]), "history without the deck text")



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["ranks", "restart", "corrupt", "signal", "follow", "cli", "plant"])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--deck", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    EXE.append(args.exe)
    globals()["case_" + args.case](Runner(args))
    return report()


if __name__ == "__main__":
    sys.exit(main())
