"""A GPU build's results against the CPU build's, within stated tolerances.

    compare.py states GPU_FILE CPU_FILE      # dynamics_rate --state files
    compare.py training GPU_H5 CPU_H5        # training histories of the same deck

The two builds do the same arithmetic in a different order and with different rounding
(fused multiply-adds, CUDA's sin/cos/exp/tanh): they agree to rounding, not bit for bit, and
rounding differences grow along a trajectory. The arm's state is double precision: after
200 steps it must agree to 1e-9. The networks are single precision (a float tanh differs by
an ulp, 6e-8, between libraries), so the training observables may differ by a few times
1e-7 after the first rollout and more after each update; the tolerances below allow 1e-4 for
averages over all robots and 1e-2 for the near-cancelling losses, while a wrong kernel, a
layout or a host copy error moves them by O(1). For scale: the CPU build against itself
with another block size for the PPO sums (which changes only rounding, in double) differs by
at most 1e-10 relative in the observables and 2.2e-7 in the losses over train_smoke's 6
iterations. Exit status 0 when
everything is inside, 1 with every difference printed otherwise, 2 for unreadable input.
"""
import sys

import numpy as np

# Arm states after dynamics_rate's 200 steps of 1 ms: |gpu - cpu| <= ATOL + RTOL |cpu| per value.
STATE_RTOL, STATE_ATOL = 1e-9, 1e-12

# Training history datasets: (rtol, atol) per name under training/; integers must be equal.
TRAINING_TOLERANCE = {
    "mean_return": (1e-4, 1e-9),
    "final_error": (1e-4, 1e-9),
    "quality": (1e-4, 1e-9),
    "entropy": (1e-4, 1e-9),
    "value_loss": (1e-3, 1e-9),
    "grad_norm": (1e-3, 1e-9),
    "learning_rate": (1e-12, 0.0),
    # Differences of nearly equal terms: their relative rounding is larger.
    "policy_loss": (1e-2, 1e-7),
    "approx_kl": (1e-2, 1e-7),
    # Fractions of samples or episodes past a threshold: a sample at the threshold may
    # fall either way; one in a few thousand samples.
    "clip_fraction": (0.0, 2e-3),
    "success_rate": (0.0, 2e-2),
}


def _close(name, a, b, rtol, atol):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return [f"{name}: shapes differ ({a.shape} vs {b.shape})"]
    bad = ~(np.abs(a - b) <= atol + rtol * np.abs(b))
    if not bad.any():
        return []
    i = np.flatnonzero(bad)[0]
    rel = np.max(np.abs(a - b)[bad] / np.maximum(np.abs(b[bad]), 1e-300))
    return [f"{name}: {bad.sum()} of {a.size} values outside rtol {rtol:g} atol {atol:g}; first at "
            f"{np.unravel_index(i, a.shape)}: {a.flat[i]!r} vs {b.flat[i]!r}; largest relative difference {rel:.3g}"]


def compare_states(gpu, cpu):
    a, b = np.loadtxt(gpu, ndmin=2), np.loadtxt(cpu, ndmin=2)
    diffs = _close("arm state", a, b, STATE_RTOL, STATE_ATOL)
    scale = np.maximum(np.abs(b), 1.0)
    print(f"states: {a.shape[0]} robots, largest |gpu - cpu| / max(|cpu|, 1) = {np.max(np.abs(a - b) / scale):.3g}"
          if a.shape == b.shape else "states: shapes differ")
    return diffs


def compare_training(gpu, cpu):
    import h5py
    diffs = []
    with h5py.File(gpu, "r") as fa, h5py.File(cpu, "r") as fb:
        for name in ("env_steps", "iteration", "training/episodes"):
            if not np.array_equal(fa[name][()], fb[name][()]):
                diffs.append(f"{name}: differs ({fa[name][()]} vs {fb[name][()]})")
        names = sorted(set(fa["training"]) | set(fb["training"]))
        for name in names:
            if name == "episodes":
                continue
            if name not in fa["training"] or name not in fb["training"]:
                diffs.append(f"training/{name}: in one history only")
                continue
            if name not in TRAINING_TOLERANCE:
                diffs.append(f"training/{name}: no tolerance stated in {__file__}")
                continue
            a, b = fa["training"][name][()], fb["training"][name][()]
            diffs += _close(f"training/{name}", a, b, *TRAINING_TOLERANCE[name])
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.nanmax(np.where(b != 0, np.abs(a - b) / np.abs(b), np.abs(a - b))) if a.size else 0.0
            print(f"training/{name}: largest relative difference {rel:.3g}")
    return diffs


def main(argv):
    if len(argv) != 4 or argv[1] not in ("states", "training"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        diffs = (compare_states if argv[1] == "states" else compare_training)(argv[2], argv[3])
    except (OSError, ValueError, KeyError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2
    for d in diffs:
        print(f"MISMATCH {argv[1]}: {d}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
