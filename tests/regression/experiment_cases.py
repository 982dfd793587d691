"""End-to-end cases of the kollektiv executable on an experiment deck.

  mm1     inputs/experiment_mm1.yaml: every scenario's 95% intervals of the M/M/1 line's
          number in system, time in system and throughput cover the analytic values
          (1 part, 60 s, 60 parts/h); the M/M/1 line's replications are the same in both
          scenarios (common random numbers); experiment.h5 is the same at 1 and 3 ranks;
          the table is printed
  errors  a scenario's override that does not parse names the scenario, exit 2, nothing
          written; replications missing; experiment in a training deck; --restart refused

usage: experiment_cases.py CASE --exe KOLLEKTIV --mpiexec MPIEXEC --deck DECK --work DIR
"""
import argparse
import os
import sys

import h5py
import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import Runner, check, report, same_files  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def results(out):
    """{scenario: {kpi: (values, mean, half_width)}} from experiment.h5."""
    res = {}
    with h5py.File(os.path.join(out, "experiment.h5"), "r") as f:
        for s in [n.decode() if isinstance(n, bytes) else n for n in f["scenario_names"][()]]:
            g = f["scenarios"][s]
            names = [n.decode() if isinstance(n, bytes) else n for n in g["kpi_names"][()]]
            res[s] = {n: (g["values"][i], g["mean"][i], g["half_width"][i]) for i, n in enumerate(names)}
    return res


def case_mm1(r):
    out = r.dir("np2")
    p = r.run(2, out)
    check("lines/plant/mm1/wip" not in p.stdout and "factories/plant/throughput" in p.stdout,
          f"the table lists factories and cells, not lines:\n{p.stdout[-3000:]}")
    res = results(out)
    check(sorted(res) == ["frozen", "learning"], f"scenarios {sorted(res)}")
    analytic = {"wip": 1.0, "lead_time": 60.0, "throughput": 60.0}
    for s, kpis in res.items():
        for kpi, value in analytic.items():
            values, mean, hw = kpis["lines/plant/mm1/" + kpi]
            check(len(values) == 20 and hw > 0, f"{s}: {kpi} has {len(values)} replications, half-width {hw}")
            check(abs(mean - value) <= hw, f"{s}: M/M/1 {kpi} {mean:.4g} ± {hw:.2g} does not cover {value}")
        check(kpis["cells/fasten/parts"][1] > 0, f"{s}: the cell processed no parts")
    for kpi in analytic:
        a, b = res["learning"]["lines/plant/mm1/" + kpi][0], res["frozen"]["lines/plant/mm1/" + kpi][0]
        check(numpy.array_equal(a, b), f"M/M/1 {kpi}: the scenarios' replications differ (common random numbers)")
    check(not numpy.array_equal(res["learning"]["cells/fasten/final_success"][0],
                                res["frozen"]["cells/fasten/final_success"][0]),
          "the learning and the frozen cell gave the same results")
    other = r.dir("np3")
    r.run(3, other)
    same_files(os.path.join(out, "experiment.h5"), os.path.join(other, "experiment.h5"), "experiment at 2 and 3 ranks")


def case_errors(r):
    base = open(r.deck).read().replace("robots/planar2.yaml", os.path.join(ROOT, "inputs", "robots", "planar2.yaml"))
    os.makedirs(r.work, exist_ok=True)
    cases = {
        "bad override": (base.replace('set: ["cells.skills.0.learn=false"]', 'set: ["run.end_time_s=-5"]'),
                         "in scenario frozen of deck"),
        "no replications": (base.replace("  replications: 20\n", ""), "experiment: missing required key 'replications'"),
        "experiment override": (base.replace('"cells.skills.0.learn=false"', '"experiment.replications=3"'),
                                "not of experiment.*"),
    }
    for name, (text, expected) in cases.items():
        deck = os.path.join(r.work, name.replace(" ", "_") + ".yaml")
        with open(deck, "w") as f:
            f.write(text)
        out = r.dir("out_" + name.replace(" ", "_"))
        p = r.run(2, out, deck=deck, expect=2)
        check(expected in p.stderr, f"{name}: expected '{expected}' in:\n{p.stderr[-2000:]}")
        check(not os.path.exists(out), f"{name}: a refused deck wrote {out}")
    deck = os.path.join(r.work, "training.yaml")
    with open(deck, "w") as f:
        f.write(open(os.path.join(ROOT, "inputs", "train_smoke.yaml")).read() + "experiment: {replications: 2}\n")
    p = r.run(1, r.dir("out_training"), deck=deck, expect=2)
    check("expected 'experiment' with a 'factory' block" in p.stderr, f"training deck: {p.stderr[-2000:]}")
    p = r.run(1, r.dir("out_restart"), "--restart", "latest", expect=2)
    check("cannot be restarted" in p.stderr, f"--restart: {p.stderr[-2000:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["mm1", "errors"])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--deck", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    globals()["case_" + args.case](Runner(args))
    return report()


if __name__ == "__main__":
    sys.exit(main())
