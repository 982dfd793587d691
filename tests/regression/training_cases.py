"""End-to-end regression cases of the kollektiv executable on a training deck.

Each case runs the real executable under mpiexec and checks a promise of DESIGN.md / issue 4:
  ranks     history and final checkpoint bitwise identical at 1, 2, 3 and 4 ranks
  restart   N iterations + restart + N more equals 2N, also onto a different rank count
            (learning-rate annealing off)
  anneal_restart  with annealing: a restart that changes the schedule's length is refused
            (exit 2); one that keeps it (ppo.anneal_iterations) equals a straight run
  signal    SIGUSR1 leaves a valid checkpoint and exit 4; continuing equals a straight run; an
            evaluation signalled during set-up exits 4 without a checkpoint
  learn     a short reach run on the 2-link arm (the deck with LEARN's settings) improves
            the mean episode return by at least --margin (mean of the last quarter of the
            rows with finished episodes minus the first quarter)
  sites     every sharing mode (allreduce, isolated, gossip, federated with private layers
            and stragglers) on the multi-site deck: bitwise identical at 1 to 4 ranks and
            across a restart onto another rank count; one exported policy per site
  skills    several skills in one run (inputs/train_skills_smoke.yaml: reach at two gossiping
            sites, weld, pick_place): bitwise identical at 1 to 4 ranks (a rank holding
            several skills, or one each) and across restarts 4->1 and 2->3 ranks; a restart
            that changes one skill's schedule is refused naming that skill; per-skill history,
            checkpoint groups, policies, RESULT lines and learning curves
  transfer  skill transfer and the skill library: a reach policy trained with LEARN's settings
            starts a fresh run (every layer and the normaliser taken over: its first finished
            episodes beat a run from scratch by --margin), a restart of that run needs no policy
            file and equals a straight run, the UR5 arm takes the matching observation
            segments of the planar arm's policy; wrong layers, widths, a normaliser of another
            observation, a missing file and a format-1 file's value network are exit 2 with
            nothing written; --list-skills lists the policies with their provenance
  export    the exported policy loads into an evaluation run, which prints a RESULT line
            and writes no checkpoint and no policy; a damaged policy file and a run larger
            than the machine are exit 2
  curriculum  precision weld with a curriculum (inputs/train_weld_precision_smoke.yaml):
            bitwise identical at 1 to 3 ranks and across restarts 2->3 and 3->1 between
            stage changes; the stage and the misses per tolerance in the history; a restart
            with another curriculum is refused (exit 2)
  scaling   postprocess/scaling_model.py projects runs of the sites deck (two modes, 1 and 2
            ranks) to 8 ... 100,000 GPUs with its constants' sources and a plot; --self-check

usage: training_cases.py CASE --exe KOLLEKTIV --mpiexec MPIEXEC --deck DECK --work DIR [--margin M]
"""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import (ENV, HistoryReader, Runner, check, text, latest, report, run_and_signal, same_files,  # noqa: E402
                   signal_while_reading_deck)

RESULT = re.compile(r"^RESULT skill=(\w+) iterations=(\d+) env_steps=(\d+) wall_s=([\d.]+) "
                    r"env_steps_per_s=(\d+) success=(\S+) quality=(\S+) reached_target=(yes|no)$", re.M)
NO_ANNEAL = ["--set", "training.ppo.anneal_learning_rate=false"]
# The learn case's run: long enough for a dozen rows of finished episodes on the smoke deck
# (50-step episodes, 16-step rollouts) and a learning rate at which 40 updates show progress.
# All episodes start at step 0 (no stagger), so that every return compared is of a whole
# 50-step episode (a staggered first episode is shorter and its return less negative).
LEARN = ["--set", "training.iterations=40", "--set", "training.ppo.learning_rate=0.003",
         "--set", "training.ppo.epochs=4", "--set", "training.common.stagger_start=false"]






def history(out):
    return os.path.join(out, "history.h5")


def iterations(out):
    with HistoryReader(history(out)) as h:
        return int(h.column("iteration")[-1])


def result_line(p, what):
    m = RESULT.search(p.stdout)
    check(m is not None, f"{what}: no RESULT line in\n{p.stdout[-2000:]}")
    return m


