"""dynamics_rate, the arm-step program of jobs/device_check.sh, on this build: a RESULT line
per size, the same state file bit for bit from two runs (and so from the two sizes of the
device check), compare.py content with it, and exit 2 with the reason for a bad option."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(exe, *args):
    return subprocess.run([exe, *args], capture_output=True, text=True)


def main(exe, work):
    os.makedirs(work, exist_ok=True)
    a, b = os.path.join(work, "a.txt"), os.path.join(work, "b.txt")
    p = run(exe, "--model", "planar2", "--sizes", "64,100", "--seconds", "0.01", "--state", a,
            "--state-robots", "33", "--state-steps", "20")
    assert p.returncode == 0, p.stdout + p.stderr
    results = re.findall(r"^RESULT bench=dynamics_rate backend=\S+ model=planar2 n=(\d+) steps=(\d+) "
                         r"robot_steps_per_s=(\S+) gflops=(\S+)$", p.stdout, re.M)
    assert [r[0] for r in results] == ["64", "100"], p.stdout
    assert all(int(r[1]) > 0 and float(r[2]) > 0 and float(r[3]) > 0 for r in results), p.stdout
    p = run(exe, "--model", "planar2", "--sizes", "8", "--seconds", "0.01", "--state", b,
            "--state-robots", "33", "--state-steps", "20")
    assert p.returncode == 0, p.stdout + p.stderr
    rows = open(a).read().splitlines()
    assert len(rows) == 33 and all(len(r.split()) == 4 for r in rows), rows[:3]
    assert open(a).read() == open(b).read(), "two runs wrote different states"
    assert any(float(x) != 0 for r in rows for x in r.split()[2:]), "the arms did not move"
    p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), "states", a, b], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    for args, message in [(["--sizes", "64,x"], "--sizes: expected a positive integer"),
                          (["--sizes", "0"], "--sizes: expected a positive integer"),
                          (["--seconds", "-1"], "--seconds: expected a positive number"),
                          (["--model"], "--model: expected a value"),
                          (["--robots", "3"], "unknown option --robots"),
                          (["--model", "nonesuch", "--sizes", "1"], "nonesuch")]:
        p = run(exe, *args)
        assert p.returncode == 2 and message in p.stderr, f"{args}: exit {p.returncode}\n{p.stderr}"
    print("dynamics_rate: results, states and errors as expected")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
