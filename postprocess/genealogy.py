#!/usr/bin/env python3
"""Print the genealogy of a kollektiv factory run: which parts every assembly joined and
which pieces every disassembly made.

usage: postprocess/genealogy.py OUTPUT [--checkpoint FILE] [--csv] [--part ID]

Reads the newest checkpoint of OUTPUT (OUTPUT/checkpoints/latest, or FILE), which holds the
genealogy of the whole run up to its time, and the station names from OUTPUT/history.h5.
Each record is one assembly (the product keeps the id of its first input's part; the
components are the other inputs' parts, in input order) or one disassembly (the part keeps
its id on the first route; piece k >= 1 has the part's id with k in bits 56..62).
A part id is (global line index << 40) | arrival count at its line's source.

--csv     one line per record: time_s,station,kind,part,then the component or piece ids
--part ID the tree of one part: what it was assembled from, recursively, and where
"""
import argparse
import os
import sys

import h5py
import numpy as np

PIECE_BITS = 56


def read(output, checkpoint):
    if checkpoint is None:
        d = os.path.join(output, "checkpoints")
        with open(os.path.join(d, "latest")) as f:
            checkpoint = os.path.join(d, f.read().strip())
    with h5py.File(checkpoint, "r") as c:
        if "factory/genealogy" not in c:
            sys.exit(f"{checkpoint}: no genealogy (a checkpoint of an older build, or not a factory run)")
        width = c["factory/genealogy_width"][()]
        count = c["factory/genealogy_count"][()]
        entries = c["factory/genealogy"][()]
    with h5py.File(os.path.join(output, "history.h5"), "r") as h:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in h["stations/names"][()]]
    records = []
    at = 0
    for gid, (w, n) in enumerate(zip(width, count)):
        block = entries[at:at + n]
        at += n
        for r in block.reshape(-1, w) if n else []:
            time_s = float(np.array([r[0]], dtype=np.int64).view(np.float64)[0])
            others = [int(x) for x in r[2:]]
            kind = "disassembly" if any(x >> PIECE_BITS for x in others) else "assembly"
            records.append((time_s, names[gid], kind, int(r[1]), others))
    records.sort(key=lambda r: (r[0], r[1]))
    return records


def describe(part):
    piece = part >> PIECE_BITS
    origin = part & ((1 << PIECE_BITS) - 1)
    text = f"{part} (line {origin >> 40}, part {origin & ((1 << 40) - 1)}"
    return text + (f", piece {piece})" if piece else ")")


def tree(records, part, depth=0, out=None):
    out = [] if out is None else out
    made = [r for r in records if r[2] == "assembly" and r[3] == part]
    if depth == 0:
        out.append(describe(part))
    for time_s, station, _, _, components in made:
        out.append("  " * (depth + 1) + f"assembled at {station}, t = {time_s:.1f} s, from:")
        for c in components:
            out.append("  " * (depth + 2) + describe(c))
            tree(records, c, depth + 2, out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output")
    ap.add_argument("--checkpoint")
    ap.add_argument("--csv", action="store_true")
    ap.add_argument("--part", type=int)
    args = ap.parse_args()
    records = read(args.output, args.checkpoint)
    if args.part is not None:
        lines = tree(records, args.part)
        if len(lines) == 1:
            lines.append("  not assembled from other parts")
        print("\n".join(lines))
    elif args.csv:
        print("time_s,station,kind,part,components_or_pieces")
        for time_s, station, kind, part, others in records:
            print(",".join([repr(time_s), station, kind, str(part)] + [str(x) for x in others]))
    else:
        for time_s, station, kind, part, others in records:
            print(f"{time_s:12.1f}  {station:40s} {kind:12s} {part} <- {' '.join(str(x) for x in others)}")
        print(f"{len(records)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
