#!/usr/bin/env python3
"""What skill transfer buys: weld on the UR5-class arm from scratch against weld started from
a reach policy of the same arm (every layer where the observations and actions correspond:
joint angles and velocities, tool position, goal offset, episode time; the seam inputs and
the normaliser start fresh), with the same seed, ranks and deck, for several seeds.

For each seed: train inputs/train_reach_ur5.yaml for --reach-iterations (the library's
policy), then inputs/train_weld.yaml from scratch and once per --shrink value with
training.transfer (shrink 1: the layers as they are; below 1: shrink and perturb), and print

  RESULT bench=skill_transfer seed=<s> shrink=<x> reach_env_steps=<n>
         weld_scratch_env_steps_to_target=<n> weld_transfer_env_steps_to_target=<n> saving=<f>

where env-steps to target are the run's own "target ... reached" line (mean quality of an
iteration's episodes >= the deck's 0.9; every weld run keeps the deck's learning-rate
schedule, annealed over its 600 iterations, whatever --iterations cuts it to) and saving = 1 - transfer / scratch ("never" when a
run did not reach it within --iterations; the medians count it as --iterations + 1). Last
lines give the medians over the seeds per shrink value, also counting the reach run's
env-steps.

usage: skill_transfer.py [--exe build/app/kollektiv] [--ranks 2] [--seeds 1,2,3]
                         [--shrink 1,0.25] [--iterations 400] [--reach-iterations 100] [--work DIR]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REACHED = re.compile(r"^target .* reached at iteration (\d+), env_steps (\d+), wall ([\d.]+) s$", re.M)


def run(args, deck, out, *extra):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = ["mpirun", "-np", str(args.ranks), "--oversubscribe", "--bind-to", "none", args.exe,
           os.path.join(ROOT, "inputs", deck), "--output", out, "--overwrite", *extra]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    m = REACHED.search(p.stdout)
    return (int(m.group(2)), float(m.group(3))) if m else (None, None), p.stdout


def deck_iterations(deck):
    """training.iterations of a shipped deck (the length of its learning-rate schedule)."""
    with open(os.path.join(ROOT, "inputs", deck)) as f:
        return int(re.search(r"^\s+iterations:\s*(\d+)", f.read(), re.M).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default=os.path.join(ROOT, "build/app/kollektiv"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--shrink", default="1,0.25")
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--reach-iterations", type=int, default=100)
    ap.add_argument("--work", default=os.path.join(ROOT, "output/bench_skill_transfer"))
    args = ap.parse_args()
    shrinks = [float(x) for x in args.shrink.split(",")]
    never = args.iterations * 512 * 32 + 1
    reach_steps = args.reach_iterations * 512 * 32
    scratch_all, transfer_all = [], {x: [] for x in shrinks}
    for seed in [int(s) for s in args.seeds.split(",")]:
        base = os.path.join(args.work, f"seed{seed}")
        # Shorter runs keep the deck's own learning-rate schedule (its full iterations).
        settings = ["--set", f"run.seed={seed}", "--set", f"training.iterations={args.iterations}",
                    "--set", f"training.ppo.anneal_iterations={deck_iterations('train_weld.yaml')}"]
        reach = os.path.join(base, "reach")
        run(args, "train_reach_ur5.yaml", reach, "--set", f"run.seed={seed}",
            "--set", f"training.iterations={args.reach_iterations}")
        (scratch, scratch_s), _ = run(args, "train_weld.yaml", os.path.join(base, "weld_scratch"), *settings)
        scratch_all.append(scratch or never)
        for shrink in shrinks:
            (transfer, transfer_s), out = run(
                args, "train_weld.yaml", os.path.join(base, f"weld_transfer_{shrink:g}"), *settings,
                "--set", f"training.transfer.policy={os.path.join(reach, 'policy.h5')}",
                "--set", f"training.transfer.shrink={shrink:g}")
            if seed == int(args.seeds.split(",")[0]) and shrink == shrinks[0]:
                print("".join(line + "\n" for line in out.splitlines() if line.startswith(("transfer", "  "))), end="")
            transfer_all[shrink].append(transfer or never)
            saving = 1 - transfer / scratch if scratch and transfer else None
            print(f"RESULT bench=skill_transfer seed={seed} shrink={shrink:g} reach_env_steps={reach_steps} "
                  f"weld_scratch_env_steps_to_target={scratch or 'never'} "
                  f"weld_transfer_env_steps_to_target={transfer or 'never'} "
                  f"saving={'%.3f' % saving if saving is not None else 'n/a'} "
                  f"wall_s_scratch={scratch_s} wall_s_transfer={transfer_s}", flush=True)
    ms = statistics.median(scratch_all)
    for shrink in shrinks:
        mt = statistics.median(transfer_all[shrink])
        print(f"RESULT bench=skill_transfer_median seeds={args.seeds} shrink={shrink:g} "
              f"weld_scratch_env_steps_to_target={ms:.0f} weld_transfer_env_steps_to_target={mt:.0f} "
              f"saving={1 - mt / ms:.3f} saving_with_reach_run={1 - (mt + reach_steps) / ms:.3f}")


if __name__ == "__main__":
    main()
