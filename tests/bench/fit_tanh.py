#!/usr/bin/env python3
"""Fits the rational tanh of solvers/learning/mlp.cpp and prints its coefficients and errors.

tanh x ~ x P(x^2) / Q(x^2) on [0, 9] (odd, so the negative half follows), P and Q of degree 4
in x^2 with Q(0) = 1. Linear least squares on x P - tanh(x) Q = 0, reweighted towards the
largest errors for 60 rounds (a Lawson-style push towards the minimax fit); the best round
is kept. Then the float32 evaluation error on [-9, 9], which is what the kernels see.

usage: /usr/bin/python3 tests/bench/fit_tanh.py
"""
import numpy as np

X = 9.0
N_P = N_Q = 5  # coefficients of P and of Q


def fit(x, t, w):
    z = x * x
    cols = [x * z**i for i in range(N_P)] + [-t * z**j for j in range(1, N_Q)]
    a = np.array(cols).T * w[:, None]
    c, *_ = np.linalg.lstsq(a, t * w, rcond=None)
    return c[:N_P], np.concatenate([[1.0], c[N_P:]])


def horner(coeffs, z):
    acc = coeffs[-1]
    for c in coeffs[-2::-1]:
        acc = acc * z + c
    return acc


def main():
    x = np.linspace(1e-4, X, 20000)
    t = np.tanh(x)
    w = np.ones_like(x)
    best = None
    for _ in range(60):
        p, q = fit(x, t, w)
        err = x * horner(p, x * x) / horner(q, x * x) - t
        m = np.max(np.abs(err))
        if best is None or m < best[0]:
            best = (m, p, q)
        w = w * (1 + np.abs(err) / m)
        w /= w.max()
    m, p, q = best
    xf = np.linspace(-X, X, 200001).astype(np.float32)
    pf, qf = [np.float32(v) for v in p], [np.float32(v) for v in q]
    yf = xf * horner(pf, xf * xf) / horner(qf, xf * xf)
    ef = np.max(np.abs(yf.astype(np.float64) - np.tanh(xf.astype(np.float64))))
    print(f"max |error|: {m:.3g} exact, {ef:.3g} in float")
    print("P (x^0 .. x^8):", ", ".join(f"{v:.8e}" for v in p))
    print("Q (x^0 .. x^8):", ", ".join(f"{v:.8e}" for v in q))


if __name__ == "__main__":
    main()
