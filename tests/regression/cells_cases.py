"""End-to-end cases of the kollektiv executable on factory decks with robot cells.

  ranks    history and final checkpoint bitwise identical at 1, 2, 3 and 4 ranks (the
           quickstart; two firms sharing by federated rounds, also across a restart); the
           benchmark deck runs shortened
  restart  a run cut by checkpoints and continued on another rank count (4 -> 1, 2 -> 3)
           equals the straight run, the cells' learners included; SIGUSR1 stops at an
           update interval's end with a checkpoint, exit 4, and continuing equals straight
  learn    the shipped quickstart (shortened) learns while it produces: the cells' success
           and the parts out rise; a frozen start (learn: false) never updates; the
           postprocess plot is written; the recorded episode is written and drawn
  errors   every new deck key's error: file:line, what was expected, exit 2, nothing written

usage: cells_cases.py CASE --exe KOLLEKTIV --mpiexec MPIEXEC --deck DECK --work DIR
"""
import argparse
import math
import os
import subprocess
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import ENV, HistoryReader, Runner, check, latest, report, run_and_signal, same_files  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SHORT = ["--set", "run.end_time_s=3600", "--set", "run.checkpoint_interval_s=1200"]


def history(out):
    return os.path.join(out, "history.h5")


def case_ranks(r):
    ref = r.dir("np1")
    r.run(1, ref, *SHORT)
    for n in (2, 3, 4):
        out = r.dir(f"np{n}")
        r.run(n, out, *SHORT)
        same_files(history(ref), history(out), f"history at {n} ranks")
        same_files(latest(ref), latest(out), f"final checkpoint at {n} ranks")
    # The benchmark deck, shortened (20 of its 1000 lines, 10 simulated minutes), runs.
    bench = os.path.join(ROOT, "inputs", "bench", "factory_cells_large.yaml")
    short_bench = r.dir("bench_short")
    r.run(2, short_bench, "--set", "factory.factories.0.lines.0.count=20", "--set", "run.end_time_s=600", deck=bench)
    with HistoryReader(history(short_bench)) as h:
        check(int(h.column("cells/reach/episodes")[-1]) > 0, "the shortened benchmark deck ran no episode")
    # Two firms sharing by federated rounds: the same at any rank count and across restarts.
    deck = os.path.join(ROOT, "inputs", "cells_federated_smoke.yaml")
    ref = r.dir("federated_np1")
    r.run(1, ref, deck=deck)
    for n in (2, 4):
        out = r.dir(f"federated_np{n}")
        r.run(n, out, deck=deck)
        same_files(history(ref), history(out), f"federated history at {n} ranks")
        same_files(latest(ref), latest(out), f"federated final checkpoint at {n} ranks")
    out = r.dir("federated_restart")
    r.run(3, out, "--set", "run.end_time_s=1200", deck=deck)
    r.run(2, out, "--restart", "latest", deck=deck)
    same_files(history(ref), history(out), "federated history after a restart 3->2")
    same_files(latest(ref), latest(out), "federated final checkpoint after a restart 3->2")
    with HistoryReader(history(ref)) as h:
        rounds = list(h.column("cells/fasten/rounds"))
        disagreement = list(h.column("cells/fasten/disagreement"))
    check(rounds[-1] == 6, f"federated rounds {rounds}: expected one every 2 intervals of 300 s, 6 in 3600 s")
    check(disagreement[0] > 0, f"the firms' policies should differ between rounds: {disagreement}")


def case_restart(r):
    full = r.dir("full")
    r.run(2, full, *SHORT)
    for first, second in ((4, 1), (2, 3)):
        out = r.dir(f"restart_{first}_{second}")
        r.run(first, out, *SHORT[:2], "--set", "run.end_time_s=1200", "--set", "run.checkpoint_interval_s=1200")
        r.run(second, out, *SHORT, "--restart", "latest")
        same_files(history(full), history(out), f"history after restart {first}->{second} ranks")
        same_files(latest(full), latest(out), f"final checkpoint after restart {first}->{second} ranks")
    out = r.dir("signalled")
    stdout = run_and_signal(r, 2, out, SHORT, "t=")
    check("stopped by SIGUSR1" in stdout, "no stop message")
    r.run(2, out, *SHORT, "--restart", "latest")
    same_files(history(full), history(out), "history after a signal and a restart")
    same_files(latest(full), latest(out), "final checkpoint after a signal and a restart")