def case_ranks(r):
    ref = r.dir("np1")
    result_line(r.run(1, ref), "1 rank")
    for n in (2, 3, 4):
        out = r.dir(f"np{n}")
        r.run(n, out)
        same_files(history(ref), history(out), f"history at {n} ranks")
        same_files(latest(ref), latest(out), f"final checkpoint at {n} ranks")


SITE_MODES = {
    "allreduce": [],
    "isolated": [],
    "gossip": ["--set", "training.sharing.gossip.schedule=random_pairs"],
    "federated": ["--set", "training.sharing.federated.local_updates=2",
                  "--set", "training.sharing.federated.private=[policy.output, value]",
                  "--set", "training.sharing.federated.unavailable=0.4",
                  "--set", "training.sharing.federated.quorum=0.6"],
}


def case_sites(r):
    for mode, extra in SITE_MODES.items():
        args = ["--set", f"training.sharing.mode={mode}", *extra]  # the deck's annealing kept
        ref = r.dir(f"{mode}_np1")
        p = r.run(1, ref, *args)
        check(f"sharing {mode}" in p.stdout, f"{mode}: the header does not name the sharing mode:\n{p.stdout[:800]}")
        for n in (2, 4):
            out = r.dir(f"{mode}_np{n}")
            r.run(n, out, *args)
            same_files(history(ref), history(out), f"{mode}: history at {n} ranks")
            same_files(latest(ref), latest(out), f"{mode}: final checkpoint at {n} ranks")
        total = iterations(ref)
        out = r.dir(f"{mode}_restart")
        r.run(3, out, *args, "--set", f"training.iterations={total // 2}",
              "--set", f"training.ppo.anneal_iterations={total}")
        r.run(2, out, *args, "--set", f"training.ppo.anneal_iterations={total}", "--restart", "latest")
        same_files(history(ref), history(out), f"{mode}: history after a restart 3->2 ranks")
        same_files(latest(ref), latest(out), f"{mode}: final checkpoint after a restart 3->2 ranks")
        with HistoryReader(history(ref)) as h:
            for site in ("north", "south", "near", "far"):
                check(f"sites/{site}/episodes" in h, f"{mode}: no history of site {site}")
            if mode == "allreduce":
                check("training/disagreement" not in h, "allreduce has one replica: no disagreement")
                check(os.path.exists(os.path.join(ref, "policy.h5")), "allreduce: no policy.h5")
            else:
                d = h.column("training/disagreement")
                rounds = h.column("training/sharing_rounds")
                check(all(x >= 0 for x in d), f"{mode}: negative disagreement {d}")
                for site in ("north", "south", "near", "far"):
                    check(os.path.exists(os.path.join(ref, f"policy_{site}.h5")), f"{mode}: no policy of {site}")
                if mode == "isolated":
                    check(all(x == 0 for x in rounds), f"isolated shares nothing: rounds {rounds}")
                    check(d[-1] > d[0], f"isolated replicas drift apart: disagreement {d}")
                if mode == "gossip":
                    check(list(rounds) == list(range(1, total + 1)), f"gossip after every update: rounds {rounds}")
                if mode == "federated":
                    check(int(rounds[-1]) == total // 2, f"federated every 2 updates: rounds {rounds}")


def case_scaling(r):
    """postprocess/scaling_model.py on runs of the sites deck at 1 and 2 ranks in two modes:
    a projection table per mode at 8 to 100,000 GPUs, the sources of its constants, a plot;
    and its own identities (--self-check)."""
    runs = []
    for mode in ("allreduce", "gossip"):
        for n in (1, 2):
            out = r.dir(f"{mode}_np{n}")
            p = r.run(n, out, "--set", f"training.sharing.mode={mode}")
            with open(os.path.join(out, "stdout.log"), "w") as f:
                f.write(p.stdout)
            runs.append(out)
    script = os.path.join(ROOT, "postprocess", "scaling_model.py")
    plot = os.path.join(r.work, "scaling.png")
    p = subprocess.run([sys.executable, script, *runs, "--plot", plot], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"scaling_model.py: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    for mode in ("allreduce", "gossip"):
        check(f"== {mode}: compute" in p.stdout, f"no projection of {mode}:\n{p.stdout[-3000:]}")
    for gpus in ("      8 ", "  1,000 ", " 10,000 ", "100,000 "):
        check(f"\n{gpus}" in p.stdout, f"no row for {gpus.strip()} GPUs:\n{p.stdout[-3000:]}")
    check("Llama 3" in p.stdout, f"the failure rate's source is not printed:\n{p.stdout[-3000:]}")
    # The measured calls per iteration equal the model's fallback counts of this build: a
    # change to the collectives the code issues shows up here.
    for own, diagnostics, fallback in re.findall(
            r"collective calls per iteration (\S+) own \+ (\S+) diagnostics \(measured.*?fallback count: (\S+ \+ \S+)\)",
            p.stdout):
        check(f"{own} + {diagnostics}" == fallback, f"measured calls {own} + {diagnostics}, fallback count {fallback}")
    check(p.stdout.count("(measured: timings/collectives_max") == 2, f"calls not measured:\n{p.stdout[-3000:]}")
    check(os.path.exists(plot) and os.path.getsize(plot) > 0, "no plot")
    p = subprocess.run([sys.executable, script, "--self-check"], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0 and "self-check: passed" in p.stdout, f"self-check failed:\n{p.stdout}\n{p.stderr}")


def case_restart(r):
    full = r.dir("full")
    r.run(2, full, *NO_ANNEAL)
    total = iterations(full)
    half = total // 2
    check(half >= 1, f"the deck runs {total} iterations; the restart case needs at least 2")
    for first, second in ((2, 2), (2, 3), (4, 1)):
        out = r.dir(f"split_{first}_{second}")
        r.run(first, out, *NO_ANNEAL, "--set", f"training.iterations={half}")
        p = r.run(second, out, *NO_ANNEAL, "--restart", "latest")
        check("restarted from" in p.stdout, "restart does not say where it restarted from")
        same_files(history(full), history(out), f"history after restart {first}->{second} ranks")
        same_files(latest(full), latest(out), f"final checkpoint after restart {first}->{second} ranks")


def case_anneal_restart(r):
    """The learning rate anneals over the schedule's length, which a checkpoint keeps: a
    restart that would change it is refused; one that keeps it continues bit for bit."""
    full = r.dir("anneal_full")
    r.run(2, full)
    total = iterations(full)
    half = total // 2
    out = r.dir("anneal_split")
    r.run(2, out, "--set", f"training.iterations={half}")
    p = r.run(2, out, "--restart", "latest", expect=2)
    check("anneals the learning rate over" in p.stderr and f"anneal_iterations={half}" in p.stderr,
          f"a restart that changes the schedule: {p.stderr}")
    out = r.dir("anneal_kept")
    r.run(2, out, "--set", f"training.iterations={half}", "--set", f"training.ppo.anneal_iterations={total}")
    r.run(3, out, "--restart", "latest")
    same_files(history(full), history(out), "annealed history after restart")
    same_files(latest(full), latest(out), "annealed final checkpoint after restart")


def case_signal(r):
    # The deck's own annealing, over the 400 iterations of the signalled run (kept below).
    anneal = ["--set", "training.ppo.anneal_iterations=400"]
    settings = ["--set", "training.iterations=400"] + anneal
    out = r.dir("signalled")
    run_and_signal(r, 2, out, settings, "iter ")
    stopped_at = iterations(out)
    check(stopped_at < 400, "the signal did not stop the run early")
    # An evaluation run stopped by a signal (here one that came while it was still setting
    # up) exits 4 and says so, without a checkpoint.
    policy_dir = r.dir("policy")
    r.run(2, policy_dir, "--set", "training.iterations=2")
    evaluated = r.dir("eval_signalled")
    code, stdout, stderr = signal_while_reading_deck(
        r, r.deck, evaluated, "--set", f"training.policy_file={os.path.join(policy_dir, 'policy.h5')}",
        # the deck is read from a FIFO elsewhere: its robot file by absolute path
        "--set", f"training.robot={os.path.join(os.path.dirname(os.path.abspath(r.deck)), 'robots', 'planar2.yaml')}",
        "--set", "training.eval_episodes=50")
    check(code == 4 and "of an evaluation, which writes no checkpoint" in stdout,
          f"signalled evaluation: exit {code}\n{stdout[-2000:]}\n{stderr[-2000:]}")
    ckpts = os.path.join(evaluated, "checkpoints")
    check(not os.path.isdir(ckpts) or not os.listdir(ckpts), "a signalled evaluation wrote a checkpoint")
    # Continue to a few iterations past the stop and compare with a straight run that long.
    end = ["--set", f"training.iterations={stopped_at + 3}"] + anneal
    r.run(3, out, "--restart", "latest", *end)
    straight = r.dir("straight")
    r.run(2, straight, *end)
    same_files(history(straight), history(out), "history after signal and restart")
    same_files(latest(straight), latest(out), "final checkpoint after signal and restart")


def finished_returns(out):
    with HistoryReader(history(out)) as h:
        ret = h.column("training/mean_return")
        steps = h.column("env_steps")
    keep = ~np.isnan(ret)
    return ret[keep], steps[keep]


def case_learn(r, margin):
    out = r.dir("learn")
    p = r.run(2, out, *LEARN)
    result_line(p, "learning run")
    ret, _ = finished_returns(out)
    check(len(ret) >= 4, f"only {len(ret)} history rows with finished episodes; the deck is too short")
    k = max(1, len(ret) // 4)
    first, last = float(np.mean(ret[:k])), float(np.mean(ret[-k:]))
    print(f"mean return: first {k} rows {first:.4f}, last {k} rows {last:.4f}, gain {last - first:.4f} "
          f"(required {margin})")
    check(last - first >= margin, f"mean return improved by {last - first:.4f} < {margin}: {ret}")


def case_export(r):
    out = r.dir("train")
    p = r.run(2, out)
    m = result_line(p, "training run")
    policy = os.path.join(out, "policy.h5")
    check(os.path.exists(policy), "no exported policy")
    with h5py.File(policy, "r") as f:
        check(text(f.attrs["format"]) == "kollektiv-policy", "policy file format attribute")
        check("kollektiv" in text(f.attrs["build_info"]), "policy without build_info")
        check("training" in text(f.attrs["deck"]), "policy without the deck text")
        widths = list(f["widths"][:])
        check(len(f["parameters"]) > widths[0] * widths[1], "policy parameters missing")
    evaluated = r.dir("eval")
    p = r.run(3, evaluated, "--set", f"training.policy_file={policy}", "--set", "training.eval_episodes=2")
    m = result_line(p, "evaluation run")
    if m:
        check(m.group(1) == "reach" or m.group(1) in ("weld", "pick_place"), "RESULT skill")
        check(not math.isnan(float(m.group(6))), f"evaluation success is NaN: {m.group(0)}")
    check("evaluation of" in p.stdout, "evaluation summary line missing")
    check(not os.path.exists(os.path.join(evaluated, "policy.h5")), "an evaluation run exported a policy")
    ckpts = os.path.join(evaluated, "checkpoints")
    check(not os.path.isdir(ckpts) or not os.listdir(ckpts), "an evaluation run wrote checkpoints")
    with HistoryReader(history(evaluated)) as h:
        check(h.rows >= 1 and "training/success_rate" in h, "evaluation history rows")
    # A policy file is untrusted input: normaliser arrays shorter than the observation (an
    # out-of-bounds read once) and a forged dataset size are clear errors, exit 2.
    for what, change in (("short normaliser", "short"), ("forged size", "forged")):
        bad = os.path.join(r.dir("bad_" + change), "policy.h5")
        os.makedirs(os.path.dirname(bad))
        shutil.copy(policy, bad)
        with h5py.File(bad, "r+") as f:
            if change == "short":
                mean = f["normalizer/mean"][:]
                del f["normalizer/mean"]
                f["normalizer/mean"] = mean[:3]
            else:
                del f["parameters"]
                f.create_dataset("parameters", shape=(10**12,), dtype="f8", chunks=(1024,))
        p = r.run(2, r.dir("eval_" + change), "--set", f"training.policy_file={bad}", expect=2)
        check(("normaliser" in p.stderr) if change == "short" else ("declares 1000000000000 elements" in p.stderr),
              f"{what}: {p.stderr[-2000:]}")
    # A deck that does not fit the machine is refused before anything is allocated or written.
    big = r.dir("too_big")
    p = r.run(2, big, "--set", "training.robots=2000000000", "--set", "training.horizon=1024", expect=2)
    check("training does not fit" in p.stderr and not os.path.exists(big), f"an oversized run: {p.stderr}")
    p = r.run(2, big, "--set", "training.robots=4000000", "--set", "training.horizon=512", expect=2)
    check("GiB" in p.stderr and "available per rank" in p.stderr and not os.path.exists(big),
          f"a run larger than memory: {p.stderr}")
    # The evaluation is deterministic: the same statistics at another rank count.
    again = r.dir("eval_np1")
    q = r.run(1, again, "--set", f"training.policy_file={policy}", "--set", "training.eval_episodes=2")
    m2 = result_line(q, "evaluation at 1 rank")
    if m and m2:
        check(m.group(6, 7) == m2.group(6, 7), f"evaluation differs with the rank count: {m.group(0)} vs {m2.group(0)}")
    same_files(history(evaluated), history(again), "evaluation history at 3 and 1 ranks")
    # The learning-curve script draws the training history (return, success, quality and
    # final error against env-steps and wall time).
    with HistoryReader(history(out)) as h:
        check("training/final_error" in h, "history without training/final_error")
    plots = r.dir("plots")
    os.makedirs(plots)
    png = os.path.join(plots, "curves.png")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "postprocess", "plot_learning.py")
    plot = subprocess.run([sys.executable, script, history(out), history(evaluated), "--out", png],
                          capture_output=True, text=True)
    check(plot.returncode == 0, f"plot_learning.py failed: {plot.stderr[-2000:]}")
    check(os.path.exists(png) and os.path.getsize(png) > 10000, "plot_learning.py drew no PNG")



SKILLS = ("reachers", "welders", "pickers")


def case_skills(r):
    ref = r.dir("np1")
    p = r.run(1, ref)
    for name in SKILLS:
        check(re.search(rf"^RESULT skill=\w+ iterations=6 .* name={name}$", p.stdout, re.M) is not None,
              f"no RESULT line of skill {name}:\n{p.stdout[-2000:]}")
    check("training 3 skills on 1 ranks" in p.stdout, f"header:\n{p.stdout[:1500]}")
    for n in (2, 3, 4):
        out = r.dir(f"np{n}")
        q = r.run(n, out)
        same_files(history(ref), history(out), f"history at {n} ranks")
        same_files(latest(ref), latest(out), f"final checkpoint at {n} ranks")
        if n == 4:
            for line in ("skill reachers: reach on 32 planar2 robots (13 observations, 2 actions, 3109 parameters) on "
                         "ranks 0-1", "skill welders: weld on 16 ur5 robots", "on ranks 2-2", "on ranks 3-3"):
                check(line in q.stdout, f"4 ranks: no '{line}' in the header:\n{q.stdout[:1500]}")
    with HistoryReader(history(ref)) as h:
        for name in SKILLS:
            for column in ("training/episodes", "training/mean_return", "training/policy_loss"):
                check(f"skills/{name}/{column}" in h, f"history without skills/{name}/{column}")
        check("skills/reachers/sites/north/episodes" in h and "skills/reachers/training/disagreement" in h,
              "history without the reachers' sites and disagreement")
        for name in SKILLS:
            check(f"timings/skills/{name}/bytes_sent_max" in h and f"timings/skills/{name}/communication_s_max" in h,
                  f"history without the bytes and communication time of skill {name}")
        check("training/episodes" not in h and list(h.column("env_steps")) == [k * 56 * 16 for k in range(1, 7)],
              "a run of several skills counts env-steps over all of them")
    with h5py.File(latest(ref), "r") as f:
        for name in SKILLS:
            check(f"skills/{name}/fleet/q" in f, f"checkpoint without skills/{name}/fleet")
        check("skills/reachers/replicas/parameters" in f and "skills/welders/learner/parameters" in f,
              "checkpoint without the skills' learners")
        check(text(f.attrs["skills"]) == "reachers,welders,pickers", "checkpoint attribute skills")
    for policy in ("policy_reachers_north.h5", "policy_reachers_south.h5", "policy_welders.h5", "policy_pickers.h5"):
        check(os.path.exists(os.path.join(ref, policy)), f"no {policy}")
    # The learning-curve script draws one line per skill.
    png = os.path.join(ref, "curves.png")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "postprocess", "plot_learning.py")
    plot = subprocess.run([sys.executable, script, history(ref), "--out", png], capture_output=True, text=True)
    check(plot.returncode == 0 and os.path.getsize(png) > 10000, f"plot_learning.py on several skills: {plot.stderr}")
    keep = [x for k in range(3) for x in ("--set", f"training.skills.{k}.ppo.anneal_iterations=6")]
    for first, second in ((4, 1), (2, 3)):
        out = r.dir(f"restart_{first}_{second}")
        r.run(first, out, "--set", "training.iterations=3", *keep)
        r.run(second, out, *keep, "--restart", "latest")
        same_files(history(ref), history(out), f"history after a restart {first}->{second} ranks")
        same_files(latest(ref), latest(out), f"final checkpoint after a restart {first}->{second} ranks")
    # A skill of several starts from a policy; a transfer it cannot take names that skill.
    welders = os.path.join(ref, "policy_welders.h5")
    p = r.run(3, r.dir("transfer"), "--set", f"training.skills.1.transfer.policy={welders}")
    check(f"transfer of skill welders from {welders} (weld on ur5, 1536 env-steps)" in p.stdout,
          f"transfer into a skill of several:\n{p.stdout[:2000]}")
    out = r.dir("transfer_refused")
    p = r.run(3, out, "--set", f"training.skills.2.transfer.policy={welders}",
              "--set", "training.skills.2.transfer.normalizer=take", expect=2)
    check("training.skills.2.transfer in deck" in p.stderr and "normalizer: take needs the same observation" in p.stderr
          and not os.path.exists(out), f"refused transfer into a skill of several:\n{p.stderr}")
    out = r.dir("refused")
    r.run(2, out, "--set", "training.iterations=3", *keep)
    p = r.run(2, out, *keep[:4], "--set", "training.skills.2.ppo.anneal_iterations=5", "--restart", "latest",
              expect=2)
    check("--set training.skills.2.ppo.anneal_iterations=6" in p.stderr, f"changed schedule of one skill:\n{p.stderr}")


def first_finished_return(out):
    with HistoryReader(history(out)) as h:
        episodes, returns = h.column("training/episodes"), h.column("training/mean_return")
    rows = [float(x) for n, x in zip(episodes, returns) if n > 0]
    check(len(rows) > 0, f"{out}: no episode finished")
    return rows[0] if rows else float("nan")


def case_transfer(r, margin):
    # The source: reach on the planar arm, trained until it has learned something.
    source = r.dir("source")
    r.run(2, source, *LEARN)
    policy = os.path.join(source, "policy.h5")
    with h5py.File(policy, "r") as f:
        check(int(f.attrs["format_version"]) == 2, "policy format version")
        check(text(f.attrs["skill"]) == "reach" and text(f.attrs["robot"]) == "planar2", "policy skill and robot")
        check(int(f.attrs["dof"]) == 2 and int(f.attrs["iterations"]) == 40, "policy dof and iterations")
        check(int(f.attrs["env_steps"]) == 40 * 64 * 16 and int(f.attrs["seed"]) == 7, "policy env_steps and seed")
        check(text(f.attrs["observation_layout"]) ==
              "joint_angles:4,joint_velocities:2,tool_position:3,goal_offset:3,episode_time:1", "observation layout")
        check(text(f.attrs["action_layout"]) == "joints:2", "action layout")
        check(list(f["value/widths"][:]) == [13, 32, 32, 1], "value network widths")
    # Every layer and the normaliser: the first finished episodes of the new run are the
    # learned policy's, far better than those of a run from scratch.
    fresh_settings = ["--set", "training.iterations=6", "--set", "training.ppo.anneal_iterations=6",
                      "--set", "training.common.stagger_start=false"]
    scratch = r.dir("scratch")
    r.run(2, scratch, *fresh_settings)
    moved = os.path.join(r.dir("library"), "reach", "planar2.h5")
    os.makedirs(os.path.dirname(moved))
    shutil.copy(policy, moved)
    transfer = ["--set", f"training.transfer.policy={moved}"]
    started = r.dir("transfer")
    p = r.run(2, started, *fresh_settings, *transfer)
    for line in ("transfer from", "policy.0 (13 → 32): inputs of joint_angles, joint_velocities, tool_position, "
                 "goal_offset, episode_time, all outputs", "value.2 (32 → 1)", "normalizer: taken over"):
        check(line in p.stdout, f"transfer report without '{line}':\n{p.stdout[-2000:]}")
    gain = first_finished_return(started) - first_finished_return(scratch)
    check(gain >= margin, f"transferred policy's first episodes gain {gain:.3f} over scratch, expected >= {margin}")
    # A restart continues from the checkpoint, without the policy file, bit for bit.
    split = r.dir("transfer_split")
    r.run(2, split, *fresh_settings, *transfer, "--set", "training.iterations=3")
    os.rename(moved, moved + ".away")
    r.run(3, split, *fresh_settings, *transfer, "--restart", "latest")
    os.rename(moved + ".away", moved)
    same_files(history(started), history(split), "transfer run restarted 2->3 ranks")
    same_files(latest(started), latest(split), "transfer run's final checkpoint after a restart")
    # Another robot: the UR5 arm shares tool_position, goal_offset and episode_time with the
    # planar arm, not its joints; the normaliser starts fresh and `take` is refused.
    ur5_deck = os.path.join(os.path.dirname(r.deck), "train_reach_ur5.yaml")
    ur5 = ["--set", "training.robots=16", "--set", "training.horizon=8", "--set", "training.iterations=1",
           "--set", "training.ppo.policy_hidden=[32, 32]", "--set", "training.ppo.value_hidden=[32, 32]",
           "--set", "training.ppo.minibatches=1", "--set", "training.ppo.robots_per_block=16", *transfer]
    p = r.run(1, r.dir("ur5"), *ur5, deck=ur5_deck)
    for line in ("policy.0 (25 → 32): inputs of tool_position, goal_offset, episode_time, all outputs",
                 "policy.2 (32 → 6): fresh, no action in common", "policy.log_std: fresh, no action in common",
                 "value.2 (32 → 1): all inputs, all outputs", "normalizer: fresh"):
        check(line in p.stdout, f"UR5 transfer report without '{line}':\n{p.stdout[-2000:]}")
    refused = [
        (["--set", "training.transfer.normalizer=take"], "normalizer: take needs the same observation"),
        (["--set", "training.transfer.layers=[policy.2]"], "policy.2: no action in common"),
        (["--set", "training.ppo.policy_hidden=[16, 16]", "--set", "training.transfer.layers=[policy.1]"],
         "policy.1 maps 32 → 32 in " + moved + ", 16 → 16 here; hidden widths must be equal"),
    ]
    for extra, message in refused:
        out = r.dir("refused")
        p = r.run(1, out, *ur5, *extra, deck=ur5_deck, expect=2)
        check(message in p.stderr and "training.transfer in deck" in p.stderr, f"expected '{message}':\n{p.stderr}")
        check(not os.path.exists(out), f"a refused transfer wrote {out}")
    out = r.dir("missing")
    p = r.run(1, out, *fresh_settings, "--set", f"training.transfer.policy={moved}.nothing", expect=2)
    check("does not exist" in p.stderr and not os.path.exists(out), f"missing policy file: {p.stderr}")
    p = r.run(1, out, *fresh_settings, *transfer, "--set", "training.transfer.layers=[policy.7]", expect=2)
    check("expected policy, policy.<k> (k < 3)" in p.stderr, f"unknown layer name: {p.stderr}")
    # A policy of format 1 (before value networks and layouts): its policy layers transfer,
    # its value network is named as missing.
    old = os.path.join(r.dir("old"), "policy_v1.h5")
    os.makedirs(os.path.dirname(old))
    shutil.copy(policy, old)
    with h5py.File(old, "r+") as f:
        del f["value"]
        for a in ("robot", "dof", "observation_layout", "action_layout", "site", "seed", "iterations", "env_steps"):
            del f.attrs[a]
        f.attrs["format_version"] = np.int64(1)
    p = r.run(1, r.dir("from_v1"), *fresh_settings, "--set", f"training.transfer.policy={old}", expect=2)
    check("holds no value network" in p.stderr, f"format-1 value network: {p.stderr}")
    p = r.run(1, r.dir("from_v1"), *fresh_settings, "--set", f"training.transfer.policy={old}",
              "--set", "training.transfer.layers=[policy]")
    check("policy.0 (13 → 32): all inputs, all outputs" in p.stdout, f"format-1 transfer:\n{p.stdout[-2000:]}")
    # The skill library: every policy under a directory, with its provenance.
    shutil.copy(os.path.join(started, "policy.h5"), os.path.join(os.path.dirname(moved), "planar2_again.h5"))
    listing = subprocess.run(r.command(1, "--list-skills", os.path.dirname(os.path.dirname(moved))), env=ENV,
                             capture_output=True, text=True)
    check(listing.returncode == 0, f"--list-skills: exit {listing.returncode}\n{listing.stderr}")
    rows = [line.split() for line in listing.stdout.splitlines()]
    check(rows and rows[0][:4] == ["file", "skill", "robot", "layers"], f"--list-skills header:\n{listing.stdout}")
    check(["reach/planar2.h5", "reach", "planar2", "13-32-32-2", "-", "40960", "7"] in [x[:7] for x in rows] and
          "2 policies in" in listing.stdout, f"--list-skills rows:\n{listing.stdout}")
    again = [x for x in rows if x and x[0] == "reach/planar2_again.h5"]
    check(again and again[0][-1] == f"({moved})", f"--list-skills does not say where a policy started:\n{listing.stdout}")
    listing = subprocess.run(r.command(2, "--list-skills", moved), env=ENV, capture_output=True, text=True)
    check(listing.returncode == 2 and "is not a directory" in listing.stderr, f"--list-skills on a file: {listing}")


def case_curriculum(r):
    ref = r.dir("np1")
    p = r.run(1, ref)
    straight_stdout = p.stdout
    check(os.path.isfile(os.path.join(ref, "finished")), "a training run to its end wrote no finished marker")
    check("curriculum: stage 2 of 3 (tolerances x2)" in p.stdout and "curriculum: stage 3 of 3" in p.stdout,
          f"stage changes not reported:\n{p.stdout[-2000:]}")
    check("missed (fraction of the seam length" in p.stdout, "no breakdown of the misses at the end")
    for n in (2, 3):
        out = r.dir(f"np{n}")
        r.run(n, out)
        same_files(history(ref), history(out), f"history at {n} ranks")
        same_files(latest(ref), latest(out), f"final checkpoint at {n} ranks")
    with HistoryReader(history(ref)) as h:
        stage = np.asarray(h.column("training/curriculum_stage"))
        scale = np.asarray(h.column("training/tolerance_scale"))
        check(list(stage) == sorted(stage) and stage[0] == 0 and stage[-1] == 2,
              f"the stage should rise from 0 to 2: {list(stage)}")
        check(np.array_equal(scale, np.array([4.0, 2.0, 1.0])[stage]), f"tolerance scales {list(scale)}")
        for cause in ("lateral", "standoff", "speed", "work_angle", "travel_angle", "unfinished"):
            v = np.asarray(h.column("training/miss_" + cause))
            finished = np.asarray(h.column("training/episodes")) > 0
            check(np.all((v[finished] >= 0) & (v[finished] <= 1)), f"miss_{cause} outside [0, 1]: {v}")
    total = iterations(ref)
    for first, second, at in ((2, 3, 3), (3, 1, 5)):
        out = r.dir(f"split_{first}_{second}")
        r.run(first, out, "--set", f"training.iterations={at}", "--set", f"training.ppo.anneal_iterations={total}")
        p = r.run(second, out, "--restart", "latest")
        check("restarted from" in p.stdout, "restart does not say where it restarted from")
        same_files(history(ref), history(out), f"history after restart {first}->{second} ranks at {at} of {total}")
        same_files(latest(ref), latest(out), f"final checkpoint after restart {first}->{second} ranks")
    # Continued at its end already, the run prints the misses of its last iteration from the
    # checkpoint, as the straight run did.
    p_end = r.run(2, out, "--restart", "latest")
    missed = lambda text: [line for line in text.splitlines() if line.startswith("missed (")]
    check(missed(p_end.stdout) and missed(p_end.stdout) == missed(straight_stdout),
          f"misses after a restart at the end:\n{missed(p_end.stdout)}\nstraight:\n{missed(straight_stdout)}")
    out = r.dir("changed")
    r.run(2, out, "--set", "training.iterations=3", "--set", f"training.ppo.anneal_iterations={total}")
    p = r.run(2, out, "--restart", "latest", "--set", "training.curriculum.1.tolerance_scale=3", expect=2)
    check("was written for a different robot, skill, learner or seed" in p.stderr,
          f"a restart with another curriculum: {p.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["ranks", "restart", "anneal_restart", "signal", "learn", "export", "sites",
                                       "transfer", "skills", "scaling", "curriculum"])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--deck", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--margin", type=float, default=1.0, help="learn: required gain of the mean episode return")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    r = Runner(args)
    if args.case in ("learn", "transfer"):
        globals()["case_" + args.case](r, args.margin)
    else:
        globals()["case_" + args.case](r)
    return report()


if __name__ == "__main__":
    sys.exit(main())
