#!/usr/bin/env python3
"""Plot a factory run whose robot cells learn while the factory produces, to one PNG.

usage: postprocess/plot_cells.py OUTPUT/history.h5 [-o FILE]

Top panel: per factory OEE and yield (left axis) and throughput (right axis), both the
stored cumulative mean since t = 0 and the per-interval throughput derived from the
differences of factories/sink_count, plus each cell skill's per-interval yield (good/parts).
Bottom panel: each cell skill's success and quality per report interval (left axis) and its
cumulative env-steps (right axis). Per-interval values are drawn as steps over the interval
they belong to. FILE defaults to cells.png next to the history file. Reads HDF5 only, also a
history that a run is still writing: the rows committed so far are plotted.
Exits with code 2 if the history has no cells/ group (not a run with robot cells).
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from history_reader import HistoryReader  # noqa: E402


def per_factory(f, name, rows):
    """factories/<name> as [rows, factories] floats, or None."""
    values = f.column(f"factories/{name}")
    return None if values is None else values.reshape(rows, -1).astype(float)


def ratio(num, den):
    """num/den element-wise, NaN where den is 0."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def legend(ax, twin, **kw):
    """One legend for an axis and its right-hand twin."""
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, **kw)


def plot_factories(ax, f, edges, names, skills):
    """OEE/yield (left) and throughput (right) per factory, cell yield per interval."""
    rows, t_h = len(edges) - 1, edges[1:]
    twin = ax.twinx()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    oee, yld = per_factory(f, "oee", rows), per_factory(f, "yield", rows)
    cum, sink = per_factory(f, "throughput", rows), per_factory(f, "sink_count", rows)
    for k, name in enumerate(names):
        c = colours[k % len(colours)]
        if oee is not None:
            ax.plot(t_h, oee[:, k], "-", color=c, label=f"{name}: OEE (cum.)")
        if yld is not None:
            ax.plot(t_h, yld[:, k], "--", color=c, label=f"{name}: yield (cum.)")
        if cum is not None:
            twin.plot(t_h, cum[:, k], ":", color=c, label=f"{name}: throughput (cum. mean)")
        if sink is not None:
            rate = np.diff(np.concatenate([[0.0], sink[:, k]])) / np.diff(edges)
            twin.stairs(rate, edges, baseline=None, color=c, lw=2, alpha=0.6, label=f"{name}: throughput (per interval)")
    for j, (skill, g) in enumerate(skills.items()):
        ax.stairs(ratio(g["good"], g["parts"]), edges, baseline=None, color=colours[(len(names) + j) % len(colours)],
                  ls="-.", label=f"cell {skill}: yield good/parts (per interval)")
    if sink is not None and not sink[-1].any():
        ax.text(0.5, 0.5, "no parts reached a sink yet", transform=ax.transAxes, ha="center", color="grey")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("OEE, yield [0..1]")
    twin.set_ylim(bottom=0)
    twin.set_ylabel("throughput [parts/h]")
    ax.grid(alpha=0.3)
    ax.set_title("factory KPIs")
    legend(ax, twin, loc="upper left", bbox_to_anchor=(1.08, 1.0))


def plot_cells(ax, edges, skills, first_colour=0):
    """Success and quality per interval (left), cumulative env-steps (right) per skill
    (skill j in colour first_colour + j, as in the top panel)."""
    twin = ax.twinx()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (skill, g) in enumerate(skills.items()):
        c = colours[(first_colour + j) % len(colours)]
        ax.stairs(g["success"], edges, baseline=None, color=c, lw=1.8, label=f"{skill}: success rate")
        ax.stairs(g["quality"], edges, baseline=None, color=c, ls="--", label=f"{skill}: quality")
        twin.plot(edges, np.concatenate([[0], np.cumsum(g["env_steps"])]), ":", marker=".", color=c,
                  label=f"{skill}: env-steps (cumulative)")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success, quality per interval [0..1]")
    twin.set_ylim(bottom=0)
    twin.set_ylabel("env-steps (cumulative)")
    ax.set_xlabel("simulated time [h]")
    ax.grid(alpha=0.3)
    ax.set_title("robot cells learning while producing")
    legend(ax, twin, loc="upper left", bbox_to_anchor=(1.08, 1.0))


def read_skills(f):
    """{skill: {figure: [rows] array}} for every group under cells/."""
    return {skill: {fig: f.column(f"cells/{skill}/{fig}") for fig in f.file[f"cells/{skill}"].keys()}
            for skill in f.file["cells"].keys()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("history", help="history.h5 written by kollektiv")
    ap.add_argument("-o", "--output", default=None, help="PNG to write (default: cells.png next to history)")
    args = ap.parse_args()
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(args.history)), "cells.png")
    with HistoryReader(args.history) as f:
        if "cells" not in f or not len(f.file["cells"]):
            print(f"{args.history}: no cells/ group: not a run with robot cells", file=sys.stderr)
            sys.exit(2)
        if "time_s" not in f or f.rows == 0:
            raise SystemExit(f"{args.history}: no history rows to plot")
        edges = np.concatenate([[0.0], f.column("time_s").astype(float)]) / 3600.0
        names = f.strings("factories/names") or []
        skills = read_skills(f)
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(13, 8.5), sharex=True)
        plot_factories(top, f, edges, names, skills)
    plot_cells(bottom, edges, skills, first_colour=len(names))
    bottom.set_xlim(0, edges[-1])
    fig.suptitle(f"factories: {', '.join(names) or '?'} | cell skills: {', '.join(skills)}")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print("wrote", out)


if __name__ == "__main__":
    main()
