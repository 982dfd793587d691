"""compare.py, the GPU-against-CPU judge of jobs/device_check.sh, on made-up results: equal
and rounding-close results pass, a wrong value, a missing dataset, an unknown dataset or a
shape change fail with MISMATCH, unreadable input exits 2."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = os.path.join(HERE, "compare.py")


def run(*args):
    p = subprocess.run([sys.executable, COMPARE, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expect(code, args, text=None):
    rc, out = run(*args)
    assert rc == code, f"compare.py {' '.join(args)}: exit {rc}, expected {code}\n{out}"
    assert text is None or text in out, f"compare.py {' '.join(args)}: no '{text}' in\n{out}"


def history(path, change=None):
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        f["env_steps"] = np.arange(1, 7, dtype=np.int64) * 1024
        f["iteration"] = np.arange(1, 7, dtype=np.int64)
        g = f.create_group("training")
        g["episodes"] = np.full(6, 20, dtype=np.int64)
        for name in ("mean_return", "final_error", "quality", "entropy", "value_loss", "grad_norm",
                     "learning_rate", "policy_loss", "approx_kl", "clip_fraction", "success_rate"):
            g[name] = rng.uniform(0.1, 1.0, 6)
        if change:
            change(f)


def main():
    with tempfile.TemporaryDirectory() as d:
        p = lambda name: os.path.join(d, name)  # noqa: E731
        states = np.random.default_rng(1).normal(size=(64, 12))
        np.savetxt(p("cpu.txt"), states, fmt="%.17g")
        np.savetxt(p("gpu.txt"), states * (1 + 1e-12), fmt="%.17g")
        expect(0, ["states", p("gpu.txt"), p("cpu.txt")])
        wrong = states.copy()
        wrong[17, 3] += 1e-6
        np.savetxt(p("wrong.txt"), wrong, fmt="%.17g")
        expect(1, ["states", p("wrong.txt"), p("cpu.txt")], "MISMATCH states: arm state: 1 of 768 values")
        np.savetxt(p("short.txt"), states[:63], fmt="%.17g")
        expect(1, ["states", p("short.txt"), p("cpu.txt")], "shapes differ")
        expect(2, ["states", p("missing.txt"), p("cpu.txt")])

        history(p("cpu.h5"))
        history(p("close.h5"), lambda f: f["training/mean_return"].write_direct(f["training/mean_return"][()] * (1 + 1e-6)))
        expect(0, ["training", p("close.h5"), p("cpu.h5")])

        def off(f):
            v = f["training/final_error"][()]
            v[4] *= 1.01
            f["training/final_error"][...] = v
        history(p("off.h5"), off)
        expect(1, ["training", p("off.h5"), p("cpu.h5")], "MISMATCH training: training/final_error")

        def steps(f):
            f["env_steps"][...] = f["env_steps"][()] + 1
        history(p("steps.h5"), steps)
        expect(1, ["training", p("steps.h5"), p("cpu.h5")], "env_steps: differs")
        history(p("gone.h5"), lambda f: f["training"].__delitem__("entropy"))
        expect(1, ["training", p("gone.h5"), p("cpu.h5")], "training/entropy: in one history only")
        novel = lambda f: f["training"].create_dataset("novel", data=np.ones(6))  # noqa: E731
        history(p("new.h5"), novel)
        expect(1, ["training", p("new.h5"), p("cpu.h5")], "training/novel: in one history only")
        history(p("new2.h5"), novel)
        expect(1, ["training", p("new.h5"), p("new2.h5")], "training/novel: no tolerance stated")
        expect(2, ["training", p("none.h5"), p("cpu.h5")])
        expect(2, ["sideways", p("cpu.h5"), p("cpu.h5")])
    print("compare.py: every case as expected")


if __name__ == "__main__":
    main()
