#!/usr/bin/env python3
"""The serial line of inputs/bench/serial_line.yaml in SimPy 3, for speed comparison.

Same model as kollektiv's: Poisson source, five stations with exponential service times
and unlimited buffers, a conveyor with a fixed transport time after each station but the
last, parts counted at the sink. Prints parts/s of wall time.

usage: simpy_serial_line.py [--end-time S] [--interval S] [--mean S ...] [--conveyor S]
"""
import argparse
import random
import time

import simpy


def run(end_time_s, interval_s, means_s, conveyor_s, seed=1):
    rng = random.Random(seed)
    env = simpy.Environment()
    buffers = [simpy.Store(env) for _ in means_s]
    done = [0]

    def source():
        k = 0
        while True:
            yield env.timeout(rng.expovariate(1.0 / interval_s))
            yield buffers[0].put(k)
            k += 1

    def conveyor(part, into):
        yield env.timeout(conveyor_s)
        yield into.put(part)

    def station(i):
        last = i == len(means_s) - 1
        while True:
            part = yield buffers[i].get()
            yield env.timeout(rng.expovariate(1.0 / means_s[i]))
            if last:
                done[0] += 1
            else:
                env.process(conveyor(part, buffers[i + 1]))

    env.process(source())
    for i in range(len(means_s)):
        env.process(station(i))
    t0 = time.perf_counter()
    env.run(until=end_time_s)
    return done[0], time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--end-time", type=float, default=200000.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--mean", type=float, nargs="+", default=[0.8, 0.7, 0.9, 0.75, 0.85])
    ap.add_argument("--conveyor", type=float, default=5.0)
    args = ap.parse_args()
    parts, wall = run(args.end_time, args.interval, args.mean, args.conveyor)
    print(f"RESULT engine=simpy parts={parts} wall_s={wall:.3f} parts_per_s={parts / wall:.0f}")


if __name__ == "__main__":
    main()
