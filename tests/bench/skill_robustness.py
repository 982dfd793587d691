#!/usr/bin/env python3
"""How a learned skill degrades outside what it was trained on: evaluates an exported policy
on unseen parts (another run.seed) with its training deck's randomisation, then with every
randomised range widened by each factor, and prints one line per factor:

  RESULT bench=robustness skill=<s> factor=<f> episodes=<n> success=<x> quality=<q>
         final_error=<m> misses=<cause>:<value>,...

Widened by f: every key of training.common.randomise (the fractions capped at 0.5), and
the task's own ranges: weld part_offset_m, part_yaw_rad, sensor_noise_m, sensor_lag_s;
pick_place the part mass range (its width about the middle) and the part and target yaw
ranges (capped at +-pi/2). Factor 1 is the training distribution on unseen parts.

usage: skill_robustness.py --deck inputs/train_weld_precision.yaml --policy POLICY.h5
                           [--exe build/app/kollektiv] [--ranks 2] [--episodes 4]
                           [--seed 2] [--factors 1,1.5,2] [--work DIR]
"""
import argparse
import math
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

EVALUATION = re.compile(r"^evaluation of .*: (\d+) episodes, mean return \S+, success (\S+), quality (\S+), "
                        r"final error (\S+) m$", re.M)
MISSES = re.compile(r"^(?:missed|failed) \([^)]*\):(.*)$", re.M)
FRACTIONS = ("link_mass", "joint_damping", "actuator_gain")


def widened(training, factor):
    """The --set overrides that widen the deck's randomised ranges by `factor`."""
    sets = []
    randomise = (training.get("common") or {}).get("randomise") or {}
    for key, value in randomise.items():
        x = float(value) * factor
        if key in FRACTIONS:
            x = min(x, 0.5)
        sets.append(f"training.common.randomise.{key}={x:.6g}")
    skill = training["skill"]
    task = training.get(skill) or {}
    if skill == "weld":
        for key in ("part_offset_m", "part_yaw_rad", "sensor_noise_m", "sensor_lag_s"):
            if key in task:
                sets.append(f"training.weld.{key}={float(task[key]) * factor:.6g}")
    elif skill == "pick_place":
        if "part_mass_min_kg" in task and "part_mass_max_kg" in task:
            lo, hi = float(task["part_mass_min_kg"]), float(task["part_mass_max_kg"])
            mid, half = (lo + hi) / 2, (hi - lo) / 2 * factor
            sets += [f"training.pick_place.part_mass_min_kg={max(mid - half, 0.01 * mid):.6g}",
                     f"training.pick_place.part_mass_max_kg={mid + half:.6g}"]
        for lo_key, hi_key in (("part_yaw_min_rad", "part_yaw_max_rad"), ("place_yaw_min_rad", "place_yaw_max_rad")):
            if lo_key in task and hi_key in task:
                lo, hi = float(task[lo_key]), float(task[hi_key])
                mid, half = (lo + hi) / 2, (hi - lo) / 2 * factor
                sets += [f"training.pick_place.{lo_key}={max(mid - half, -math.pi / 2):.6g}",
                         f"training.pick_place.{hi_key}={min(mid + half, math.pi / 2):.6g}"]
    return sets


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deck", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--exe", default=os.path.join(ROOT, "build", "app", "kollektiv"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=2, help="run.seed of the evaluation (training decks use 1)")
    ap.add_argument("--factors", default="1,1.5,2")
    ap.add_argument("--work", default="/tmp/kollektiv_robustness")
    args = ap.parse_args()
    with open(args.deck) as f:
        training = yaml.safe_load(f)["training"]
    policy = os.path.abspath(args.policy)
    mpiexec = ["mpirun", "-np", str(args.ranks), "--oversubscribe", "--bind-to", "none"]
    failures = 0
    for text in args.factors.split(","):
        factor = float(text)
        out = os.path.join(args.work, f"factor_{text}")
        sets = [f"run.seed={args.seed}", f"training.policy_file={policy}", f"training.eval_episodes={args.episodes}"]
        sets += widened(training, factor)
        command = mpiexec + [args.exe, os.path.abspath(args.deck), "--output", out, "--overwrite"]
        for s in sets:
            command += ["--set", s]
        p = subprocess.run(command, env=ENV, capture_output=True, text=True, cwd=os.path.dirname(os.path.abspath(args.deck)))
        m = EVALUATION.search(p.stdout)
        if p.returncode != 0 or m is None:
            print(f"factor {text}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}", file=sys.stderr)
            failures += 1
            continue
        misses = MISSES.search(p.stdout)
        causes = ",".join(f"{name}:{value}" for name, value, _ in
                          re.findall(r" (\w+) (\S+) \((\S+)\)", misses.group(1))) if misses else ""
        print(f"RESULT bench=robustness skill={training['skill']} factor={text} episodes={m.group(1)} "
              f"success={m.group(2)} quality={m.group(3)} final_error={m.group(4)} misses={causes}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
