#!/usr/bin/env python3
"""What sharing buys: runs inputs/bench/collective_modes.yaml (16 non-IID sites) in each
sharing mode with the same seed and ranks, and prints one line per mode:

  RESULT mode=<m> sites=<s> env_steps_to_target_median=<n> env_steps_to_target_worst=<n>
         wall_s_to_target=<t> bytes_per_update=<b> comm_share=<f> final_success=<x> final_quality=<q>

A site reaches the target at the first iteration where the mean final error of its own
episodes over the last WINDOW iterations is at most the deck's target; its env-steps are
that iteration × its robots × horizon. "never" when a site did not reach it in the run's
iterations (the median and worst then count it as beyond the run). bytes_per_update is the
mean over iterations of the most bytes any rank sent for the skill's learning and sharing.

Mode `federated_private` is federated with the last policy layer, the log-stds and the
observation statistics private to each site (personalisation). After the RESULT lines, one
GOAL line per goal of issue 9 says what was measured against it: every sharing mode within
1/4 of isolated's env-steps per site (median), gossip within 1.5x of allreduce's env-steps
with at most 1/4 of its bytes per update, federated with private layers ahead of
federated without them (median env-steps per site, then final error over the last WINDOW
iterations). Skill transfer is measured by tests/bench/skill_transfer.py.

usage: collective_modes.py [--exe build/app/kollektiv] [--ranks 2] [--iterations N]
                           [--modes isolated,allreduce,gossip,federated,federated_private]
                           [--target M] [--work DIR] [--reuse]

--reuse summarises the histories a previous invocation left in --work (e.g. against another
--target) instead of running the modes again.
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "postprocess"))
from history_reader import HistoryReader  # noqa: E402

WINDOW = 8  # iterations: about 55 episodes of a 32-robot site


def site_names(h):
    return list(h.file["sites"].keys()) if "sites" in h else []


def reached_at(errors, episodes, target):
    """First 1-based iteration whose trailing-window mean final error is <= target."""
    for i in range(len(errors)):
        lo = max(0, i - WINDOW + 1)
        n = sum(episodes[lo:i + 1])
        if n == 0:
            continue
        mean = sum(e * k for e, k in zip(errors[lo:i + 1], episodes[lo:i + 1]) if k > 0) / n
        if mean <= target:
            return i + 1
    return None


VARIANTS = {"federated_private": ["training.sharing.mode=federated",
                                   "training.sharing.federated.private=[policy.output, policy.log_std, normalizer]"]}


def run_mode(args, mode):
    out = os.path.join(args.work, mode)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = ["mpirun", "-np", str(args.ranks), "--oversubscribe", "--bind-to", "none", args.exe,
           os.path.join(ROOT, "inputs/bench/collective_modes.yaml"), "--output", out, "--overwrite",
           "--set", f"training.target={args.target}"]
    for setting in VARIANTS.get(mode, [f"training.sharing.mode={mode}"]):
        cmd += ["--set", setting]
    if args.iterations:
        cmd += ["--set", f"training.iterations={args.iterations}"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{mode}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return out


def summarise(mode, out, target):
    with HistoryReader(os.path.join(out, "history.h5")) as h:
        names = site_names(h)
        iterations = int(h.column("iteration")[-1])
        when = []
        for name in names:
            errors = list(h.column(f"sites/{name}/final_error"))
            episodes = [int(k) for k in h.column(f"sites/{name}/episodes")]
            it = reached_at(errors, episodes, target)
            when.append(it)
        per_iteration_all = int(h.column("env_steps")[0]) // int(h.column("iteration")[0])
        per_site = per_iteration_all // len(names)  # every site of the deck has 32 robots
        beyond = (iterations + 1) * per_site
        steps = [w * per_site if w is not None else beyond for w in when]
        worst_it = max((w for w in when if w is not None), default=None)
        wall = list(h.column("timings/wall_s"))
        comm = list(h.column("timings/communication_s"))
        bytes_sent = list(h.column("timings/bytes_sent_max"))
        tail = slice(max(0, iterations - WINDOW), iterations)
        success = [x for x in list(h.column("training/success_rate"))[tail] if x == x]
        error = [x for x in list(h.column("training/final_error"))[tail] if x == x]
        quality = [x for x in list(h.column("training/quality"))[tail] if x == x]
    never = sum(1 for w in when if w is None)
    fmt = lambda n: str(n) if n < beyond else "never"
    print(f"RESULT mode={mode} sites={len(names)} env_steps_to_target_median={fmt(int(statistics.median(steps)))} "
          f"env_steps_to_target_worst={fmt(max(steps))} "
          f"wall_s_to_target={(wall[worst_it - 1] if worst_it and never == 0 else float('nan')):.1f} "
          f"bytes_per_update={statistics.mean(bytes_sent):.0f} comm_share={comm[-1] / wall[-1]:.3f} "
          f"final_success={statistics.mean(success) if success else float('nan'):.3f} "
          f"final_quality={statistics.mean(quality) if quality else float('nan'):.3f} "
          f"sites_never={never} iterations={iterations}", flush=True)
    return dict(steps=steps, never=never, bytes=statistics.mean(bytes_sent), beyond=beyond,
                median=statistics.median(steps), error=statistics.mean(error) if error else float("nan"))


def goals(r):
    """One GOAL line per goal of issue 9 that the modes run allow to check."""
    def steps(m):
        return "never" if r[m]["median"] >= r[m]["beyond"] else str(int(r[m]["median"]))
    if "isolated" in r:
        for m in (x for x in r if x != "isolated"):
            met = r[m]["median"] * 4 <= r["isolated"]["median"] and r[m]["median"] < r[m]["beyond"]
            print(f"GOAL sharing_vs_isolated mode={m} median_env_steps={steps(m)} isolated={steps('isolated')} "
                  f"goal=at_most_quarter met={'yes' if met else 'no'}"
                  + (" note=isolated_never_reached_so_the_ratio_is_a_lower_bound" if steps("isolated") == "never" else ""))
    if "gossip" in r and "allreduce" in r:
        g, a = r["gossip"], r["allreduce"]
        ratio = g["median"] / a["median"]
        print(f"GOAL gossip_vs_allreduce env_steps_ratio={ratio:.2f} bytes_ratio={g['bytes'] / a['bytes']:.3f} "
              f"goal=steps_at_most_1.5_bytes_at_most_0.25 "
              f"met={'yes' if ratio <= 1.5 and g['bytes'] * 4 <= a['bytes'] and g['never'] == 0 else 'no'}")
    if "federated" in r and "federated_private" in r:
        f, p = r["federated"], r["federated_private"]
        better = (p["median"], p["error"]) < (f["median"], f["error"])
        print(f"GOAL federated_private_vs_federated median_env_steps={steps('federated_private')} vs {steps('federated')} "
              f"final_error={p['error']:.4f} vs {f['error']:.4f} goal=private_better met={'yes' if better else 'no'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exe", default=os.path.join(ROOT, "build/app/kollektiv"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=0, help="override training.iterations")
    ap.add_argument("--modes", default="isolated,allreduce,gossip,federated,federated_private")
    ap.add_argument("--work", default=os.path.join(ROOT, "output/bench_collective_modes"))
    ap.add_argument("--target", type=float, default=0.0425, help="the deck's target (m)")
    ap.add_argument("--reuse", action="store_true", help="summarise the runs already in --work")
    args = ap.parse_args()
    results = {}
    for mode in args.modes.split(","):
        out = os.path.join(args.work, mode) if args.reuse else run_mode(args, mode)
        results[mode] = summarise(mode, out, args.target)
    goals(results)


if __name__ == "__main__":
    main()
