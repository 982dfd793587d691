"""What the end-to-end regression scripts share: running the executable under mpiexec,
recording failed checks, and comparing output files bit for bit."""
import os
import shutil
import signal
import subprocess
import sys
import time

from h5compare import differences

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "postprocess"))
from history_reader import HistoryReader  # noqa: E402,F401  (the cases read histories through it)

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, flush=True)
    return condition


def text(value):
    """An HDF5 string attribute as str (h5py gives fixed-length strings as bytes)."""
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def report():
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


class Runner:
    def __init__(self, args):
        self.exe, self.mpiexec, self.deck, self.work = args.exe, args.mpiexec, args.deck, args.work

    def command(self, ranks, *extra):
        return [self.mpiexec, "-np", str(ranks), "--oversubscribe", "--bind-to", "none", self.exe, *extra]

    def run(self, ranks, out, *extra, deck=None, expect=0, timeout=900):
        """Runs DECK (default: the case's deck) into `out`; a wrong exit code (or running past
        `timeout` seconds) ends the case."""
        cmd = self.command(ranks, deck or self.deck, "--output", out, *extra)
        try:
            p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            check(False, f"{' '.join(cmd)}: still running after {timeout} s")
            raise SystemExit(report())
        if not check(p.returncode == expect, f"{' '.join(cmd)}: exit {p.returncode}, expected {expect}\n"
                     f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"):
            raise SystemExit(report())
        return p

    def dir(self, name):
        path = os.path.join(self.work, name)
        shutil.rmtree(path, ignore_errors=True)
        return path


def latest(out):
    with open(os.path.join(out, "checkpoints", "latest")) as f:
        return os.path.join(out, "checkpoints", f.read().strip())


def same_files(a, b, what):
    d = differences(a, b)
    check(not d, f"{what}: {a} vs {b}:\n  " + "\n  ".join(d[:20]))


def run_and_signal(r, ranks, out, settings, progress_prefix, deck=None):
    """Starts DECK (default: the case's deck), waits for the first progress line (it starts
    with `progress_prefix`), sends SIGUSR1 as Slurm would, and checks that the run
    checkpointed and exited 4. Returns the run's stdout."""
    cmd = r.command(ranks, deck or r.deck, "--output", out, *settings)
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line or line.startswith(progress_prefix):
            break
    proc.send_signal(signal.SIGUSR1)
    stdout, stderr = proc.communicate(timeout=600)
    check(proc.returncode == 4, f"signalled run exit {proc.returncode}, expected 4\n{stdout[-2000:]}\n{stderr[-2000:]}")
    check("stopped by SIGUSR1" in stdout, "no message about the signal")
    check(os.path.exists(latest(out)), "no checkpoint after the signal")
    return stdout


def catches_sigusr1(pid):
    """Whether process `pid` has a handler installed for SIGUSR1 (from /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))
    except FileNotFoundError:
        pass
    return False


def signal_while_reading_deck(r, deck, out, *extra, timeout=60):
    """Runs the executable on one rank (no mpiexec) with its deck read from a FIFO, so that it
    blocks before the deck is read; checks that by then it already catches SIGUSR1, sends
    SIGUSR1, then hands it the deck. Returns the finished process (stdout, stderr, code):
    a signal during set-up must wait for the run loop, not kill the process."""
    fifo = os.path.join(r.work, f"deck_fifo_{os.getpid()}_{time.time_ns()}.yaml")
    os.mkfifo(fifo)
    try:
        proc = subprocess.Popen([r.exe, fifo, "--output", out, *extra], env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.time() + timeout
        while time.time() < deadline and not catches_sigusr1(proc.pid) and proc.poll() is None:
            time.sleep(0.02)
        check(catches_sigusr1(proc.pid), "no SIGUSR1 handler while the deck is being read: a signal during "
              "set-up or restart would kill the process")
        proc.send_signal(signal.SIGUSR1)
        with open(deck) as src, open(fifo, "w") as dst:  # unblocks the reader
            dst.write(src.read())
        stdout, stderr = proc.communicate(timeout=600)
        return proc.returncode, stdout, stderr
    finally:
        os.unlink(fifo)
