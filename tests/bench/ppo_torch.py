#!/usr/bin/env python3
"""PPO training throughput: kollektiv against a CleanRL-style PyTorch PPO, same task, same run.

A benchmark, not a test (not registered in CTest or CI). It produces the PyTorch figure of
README.md's "Benchmarks" table ("training env-steps/s end to end, inputs/train_reach.yaml").

usage: python3 tests/bench/ppo_torch.py [--iterations N] [--kollektiv-ranks R] [--skip-kollektiv]
           [--repeat K] [--mode auto|eager|jit|compile] [--torch-config auto|ompT+blasB]
           [--deck inputs/train_reach.yaml] [--exe build/app/kollektiv] [--seed S]
       python3 tests/bench/ppo_torch.py --eval-policy OUTPUT/policy.h5     (the task check below)

Needs Debian's python3-torch and python3-yaml (`apt-get install -y python3-torch`; run
`apt-get update` first if apt cannot find it); without torch it says so and exits 2. Started by
another interpreter (a pyenv python3), it re-runs itself under /usr/bin/python3 when that one
has torch. A current PyTorch from PyPI is measured by running the script with the interpreter
that has it, e.g. `python3 -m venv /tmp/t && /tmp/t/bin/pip install torch numpy pyyaml &&
/tmp/t/bin/python tests/bench/ppo_torch.py ...` (PyTorch 2.15 with MKL and torch.compile ran
this task 1.5-2x faster than Debian's 1.13).

What it does, in one invocation:
 1. Reads the deck as kollektiv resolves it (`kollektiv DECK --validate`: every key, defaults
    filled in; without the executable, the deck file over a copy of the documented defaults)
    and the robot file it names.
 2. Finds PyTorch's best configuration on this machine (unless --mode and --torch-config name
    one): each candidate trains --probe-iterations iterations in a fresh process, the fastest
    is used. Candidates: eager; TorchScript (torch.jit.script of the physics); torch.compile of
    the physics, of the networks' acting pass and of the minibatch loss (forward and backward)
    where the installed torch has it (Debian 12's 1.13 has not), each with
    torch.set_num_threads(cores) and OpenBLAS on 1 thread, with both on all cores, and with
    torch on 1 thread and OpenBLAS on all cores. Thread settings matter on Debian's build:
    torch's OpenMP threads and OpenBLAS's own pthreads both spin on the same 2 cores, and
    set_num_threads(2) with OpenBLAS's default is 3-4x slower than either alternative. OpenBLAS
    runs the kernels of the CPU's widest vector instructions (OPENBLAS_CORETYPE SkylakeX with
    AVX-512, Haswell with AVX2, unless set): Debian 12's OpenBLAS falls back to its SSE3 kernels
    on CPUs newer than it (Sapphire Rapids), 4x slower there.
 3. Runs kollektiv: `mpirun -np R --oversubscribe --bind-to none build/app/kollektiv DECK
    --set training.iterations=N --output TMP --overwrite` (OMPI_ALLOW_RUN_AS_ROOT=1), and takes
    its rate over iterations 2..N, the window of the torch figure, from the history's
    timings/wall_s and env_steps (read with h5py: this interpreter's or Debian's
    python3-h5py; without h5py, the RESULT line's env_steps_per_s, over all N iterations and
    the final checkpoint), the last iteration's return and final error from its progress lines.
 4. Runs the same PPO in PyTorch for the same N iterations, in the chosen configuration
    (--repeat K: steps 3 and 4 K times, alternately; the rates are medians), and prints
      RESULT bench=ppo_reach kollektiv_env_steps_per_s=X kollektiv_window=2..N
             kollektiv_all_iterations_env_steps_per_s=X1 torch_env_steps_per_s=Y ratio=X/Y
             pair_ratio_median=.. pair_ratios=r1,..,rK (each repeat's kollektiv rate over the
             torch rate of the run right after it)
             torch_rollout_ms=.. torch_update_ms=.. kollektiv_rollout_ms=.. kollektiv_update_ms=..
             rollout_ratio=.. update_ratio=.. (where the time goes, per iteration, medians:
             the rollout is acting and physics, kollektiv's physics and inference phases; the
             update is the rest, from the bootstrap values and GAE on, kollektiv's update and
             communication phases, from its history's timings over iterations 2..N; without
             h5py these fields are left out)
             torch=VERSION threads=T blas_threads=B mode=M iterations=N repeat=K kollektiv_ranks=R
             kollektiv_return=.. kollektiv_success=.. kollektiv_error_m=..
             torch_return=.. torch_success=.. torch_error_m=..
    on one line; return, success and final error are those of the episodes that ended in the
    last iteration that had any, to check that the torch learner learns too.

The PyTorch side, at its best: float32 throughout, the rollout under torch.no_grad(), the
environment batched over all robots (one tensor op acts on every robot, resets only on the
robots whose episode ended), log-probabilities from the drawn noise, no entropy term when its
coefficient is 0. Its rate is env-steps over the wall time of iterations 2..N (rollout, update,
episode statistics): the first iteration (lazy allocation, JIT warm-up) is left out, and so is
kollektiv's (its set-up, first touches of its memory); kollektiv's figure still includes
writing its history file every iteration, which the torch run does not do.

Task check (--eval-policy POLICY_H5): runs the policy that a kollektiv training run exported
deterministically for one episode per robot in this script's environment and, with the
executable, in kollektiv's evaluation mode (training.policy_file), and prints an EVAL line for
each. With the policy of a full inputs/train_reach.yaml run the two agreed on mean final error
(0.0863 m here vs 0.0850 m in kollektiv), quality (0.896 vs 0.901) and success (0.83 vs 0.87;
different random targets): the two environments are the same task.

Task (reach with the 2-link planar arm, inputs/robots/planar2.yaml), as in
solvers/skills/fleet.cpp and solvers/dynamics/step.hpp:
  * dynamics: closed-form 2-link manipulator (Spong, Hutchinson, Vidyasagar 2006, eq.
    7.87-7.89, the same closed form tests/unit/dynamics/test_dynamics.cpp checks kollektiv's
    CRBA/RNEA/ABA against), masses, centres of mass, inertias (izz about the centre of mass),
    armature, viscous damping, effort and velocity limits and gravity from the robot file;
    the control held over the control period, `substeps` substeps of semi-implicit Euler (or
    RK4 if the deck says so); actuator command PD (pd_delta: target = q + action_scale * a,
    pd_target: initial_q + action_scale * a) or torque (action_scale * a), a clipped to
    [-1, 1], plus gravity compensation g(q), saturated at the effort limit, minus damping,
    plus the joint-limit spring-dampers (1e4 N m/rad, 1e2 N m s/rad) beyond a limit, then the
    velocity clamp; automatic gains kp = M_ii(initial_q) w^2, kd = 2 zeta M_ii(initial_q) w.
  * observation (13): sin q, cos q, qd, tool point (x, y, 0), target - tool, step/episode_steps.
  * reward per control step: -w_distance |target - tool| - w_action |a|^2 (a before clipping)
    + w_success while inside tolerance_m; success: inside for the last hold_steps steps;
    episodes end by the time limit only (truncated, the value of the final observation is
    bootstrapped); reset: q = initial_q + U(-noise, noise), qd = 0, target uniform in the box;
    staggered first episodes (start at a random step in [0, episode_steps)).
  * PPO as solvers/learning: Gaussian policy, tanh MLP mean (policy_hidden), state-independent
    log-stds (init_log_std), separate tanh value MLP (value_hidden), weights N(0, gain^2/fan_in)
    with gain sqrt(2) in hidden layers, 0.01 at the policy output, 1 at the value output, zero
    biases; running observation normalisation (statistics of the rollout merged after the
    update, clip +-observation_clip); GAE(gamma, lambda) with truncation bootstrap; advantages
    normalised over the whole rollout; clipped surrogate, clipped value loss (value_clip) with
    value_coef, entropy_coef; `epochs` passes of `minibatches` minibatches; one global
    gradient-norm clip over both networks (max_grad_norm); Adam (beta1, beta2, epsilon) with
    the learning rate decayed linearly to 0 over the N iterations (over ppo.anneal_iterations
    where the resolved deck has that key).

Differences from kollektiv, none of which changes the work per env-step much:
  * float32 physics (kollektiv integrates in double; its networks run in float, as here);
  * PyTorch's random numbers instead of kollektiv's counter-based Philox draws keyed by
    (seed, robot, episode/step): same distributions, different samples, so the two runs'
    learning curves are alike, not identical;
  * minibatches are a random permutation cut into equal parts (CleanRL); kollektiv assigns
    each sample to a minibatch at random (equal sizes on average);
  * no non-finite-state check per robot, no history file, no checkpoints or policy export
    (inside its timed loop kollektiv writes a history row every iteration and, with the deck's
    checkpoint_every: 100, a checkpoint every 100 iterations: 1-2 % of its loop time);
  * only the planar 2-joint revolute arm (z joint axes, links along x) and only `reach`; other
    robots or skills are refused.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEBIAN_PYTHON = "/usr/bin/python3"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def import_modules():
    """torch and yaml, or exit 2 with a clear message (re-running under Debian's python first)."""
    try:
        import torch  # noqa: F401
        import yaml  # noqa: F401
        return
    except ImportError as e:
        missing = e.name or "torch"
    if (os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON)
            and not os.environ.get("PPO_TORCH_REEXEC")):
        ok = subprocess.run([DEBIAN_PYTHON, "-c", "import torch, yaml"], capture_output=True).returncode == 0
        if ok:
            print(f"ppo_torch.py: no '{missing}' in {sys.executable}; re-running under {DEBIAN_PYTHON}", flush=True)
            os.environ["PPO_TORCH_REEXEC"] = "1"
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    what = "PyTorch" if missing == "torch" else f"the Python module '{missing}'"
    print(f"ppo_torch.py: {what} is not installed for {sys.executable}.\n"
          "  Install Debian's packages: apt-get update && apt-get install -y python3-torch python3-yaml\n"
          f"  and run: {DEBIAN_PYTHON} tests/bench/ppo_torch.py", file=sys.stderr)
    sys.exit(2)


