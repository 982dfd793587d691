"""Bitwise comparison of two kollektiv HDF5 files (history or checkpoint).

Every dataset and attribute must have the same bytes, except wall-clock timings (the
`timings` group) and attributes that describe how a file was written rather than what
was simulated (`ranks_written`, `build_info`, `written_at`, and a checkpoint's `sequence`,
which counts checkpoints written, more of them when a run was interrupted).
"""
import sys

import h5py
import numpy as np

IGNORED_GROUPS = {"timings"}
IGNORED_ATTRS = {"ranks_written", "build_info", "written_at", "checksum", "sequence"}


def _items(f):
    out = {}

    def visit(name, obj):
        if name.split("/")[0] in IGNORED_GROUPS:
            return
        out[name] = obj

    f.visititems(visit)
    return out


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fiub":
        return a.tobytes() == b.tobytes()
    return bool(np.all(a == b))


def differences(path_a, path_b, ignore_attrs=()):
    """A list of human-readable differences (empty when the files agree)."""
    ignored = IGNORED_ATTRS | set(ignore_attrs)
    diffs = []
    # SWMR read access also opens a history a run is writing or a killed run left.
    with h5py.File(path_a, "r", swmr=True) as fa, h5py.File(path_b, "r", swmr=True) as fb:
        ia, ib = _items(fa), _items(fb)
        for name in sorted(set(ia) ^ set(ib)):
            diffs.append(f"{name}: only in {'first' if name in ia else 'second'} file")
        for obj_a, obj_b, where in [(fa, fb, "/")] + [(ia[n], ib[n], n) for n in sorted(set(ia) & set(ib))]:
            for key in sorted(set(obj_a.attrs) | set(obj_b.attrs)):
                if key in ignored:
                    continue
                if key not in obj_a.attrs or key not in obj_b.attrs:
                    diffs.append(f"{where} attribute {key}: missing in one file")
                elif not _same(obj_a.attrs[key], obj_b.attrs[key]):
                    diffs.append(f"{where} attribute {key} differs")
            if isinstance(obj_a, h5py.Dataset):
                if not _same(obj_a[()], obj_b[()]):
                    diffs.append(f"{where}: data differ (shapes {obj_a.shape} vs {obj_b.shape})")
    return diffs


if __name__ == "__main__":
    d = differences(sys.argv[1], sys.argv[2])
    for line in d:
        print(line)
    sys.exit(1 if d else 0)