def case_learn(r):
    deck = os.path.join(ROOT, "inputs", "quickstart.yaml")
    out = r.dir("quickstart")
    r.run(2, out, "--set", "run.end_time_s=21600", deck=deck)
    with HistoryReader(history(out)) as h:
        success = list(h.column("cells/fasten/success"))
        updates = list(h.column("cells/fasten/updates"))
        out_parts = [float(numpy.sum(row)) for row in h.column("factories/sink_count")]
    first, last = sum(success[:3]) / 3, sum(success[-3:]) / 3
    check(last >= first + 0.3, f"quickstart cells: success {first:.2f} over the first rows, {last:.2f} over the last "
          "(expected a gain of at least 0.3)")
    check(updates[-1] == len(updates), f"one update per interval expected, found {updates[-1]} in {len(updates)}")
    late = out_parts[-1] - out_parts[len(out_parts) // 2]
    early = out_parts[len(out_parts) // 2] - out_parts[0]
    check(late > early, f"parts out: {early} in the first half, {late} in the second (expected more as cells learn)")
    # The plot of KPIs against the cells' learning.
    png = os.path.join(out, "cells.png")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "postprocess", "plot_cells.py"), history(out), "-o", png],
                       capture_output=True, text=True)
    check(p.returncode == 0 and os.path.getsize(png) > 10000, f"plot_cells.py: exit {p.returncode}\n{p.stderr}")
    # The recorded episode (the body line's cell at t = 0; the deck's second time is past
    # this shortened shift) and its drawing.
    episodes = os.path.join(out, "episodes")
    files = sorted(os.listdir(episodes)) if os.path.isdir(episodes) else []
    check(files == ["plant.body.fit_t50.h5"], f"recorded episodes: {files}")
    if files:
        p = subprocess.run([sys.executable, os.path.join(ROOT, "postprocess", "plot_episode.py"),
                            os.path.join(episodes, files[0]), "-o", os.path.join(out, "drawn")],
                           capture_output=True, text=True)
        for ext in (".png", ".gif"):
            drawn = os.path.join(out, "drawn", "plant.body.fit_t50" + ext)
            check(p.returncode == 0 and os.path.exists(drawn) and os.path.getsize(drawn) > 10000,
                  f"plot_episode.py: exit {p.returncode}, {drawn}\n{p.stderr[-2000:]}")
    # What the cells learned went into the skill library; a plant that starts its cells from
    # it, frozen, succeeds from its first interval on (the learning run started near 0).
    policy = os.path.join(out, "policy_fasten.h5")
    check(os.path.exists(policy), "no policy_fasten.h5 exported at the end of the shift")
    listed = subprocess.run(r.command(1, "--list-skills", out), env=ENV, capture_output=True, text=True)
    check(listed.returncode == 0 and "policy_fasten.h5" in listed.stdout and "reach" in listed.stdout,
          f"--list-skills: {listed.stdout[-1500:]}{listed.stderr[-1500:]}")
    started = r.dir("from_library")
    r.run(2, started, "--set", "run.end_time_s=1200", "--set", f"cells.skills.0.transfer.policy={policy}",
          "--set", "cells.skills.0.learn=false", deck=deck)
    with HistoryReader(history(started)) as h:
        first_success = float(h.column("cells/fasten/success")[0])
    check(first_success >= last - 0.2 and first_success >= first + 0.3,
          f"cells started from the library: success {first_success:.2f} in the first interval, the learning run "
          f"{first:.2f} at its start and {last:.2f} at its end")
    # A frozen skill acts and never updates.
    frozen = r.dir("frozen")
    r.run(1, frozen, "--set", "run.end_time_s=1800", "--set", "cells.skills.0.learn=false", deck=deck)
    with HistoryReader(history(frozen)) as h:
        check(list(h.column("cells/fasten/updates")) == [0, 0, 0], "a frozen cell skill updated its policy")
        check(all(math.isnan(x) for x in h.column("cells/fasten/policy_loss")), "a frozen skill reports losses")


