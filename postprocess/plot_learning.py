#!/usr/bin/env python3
"""Plot learning curves of one or several kollektiv training history.h5 files to a PNG.

usage: postprocess/plot_learning.py RUN_A/history.h5 [RUN_B/history.h5 ...] [--out FILE]
                                    [--labels A B ...]

Draws mean episode return, success rate, quality and final error (m from the goal when an
episode ends; absent in histories from before it existed) (rows where episodes ended) against
env-steps (top row) and wall time (bottom row), one line per file, legend by file (its
directory name unless --labels is given). A run of several skills (training.skills) draws
one line per skill ("label: skill"), against the run's env-steps (all skills together). FILE defaults to learning_curves.png next to the
first history file. Reads HDF5 only, also histories that a run is still writing (or that
a killed run left): the rows committed so far are plotted.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from history_reader import HistoryReader  # noqa: E402

PANELS = [("training/mean_return", "mean episode return"), ("training/success_rate", "success rate"),
          ("training/quality", "quality"), ("training/final_error", "final error [m]")]


def read_run(path):
    """The run's curves: [(skill name or "", columns)], one entry per skill."""
    with HistoryReader(path) as f:
        common = {"env_steps": f.column("env_steps").astype(float), "wall_s": f.column("timings/wall_s")}
        prefixes = [("", "")]
        if "skills" in f.file:
            prefixes = [(name, f"skills/{name}/") for name in f.file["skills"].keys()]
        curves = []
        for skill, prefix in prefixes:
            run = dict(common)
            for name, _ in PANELS:
                run[name] = f.column(prefix + name)
            curves.append((skill, run))
    return curves


def label_of(path):
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return parent or os.path.basename(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("histories", nargs="+")
    ap.add_argument("--out", default=None)
    ap.add_argument("--labels", nargs="*", default=None)
    args = ap.parse_args()
    labels = args.labels if args.labels else [label_of(p) for p in args.histories]
    if len(labels) != len(args.histories):
        ap.error("give one label per history file")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.histories[0])), "learning_curves.png")

    fig, axes = plt.subplots(2, len(PANELS), figsize=(18, 7))
    for path, run_label in zip(args.histories, labels):
        for skill, run in read_run(path):
            label = f"{run_label}: {skill}" if skill else run_label
            for col, (name, title) in enumerate(PANELS):
                y = run[name]
                if y is None:
                    continue
                keep = ~np.isnan(y)  # rows in which no episode ended
                axes[0, col].plot(run["env_steps"][keep], y[keep], marker=".", label=label)
                if run["wall_s"] is not None:
                    axes[1, col].plot(run["wall_s"][keep], y[keep], marker=".", label=label)
    for col, (_, title) in enumerate(PANELS):
        axes[0, col].set_title(title)
        axes[0, col].set_xlabel("env-steps")
        axes[1, col].set_xlabel("wall time [s]")
        for row in range(2):
            axes[row, col].grid(alpha=0.3)
    axes[0, 0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
