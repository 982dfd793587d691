#!/usr/bin/env python3
"""Plot the factory KPIs of a kollektiv history.h5 to PNG files.

usage: postprocess/plot_factory.py OUTPUT/history.h5 [--out DIR]

Writes DIR/factory_kpis.png (throughput, WIP, lead time and OEE of every factory against
simulated time), DIR/lines_throughput.png (per-line throughput at the last row) and
DIR/stations_state.png (busy/blocked/starved/down/off-shift fractions per station at the last row,
each factory's bottleneck marked). Lines and stations are labelled by their deck names
(factory/line/station, `#k` for replicas). DIR defaults to the history file's directory. Reads HDF5 only, also the history of a
run that is still writing it (or was killed): the rows committed so far are plotted.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from history_reader import HistoryReader  # noqa: E402


def plot_factories(f, out):
    t_h = f.column("time_s") / 3600.0
    panels = [("throughput", "throughput [parts/h]"), ("wip", "WIP [parts]"), ("lead_time", "lead time [s]"),
              ("oee", "OEE")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for ax, (name, label) in zip(axes.flat, panels):
        values = f.column(f"factories/{name}")
        if values is None:
            ax.set_visible(False)
            continue
        values = values.reshape(len(t_h), -1)
        names = f.strings("factories/names") or [f"factory {k}" for k in range(values.shape[1])]
        for k in range(values.shape[1]):
            ax.plot(t_h, values[:, k], label=names[k])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("simulated time [h]")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("factory KPIs (cumulative from t = 0)")
    fig.tight_layout()
    path = os.path.join(out, "factory_kpis.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def name_axis(ax, names, n, what):
    """Labels the bars 0..n-1 by deck name (every k-th when there are many)."""
    if not names:
        ax.set_xlabel(f"{what} (global index)")
        return
    step = max(1, n // 60)
    ticks = np.arange(0, n, step)
    ax.set_xticks(ticks)
    ax.set_xticklabels([names[k] for k in ticks], rotation=75, ha="right", fontsize=7 if n <= 30 else 5)
    ax.set_xlabel(what + (f" (every {step}th)" if step > 1 else ""))


def plot_lines(f, out):
    tp = f.column("lines/throughput")
    if tp is None:
        return None
    last = tp.reshape(tp.shape[0], -1)[-1]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(np.arange(len(last)), last)
    name_axis(ax, f.strings("lines/names"), len(last), "line")
    ax.set_ylabel("throughput [parts/h]")
    ax.set_title(f"throughput per line at t = {float(f.column('time_s')[-1]) / 3600:.2f} h")
    fig.tight_layout()
    path = os.path.join(out, "lines_throughput.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_stations(f, out, max_stations=200):
    states = ["busy", "blocked", "starved", "down"]
    data = [f.column(f"stations/{s}_fraction") for s in states]
    if any(d is None for d in data):
        return None
    off_shift = f.column("stations/off_shift_fraction")  # histories before shift calendars lack it
    if off_shift is not None:
        states.append("off_shift")
        data.append(off_shift)
    last = [d.reshape(d.shape[0], -1)[-1][:max_stations] for d in data]
    n = len(last[0])
    fig, ax = plt.subplots(figsize=(min(30, max(8, n * 0.2)), 5))
    bottom = np.zeros(n)
    for name, values, colour in zip(states, last, ["tab:green", "tab:orange", "tab:blue", "tab:red", "tab:gray"]):
        ax.bar(np.arange(n), values, bottom=bottom, label=name, color=colour, width=0.9)
        bottom += values
    name_axis(ax, f.strings("stations/names"), n, "station" + (f", first {max_stations}" if n == max_stations else ""))
    bottleneck = f.column("factories/bottleneck")
    if bottleneck is not None:
        for gid in {int(g) for g in np.atleast_1d(bottleneck.reshape(bottleneck.shape[0], -1)[-1]) if 0 <= g < n}:
            ax.annotate("bottleneck", (gid, 1.0), xytext=(gid, 1.03), ha="center", fontsize=7,
                        arrowprops=dict(arrowstyle="-", color="black"))
    ax.set_ylabel("fraction of time")
    ax.set_ylim(0, 1.12)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("station states at the last report")
    fig.tight_layout()
    path = os.path.join(out, "stations_state.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("history")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or os.path.dirname(os.path.abspath(args.history))
    os.makedirs(out, exist_ok=True)
    with HistoryReader(args.history) as f:
        if "time_s" not in f or f.rows == 0:
            raise SystemExit(f"{args.history}: no history rows to plot")
        for path in (plot_factories(f, out), plot_lines(f, out), plot_stations(f, out)):
            if path:
                print("wrote", path)


if __name__ == "__main__":
    main()