def fail(msg):
    print(f"ppo_torch.py: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# The deck, as kollektiv resolves it.

# Documented defaults (inputs/README.md) for a training deck; used only without the executable.
DEFAULTS = {
    "run": {"seed": 1},
    "training": {
        "robots": 512, "horizon": 32, "iterations": 100,
        "common": {"episode_steps": 150, "control_dt_s": 0.02, "substeps": 4,
                   "integrator": "semi_implicit_euler", "action_mode": "pd_delta", "action_scale": 0.1,
                   "kp": [], "kd": [], "pd_frequency_hz": 4.0, "pd_damping_ratio": 1.0,
                   "gravity_compensation": True, "joint_limits": True, "stagger_start": True,
                   "initial_q": [], "initial_q_noise": 0.05},
        "reach": {"target_box": {"min": [0.35, -0.25, 0.25], "max": [0.6, 0.25, 0.55]},
                  "tolerance_m": 0.05, "hold_steps": 10, "w_distance": 1.0, "w_action": 0.01,
                  "w_success": 0.5},
        "ppo": {"policy_hidden": [64, 64], "value_hidden": [64, 64], "gamma": 0.99, "gae_lambda": 0.95,
                "clip": 0.2, "value_clip": 0.2, "value_coef": 0.5, "entropy_coef": 0.0,
                "max_grad_norm": 0.5, "learning_rate": 3e-4, "anneal_learning_rate": True, "epochs": 5,
                "minibatches": 8, "normalize_advantages": True, "normalize_observations": True,
                "observation_clip": 10.0, "init_log_std": 0.0,
                "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-5}},
    },
}


def merged(defaults, given):
    out = dict(defaults)
    for k, v in (given or {}).items():
        out[k] = merged(defaults[k], v) if isinstance(v, dict) and isinstance(defaults.get(k), dict) else v
    return out


def resolved_deck(exe, deck, iterations):
    import yaml
    sets = ["--set", f"training.iterations={iterations}"]
    if os.access(exe, os.X_OK):
        p = subprocess.run([exe, deck, "--validate"] + sets, env=ENV, capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"{exe} {deck} --validate failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
        return yaml.safe_load(p.stdout), "kollektiv --validate"
    with open(deck) as f:
        d = merged(DEFAULTS, yaml.safe_load(f))
    d["training"]["iterations"] = iterations
    return d, "the deck file and the documented defaults"


def load_robot(deck_path, robot):
    import yaml
    if isinstance(robot, str):
        path = robot if os.path.isabs(robot) else os.path.join(os.path.dirname(os.path.abspath(deck_path)), robot)
        if not path.endswith((".yaml", ".yml")):
            fail(f"robot {path}: only YAML robot files are supported here, not URDF")
        with open(path) as f:
            robot = yaml.safe_load(f)["robot"]
    if "urdf" in robot:
        fail("robot: URDF robot blocks are not supported here")
    return robot


# ---------------------------------------------------------------------------------------------
# The environment: the reach skill on the 2-link planar arm, batched over all robots.

def planar_arm_constants(robot, common):
    """Geometry, inertia, limits and gains of a 2-link planar arm; refuses any other robot."""
    joints = robot["joints"]
    if len(joints) != 2:
        fail(f"robot: {len(joints)} joints; this benchmark implements the 2-link planar arm only")

    def vec(j, key, default):
        v = j.get(key, default)
        return [float(x) for x in v]

    for i, j in enumerate(joints):
        if j.get("type", "revolute") != "revolute":
            fail(f"robot: joint {i} is not revolute")
        ax = vec(j, "axis", [0, 0, 1])
        n = math.sqrt(sum(x * x for x in ax))
        if abs(ax[0]) > 1e-12 or abs(ax[1]) > 1e-12 or ax[2] / n < 1 - 1e-12:
            fail(f"robot: joint {i} axis {ax} is not +z")
        if any(abs(x) > 1e-12 for x in vec(j, "rpy", [0, 0, 0])):
            fail(f"robot: joint {i} has a non-zero rpy")
        c = vec(j, "com", [0, 0, 0])
        if abs(c[1]) > 1e-12 or abs(c[2]) > 1e-12:
            fail(f"robot: joint {i} com {c} is not on the link's x axis")
    if any(abs(x) > 1e-12 for x in vec(joints[0], "xyz", [0, 0, 0])):
        fail("robot: joint 0 is not at the base origin")
    x1 = vec(joints[1], "xyz", [0, 0, 0])
    if abs(x1[1]) > 1e-12 or abs(x1[2]) > 1e-12:
        fail("robot: joint 1 is not on link 0's x axis")
    tool = robot.get("tool", {})
    xt = [float(x) for x in tool.get("xyz", [0, 0, 0])]
    if abs(xt[1]) > 1e-12 or abs(xt[2]) > 1e-12 or any(abs(float(x)) > 1e-12 for x in tool.get("rpy", [0, 0, 0])):
        fail("robot: the tool point is not on link 1's x axis")
    g = [float(x) for x in robot.get("gravity", [0, 0, -9.81])]
    if abs(g[2]) > 1e-12:
        fail("robot: gravity has a component along the joint axes")

    k = {}
    k["m1"], k["m2"] = float(joints[0]["mass"]), float(joints[1]["mass"])
    k["lc1"], k["lc2"] = float(vec(joints[0], "com", [0, 0, 0])[0]), float(vec(joints[1], "com", [0, 0, 0])[0])
    k["i1"], k["i2"] = float(joints[0]["inertia"][2]), float(joints[1]["inertia"][2])  # izz about the com
    k["l1"], k["l2"] = x1[0], xt[0]
    k["gx"], k["gy"] = g[0], g[1]
    inf = float("inf")
    k["arm"] = [float(j.get("armature", 0.0)) for j in joints]
    k["damping"] = [float(j.get("damping", 0.0)) for j in joints]
    k["effort"] = [float(j.get("effort", inf)) for j in joints]
    k["velocity"] = [float(j.get("velocity", inf)) for j in joints]
    k["lower"] = [float(j.get("lower", -inf)) for j in joints]
    k["upper"] = [float(j.get("upper", inf)) for j in joints]
    # Constant parts of M (Spong eq. 7.87): m11 = a + 2b cos q2, m12 = d + b cos q2, m22 = e.
    k["a"] = k["m1"] * k["lc1"] ** 2 + k["m2"] * (k["l1"] ** 2 + k["lc2"] ** 2) + k["i1"] + k["i2"] + k["arm"][0]
    k["b"] = k["m2"] * k["l1"] * k["lc2"]
    k["d"] = k["m2"] * k["lc2"] ** 2 + k["i2"]
    k["e"] = k["m2"] * k["lc2"] ** 2 + k["i2"] + k["arm"][1]

    # PD gains: automatic from the mass-matrix diagonal at initial_q, or as given.
    q_home = [float(x) for x in common["initial_q"]] or [0.0, 0.0]
    w = 2 * math.pi * float(common["pd_frequency_hz"])
    zeta = float(common["pd_damping_ratio"])
    m_diag = [k["a"] + 2 * k["b"] * math.cos(q_home[1]), k["e"]]

    def gains(given, auto):
        given = [float(x) for x in given]
        if not given:
            return auto
        return given * 2 if len(given) == 1 else given

    k["kp"] = gains(common["kp"], [mi * w * w for mi in m_diag])
    k["kd"] = gains(common["kd"], [2 * zeta * mi * w for mi in m_diag])
    k["q_home"] = q_home
    return k


def make_physics(k, common):
    """The control period's physics: physics(q1, q2, v1, v2, u1, u2) -> (q1, q2, v1, v2).

    Written as functions of tensors, plain flags and a list of float constants so that
    torch.jit.script can compile them (TorchScript takes no closed-over numbers)."""
    import torch
    from typing import List

    substeps = int(common["substeps"])
    rk4 = common["integrator"] == "rk4"
    pd = common["action_mode"] != "torque"
    grav_comp = bool(common["gravity_compensation"])
    limits = bool(common["joint_limits"])
    damping = k["damping"][0] != 0.0 or k["damping"][1] != 0.0
    # Gravity torque g(q) = dV/dq with V = -sum_i m_i g . p_ci (p_ci the centre of mass of link i):
    # g2 = ga2 (gy cos(q1 + q2) - gx sin(q1 + q2)), g1 = ga1 (gy cos q1 - gx sin q1) + g2.
    ga1 = -(k["m1"] * k["lc1"] + k["m2"] * k["l1"])
    ga2 = -(k["m2"] * k["lc2"])
    consts = [float(common["control_dt_s"]) / substeps,       # 0 h, the substep
              k["a"], k["b"], k["d"], k["e"], ga1, ga2, k["gx"], k["gy"],   # 1-8
              k["kp"][0], k["kp"][1], k["kd"][0], k["kd"][1],             # 9-12
              k["effort"][0], k["effort"][1], k["damping"][0], k["damping"][1],  # 13-16
              k["lower"][0], k["lower"][1], k["upper"][0], k["upper"][1],  # 17-20
              k["velocity"][0], k["velocity"][1],                          # 21-22
              1.0e4, 1.0e2]  # 23-24 StepParams::limit_stiffness, limit_damping
    consts = [float(x) for x in consts]

    def accel(q1: torch.Tensor, q2: torch.Tensor, v1: torch.Tensor, v2: torch.Tensor, u1: torch.Tensor,
              u2: torch.Tensor, c: List[float], pd: bool, grav_comp: bool, damping: bool, limits: bool):
        c1, s1 = torch.cos(q1), torch.sin(q1)
        q12 = q1 + q2
        c12, s12 = torch.cos(q12), torch.sin(q12)
        c2, s2 = torch.cos(q2), torch.sin(q2)
        g2 = c[6] * (c[8] * c12 - c[7] * s12)
        g1 = c[5] * (c[8] * c1 - c[7] * s1) + g2
        if pd:  # PD toward the target u, else u is the torque
            t1 = c[9] * (u1 - q1) - c[11] * v1
            t2 = c[10] * (u2 - q2) - c[12] * v2
        else:
            t1 = u1
            t2 = u2
        if grav_comp:
            t1 = t1 + g1
            t2 = t2 + g2
        t1 = torch.clamp(t1, -c[13], c[13])
        t2 = torch.clamp(t2, -c[14], c[14])
        if damping:
            t1 = t1 - c[15] * v1
            t2 = t2 - c[16] * v2
        if limits:  # spring-dampers beyond a position limit
            zero = torch.zeros_like(q1)
            t1 = t1 + torch.where(q1 < c[17], c[23] * (c[17] - q1) - c[24] * v1,
                                  torch.where(q1 > c[19], c[23] * (c[19] - q1) - c[24] * v1, zero))
            t2 = t2 + torch.where(q2 < c[18], c[23] * (c[18] - q2) - c[24] * v2,
                                  torch.where(q2 > c[20], c[23] * (c[20] - q2) - c[24] * v2, zero))
        # M qdd = tau - C(q, qd) - g(q), Spong eq. 7.87-7.89: m11 = a + 2b cos q2,
        # m12 = d + b cos q2, m22 = e, Coriolis with hh = -b sin q2.
        hh = -c[2] * s2
        r1 = t1 - g1 - hh * (2.0 * v1 + v2) * v2
        r2 = t2 - g2 + hh * v1 * v1
        m11 = c[1] + 2.0 * c[2] * c2
        m12 = c[3] + c[2] * c2
        inv_det = 1.0 / (m11 * c[4] - m12 * m12)
        return (c[4] * r1 - m12 * r2) * inv_det, (m11 * r2 - m12 * r1) * inv_det

    def physics(q1: torch.Tensor, q2: torch.Tensor, v1: torch.Tensor, v2: torch.Tensor, u1: torch.Tensor,
                u2: torch.Tensor, c: List[float], substeps: int, rk4: bool, pd: bool, grav_comp: bool,
                damping: bool, limits: bool):
        h = c[0]
        for _ in range(substeps):
            if rk4:
                a1, a2 = accel(q1, q2, v1, v2, u1, u2, c, pd, grav_comp, damping, limits)
                k2q1, k2q2 = v1 + 0.5 * h * a1, v2 + 0.5 * h * a2
                b1, b2 = accel(q1 + 0.5 * h * v1, q2 + 0.5 * h * v2, k2q1, k2q2, u1, u2, c, pd, grav_comp, damping,
                               limits)
                k3q1, k3q2 = v1 + 0.5 * h * b1, v2 + 0.5 * h * b2
                e1, e2 = accel(q1 + 0.5 * h * k2q1, q2 + 0.5 * h * k2q2, k3q1, k3q2, u1, u2, c, pd, grav_comp,
                               damping, limits)
                k4q1, k4q2 = v1 + h * e1, v2 + h * e2
                d1, d2 = accel(q1 + h * k3q1, q2 + h * k3q2, k4q1, k4q2, u1, u2, c, pd, grav_comp, damping, limits)
                q1n = q1 + (h / 6.0) * (v1 + 2.0 * k2q1 + 2.0 * k3q1 + k4q1)
                q2n = q2 + (h / 6.0) * (v2 + 2.0 * k2q2 + 2.0 * k3q2 + k4q2)
                v1 = v1 + (h / 6.0) * (a1 + 2.0 * b1 + 2.0 * e1 + d1)
                v2 = v2 + (h / 6.0) * (a2 + 2.0 * b2 + 2.0 * e2 + d2)
                q1, q2 = q1n, q2n
            else:  # semi-implicit Euler
                a1, a2 = accel(q1, q2, v1, v2, u1, u2, c, pd, grav_comp, damping, limits)
                v1 = v1 + h * a1
                v2 = v2 + h * a2
                q1 = q1 + h * v1
                q2 = q2 + h * v2
            if limits:  # velocity clamp
                v1 = torch.clamp(v1, -c[21], c[21])
                v2 = torch.clamp(v2, -c[22], c[22])
        return q1, q2, v1, v2

    return physics, (consts, substeps, rk4, pd, grav_comp, damping, limits)


class ReachEnv:
    """`robots` planar arms reaching for targets, all state in (robots,) float32 tensors."""

    def __init__(self, deck, robot, generator, mode):
        import torch
        t, c, r = deck["training"], deck["training"]["common"], deck["training"]["reach"]
        self.torch = torch
        self.n = int(t["robots"])
        self.k = planar_arm_constants(robot, c)
        self.episode_steps = int(c["episode_steps"])
        self.action_mode = c["action_mode"]
        self.scale = float(c["action_scale"])
        self.noise = float(c["initial_q_noise"])
        self.stagger = bool(c["stagger_start"])
        self.box_lo = torch.tensor([float(x) for x in r["target_box"]["min"]])
        self.box_span = torch.tensor([float(x) for x in r["target_box"]["max"]]) - self.box_lo
        self.tol, self.hold = float(r["tolerance_m"]), int(r["hold_steps"])
        self.w_dist, self.w_act, self.w_succ = float(r["w_distance"]), float(r["w_action"]), float(r["w_success"])
        self.gen = generator
        physics, self.physics_args = make_physics(self.k, c)
        self.mode = mode
        if mode == "jit":
            physics = torch.jit.script(physics)
        elif mode == "compile":
            physics = torch.compile(physics, dynamic=False)
        self.physics = physics
        self.obs_dim, self.act_dim = 13, 2
        n = self.n
        z = lambda: torch.zeros(n)  # noqa: E731
        self.q1, self.q2, self.v1, self.v2 = z(), z(), z(), z()
        self.goal = torch.zeros(n, 3)
        self.d0, self.ret = z(), z()
        self.step_count = torch.zeros(n, dtype=torch.int64)
        self.streak = torch.zeros(n, dtype=torch.int64)
        self.q_home = torch.tensor(self.k["q_home"], dtype=torch.float32)
        self.lower = torch.tensor(self.k["lower"], dtype=torch.float32)
        self.upper = torch.tensor(self.k["upper"], dtype=torch.float32)

    def tool(self, q1, q2):
        t = self.torch
        q12 = q1 + q2
        x = self.k["l1"] * t.cos(q1) + self.k["l2"] * t.cos(q12)
        y = self.k["l1"] * t.sin(q1) + self.k["l2"] * t.sin(q12)
        return t.stack((x, y, t.zeros_like(x)), 1)

    def begin_episode(self, idx):
        """New episodes for robots idx (a LongTensor): initial q, target, counters."""
        t = self.torch
        m = idx.numel()
        u = t.rand(m, 5, generator=self.gen)
        q = t.maximum(t.minimum(self.q_home + self.noise * (2 * u[:, :2] - 1), self.upper), self.lower)
        goal = self.box_lo + self.box_span * u[:, 2:]
        self.q1[idx], self.q2[idx] = q[:, 0], q[:, 1]
        self.v1[idx] = 0.0
        self.v2[idx] = 0.0
        self.goal[idx] = goal
        self.d0[idx] = t.linalg.vector_norm(goal - self.tool(q[:, 0], q[:, 1]), dim=1)
        self.ret[idx] = 0.0
        self.step_count[idx] = 0
        self.streak[idx] = 0

    def reset_all(self):
        t = self.torch
        self.begin_episode(t.arange(self.n))
        if self.stagger:
            off = (t.rand(self.n, generator=self.gen) * self.episode_steps).long()
            self.step_count = t.clamp(off, max=self.episode_steps - 1)

    def observe(self, idx=None):
        t = self.torch
        q1, q2, v1, v2, goal, step = self.q1, self.q2, self.v1, self.v2, self.goal, self.step_count
        if idx is not None:
            q1, q2, v1, v2, goal, step = q1[idx], q2[idx], v1[idx], v2[idx], goal[idx], step[idx]
        tool = self.tool(q1, q2)
        return t.cat((t.stack((t.sin(q1), t.cos(q1), t.sin(q2), t.cos(q2), v1, v2), 1), tool, goal - tool,
                      (step.float() / self.episode_steps).unsqueeze(1)), 1)

    def step(self, actions):
        """One control period. Returns (next obs, reward, truncated, the robots whose episode ended
        (indices), their final observations, their episode statistics (count, return sum,
        successes, quality sum, final-error sum)); the last two are None when no episode ended."""
        t = self.torch
        a2 = (actions * actions).sum(1)
        a = t.clamp(actions, -1.0, 1.0)
        if self.action_mode == "pd_delta":
            u1, u2 = self.q1 + self.scale * a[:, 0], self.q2 + self.scale * a[:, 1]
        elif self.action_mode == "pd_target":
            u1, u2 = self.q_home[0] + self.scale * a[:, 0], self.q_home[1] + self.scale * a[:, 1]
        else:
            u1, u2 = self.scale * a[:, 0], self.scale * a[:, 1]
        self.q1, self.q2, self.v1, self.v2 = self.physics(self.q1, self.q2, self.v1, self.v2, u1, u2,
                                                          *self.physics_args)
        self.step_count += 1
        tool = self.tool(self.q1, self.q2)
        dist = t.linalg.vector_norm(self.goal - tool, dim=1)
        inside = dist <= self.tol
        self.streak = t.where(inside, self.streak + 1, t.zeros_like(self.streak))
        reward = -self.w_dist * dist - self.w_act * a2 + self.w_succ * inside.float()
        self.ret += reward
        truncated = self.step_count >= self.episode_steps
        done = truncated.nonzero().squeeze(1)  # CPU tensors: no device sync to pay for
        stats = None
        final = None
        if done.numel() > 0:
            d = dist[done]
            d0 = self.d0[done]
            quality = t.where(d0 > 0, t.clamp(1 - d / d0, 0.0, 1.0), (d <= self.tol).float())
            stats = (done.numel(), self.ret[done].sum(), (self.streak[done] >= self.hold).sum(), quality.sum(),
                     d.sum())
            final = self.observe(done)
            self.begin_episode(done)
        obs = self.observe()
        return obs, reward, truncated, done, final, stats


# ---------------------------------------------------------------------------------------------
# The learner.

def mlp(torch, widths, out_gain, gen):
    layers = []
    for i in range(len(widths) - 1):
        lin = torch.nn.Linear(widths[i], widths[i + 1])
        last = i == len(widths) - 2
        gain = out_gain if last else math.sqrt(2.0)
        with torch.no_grad():
            lin.weight.normal_(0.0, gain / math.sqrt(widths[i]), generator=gen)
            lin.bias.zero_()
        layers.append(lin)
        if not last:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


class Normalizer:
    """Running mean/variance; the rollout's rows are merged after the update (as kollektiv)."""

    def __init__(self, torch, dim, clip):
        self.t = torch
        self.count = 0.0
        self.mean = torch.zeros(dim, dtype=torch.float64)
        self.m2 = torch.zeros(dim, dtype=torch.float64)
        self.clip = clip
        self.refresh()

    def refresh(self):
        var = self.m2 / self.count if self.count > 0 else self.t.ones_like(self.m2)
        self.mean_f = self.mean.float()
        self.inv_std_f = (1.0 / self.t.sqrt(var + 1e-8)).float()

    def __call__(self, x):
        return self.t.clamp((x - self.mean_f) * self.inv_std_f, -self.clip, self.clip)

    def commit(self, rows):
        x = rows.double() - self.mean
        n_b = float(x.shape[0])
        s1, s2 = x.sum(0), (x * x).sum(0)
        n_a = self.count
        n = n_a + n_b
        shift = s1 / n_b
        m2_b = (s2 - s1 * shift).clamp(min=0.0)
        self.mean += s1 / n
        self.m2 += m2_b + shift * shift * n_a * n_b / n
        self.count = n
        self.refresh()


def train_torch(deck, robot, iterations, seed, mode, threads, log_every):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t, p = deck["training"], deck["training"]["ppo"]
    if t["skill"] != "reach":
        fail(f"skill '{t['skill']}': this benchmark implements reach only")
    env = ReachEnv(deck, robot, gen, mode)
    n, horizon, obs_dim, act_dim = env.n, int(t["horizon"]), env.obs_dim, env.act_dim
    rows = n * horizon
    policy = mlp(torch, [obs_dim] + list(p["policy_hidden"]) + [act_dim], 0.01, gen)
    value = mlp(torch, [obs_dim] + list(p["value_hidden"]) + [1], 1.0, gen)
    log_std = torch.nn.Parameter(torch.full((act_dim,), float(p["init_log_std"])))
    params = list(policy.parameters()) + [log_std] + list(value.parameters())
    adam = p["adam"]
    lr0 = float(p["learning_rate"])
    opt = torch.optim.Adam(params, lr=lr0, betas=(float(adam["beta1"]), float(adam["beta2"])),
                           eps=float(adam["epsilon"]))
    norm = Normalizer(torch, obs_dim, float(p["observation_clip"]))
    normalize_obs = bool(p["normalize_observations"])
    gamma, lam = float(p["gamma"]), float(p["gae_lambda"])
    clip, vclip, vcoef, ent = float(p["clip"]), float(p["value_clip"]), float(p["value_coef"]), float(p["entropy_coef"])
    max_norm, epochs, n_mb = float(p["max_grad_norm"]), int(p["epochs"]), int(p["minibatches"])
    anneal, norm_adv = bool(p["anneal_learning_rate"]), bool(p["normalize_advantages"])
    anneal_updates = int(p.get("anneal_iterations") or iterations)  # kollektiv's default: the run length
    log_2pi_half = 0.5 * math.log(2 * math.pi) * act_dim

    def act_nets(o):
        return policy(o), value(o).squeeze(1)

    def minibatch_loss(o, a_, lp_old, A, R, V_old):
        mean = policy(o)
        z = (a_ - mean) * torch.exp(-log_std)
        logp = -0.5 * (z * z).sum(1) - log_std.sum() - log_2pi_half
        ratio = torch.exp(logp - lp_old)
        pg = torch.max(-A * ratio, -A * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
        v = value(o).squeeze(1)
        if vclip > 0:
            v_c = V_old + torch.clamp(v - V_old, -vclip, vclip)
            vl = 0.5 * torch.max((v - R) ** 2, (v_c - R) ** 2).mean()
        else:
            vl = 0.5 * ((v - R) ** 2).mean()
        loss = pg + vcoef * vl
        if ent != 0:
            loss = loss - ent * (log_std.sum() + 0.5 * act_dim * (1 + math.log(2 * math.pi)))
        return loss

    if mode == "compile":  # the networks and the loss too, not only the physics (fixed shapes)
        act_nets = torch.compile(act_nets, dynamic=False)
        minibatch_loss = torch.compile(minibatch_loss, dynamic=False)

    b_raw = torch.zeros(horizon, n, obs_dim)
    b_obs = torch.zeros(horizon, n, obs_dim)
    b_act = torch.zeros(horizon, n, act_dim)
    b_logp = torch.zeros(horizon, n)
    b_val = torch.zeros(horizon, n)
    b_rew = torch.zeros(horizon, n)
    b_trunc = torch.zeros(horizon, n, dtype=torch.bool)
    b_final = torch.zeros(horizon, n, obs_dim)

    env.reset_all()
    obs = env.observe()
    last = None  # statistics of the latest iteration in which episodes ended
    t_start = None
    rollout_s = 0.0  # the timed iterations' rollouts (acting, physics, GAE); the rest is the update
    for it in range(iterations):
        if it == 1:
            t_start = time.perf_counter()  # iteration 1 (lazy allocation, JIT warm-up) not timed
        t_rollout = time.perf_counter()
        ep = [0, 0.0, 0, 0.0, 0.0]
        with torch.no_grad():
            for s in range(horizon):
                o = norm(obs) if normalize_obs else obs
                b_raw[s] = obs
                b_obs[s] = o
                mean, v_s = act_nets(o)
                noise = torch.randn(n, act_dim, generator=gen)
                act = mean + log_std.exp() * noise
                b_act[s] = act
                b_logp[s] = -0.5 * (noise * noise).sum(1) - log_std.sum() - log_2pi_half
                b_val[s] = v_s
                obs, rew, trunc, done, final, stats = env.step(act)
                b_rew[s] = rew
                b_trunc[s] = trunc
                if final is not None:
                    b_final[s, done] = final
                    ep[0] += stats[0]
                    for j in range(1, 5):
                        ep[j] += float(stats[j])
            if t_start is not None:  # kollektiv counts what follows (its learner's) to its update phase
                rollout_s += time.perf_counter() - t_rollout
            # Bootstrap values and GAE (kollektiv's solvers/learning/gae.cpp), statistics of the rollout.
            nz = (lambda x: norm(x)) if normalize_obs else (lambda x: x)
            last_value = value(nz(obs)).squeeze(1)
            trunc_value = torch.zeros(horizon, n)
            if b_trunc.any():
                trunc_value[b_trunc] = value(nz(b_final[b_trunc])).squeeze(1)
            adv = torch.zeros(horizon, n)
            next_adv = torch.zeros(n)
            for s in reversed(range(horizon)):
                v_next = torch.where(b_trunc[s], trunc_value[s], last_value if s == horizon - 1 else b_val[s + 1])
                delta = b_rew[s] + gamma * v_next - b_val[s]
                next_adv = delta + gamma * lam * torch.where(b_trunc[s], torch.zeros_like(next_adv), next_adv)
                adv[s] = next_adv
            ret = (adv + b_val).reshape(rows)
            adv = adv.reshape(rows)
            if norm_adv:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            f_obs, f_act = b_obs.reshape(rows, obs_dim), b_act.reshape(rows, act_dim)
            f_logp, f_val = b_logp.reshape(rows), b_val.reshape(rows)

        lr = lr0 * max(1.0 - it / anneal_updates, 0.0) if anneal else lr0
        for g in opt.param_groups:
            g["lr"] = lr
        mb = rows // n_mb
        for _ in range(epochs):
            perm = torch.randperm(rows, generator=gen)
            for b in range(n_mb):
                idx = perm[b * mb:(b + 1) * mb] if b < n_mb - 1 else perm[b * mb:]
                loss = minibatch_loss(f_obs[idx], f_act[idx], f_logp[idx], adv[idx], ret[idx], f_val[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if max_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, max_norm)
                opt.step()
        if normalize_obs:
            norm.commit(b_raw.reshape(rows, obs_dim))
        if ep[0] > 0:
            k = ep[0]
            last = {"episodes": k, "return": ep[1] / k, "success": ep[2] / k, "quality": ep[3] / k,
                    "error": ep[4] / k}
        if log_every and ((it + 1) % log_every == 0 or it + 1 == iterations) and last:
            el = time.perf_counter() - t_start if t_start else 0.0
            rate = (it * rows / el) if el > 0 else float("nan")
            print(f"torch iter {it + 1}/{iterations}  {rate:.4g} env-steps/s  return {last['return']:.2f}  "
                  f"success {last['success']:.3f}  quality {last['quality']:.3f}  error {last['error']:.3g} m",
                  flush=True)
    wall = time.perf_counter() - t_start if t_start else float("nan")
    timed = (iterations - 1) * rows
    return {"rate": timed / wall if iterations > 1 else float("nan"), "wall_s": wall, "last": last or {},
            "rollout_s": rollout_s / max(iterations - 1, 1), "update_s": (wall - rollout_s) / max(iterations - 1, 1)}


# ---------------------------------------------------------------------------------------------
# Worker processes: one PyTorch run each, so that every run gets its own thread settings
# (OpenBLAS reads OPENBLAS_NUM_THREADS when it is loaded, with torch).

def torch_configs(requested_mode, requested_config):
    """(label, torch threads, OpenBLAS threads) x modes to try, or the one requested."""
    n = os.cpu_count() or 1
    configs = [(f"omp{n}+blas1", n, 1), (f"omp{n}+blas{n}", n, n), (f"omp1+blas{n}", 1, n)]
    if n == 1:
        configs = [("omp1+blas1", 1, 1)]
    if requested_config != "auto":
        configs = [c for c in configs if c[0] == requested_config]
        if not configs:
            m = re.fullmatch(r"omp(\d+)\+blas(\d+)", requested_config)
            if not m:
                fail(f"--torch-config {requested_config}: expected auto or ompT+blasB (e.g. omp{n}+blas1)")
            configs = [(requested_config, int(m.group(1)), int(m.group(2)))]
    import torch
    modes = ["eager", "jit"] + (["compile"] if hasattr(torch, "compile") else [])
    if requested_mode != "auto":
        if requested_mode not in modes:
            fail(f"--mode {requested_mode}: not available in torch {torch.__version__}")
        modes = [requested_mode]
    return [(label, t, b, mode) for (label, t, b) in configs for mode in modes]


def openblas_coretype():
    """The OpenBLAS kernels for this CPU's widest vector instructions, unless OPENBLAS_CORETYPE
    is set: Debian 12's OpenBLAS 0.3.21 does not recognise newer Xeons (Sapphire Rapids) and
    falls back to its SSE3 kernels (Prescott), 4x slower than its AVX-512 ones there."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return os.environ["OPENBLAS_CORETYPE"]
    try:
        flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "").split()
    except OSError:
        return None
    return "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None


def run_worker(job, blas_threads, show_output):
    """Runs train_torch in a fresh interpreter; returns its result dict (None if it failed)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="ppo_torch_", delete=False) as f:
        json.dump(job, f)
        path = f.name
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas_threads), PPO_TORCH_REEXEC="1")
    if openblas_coretype():
        env["OPENBLAS_CORETYPE"] = openblas_coretype()
    try:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", path], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        result, tail = None, []
        for line in p.stdout:
            if line.startswith("WORKER_RESULT "):
                result = json.loads(line[len("WORKER_RESULT "):])
            else:
                tail = (tail + [line])[-20:]
                if show_output:
                    print(line, end="", flush=True)
        p.wait()
    finally:
        os.unlink(path)
    if p.returncode != 0 or result is None:
        return None, "".join(tail)
    return result, ""


def worker(path):
    import torch
    with open(path) as f:
        job = json.load(f)
    if job["mode"] == "compile" and not hasattr(torch, "compile"):
        fail(f"torch.compile is not available in torch {torch.__version__}")
    r = train_torch(job["deck"], job["robot"], job["iterations"], job["seed"], job["mode"], job["threads"],
                    job["log_every"])
    r["torch"] = torch.__version__
    print("WORKER_RESULT " + json.dumps(r), flush=True)
    return 0


def eval_policy(deck, deck_path, robot, path, exe, ranks, threads):
    """The task check: a policy exported by kollektiv (policy.h5), acting deterministically for
    one episode per robot, in this script's environment and in kollektiv's evaluation run."""
    import torch
    try:
        import h5py
    except ImportError:
        fail("--eval-policy needs h5py (Debian: apt-get install -y python3-h5py)")
    torch.set_num_threads(threads)
    with h5py.File(path, "r") as f:
        widths = [int(x) for x in f["widths"][:]]
        params = torch.tensor(f["parameters"][:], dtype=torch.float64)
        mean, m2 = torch.tensor(f["normalizer/mean"][:]), torch.tensor(f["normalizer/m2"][:])
        count = float(f.attrs["normalizer_count"])
        normalize, clip = int(f.attrs["normalize_observations"]) != 0, float(f.attrs["observation_clip"])
    layers, off = [], 0
    for i in range(len(widths) - 1):  # W(j, i) at offset + j * out + i, then the biases
        n_in, n_out = widths[i], widths[i + 1]
        w = params[off:off + n_in * n_out].reshape(n_in, n_out).float()
        b = params[off + n_in * n_out:off + n_in * n_out + n_out].float()
        layers.append((w, b))
        off += n_in * n_out + n_out
    inv_std = (1.0 / torch.sqrt((m2 / count if count > 0 else torch.ones_like(m2)) + 1e-8)).float()
    mean = mean.float()

    def act(o):
        x = torch.clamp((o - mean) * inv_std, -clip, clip) if normalize else o
        for i, (w, b) in enumerate(layers):
            x = torch.addmm(b, x, w)
            if i < len(layers) - 1:
                x = torch.tanh(x)
        return x

    d = json.loads(json.dumps(deck))
    d["training"]["common"]["stagger_start"] = False  # as kollektiv's evaluation runs
    env = ReachEnv(d, robot, torch.Generator().manual_seed(int(deck["run"]["seed"])), "eager")
    env.reset_all()
    obs = env.observe()
    tot = [0, 0.0, 0, 0.0, 0.0]
    with torch.no_grad():
        for _ in range(env.episode_steps):
            obs, _, _, _, _, stats = env.step(act(obs))
            if stats is not None:
                tot[0] += stats[0]
                for j in range(1, 5):
                    tot[j] += float(stats[j])
    k = tot[0]
    print(f"EVAL engine=torch policy={path} episodes={k} return={tot[1] / k:.4f} success={tot[2] / k:.4f} "
          f"quality={tot[3] / k:.4f} error_m={tot[4] / k:.5f}", flush=True)
    if exe and os.access(exe, os.X_OK):
        out = tempfile.mkdtemp(prefix="ppo_torch_eval_")
        try:
            cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none", exe, deck_path,
                   "--set", f"training.policy_file={os.path.abspath(path)}", "--output", os.path.join(out, "eval"),
                   "--overwrite"]
            p = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        m = re.search(r"^evaluation of .*?: (\d+) episodes, mean return (\S+), success (\S+), quality (\S+), "
                      r"final error (\S+) m", p.stdout, re.M)
        if p.returncode != 0 or not m:
            fail(f"kollektiv's evaluation failed (exit {p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        print(f"EVAL engine=kollektiv policy={path} episodes={m.group(1)} return={m.group(2)} success={m.group(3)} "
              f"quality={m.group(4)} error_m={m.group(5)}", flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# kollektiv.

HISTORY_TIMES = """
import json, sys, h5py
with h5py.File(sys.argv[1], "r", swmr=True) as f:
    n = f["row"].shape[0]
    names = ["env_steps"] + ["timings/" + c for c in ("wall_s", "physics_s", "inference_s", "update_s", "communication_s")]
    print(json.dumps({name.split("/")[-1]: f[name][:n].tolist() for name in names}))
"""


def history_times(path):
    """env_steps and the timings (wall_s from the start of the training loop, and the phases'
    physics_s, inference_s, update_s, communication_s, each summed since then) at the end of
    each iteration, from kollektiv's history: with this interpreter's h5py, else Debian's; None
    where neither has h5py."""
    for python in (sys.executable, DEBIAN_PYTHON):
        if not os.path.exists(python):
            continue
        p = subprocess.run([python, "-c", HISTORY_TIMES, path], capture_output=True, text=True)
        if p.returncode == 0:
            return json.loads(p.stdout)
    return None


def run_kollektiv(exe, deck, ranks, iterations):
    out = tempfile.mkdtemp(prefix="ppo_torch_kollektiv_")
    try:
        cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none", exe, deck,
               "--set", f"training.iterations={iterations}", "--output", os.path.join(out, "run"), "--overwrite"]
        print("$ " + " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd), flush=True)
        p = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
        times = history_times(os.path.join(out, "run", "history.h5")) if p.returncode == 0 else None
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if p.returncode != 0:
        fail(f"kollektiv failed (exit {p.returncode}):\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    m = re.search(r"^RESULT skill=\S+ .*?env_steps_per_s=([0-9.eE+]+) success=([0-9.]+) quality=([0-9.]+).*$",
                  p.stdout, re.M)
    if not m:
        fail(f"no RESULT line in kollektiv's output:\n{p.stdout[-3000:]}")
    r = {"rate_all": float(m.group(1)), "success": float(m.group(2)), "quality": float(m.group(3)),
         "line": m.group(0)}
    # The rate over iterations 2..N, the torch figure's window, from the history's wall times;
    # the RESULT line's counts all N iterations and the final checkpoint and policy export.
    r["rate"], r["window"] = r["rate_all"], "1..N"
    if times and len(times["wall_s"]) == iterations and iterations > 1:
        def per_iteration(*columns):  # over iterations 2..N
            return sum(times[c][-1] - times[c][0] for c in columns) / (iterations - 1)
        r["rate"] = (times["env_steps"][-1] - times["env_steps"][0]) / (times["wall_s"][-1] - times["wall_s"][0])
        r["window"] = "2..N"
        # The rollout is the physics and inference phases, the update the update and
        # communication phases (rank 0's), over the same iterations.
        r["rollout_s"] = per_iteration("physics_s", "inference_s")
        r["update_s"] = per_iteration("update_s", "communication_s")
    prog = re.findall(r"^iter \d+/\d+ .*?return (\S+)\s+success \S+\s+quality \S+\s+error (\S+) m", p.stdout, re.M)
    if prog:
        r["return"], r["error"] = float(prog[-1][0]), float(prog[-1][1])
    return r


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=30, help="PPO iterations of each run (default 30)")
    ap.add_argument("--kollektiv-ranks", type=int, default=2, help="MPI ranks of the kollektiv run (default 2)")
    ap.add_argument("--skip-kollektiv", action="store_true", help="run the PyTorch PPO only")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run kollektiv and torch alternately this many times; the rates are medians (default 1)")
    ap.add_argument("--deck", default=os.path.join(ROOT, "inputs", "train_reach.yaml"))
    ap.add_argument("--exe", default=os.path.join(ROOT, "build", "app", "kollektiv"))
    ap.add_argument("--mode", choices=["auto", "eager", "jit", "compile"], default="auto",
                    help="PyTorch execution mode; auto: try each available one (default)")
    ap.add_argument("--torch-config", default="auto",
                    help="threads: ompT+blasB = torch.set_num_threads(T), OPENBLAS_NUM_THREADS=B; auto: try "
                         "omp<cores>+blas1, omp<cores>+blas<cores>, omp1+blas<cores> (default)")
    ap.add_argument("--probe-iterations", type=int, default=3,
                    help="iterations of each auto trial; the first is not timed (default 3)")
    ap.add_argument("--seed", type=int, default=None, help="PyTorch seed (default: the deck's run.seed)")
    ap.add_argument("--log-every", type=int, default=10, help="torch progress line every k iterations (0: none)")
    ap.add_argument("--eval-policy", metavar="POLICY_H5",
                    help="task check instead of the benchmark: evaluate a policy kollektiv exported (one "
                         "deterministic episode per robot) in this script's environment and in kollektiv")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    import_modules()
    if args.worker:
        return worker(args.worker)
    if args.iterations < 2 or args.probe_iterations < 2:
        fail("--iterations and --probe-iterations must be >= 2 (the first torch iteration is not timed)")
    args.deck = os.path.abspath(args.deck)

    deck, source = resolved_deck(args.exe, args.deck, args.iterations)
    robot = load_robot(args.deck, deck["training"]["robot"])
    if args.eval_policy:
        return eval_policy(deck, args.deck, robot, args.eval_policy, None if args.skip_kollektiv else args.exe,
                           args.kollektiv_ranks, os.cpu_count() or 1)
    t = deck["training"]
    print(f"deck {os.path.relpath(args.deck, ROOT)} (as read by {source}): {t['skill']}, {t['robots']} robots, "
          f"horizon {t['horizon']}, {args.iterations} iterations; {os.cpu_count()} cores", flush=True)
    seed = args.seed if args.seed is not None else int(deck["run"]["seed"])
    if not args.skip_kollektiv and not os.access(args.exe, os.X_OK):
        fail(f"{args.exe} not found or not executable (build kollektiv first, or pass --skip-kollektiv)")

    def job(iterations, mode, threads, log_every):
        return {"deck": deck, "robot": robot, "iterations": iterations, "seed": seed, "mode": mode,
                "threads": threads, "log_every": log_every}

    # The PyTorch configuration: each candidate trains probe_iterations iterations; the fastest wins.
    candidates = torch_configs(args.mode, args.torch_config)
    if len(candidates) == 1:
        best = candidates[0]
    else:
        probe_deck = job(args.probe_iterations, None, None, 0)
        trials = []
        for label, threads, blas, mode in candidates:
            r, err = run_worker(dict(probe_deck, mode=mode, threads=threads), blas, False)
            if r is None:
                last = err.strip().splitlines()[-1] if err.strip() else "failed"
                print(f"torch trial {label} {mode}: not available ({last[:160]})", flush=True)
                continue
            print(f"torch trial {label} {mode}: {r['rate']:.4g} env-steps/s", flush=True)
            trials.append((r["rate"], (label, threads, blas, mode)))
        if not trials:
            fail("no PyTorch configuration ran")
        best = max(trials)[1]
    label, threads, blas, mode = best
    print(f"torch configuration: {label} (torch.set_num_threads({threads}), OPENBLAS_NUM_THREADS={blas}, "
          f"OPENBLAS_CORETYPE={openblas_coretype() or 'detected'}), mode {mode}", flush=True)

    k_runs, t_runs = [], []
    for rep in range(args.repeat):
        if not args.skip_kollektiv:
            k = run_kollektiv(args.exe, args.deck, args.kollektiv_ranks, args.iterations)
            print(k["line"], flush=True)
            print(f"kollektiv: {k['rate']:.0f} env-steps/s over iterations {k['window']} (all iterations and "
                  f"the final checkpoint: {k['rate_all']:.0f})", flush=True)
            k_runs.append(k)
        r, err = run_worker(job(args.iterations, mode, threads, args.log_every), blas, True)
        if r is None:
            fail(f"the PyTorch run failed:\n{err}")
        print(f"torch: {r['rate']:.0f} env-steps/s over iterations 2..{args.iterations} ({r['wall_s']:.2f} s)",
              flush=True)
        t_runs.append(r)

    def num(x, fmt):
        return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)

    t_rate = median([r["rate"] for r in t_runs])
    tl = t_runs[-1]["last"]
    fields = ["RESULT bench=ppo_reach"]
    if k_runs:
        k_rate = median([k["rate"] for k in k_runs])
        fields.append(f"kollektiv_env_steps_per_s={k_rate:.0f}")
        fields.append(f"kollektiv_window={k_runs[-1]['window']}")
        fields.append(f"kollektiv_all_iterations_env_steps_per_s={median([k['rate_all'] for k in k_runs]):.0f}")
    fields.append(f"torch_env_steps_per_s={t_rate:.0f}")
    if k_runs:
        fields.append(f"ratio={k_rate / t_rate:.3f}")
        # Each repeat's two runs follow each other, so their ratio is less exposed to a machine
        # whose speed drifts over the invocation (this VM's varied 1.5-2x within the hour).
        pairs = [k["rate"] / r["rate"] for k, r in zip(k_runs, t_runs)]
        fields.append(f"pair_ratio_median={median(pairs):.3f}")
        fields.append("pair_ratios=" + ",".join(f"{x:.2f}" for x in pairs))
    # Where the two differ: milliseconds per iteration of the rollout (acting and physics) and of
    # the update (GAE, the epochs' minibatches, kollektiv's gradient sums over the ranks), medians.
    t_roll, t_upd = median([r["rollout_s"] for r in t_runs]), median([r["update_s"] for r in t_runs])
    fields += [f"torch_rollout_ms={1e3 * t_roll:.1f}", f"torch_update_ms={1e3 * t_upd:.1f}"]
    if k_runs and all("rollout_s" in k for k in k_runs):
        k_roll, k_upd = median([k["rollout_s"] for k in k_runs]), median([k["update_s"] for k in k_runs])
        fields += [f"kollektiv_rollout_ms={1e3 * k_roll:.1f}", f"kollektiv_update_ms={1e3 * k_upd:.1f}",
                   f"rollout_ratio={t_roll / k_roll:.2f}", f"update_ratio={t_upd / k_upd:.2f}"]
    fields += [f"torch={t_runs[-1]['torch']}", f"threads={threads}", f"blas_threads={blas}", f"mode={mode}",
               f"iterations={args.iterations}", f"repeat={args.repeat}"]
    if k_runs:
        k = k_runs[-1]
        fields += [f"kollektiv_ranks={args.kollektiv_ranks}", f"kollektiv_return={num(k.get('return'), '.2f')}",
                   f"kollektiv_success={k['success']:.4f}", f"kollektiv_error_m={num(k.get('error'), '.4g')}"]
    fields += [f"torch_return={num(tl.get('return'), '.2f')}", f"torch_success={num(tl.get('success'), '.4f')}",
               f"torch_error_m={num(tl.get('error'), '.4g')}"]
    print(" ".join(fields), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