BAD = {
    "unknown skill": ("cell: {skill: nope", "expected the name of a skill in cells.skills (fasten), found 'nope'"),
    "process in a cell": ("cell: {skill: fasten", "expected no 'process' in a robot cell"),
    "robots": ("robots: 4, handling_s", "an integer in [1, 64]"),
    "quality": ("rework_quality: 0.5", "[0, 1]"),
    "interval": ("update_interval_s: 600", "expected an interval that divides run.end_time_s"),
    "sharing": ("anneal_learning_rate: false", "expected no 'backend: nccl' for a cell skill"),
    "robots in skill": ("skill: reach", "expected no 'robots' in a cell skill"),
    "anneal": ("anneal_learning_rate: false", "expected ppo.anneal_iterations with anneal_learning_rate: true"),
    "record": ("station: plant/body/fit", "expected a robot cell as \"factory/line/station\""),
    "record time": ("at_s: [0, 27000]", "a time >= 0 in s"),
}


def case_errors(r):
    base = open(os.path.join(ROOT, "inputs", "quickstart.yaml")).read()
    edits = {
        "unknown skill": lambda s: s.replace("cell: {skill: fasten", "cell: {skill: nope", 1),
        "process in a cell": lambda s: s.replace(
            "cell: {skill: fasten", "process: {distribution: fixed, time_s: 5}\n              cell: {skill: fasten", 1),
        "robots": lambda s: s.replace("robots: 4, handling_s", "robots: 65, handling_s", 1),
        "quality": lambda s: s.replace("rework_quality: 0.5", "rework_quality: 1.5", 1),
        "interval": lambda s: s.replace("update_interval_s: 600", "update_interval_s: 700", 1),
        "sharing": lambda s: s.replace("anneal_learning_rate: false",
                                       "anneal_learning_rate: false\n      sharing: {mode: gossip, backend: nccl}", 1),
        "robots in skill": lambda s: s.replace("skill: reach", "skill: reach\n      robots: 8", 1),
        "anneal": lambda s: s.replace("anneal_learning_rate: false", "anneal_learning_rate: true", 1),
        "record": lambda s: s.replace("station: plant/body/fit", "station: plant/body/load", 1),
        "record time": lambda s: s.replace("at_s: [0, 27000]", "at_s: [-1]", 1),
    }
    os.makedirs(r.work, exist_ok=True)
    for name, edit in edits.items():
        text = edit(base)
        check(text != base, f"{name}: the edit did not apply")
        deck = os.path.join(r.work, name.replace(" ", "_") + ".yaml")
        with open(deck, "w") as f:
            f.write(text.replace("robots/planar2.yaml", os.path.join(ROOT, "inputs", "robots", "planar2.yaml")))
        out = r.dir("out_" + name.replace(" ", "_"))
        p = r.run(2, out, deck=deck, expect=2)
        expected = BAD[name][1]
        check(expected in p.stderr, f"{name}: expected '{expected}' in the error, found:\n{p.stderr[-1500:]}")
        check(f"{deck}:" in p.stderr, f"{name}: the error does not name the deck file:line\n{p.stderr[-1500:]}")
        check(not os.path.exists(out), f"{name}: a refused deck wrote {out}")
    # Cells without a cells block.
    deck = os.path.join(r.work, "no_cells.yaml")
    with open(deck, "w") as f:
        f.write(base[:base.index("cells:\n")])
    p = r.run(1, r.dir("out_no_cells"), deck=deck, expect=2)
    check("expected a 'cells' block" in p.stderr, f"no cells block: {p.stderr[-1500:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["ranks", "restart", "learn", "errors"])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--deck", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    r = Runner(args)
    globals()["case_" + args.case](r)
    return report()


if __name__ == "__main__":
    sys.exit(main())
