#!/usr/bin/env python3
"""Draw recorded robot-cell episodes (OUTPUT/episodes/*.h5 from `cells.record`).

For each file: a PNG of six frames (the cell's arms, their tool paths so far and the task:
reach targets, weld seams, pick_place parts and place targets) and an animated GIF of the
whole episode. A planar arm (every point at z = 0) is drawn from above; other arms from two
sides (x-z and y-z). Titles name the station, the skill, the start time and each robot's
result, so the same cell before and after learning can be set side by side.

usage: postprocess/plot_episode.py FILE.h5 [FILE.h5 ...] [-o DIR] [--no-gif] [--frames N]
"""
import argparse
import os
import sys

import h5py
import matplotlib
import numpy

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

# Columns of `task` (solvers/skills/fleet_state.hpp, TaskReal).
GOAL, DIR, LENGTH, CURVATURE, PART = slice(0, 3), slice(3, 6), 6, 7, slice(8, 11)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def read(path):
    with h5py.File(path, "r") as f:
        e = {k: f[k][()] for k in ("points", "task", "length", "success", "quality", "surface_normal")}
        e.update({k: text(f.attrs[k]) for k in ("skill", "skill_kind", "robot", "station")})
        e.update({k: float(f.attrs[k]) for k in ("start_s", "control_dt_s")})
    return e


def seam(task, normal, samples=40):
    """The weld seam of one robot's task: a line or an arc in the plane normal to `normal`."""
    p0, t0, length, k = task[GOAL], task[DIR], task[LENGTH], task[CURVATURE]
    n = normal / numpy.linalg.norm(normal)
    b0 = numpy.cross(n, t0)
    s = numpy.linspace(0.0, length, samples)[:, None]
    if k == 0:
        return p0 + s * t0
    return p0 + numpy.sin(k * s) / k * t0 + (1 - numpy.cos(k * s)) / k * b0


def task_marks(e):
    """[(points [m][3], style, label)] of every robot's task, in the robot's colour."""
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    marks = []
    for r, task in enumerate(e["task"]):
        c = colors[r % len(colors)]
        if e["skill_kind"] == "weld":
            marks.append((seam(task, e["surface_normal"]), dict(color=c, lw=4, alpha=0.35), "seam" if r == 0 else None))
        elif e["skill_kind"] == "pick_place":
            marks.append((task[PART][None, :], dict(color=c, marker="s", ls="", mfc="none"), "part" if r == 0 else None))
            marks.append((task[GOAL][None, :], dict(color=c, marker="x", ls="", ms=9),
                          "place target" if r == 0 else None))
        else:
            marks.append((task[GOAL][None, :], dict(color=c, marker="x", ls="", ms=9), "target" if r == 0 else None))
    return marks


def views(e):
    """The coordinate pairs to draw: x-y from above for a planar arm, else x-z and y-z."""
    planar = numpy.allclose(e["points"][..., 2], 0.0)
    return [(0, 1, "x (m)", "y (m)")] if planar else [(0, 2, "x (m)", "z (m)"), (1, 2, "y (m)", "z (m)")]


def limits(e, a, b):
    pts = e["points"][..., [a, b]].reshape(-1, 2)
    extra = numpy.concatenate([m[0][:, [a, b]] for m in task_marks(e)])
    pts = numpy.concatenate([pts, extra])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.08 * max(hi - lo) + 1e-3
    return (lo[0] - pad, hi[0] + pad), (lo[1] - pad, hi[1] + pad)


def draw(ax, e, step, a, b, xl, yl, legend):
    ax.clear()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for pts, style, label in task_marks(e):
        ax.plot(pts[:, a], pts[:, b], label=label if legend else None, **style)
    for r in range(e["points"].shape[1]):
        c = colors[r % len(colors)]
        arm = e["points"][step, r]
        tool = e["points"][: step + 1, r, -1]
        ax.plot(tool[:, a], tool[:, b], color=c, lw=0.8, alpha=0.6)
        ax.plot(arm[:, a], arm[:, b], "-o", color=c, lw=2.5, ms=3, label=f"robot {r}" if legend else None)
    ax.set_xlim(*limits(e, a, b)[0])
    ax.set_ylim(*limits(e, a, b)[1])
    ax.set_aspect("equal")
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_title(f"t = {step * e['control_dt_s']:.2f} s", fontsize=9)
    if legend:
        ax.legend(fontsize=7, loc="best")


def title(e):
    results = ", ".join(f"{'ok' if s else 'fail'} q={q:.2f}" for s, q in zip(e["success"], e["quality"]))
    return (f"{e['station']}: {e['skill']} ({e['skill_kind']}, {e['robot']}) at t = {e['start_s'] / 3600:.2f} h"
            f"\nrobots: {results}")


def frames_png(e, out, count):
    steps = e["points"].shape[0]
    picks = numpy.unique(numpy.linspace(0, steps - 1, count).round().astype(int))
    vs = views(e)
    fig, axes = plt.subplots(len(vs), len(picks), figsize=(2.6 * len(picks), 2.8 * len(vs) + 0.8), squeeze=False)
    for i, (a, b, xl, yl) in enumerate(vs):
        for j, step in enumerate(picks):
            draw(axes[i][j], e, step, a, b, xl, yl, legend=(i == 0 and j == 0))
    fig.suptitle(title(e), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def animation_gif(e, out, frames=60):
    steps = e["points"].shape[0]
    picks = numpy.unique(numpy.linspace(0, steps - 1, min(frames, steps)).round().astype(int))
    vs = views(e)
    fig, axes = plt.subplots(1, len(vs), figsize=(4.2 * len(vs), 4.4), squeeze=False)
    fig.suptitle(title(e), fontsize=9)

    def update(k):
        for i, (a, b, xl, yl) in enumerate(vs):
            draw(axes[0][i], e, picks[k], a, b, xl, yl, legend=(i == 0))
        return []

    anim = FuncAnimation(fig, update, frames=len(picks), blit=False)
    anim.save(out, writer=PillowWriter(fps=15))
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="episode files (OUTPUT/episodes/*.h5)")
    ap.add_argument("-o", "--output", help="folder for the PNG and GIF files (default: next to each file)")
    ap.add_argument("--no-gif", action="store_true", help="only the PNG of frames")
    ap.add_argument("--frames", type=int, default=6, help="frames in the PNG (default 6)")
    args = ap.parse_args()
    for path in args.files:
        try:
            e = read(path)
        except (OSError, KeyError) as err:
            print(f"{path}: not a recorded episode ({err})", file=sys.stderr)
            return 2
        base = os.path.splitext(os.path.basename(path))[0]
        folder = args.output or os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        png = os.path.join(folder, base + ".png")
        frames_png(e, png, max(1, args.frames))
        print(f"wrote {png}")
        if not args.no_gif:
            gif = os.path.join(folder, base + ".gif")
            animation_gif(e, gif)
            print(f"wrote {gif}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
