#!/usr/bin/env python3
"""Robot-steps per second inside the factory against the training fleet (a benchmark, not a test).

Runs, in one go on this machine, the same robot and skill (`reach` on the UR5-class arm,
2×64 networks, exploring) two ways and prints one machine-readable line each:
  RESULT bench=cells_in_factory ranks=R env_steps=N steps_per_s_per_core=S rollout_steps_per_s_per_core=...
         events=E events_per_s=... wall_s=W
  RESULT bench=training_fleet ranks=R env_steps=N steps_per_s_per_core=S rollout_steps_per_s_per_core=... wall_s=W
  RESULT bench=cells_vs_fleet rollout_ratio=X overall_ratio=Y   (fleet / factory; the goal is <= 1.5)
The factory: inputs/bench/factory_cells_large.yaml (1000 lines × 20 stations, 10000 robot
cells). The fleet: inputs/train_reach_ur5.yaml (512 robots, 32-step rollouts), as many
iterations as give a comparable number of env-steps. "rollout" rates count the time in
physics and policy inference only (the timings/ columns), "steps_per_s" the whole wall time
(the factory's events and both PPO updates included). Per core: divided by the ranks.

usage: tests/bench/factory_cells.py [--build build] [--ranks 2] [--end 1200]
"""
import argparse
import os
import sys
import tempfile

import h5py
import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from factory_bench import kollektiv as run  # noqa: E402  (mpirun of a deck, as root, oversubscribed)


def last(f, name):
    return float(numpy.atleast_1d(f[name][()])[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--end", type=float, default=1200.0, help="simulated seconds of the factory (multiple of 600)")
    args = ap.parse_args()
    exe = os.path.join(args.build, "app", "kollektiv")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "factory")
        run(exe, args.ranks, "inputs/bench/factory_cells_large.yaml", out, f"run.end_time_s={args.end}")
        with h5py.File(os.path.join(out, "history.h5"), "r") as f:
            steps = int(numpy.sum(f["cells/reach/env_steps"][()]))
            rollout_s = last(f, "timings/cells_physics_s") + last(f, "timings/cells_inference_s")
            wall = last(f, "timings/wall_s")
            events = int(last(f, "timings/events"))
        factory = (steps / rollout_s / args.ranks, steps / wall / args.ranks)
        print(f"RESULT bench=cells_in_factory ranks={args.ranks} env_steps={steps} "
              f"steps_per_s_per_core={factory[1]:.4g} rollout_steps_per_s_per_core={factory[0]:.4g} "
              f"events={events} events_per_s={events / wall:.4g} wall_s={wall:.3g}", flush=True)

        out = os.path.join(tmp, "fleet")
        iterations = max(2, round(steps / (512 * 32)))
        run(exe, args.ranks, "inputs/train_reach_ur5.yaml", out, f"training.iterations={iterations}",
            "training.checkpoint_every=0")
        with h5py.File(os.path.join(out, "history.h5"), "r") as f:
            fsteps = int(last(f, "env_steps"))
            frollout = last(f, "timings/physics_s") + last(f, "timings/inference_s")
            fwall = last(f, "timings/wall_s")
        fleet = (fsteps / frollout / args.ranks, fsteps / fwall / args.ranks)
        print(f"RESULT bench=training_fleet ranks={args.ranks} env_steps={fsteps} "
              f"steps_per_s_per_core={fleet[1]:.4g} rollout_steps_per_s_per_core={fleet[0]:.4g} wall_s={fwall:.3g}")
        print(f"RESULT bench=cells_vs_fleet rollout_ratio={fleet[0] / factory[0]:.3g} "
              f"overall_ratio={fleet[1] / factory[1]:.3g} goal=1.5")
    return 0


if __name__ == "__main__":
    sys.exit(main())
