#!/usr/bin/env python3
"""Reduces a failing fuzz input that is a mutated copy of a seed file (HDF5 checkpoints and
policies) to the fewest bytes that differ from the seed, by delta debugging over the
differing byte positions, so that the cause can be read off the remaining bytes.

  minimize_diff.py SEED FAILING OUT -- FUZZER [libFuzzer options]

A candidate fails if the fuzzer exits non-zero on it and, with --match REGEX, its output
matches REGEX (e.g. 'libFuzzer: timeout'). Writes the reduced input to OUT and prints the
remaining differences (offset, seed byte, new byte)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seed")
    p.add_argument("failing")
    p.add_argument("out")
    p.add_argument("--match", default=None)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    command = a.command[1:] if a.command and a.command[0] == "--" else a.command
    seed = open(a.seed, "rb").read()
    bad = open(a.failing, "rb").read()
    n = max(len(seed), len(bad))
    seed_p = seed.ljust(n, b"\0")
    bad_p = bad.ljust(n, b"\0")
    diffs = [i for i in range(n) if seed_p[i] != bad_p[i]]
    tmp = tempfile.NamedTemporaryFile(delete=False, suffix=".bin")
    tmp.close()
    tests = 0

    def build(subset):
        b = bytearray(seed_p)
        for i in subset:
            b[i] = bad_p[i]
        return bytes(b[: len(bad)])

    def fails(subset):
        nonlocal tests
        tests += 1
        with open(tmp.name, "wb") as f:
            f.write(build(subset))
        r = subprocess.run(command + [tmp.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode("utf-8", "replace")
        return r.returncode != 0 and (a.match is None or re.search(a.match, out) is not None)

    if not fails(diffs):
        sys.exit("minimize_diff.py: the failing input does not fail")
    # ddmin: try each chunk alone, then each complement, halving the chunk size.
    chunks = 2
    while len(diffs) >= 2:
        size = (len(diffs) + chunks - 1) // chunks
        parts = [diffs[i : i + size] for i in range(0, len(diffs), size)]
        for part in parts:
            if fails(part):
                diffs, chunks = part, 2
                break
        else:
            for k in range(len(parts)):
                rest = [i for j, q in enumerate(parts) if j != k for i in q]
                if fails(rest):
                    diffs, chunks = rest, max(chunks - 1, 2)
                    break
            else:
                if chunks >= len(diffs):
                    break
                chunks = min(2 * chunks, len(diffs))
        print(f"  {len(diffs)} differing bytes after {tests} runs", file=sys.stderr)
    with open(a.out, "wb") as f:
        f.write(build(diffs))
    os.unlink(tmp.name)
    print(f"{len(diffs)} byte(s) differ from the seed ({tests} runs):")
    for i in diffs:
        print(f"  offset {i} (0x{i:x}): {seed_p[i]:#04x} -> {bad_p[i]:#04x}")


if __name__ == "__main__":
    main()
